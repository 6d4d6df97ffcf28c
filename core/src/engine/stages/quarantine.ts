import { AgentQuarantinedError } from "../../errors.js";
import type { AgentState, EngineContext } from "../context.js";
import type { GuardCall } from "../types.js";

/** Stage 1 — a quarantined agent runs nothing until it is released. */
export function checkQuarantine(ctx: EngineContext, call: GuardCall<never>, agent: AgentState): void {
  if (agent.quarantine !== undefined) throw refuseQuarantined(ctx, call, agent);
}

/** Out of line, so pre-flight inlines only the check (V8's inlining budget; see pipeline.ts). */
function refuseQuarantined(
  ctx: EngineContext,
  call: GuardCall<never>,
  agent: AgentState,
): AgentQuarantinedError {
  const reason = (agent.quarantine as { reason: string }).reason;
  return ctx.refused(call, agent, new AgentQuarantinedError(call.agentId, reason));
}
