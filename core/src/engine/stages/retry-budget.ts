import { AgentThrottledError } from "../../errors.js";
import { admitAttempt } from "../../resilience/admission.js";
import type { AgentState, EngineContext } from "../context.js";
import type { GuardCall } from "../types.js";

/**
 * Stage 3b — retry budget and cascade response: a tagged retry over its target's budget is refused
 * (`RETRY_BUDGET_EXCEEDED`); during a cascade, a task first seen now is held back (`AGENT_THROTTLED`: it
 * waits in delay mode, like a throttled call). Before the budget, so a refused attempt holds nothing.
 */
export function admitRetry(ctx: EngineContext, call: GuardCall<never>, agent: AgentState, now: number): void {
  const held = admitAttempt(ctx.retryBudget, ctx.cascade, call, now);
  if (held === undefined) return;
  if (held instanceof AgentThrottledError && ctx.options.throttleMode === "delay") throw held;
  throw ctx.refused(call, agent, held);
}
