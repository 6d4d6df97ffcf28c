import type { AgentSREProviderOptions } from "./types.js";

/** The agent and task one request's calls belong to. */
export type AgentSREIdentity = AgentSREProviderOptions;

/**
 * The identity a tool call carries: `agentSre` of the SDK's `experimental_context` (ai@6) or of the tool's
 * `context` (ai@7, from `toolsContext`).
 */
export function identityFromContext(executionOptions: unknown): AgentSREIdentity | undefined {
  const options = executionOptions as
    | { experimental_context?: unknown; context?: unknown }
    | null
    | undefined;
  const context = (options?.experimental_context ?? options?.context) as
    | { agentSre?: unknown }
    | null
    | undefined;
  const identity = context?.agentSre;
  if (identity === null || typeof identity !== "object") return undefined;
  const { agentId, taskId } = identity as AgentSREIdentity;
  return {
    agentId: typeof agentId === "string" && agentId.length > 0 ? agentId : undefined,
    taskId: typeof taskId === "string" ? taskId : undefined,
  };
}

/** What `agentSRECallOptions` returns: spread it into `generateText` / `streamText` / an agent call. */
export interface AgentSRECallOptions {
  /** For the middleware: `providerOptions.agentSre`. */
  providerOptions: { agentSre: AgentSREIdentity };
  /** For `guardTools` on ai@6: `experimental_context.agentSre`. */
  experimental_context: { agentSre: AgentSREIdentity };
  /** For `guardTools` on ai@7: each tool's `context.agentSre` (only with `tools`). */
  toolsContext?: Record<string, { agentSre: AgentSREIdentity }>;
}

/**
 * The per-request options that charge one request — its model calls (middleware) and its tool calls
 * (`guardTools`) — to one agent and task, so one wrapped model and one guarded tool set serve many agents.
 * Pass `tools` on ai@7, whose tools read a per-tool `toolsContext`. If you set `providerOptions` or a context
 * of your own, merge them.
 *
 * ```ts
 * await generateText({ model, tools, prompt, ...agentSRECallOptions({ agentId: "writer", taskId: "t-42" }, tools) });
 * ```
 */
export function agentSRECallOptions(
  identity: AgentSREIdentity,
  tools?: Record<string, unknown>,
): AgentSRECallOptions {
  const agentSre: AgentSREIdentity = {};
  if (identity.agentId !== undefined) agentSre.agentId = identity.agentId;
  if (identity.taskId !== undefined) agentSre.taskId = identity.taskId;
  const options: AgentSRECallOptions = {
    providerOptions: { agentSre },
    experimental_context: { agentSre },
  };
  if (tools !== undefined) {
    const toolsContext: Record<string, { agentSre: AgentSREIdentity }> = {};
    for (const name of Object.keys(tools)) toolsContext[name] = { agentSre };
    options.toolsContext = toolsContext;
  }
  return options;
}
