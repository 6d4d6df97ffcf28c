import type { GuardCall } from "../engine/types.js";
import type { RefusalError } from "../errors.js";
import type { CascadeResponse } from "./cascade-response.js";
import type { RetryBudget } from "./retry-budget.js";

/**
 * The engine's resilience stage (pre-flight, after the loop check, before the budget): counts the attempt
 * against its target's retry budget and, during a cascade, holds back new tasks. Returns the refusal, if
 * any. The target is the call's first extra breaker (an MCP upstream, `upstream:<server>`), else
 * `<kind>:<name>`: retries are budgeted per dependency, whichever agent makes them.
 */
export function admitAttempt(
  retryBudget: RetryBudget | undefined,
  cascade: CascadeResponse | undefined,
  call: GuardCall<never>,
  nowMs: number,
): RefusalError | undefined {
  if (retryBudget !== undefined) {
    const isRetry = call.attempt !== undefined && call.attempt > 1;
    const refusal =
      call.breakers === undefined
        ? retryBudget.admitNamed(call.kind, call.name, isRetry, call.agentId, nowMs)
        : admitUpstream(retryBudget, call, isRetry, nowMs);
    if (refusal !== undefined) return refusal;
  }
  return cascade === undefined ? undefined : cascade.admitTask(call.agentId, call.taskId);
}

/** A call through extra breakers counts against the first one's target (an MCP upstream), if it names one. */
function admitUpstream(
  retryBudget: RetryBudget,
  call: GuardCall<never>,
  isRetry: boolean,
  nowMs: number,
): RefusalError | undefined {
  const extra = call.breakers as string[];
  return extra.length > 0
    ? retryBudget.admit(extra[0] as string, isRetry, call.agentId, nowMs)
    : retryBudget.admitNamed(call.kind, call.name, isRetry, call.agentId, nowMs);
}
