import { RefusalError } from "../../errors.js";
import { type RiskLevel, type RogueAgentDetector, riskAtLeast } from "../../rogue/index.js";
import type { CallObservation } from "../../types.js";
import type { AgentState, EngineContext } from "../context.js";
import type { GuardCall, UsageReport } from "../types.js";

/**
 * Stage 10 — the observing half of post-flight: the rogue detector (tool calls), SLOs, chaos metrics and
 * the `call.completed` event. The observation is built only when someone reads it.
 */
export function observe(
  ctx: EngineContext,
  call: GuardCall<never>,
  now: number,
  startedAtMs: number,
  ok: boolean,
  durationMs: number,
  costUsd: number,
  used: UsageReport,
  error: unknown,
  /** Whether `call.completed` has listeners (the caller looked already). */
  completed: boolean,
  agent?: AgentState,
): void {
  // A tool action counts when the call was made (as the loop check before it, and a refused call, do).
  // A failed tool call is not a completed repeat: retrying it with the same arguments is not a loop.
  if (call.kind === "tool") recordToolAction(ctx, call, call.name, startedAtMs, !ok, agent);
  if (ctx.slos.size === 0 && !completed) {
    // Chaos alone builds no observation object (a running experiment must cost a call next to nothing); the
    // usual untimed call of a plain run is counted here, without a call into the controller (its `tally`).
    const chaos = ctx.chaos;
    if (chaos.hasActive) {
      const tally = chaos.tally;
      if (tally.running && now < tally.endsAtMs && Number.isNaN(durationMs)) {
        tally.calls++;
        if (!ok) tally.failed++;
        tally.costUsd += costUsd;
      } else chaos.observeCall(call.agentId, ok, durationMs, costUsd, now);
    }
    return;
  }
  // In a function of its own, so a call nobody observes inlines only the lines above.
  observeCompleted(ctx, call, now, ok, durationMs, costUsd, used, error, completed);
}

function observeCompleted(
  ctx: EngineContext,
  call: GuardCall<never>,
  now: number,
  ok: boolean,
  durationMs: number,
  costUsd: number,
  used: UsageReport,
  error: unknown,
  completed: boolean,
): void {
  const chaosActive = ctx.chaos.hasActive;
  const errorCode = error instanceof RefusalError ? error.code : undefined;
  if (!completed) {
    // Only the SLOs read the call: its fields go to the registry, which builds no object for built-in SLOs.
    ctx.slos.observeCall(
      now,
      call.agentId,
      call.taskId,
      call.kind,
      call.name,
      ok,
      durationMs,
      costUsd,
      used.inputTokens,
      used.outputTokens,
      errorCode,
    );
    ctx.slos.evaluateDue(now);
    if (chaosActive) ctx.chaos.observeCall(call.agentId, ok, durationMs, costUsd, now);
    return;
  }
  const observation: CallObservation = {
    at: now,
    agentId: call.agentId,
    taskId: call.taskId,
    kind: call.kind,
    name: call.name,
    ok,
    durationMs,
    costUsd,
    inputTokens: used.inputTokens,
    outputTokens: used.outputTokens,
    errorCode,
  };
  if (ctx.slos.size > 0) {
    ctx.slos.observe(observation);
    ctx.slos.evaluateDue(now);
  }
  if (chaosActive) ctx.chaos.observeCall(call.agentId, ok, durationMs, costUsd, now);
  ctx.events.emit("call.completed", observation);
}

/** Feeds a tool action to the rogue detector and quarantines the agent once its risk reaches the bar. */
export function recordToolAction(
  ctx: EngineContext,
  call: GuardCall<never>,
  action: string,
  now = ctx.clock.now(),
  failed = false,
  known?: AgentState,
): void {
  const detector = ctx.detector;
  if (detector === undefined) return;
  const agent = known ?? ctx.agents.get(call.agentId);
  const level =
    agent === undefined
      ? detector.recordCall(call.agentId, action, call.name, call.input, call.taskId, now, failed)
      : detector.recordCallOf(
          ctx.signalsOf(agent),
          call.agentId,
          action,
          call.name,
          call.input,
          call.taskId,
          now,
          failed,
        );
  const quarantineAt = ctx.options.quarantineAt;
  if (quarantineAt !== undefined && riskAtLeast(level, quarantineAt))
    quarantineRisky(ctx, call, agent, level);
}

/** Quarantines the agent at the risk bar (once: not while it is in quarantine); the rare path, out of line. */
export function quarantineRisky(
  ctx: EngineContext,
  call: GuardCall<never>,
  agent: AgentState | undefined,
  level: RiskLevel,
): void {
  if (agent !== undefined && agent.quarantine === undefined) {
    const assessment = (ctx.detector as RogueAgentDetector).assess(call.agentId);
    ctx.quarantine(call.agentId, `risk ${assessment.riskLevel}: ${assessment.reasons.join("; ")}`, level);
  }
}
