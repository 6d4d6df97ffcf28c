import type { UsageReport } from "@agent-sre/core";
import type { CallOptionsLike, ModelUsageLike } from "./types.js";

/** Characters per token used by the estimates (prompt size, streamed output). English prose is ~4. */

const num = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;

/**
 * Model-level usage (V2 flat or V3/V4 nested) in the engine's vocabulary. `undefined` when the provider
 * reported no token counts at all (some OpenAI-compatible streams, #2543); a missing half is filled from
 * `fallback` (the adapter's estimate) so a partial report is never priced as free.
 */
export function toUsageReport(
  usage: unknown,
  providerMetadata?: unknown,
  fallback?: { inputTokens: number; outputTokens: number },
): UsageReport | undefined {
  if (usage === null || typeof usage !== "object")
    return fallback === undefined ? undefined : { ...fallback };
  const u = usage as ModelUsageLike;
  let input: number | undefined;
  let output: number | undefined;
  let cacheRead: number | undefined;
  let cacheWrite: number | undefined;
  let reasoning: number | undefined;
  const inTokens = u.inputTokens;
  const outTokens = u.outputTokens;
  if (typeof inTokens === "object" && inTokens !== null) {
    input = num(inTokens.total);
    cacheRead = num(inTokens.cacheRead);
    cacheWrite = num(inTokens.cacheWrite);
  } else {
    input = num(inTokens);
    cacheRead = num(u.cachedInputTokens);
  }
  if (typeof outTokens === "object" && outTokens !== null) {
    output = num(outTokens.total);
    reasoning = num(outTokens.reasoning);
  } else {
    output = num(outTokens);
    reasoning = num(u.reasoningTokens);
  }
  if (input === undefined && output === undefined) {
    return fallback === undefined ? undefined : { ...fallback };
  }
  const report: UsageReport = {
    inputTokens: input ?? fallback?.inputTokens ?? 0,
    outputTokens: output ?? fallback?.outputTokens ?? 0,
  };
  if (cacheRead !== undefined && cacheRead > 0) report.cachedInputTokens = cacheRead;
  if (cacheWrite !== undefined && cacheWrite > 0) report.cacheWriteTokens = cacheWrite;
  if (reasoning !== undefined && reasoning > 0) report.reasoningTokens = reasoning;
  const cost = gatewayCost(providerMetadata);
  if (cost !== undefined) report.costUsd = cost;
  return report;
}

/** The AI Gateway reports what it billed in `providerMetadata.gateway.cost` (a decimal string); it wins. */
function gatewayCost(providerMetadata: unknown): number | undefined {
  if (providerMetadata === null || typeof providerMetadata !== "object") return undefined;
  const gateway = (providerMetadata as { gateway?: { cost?: unknown } }).gateway;
  if (gateway === null || typeof gateway !== "object") return undefined;
  const cost = gateway.cost;
  const value = typeof cost === "string" ? Number(cost) : cost;
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Roughly what a file or image costs in input tokens; binary data is never read. */
const FILE_TOKENS = 1_000;
/** Per-message framing (role, separators) in characters. */
const MESSAGE_OVERHEAD_CHARS = 16;

const schemaChars = new WeakMap<object, number>();

/**
 * Estimated prompt tokens of a call: text, reasoning, tool calls and results, tool definitions, and a flat
 * amount per file. It reads the prompt once (no tokenizer); tool schemas are measured once per schema object.
 */
export function estimatePromptTokens(params: CallOptionsLike, charsPerToken: number): number {
  let chars = 0;
  let files = 0;
  const prompt = params.prompt;
  if (Array.isArray(prompt)) {
    for (const message of prompt as Array<{ content?: unknown }>) {
      chars += MESSAGE_OVERHEAD_CHARS;
      const content = message?.content;
      if (typeof content === "string") {
        chars += content.length;
        continue;
      }
      if (!Array.isArray(content)) continue;
      for (const part of content as Array<Record<string, unknown>>) {
        switch (part?.type) {
          case "text":
          case "reasoning":
            chars += typeof part.text === "string" ? part.text.length : 0;
            break;
          case "tool-call":
            chars += String(part.toolName ?? "").length + jsonChars(part.input);
            break;
          case "tool-result":
            chars += jsonChars(part.output ?? part.result);
            break;
          case "file":
          case "image":
          case "reasoning-file":
            files++;
            break;
          default:
            break;
        }
      }
    }
  }
  const tools = params.tools;
  if (Array.isArray(tools)) {
    for (const tool of tools as Array<Record<string, unknown>>) {
      chars +=
        String(tool?.name ?? "").length +
        (typeof tool?.description === "string" ? tool.description.length : 0);
      const schema = tool?.inputSchema;
      if (schema !== null && typeof schema === "object") {
        let size = schemaChars.get(schema);
        if (size === undefined) {
          size = jsonChars(schema);
          schemaChars.set(schema, size);
        }
        chars += size;
      }
    }
  }
  return Math.ceil(chars / charsPerToken) + files * FILE_TOKENS;
}

function jsonChars(value: unknown): number {
  if (typeof value === "string") return value.length;
  if (value === undefined || value === null) return 0;
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    return 0;
  }
}
