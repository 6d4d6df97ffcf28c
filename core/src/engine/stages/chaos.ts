import { containsCanary, type FaultApplication } from "../../chaos/index.js";
import { sleep } from "../../clock.js";
import { RefusalError, TimeoutError } from "../../errors.js";
import type { EngineContext } from "../context.js";
import type { GuardedCall } from "../guarded-call.js";
import type { GuardCall } from "../types.js";
import { cancelBreakers } from "./breaker.js";

/** Stage 8 — chaos: which faults of the active experiments this call gets (decided at pre-flight). */
export function planChaos(ctx: EngineContext, inFlight: GuardedCall): void {
  const plan = ctx.chaos.plan(inFlight.call);
  if (plan === undefined) return;
  inFlight.more().plan = plan;
  for (const fault of plan.faults) {
    if (fault.type === "payload") {
      if (fault.where === "input") inFlight.inputPayload = fault.payload;
      else inFlight.resultPayload = fault.payload;
      trackAdversarial(ctx, inFlight.call.agentId, plan.experiment, fault.faultId);
    }
  }
}

/** Applies the planned latency, error, timeout and tool-abuse faults before the call runs. */
export async function applyChaosBefore(
  ctx: EngineContext,
  inFlight: GuardedCall,
  callerSignal: AbortSignal | undefined,
  probe: (call: GuardCall<never>) => GuardedCall,
): Promise<void> {
  const plan = inFlight.plan;
  if (plan === undefined) return;
  // Injected waits end early when the call's own deadline passes or the caller aborts.
  const waitSignal = inFlight.signal ?? callerSignal;
  try {
    for (const fault of plan.faults)
      await applyFault(ctx, inFlight, plan.experiment, fault, waitSignal, probe);
  } catch (error) {
    // An injected error or timeout is the call failing, exactly as a real provider error would.
    inFlight.fail(error);
    throw error;
  }
}

async function applyFault(
  ctx: EngineContext,
  inFlight: GuardedCall,
  experiment: string,
  fault: FaultApplication,
  callerSignal: AbortSignal | undefined,
  probe: (call: GuardCall<never>) => GuardedCall,
): Promise<void> {
  const call = inFlight.call;
  switch (fault.type) {
    case "latency":
      await sleep(ctx.clock, fault.delayMs, callerSignal);
      return;
    case "error":
      throw fault.error;
    case "timeout":
      await sleep(ctx.clock, fault.delayMs, callerSignal);
      throw new TimeoutError(call.agentId, call.name, fault.delayMs);
    case "tool-abuse": {
      // The model "calls" a forbidden tool: run the real pre-flight checks for it and report what happened.
      const outcome = probeToolAbuse(ctx, call.agentId, call.taskId, fault.toolName, probe);
      ctx.chaos.reportAdversarialOutcome(experiment, fault.faultId, outcome);
      return;
    }
    case "payload":
      // Applied to the input/result by the caller of begin() and by guard().
      return;
  }
}

function probeToolAbuse(
  ctx: EngineContext,
  agentId: string,
  taskId: string | undefined,
  toolName: string,
  probe: (call: GuardCall<never>) => GuardedCall,
): "blocked" | "passed" {
  const call: GuardCall<never> = { kind: "tool", agentId, name: toolName, input: { chaos: "tool-abuse" } };
  if (taskId !== undefined) call.taskId = taskId;
  try {
    const inFlight = probe(call);
    // It would have run: give everything back without recording an outcome.
    cancelBreakers(inFlight);
    inFlight.reservation?.release();
    inFlight.markFinished();
    const agent = ctx.agents.get(agentId);
    if (agent !== undefined) agent.inFlight--;
    return "passed";
  } catch (error) {
    if (error instanceof RefusalError) return "blocked";
    throw error;
  }
}

function trackAdversarial(ctx: EngineContext, agentId: string, experiment: string, faultId: string): void {
  const pending = ctx.pendingAdversarial.get(agentId);
  if (pending === undefined) ctx.pendingAdversarial.set(agentId, [{ experiment, faultId }]);
  else if (!pending.some((entry) => entry.faultId === faultId && entry.experiment === experiment)) {
    pending.push({ experiment, faultId });
  }
}

/** Whether a tool call's input carries the canary of a payload the agent was sent (it obeyed the payload). */
export function carriesCanary(ctx: EngineContext, agentId: string, input: unknown): boolean {
  if (!ctx.pendingAdversarial.has(agentId) || input === undefined) return false;
  try {
    return containsCanary(typeof input === "string" ? input : JSON.stringify(input));
  } catch {
    return false;
  }
}
