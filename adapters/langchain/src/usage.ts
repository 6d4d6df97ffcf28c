import type { UsageReport } from "@agent-sre/core";
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";

/** LangChain's `usage_metadata` (input includes cache reads and writes, output includes reasoning). */
interface UsageMetadataLike {
  input_tokens?: number;
  output_tokens?: number;
  input_token_details?: { cache_read?: number; cache_creation?: number };
  output_token_details?: { reasoning?: number };
}

/**
 * Translates `usage_metadata` into the engine's usage. LangChain's conventions match the engine's:
 * `input_tokens` already includes cached and cache-written tokens, `output_tokens` includes reasoning.
 */
export function usageFromMetadata(
  usage: UsageMetadataLike | undefined,
  model: string | undefined,
): UsageReport | undefined {
  if (usage === undefined || usage === null) return undefined;
  const inputTokens = count(usage.input_tokens);
  const outputTokens = count(usage.output_tokens);
  // Built whole (the model in the literal, not added to it later): one allocation, one shape.
  const report: UsageReport =
    model === undefined ? { inputTokens, outputTokens } : { inputTokens, outputTokens, model };
  const input = usage.input_token_details;
  if (input !== undefined) {
    if (input.cache_read) report.cachedInputTokens = count(input.cache_read);
    if (input.cache_creation) report.cacheWriteTokens = count(input.cache_creation);
  }
  const reasoning = usage.output_token_details?.reasoning;
  if (reasoning) report.reasoningTokens = count(reasoning);
  return report;
}

/** The resolved model a provider reports on its response (`gpt-4o-mini-2024-07-18`), if any. */
export function responseModelName(message: BaseMessage | undefined): string | undefined {
  const metadata = message?.response_metadata as Record<string, unknown> | undefined;
  if (metadata === undefined) return undefined;
  const name = metadata.model_name ?? metadata.model;
  return typeof name === "string" && name.length > 0 ? name : undefined;
}

/** Usage of one model response, priced by the model the provider resolved, else the requested one. */
export function usageFromMessage(
  message: BaseMessage | undefined,
  requestedModel: string,
): UsageReport | undefined {
  if (message === undefined) return undefined;
  const usage = (message as AIMessage).usage_metadata;
  return usageFromMetadata(usage, responseModelName(message) ?? requestedModel);
}

/**
 * The AIMessage in what a `wrapModelCall` handler returned: an AIMessage, a structured-output result
 * (`{ structuredResponse, messages }`) or a `Command` whose update carries messages.
 */
export function aiMessageOf(result: unknown): AIMessage | undefined {
  if (AIMessage.isInstance(result)) return result;
  if (typeof result !== "object" || result === null) return undefined;
  const messages =
    (result as { messages?: unknown }).messages ??
    (result as { update?: { messages?: unknown } }).update?.messages;
  if (!Array.isArray(messages)) return undefined;
  for (const message of messages) if (AIMessage.isInstance(message)) return message;
  return undefined;
}

interface TokenUsageLike {
  promptTokens?: number;
  completionTokens?: number;
}

/**
 * Usage of an LLM run as `handleLLMEnd` sees it: `usage_metadata` summed over the generations (each
 * prompt's first candidate), falling back to `llmOutput.tokenUsage`, then `llmOutput.estimatedTokenUsage`.
 */
export function usageFromLLMResult(output: LLMResult, requestedModel: string): UsageReport | undefined {
  let summed: UsageReport | undefined;
  let model: string | undefined;
  for (const candidates of output.generations ?? []) {
    const message = (candidates[0] as { message?: BaseMessage } | undefined)?.message;
    const usage = (message as AIMessage | undefined)?.usage_metadata;
    if (usage === undefined) continue;
    model ??= responseModelName(message);
    const report = usageFromMetadata(usage, undefined) as UsageReport;
    summed = summed === undefined ? report : addUsage(summed, report);
  }
  if (summed !== undefined) {
    summed.model = model ?? requestedModel;
    return summed;
  }
  const llmOutput = output.llmOutput as
    | { tokenUsage?: TokenUsageLike; estimatedTokenUsage?: TokenUsageLike; model_name?: string }
    | undefined;
  const tokens = llmOutput?.tokenUsage ?? llmOutput?.estimatedTokenUsage;
  if (tokens === undefined || (tokens.promptTokens === undefined && tokens.completionTokens === undefined)) {
    return undefined;
  }
  const name = typeof llmOutput?.model_name === "string" ? llmOutput.model_name : requestedModel;
  return {
    inputTokens: count(tokens.promptTokens),
    outputTokens: count(tokens.completionTokens),
    model: name,
  };
}

function addUsage(a: UsageReport, b: UsageReport): UsageReport {
  const sum: UsageReport = {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
  };
  const cached = (a.cachedInputTokens ?? 0) + (b.cachedInputTokens ?? 0);
  const written = (a.cacheWriteTokens ?? 0) + (b.cacheWriteTokens ?? 0);
  const reasoning = (a.reasoningTokens ?? 0) + (b.reasoningTokens ?? 0);
  if (cached > 0) sum.cachedInputTokens = cached;
  if (written > 0) sum.cacheWriteTokens = written;
  if (reasoning > 0) sum.reasoningTokens = reasoning;
  return sum;
}

/** A token count: a positive finite number, rounded; anything else 0. */
function count(value: number | undefined): number {
  if (typeof value !== "number" || !(value > 0)) return 0;
  // An integer (every provider's count) as it is: V8 then skips the float round trip of Math.round.
  if (Number.isInteger(value)) return value;
  return Number.isFinite(value) ? Math.round(value) : 0;
}
