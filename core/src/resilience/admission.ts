import type { GuardCall } from "../engine/types.js";
import type { RefusalError } from "../errors.js";
import type { CascadeResponse } from "./cascade-response.js";
import type { RetryBudget, RetryTarget } from "./retry-budget.js";

/** Where a caller keeps a target's retry-budget handle (the engine's per-target record). */
export interface RetryHandleHolder {
  retry: RetryTarget | undefined;
}

/**
 * The engine's resilience stage (pre-flight, after the loop check, before the budget): counts the attempt
 * against its target's retry budget and, during a cascade, holds back new tasks. Returns the refusal, if
 * any. The target is the call's first extra breaker (an MCP upstream, `upstream:<server>`), else
 * `<kind>:<name>`, through the handle `holder` keeps (the engine's record of that target: one lookup a
 * call): retries are budgeted per dependency, whichever agent makes them.
 */
export function admitAttempt(
  retryBudget: RetryBudget | undefined,
  cascade: CascadeResponse | undefined,
  call: GuardCall<never>,
  holder: RetryHandleHolder,
  nowMs: number,
): RefusalError | undefined {
  if (retryBudget !== undefined) {
    const isRetry = call.attempt !== undefined && call.attempt > 1;
    const refusal =
      call.breakers === undefined
        ? admitHeld(retryBudget, holder, call, isRetry, nowMs)
        : admitUpstream(retryBudget, holder, call, isRetry, nowMs);
    if (refusal !== undefined) return refusal;
  }
  return cascade === undefined ? undefined : cascade.admitTask(call.agentId, call.taskId);
}

/** Counts at `<kind>:<name>` through the held handle, resolved again once the budget has dropped it. */
function admitHeld(
  retryBudget: RetryBudget,
  holder: RetryHandleHolder,
  call: GuardCall<never>,
  isRetry: boolean,
  nowMs: number,
): RefusalError | undefined {
  let handle = holder.retry;
  if (handle === undefined || handle.evicted) {
    handle = retryBudget.targetNamed(call.kind, call.name, nowMs);
    holder.retry = handle;
  }
  return retryBudget.admitTo(handle, isRetry, call.agentId, nowMs);
}

/** A call through extra breakers counts against the first one's target (an MCP upstream), if it names one. */
function admitUpstream(
  retryBudget: RetryBudget,
  holder: RetryHandleHolder,
  call: GuardCall<never>,
  isRetry: boolean,
  nowMs: number,
): RefusalError | undefined {
  const extra = call.breakers as string[];
  return extra.length > 0
    ? retryBudget.admit(extra[0] as string, isRetry, call.agentId, nowMs)
    : admitHeld(retryBudget, holder, call, isRetry, nowMs);
}
