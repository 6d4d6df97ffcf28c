import { type CircuitBreaker, PERMIT_CLOSED, PERMIT_PROBE, PERMIT_REJECTED } from "../../breaker/index.js";
import { CircuitOpenError, RefusalError, TimeoutError } from "../../errors.js";
import type { AgentState, EngineContext, TargetState } from "../context.js";
import { defaultClassifyFailure, type FailureClass } from "../failure-class.js";
import type { GuardedCall } from "../guarded-call.js";
import type { GuardCall } from "../types.js";

/**
 * Stage 6 — breaker permits: the target's (`model:<name>` / `tool:<name>`), the agent's own, then any
 * extra breakers the call names (e.g. an MCP upstream). A refusal gives back every permit taken so far and
 * the reservation.
 */
export function acquireBreakers(
  ctx: EngineContext,
  inFlight: GuardedCall,
  agent: AgentState,
  target: TargetState,
): void {
  const call = inFlight.call;
  const targetBreaker = target.breaker;
  const targetPermit = targetBreaker.tryAcquire();
  if (targetPermit === PERMIT_REJECTED) throw refuseOpen(ctx, inFlight, agent, targetBreaker, undefined, 1);
  // While every breaker of the registry is CLOSED, the agent's is: its permit without reading it (with
  // 10,000 agents its line is one cache miss per call).
  const agentPermit = ctx.breakers.allClosed ? PERMIT_CLOSED : agent.breaker.tryAcquire();
  if (agentPermit === PERMIT_REJECTED)
    throw refuseOpen(ctx, inFlight, agent, agent.breaker, targetBreaker, targetPermit);
  // Extra breakers in a function of their own: the usual call inlines only this stage's first half.
  if (call.breakers !== undefined && call.breakers.length > 0)
    acquireExtraBreakers(ctx, inFlight, agent, targetBreaker, targetPermit, agentPermit);
  inFlight.targetBreaker = targetBreaker;
  inFlight.targetPermit = targetPermit;
  inFlight.agentBreaker = agent.breaker;
  inFlight.agentPermit = agentPermit;
}

/**
 * The refusal of an open breaker, after giving back the target's permit (if taken) and the reservation. Out
 * of line: V8 inlines callees into pre-flight only within a bytecode budget, and the usual call never gets here.
 */
function refuseOpen(
  ctx: EngineContext,
  inFlight: GuardedCall,
  agent: AgentState,
  open: CircuitBreaker,
  taken: CircuitBreaker | undefined,
  takenPermit: 1 | 2,
): CircuitOpenError {
  taken?.cancel(takenPermit);
  inFlight.reservation?.release();
  const call = inFlight.call;
  return ctx.refused(call, agent, new CircuitOpenError(open.id, open.retryAfterMs(), call.agentId));
}

function acquireExtraBreakers(
  ctx: EngineContext,
  inFlight: GuardedCall,
  agent: AgentState,
  targetBreaker: CircuitBreaker,
  targetPermit: 1 | 2,
  agentPermit: 1 | 2,
): void {
  const call = inFlight.call;
  const agentId = call.agentId;
  const reservation = inFlight.reservation;
  if (call.breakers !== undefined) {
    const extraBreakers: CircuitBreaker[] = [];
    const extraPermits: Array<1 | 2> = [];
    for (const id of call.breakers) {
      const breaker = ctx.breakers.get(id);
      const permit = breaker.tryAcquire();
      if (permit === PERMIT_REJECTED) {
        for (let i = 0; i < extraBreakers.length; i++) {
          (extraBreakers[i] as CircuitBreaker).cancel(extraPermits[i] as 1 | 2);
        }
        agent.breaker.cancel(agentPermit);
        targetBreaker.cancel(targetPermit);
        reservation?.release();
        throw ctx.refused(call, agent, new CircuitOpenError(breaker.id, breaker.retryAfterMs(), agentId));
      }
      extraBreakers.push(breaker);
      extraPermits.push(permit);
    }
    const extras = inFlight.more();
    extras.extraBreakers = extraBreakers;
    extras.extraPermits = extraPermits;
  }
}

/** Gives every permit back without recording an outcome (a probe that would have run). */
export function cancelBreakers(inFlight: GuardedCall): void {
  inFlight.targetBreaker?.cancel(inFlight.targetPermit as 1 | 2);
  inFlight.agentBreaker?.cancel(inFlight.agentPermit as 1 | 2);
  const extras = inFlight.extraBreakers;
  if (extras !== undefined) {
    for (let i = 0; i < extras.length; i++)
      (extras[i] as CircuitBreaker).cancel(inFlight.extraPermits?.[i] as 1 | 2);
  }
}

/**
 * The class of a failure that counts: the user's `classifyFailure`, else the adapter's (passed with `fail()`
 * or the call's `classifyFailure`), else the default rule (failure-class.ts).
 */
export function classifyFailure(
  ctx: EngineContext,
  inFlight: GuardedCall | undefined,
  call: GuardCall<never>,
  error: unknown,
): FailureClass {
  const user = ctx.options.classifyFailure?.(error, call);
  if (user !== undefined) return user;
  const adapter = inFlight?.failureClass ?? call.classifyFailure?.(error);
  return adapter ?? defaultClassifyFailure(error);
}

