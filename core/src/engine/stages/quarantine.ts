import { AgentQuarantinedError } from "../../errors.js";
import type { AgentState, EngineContext } from "../context.js";
import type { GuardCall } from "../types.js";

/** Stage 1 — a quarantined agent runs nothing until it is released. */
export function checkQuarantine(ctx: EngineContext, call: GuardCall<never>, agent: AgentState): void {
  if (agent.quarantine !== undefined) {
    throw ctx.refused(call, agent, new AgentQuarantinedError(call.agentId, agent.quarantine.reason));
  }
}
