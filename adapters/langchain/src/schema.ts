// The state and context schemas the middleware declares, so `createAgent` types `result.<usageStateKey>`
// and `context.agentSRE`, and so a run can be ended through LangChain's own `jumpTo: "end"`.
import { ReducedValue, StateSchema } from "@langchain/langgraph";
import { z } from "zod";
import type { OnViolation, RefusalMetadata } from "./refusals.js";

/**
 * Per-invocation settings read from the agent's runtime context, by default from `context.agentSRE`:
 * `agent.invoke(input, { context: { agentSRE: { agentId: "billing-agent", taskId: "ticket-42" } } })`.
 * They win over the middleware's options, so one middleware instance can serve many agents and threads.
 */
export interface AgentSREContext {
  agentId?: string;
  taskId?: string;
  onViolation?: OnViolation;
  /** Tool-call timeout (ms) for this invocation; 0 disables. */
  toolTimeoutMs?: number;
  /** Model-call timeout (ms) for this invocation; 0 disables. */
  modelTimeoutMs?: number;
}

/** Per-thread usage the middleware writes to the agent state when `usageStateKey` is set. */
export interface AgentSREUsageState {
  modelCalls: number;
  inputTokens: number;
  outputTokens: number;
  /** Priced from the engine's catalog (the provider's own reported cost when it has one). */
  costUsd: number;
}

export const usageStateSchema = z.object({
  modelCalls: z.number(),
  inputTokens: z.number(),
  outputTokens: z.number(),
  costUsd: z.number(),
});

/**
 * The context the middleware declares: `agentSRE`, checked by the middleware itself (strict, with the
 * path of a bad value), so the schema only carries the type and costs nothing to parse.
 */
export const contextSchema = z.object({ agentSRE: z.custom<AgentSREContext>().optional() });
/** With a custom `context` reader the middleware must see every key, so nothing is stripped. */
export const looseContextSchema = z.looseObject({ agentSRE: z.custom<AgentSREContext>().optional() });
export type AgentSREContextSchema = typeof contextSchema;

/** Private state (LangChain keeps `_` keys out of the agent's input and output). */
export const END_KEY = "_agentSREEnd";
export const STRUCTURED_KEY = "_agentSREStructured";

/**
 * Why the run is ending: set by a tool call refused in `"end"` mode, read (and cleared) by the
 * middleware's `beforeModel` hook, which ends the run with `jumpTo: "end"`. Parallel tool calls may each
 * set it in one step, so it has a reducer: the first reason wins, `null` clears.
 */
const endValue = new ReducedValue(z.custom<RefusalMetadata | null>().optional(), {
  reducer: (current: RefusalMetadata | null | undefined, next: RefusalMetadata | null | undefined) =>
    next === null ? null : (current ?? next),
});

const structuredValue = z.boolean().optional();

type UsageFields<K extends string> = { [P in K]: z.ZodOptional<typeof usageStateSchema> };
type PrivateFields = { [END_KEY]: typeof endValue; [STRUCTURED_KEY]: typeof structuredValue };
export type AgentSREStateSchema<K extends string> = StateSchema<UsageFields<K> & PrivateFields>;

export function stateSchemaFor<K extends string>(usageStateKey: K | undefined): AgentSREStateSchema<K> {
  const fields: Record<string, unknown> = { [END_KEY]: endValue, [STRUCTURED_KEY]: structuredValue };
  if (usageStateKey !== undefined) fields[usageStateKey] = usageStateSchema.optional();
  return new StateSchema(fields as UsageFields<K> & PrivateFields);
}