/**
 * Post-flight — the breakers' outcome. `failure` is undefined for a success, `null` for a failure that
 * counts against nothing (a caller's own abort, a refusal raised inside `run`), else its class: a
 * provider-side failure counts against the target's breakers (shared by every agent), a caller-side one
 * against the agent's own breaker only.
 */
export function recordBreakerOutcome(
  ctx: EngineContext,
  inFlight: GuardedCall,
  ok: boolean,
  failure: FailureClass | null,
  error: unknown,
  durationMs: number,
): void {
  const targetBreaker = inFlight.targetBreaker as CircuitBreaker;
  const agentBreaker = inFlight.agentBreaker as CircuitBreaker;
  const targetPermit = inFlight.targetPermit as 1 | 2;
  const agentPermit = inFlight.agentPermit as 1 | 2;
  const recordAgentOutcomes = ctx.options.recordAgentOutcomes;
  if (ok) {
    targetBreaker.onSuccess(targetPermit, durationMs);
    if (recordAgentOutcomes || agentPermit === PERMIT_PROBE) agentBreaker.onSuccess(agentPermit, durationMs);
    // (A CLOSED permit given back is nothing to record: the agent's breaker is not touched again.)
  } else {
    recordFailureOutcome(ctx, inFlight, failure, durationMs);
  }
  // Extra breakers (an MCP upstream) in a function of their own: the usual call inlines only the lines above.
  const extras = inFlight.extras;
  if (extras !== undefined && extras.extraBreakers !== undefined)
    recordExtraOutcomes(inFlight, ok, failure, error, durationMs);
}

/** `recordBreakerOutcome` for a success with no extra breakers and no duration read (settle's usual call). */
export function recordPlainSuccess(ctx: EngineContext, inFlight: GuardedCall): void {
  (inFlight.targetBreaker as CircuitBreaker).onSuccess(inFlight.targetPermit as 1 | 2, 0);
  const agentPermit = inFlight.agentPermit as 1 | 2;
  if (ctx.options.recordAgentOutcomes || agentPermit === PERMIT_PROBE)
    (inFlight.agentBreaker as CircuitBreaker).onSuccess(agentPermit, 0);
}

function recordFailureOutcome(
  ctx: EngineContext,
  inFlight: GuardedCall,
  failure: FailureClass | null,
  durationMs: number,
): void {
  const targetBreaker = inFlight.targetBreaker as CircuitBreaker;
  const agentBreaker = inFlight.agentBreaker as CircuitBreaker;
  const targetPermit = inFlight.targetPermit as 1 | 2;
  const agentPermit = inFlight.agentPermit as 1 | 2;
  const recordAgentOutcomes = ctx.options.recordAgentOutcomes;
  if (failure === "provider") {
    targetBreaker.onFailure(targetPermit, durationMs);
    if (recordAgentOutcomes) agentBreaker.onFailure(agentPermit, durationMs);
    else agentBreaker.cancel(agentPermit);
  } else if (failure === "caller") {
    targetBreaker.cancel(targetPermit);
    agentBreaker.onFailure(agentPermit, durationMs);
  } else {
    targetBreaker.cancel(targetPermit);
    agentBreaker.cancel(agentPermit);
  }
}

function recordExtraOutcomes(
  inFlight: GuardedCall,
  ok: boolean,
  failure: FailureClass | null,
  error: unknown,
  durationMs: number,
): void {
  const extraBreakers = inFlight.extraBreakers;
  if (extraBreakers !== undefined) {
    const extraPermits = inFlight.extraPermits as Array<1 | 2>;
    // false: a success there; true: a failure there; undefined: nothing (the permit goes back).
    let verdict: boolean | undefined;
    if (ok) verdict = false;
    else if (failure === "provider" || failure === "caller") {
      const breakerFailure = inFlight.call.breakerFailure;
      verdict = breakerFailure === undefined ? failure === "provider" || undefined : breakerFailure(error);
      // A caller-side failure never counts against a shared breaker (the upstream did answer).
      if (failure === "caller" && verdict === true) verdict = undefined;
    }
    for (let i = 0; i < extraBreakers.length; i++) {
      const breaker = extraBreakers[i] as CircuitBreaker;
      const permit = extraPermits[i] as 1 | 2;
      if (verdict === false) breaker.onSuccess(permit, durationMs);
      else if (verdict === true) breaker.onFailure(permit, durationMs);
      else breaker.cancel(permit);
    }
  }
}

/**
 * Whether a failed call counts against the breaker, SLOs and chaos metrics. Timeouts and injected faults
 * do; a refusal raised inside `run` (a nested guard said no) does not; a call the caller aborted does not.
 */
export function countsAsFailure(error: unknown, inFlight: GuardedCall): boolean {
  if (inFlight.cancelled) return false;
  if (error instanceof TimeoutError) return true;
  if (error instanceof RefusalError) return error.code === "CHAOS_INJECTED";
  return inFlight.callerSignal?.aborted !== true;
}

/**
 * Whether the breakers' options set a slow-call rule anywhere (defaults or an override): only then does a
 * breaker read a call's duration (settle reads the end time for it).
 */
export function hasSlowCallRule(options: {
  defaults?: { slowCallMs?: unknown };
  overrides?: Record<string, { slowCallMs?: unknown } | undefined>;
}): boolean {
  if (options.defaults?.slowCallMs !== undefined) return true;
  for (const id in options.overrides) {
    if (options.overrides[id]?.slowCallMs !== undefined) return true;
  }
  return false;
}
