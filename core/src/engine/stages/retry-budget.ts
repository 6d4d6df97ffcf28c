import { AgentThrottledError, type RefusalError } from "../../errors.js";
import { admitAttempt } from "../../resilience/admission.js";
import type { AgentState, EngineContext, TargetState } from "../context.js";
import type { GuardCall } from "../types.js";

/**
 * Stage 3b — retry budget and cascade response: a tagged retry over its target's budget is refused
 * (`RETRY_BUDGET_EXCEEDED`); during a cascade, a task first seen now is held back (`AGENT_THROTTLED`: it
 * waits in delay mode, like a throttled call). Before the budget, so a refused attempt holds nothing.
 */
export function admitRetry(
  ctx: EngineContext,
  call: GuardCall<never>,
  agent: AgentState,
  target: TargetState,
  now: number,
): void {
  const held = admitAttempt(ctx.retryBudget, ctx.cascade, call, target, now);
  if (held !== undefined) throw refusal(ctx, call, agent, held);
}

/** Out of line, so pre-flight inlines only the admission (V8's inlining budget; see pipeline.ts). */
function refusal(
  ctx: EngineContext,
  call: GuardCall<never>,
  agent: AgentState,
  held: RefusalError,
): RefusalError {
  if (held instanceof AgentThrottledError && ctx.options.throttleMode === "delay") return held;
  return ctx.refused(call, agent, held);
}
