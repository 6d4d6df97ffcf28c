import { ToolNotAllowedError } from "../../errors.js";
import type { AgentState, EngineContext } from "../context.js";
import type { GuardCall } from "../types.js";
import { recordToolAction } from "./observe.js";

/** Stage 2 — tool calls outside the agent's allow list (or on its deny list) are refused. */
export function checkToolAllowed(ctx: EngineContext, call: GuardCall<never>, agent: AgentState): void {
  const capability = agent.capability?.check(call.name) ?? "allowed";
  if (capability !== "allowed") {
    recordToolAction(ctx, call, "refused:TOOL_NOT_ALLOWED");
    throw ctx.refused(call, agent, new ToolNotAllowedError(call.agentId, call.name, capability));
  }
}
