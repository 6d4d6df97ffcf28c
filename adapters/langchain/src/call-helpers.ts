// Small pieces of the LangChain middleware's call path: run state, identity and usage bookkeeping.
import { type AgentSRE, ConfigError, type UsageReport } from "@agent-sre/core";
import type { BaseMessage } from "@langchain/core/messages";
import { isCommand } from "@langchain/langgraph";
import type { Runtime } from "langchain";
import type { AgentSREContext, AgentSREUsageState } from "./schema.js";

export function structuredResultOf(
  produced: unknown,
): { structuredResponse: unknown; messages: readonly BaseMessage[] } | undefined {
  if (typeof produced !== "object" || produced === null || isCommand(produced)) return undefined;
  const holder = produced as { structuredResponse?: unknown; messages?: unknown };
  return "structuredResponse" in holder && Array.isArray(holder.messages)
    ? (holder as { structuredResponse: unknown; messages: readonly BaseMessage[] })
    : undefined;
}

export function defaultContext(runtime: Runtime<unknown>): AgentSREContext | undefined {
  const context = runtime.context as { agentSRE?: AgentSREContext } | undefined;
  return typeof context === "object" && context !== null ? context.agentSRE : undefined;
}

export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/** The id of the latest human message: the user turn the current calls serve. */
export function currentTurn(messages: readonly BaseMessage[]): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i] as BaseMessage;
    if (message.type === "human") return message.id;
  }
  return undefined;
}

export function checkpointNamespace(runtime: Runtime<unknown>): string | undefined {
  const namespace = runtime.configurable?.checkpoint_ns;
  return typeof namespace === "string" && namespace.length > 0 ? namespace : undefined;
}

export function checkTokens(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(field, value, "an integer >= 0");
  return value;
}

export function addUsage(
  previous: AgentSREUsageState | undefined,
  usage: UsageReport | undefined,
  sre: AgentSRE,
  provider: string | undefined,
): AgentSREUsageState {
  let costUsd = 0;
  if (usage !== undefined) {
    if (usage.costUsd !== undefined) costUsd = usage.costUsd;
    else if (usage.model !== undefined)
      costUsd = (sre.prices.costMicros(usage.model, usage, provider) ?? 0) / 1_000_000;
  }
  return {
    modelCalls: (previous?.modelCalls ?? 0) + 1,
    inputTokens: (previous?.inputTokens ?? 0) + (usage?.inputTokens ?? 0),
    outputTokens: (previous?.outputTokens ?? 0) + (usage?.outputTokens ?? 0),
    costUsd: (previous?.costUsd ?? 0) + costUsd,
  };
}
