import type { UsageReport } from "@agent-sre/core";

/** Which endpoint a call goes to: the body and usage shapes differ. */
export type Endpoint = "chat" | "responses";

const num = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;

interface ChatUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

interface ResponsesUsage {
  input_tokens?: number;
  output_tokens?: number;
  input_tokens_details?: { cached_tokens?: number } | null;
  output_tokens_details?: { reasoning_tokens?: number } | null;
}

/**
 * OpenAI usage in the engine's vocabulary (chat `prompt_tokens`/`completion_tokens` or responses
 * `input_tokens`/`output_tokens`, with cached and reasoning details). `undefined` without token counts.
 */
export function usageReport(endpoint: Endpoint, usage: unknown): UsageReport | undefined {
  if (usage === null || typeof usage !== "object") return undefined;
  let input: number | undefined;
  let output: number | undefined;
  let cached: number | undefined;
  let reasoning: number | undefined;
  if (endpoint === "chat") {
    const u = usage as ChatUsage;
    input = num(u.prompt_tokens);
    output = num(u.completion_tokens);
    cached = num(u.prompt_tokens_details?.cached_tokens);
    reasoning = num(u.completion_tokens_details?.reasoning_tokens);
  } else {
    const u = usage as ResponsesUsage;
    input = num(u.input_tokens);
    output = num(u.output_tokens);
    cached = num(u.input_tokens_details?.cached_tokens);
    reasoning = num(u.output_tokens_details?.reasoning_tokens);
  }
  if (input === undefined && output === undefined) return undefined;
  const report: UsageReport = { inputTokens: input ?? 0, outputTokens: output ?? 0 };
  if (cached !== undefined && cached > 0) report.cachedInputTokens = cached;
  if (reasoning !== undefined && reasoning > 0) report.reasoningTokens = reasoning;
  return report;
}

/** Roughly what an image, audio clip or file costs in input tokens; their data is never read. */
const FILE_TOKENS = 1_000;
const MESSAGE_OVERHEAD_CHARS = 16;
const FILE_PART_TYPES = new Set(["image_url", "input_image", "input_file", "file", "input_audio", "image"]);
/** Fields that hold binary data, URLs or ids rather than text the model reads. */
const SKIPPED_KEYS = new Set([
  "type",
  "role",
  "id",
  "call_id",
  "url",
  "image_url",
  "file_data",
  "data",
  "file_id",
  "detail",
]);
const MAX_DEPTH = 8;

const schemaChars = new WeakMap<object, number>();

/**
 * Estimated prompt tokens of a request body: message and input text, tool calls and outputs, tool
 * definitions (measured once per schema object), instructions, and a flat amount per image or file.
 */
export function estimateInputTokens(
  endpoint: Endpoint,
  body: Record<string, unknown>,
  charsPerToken: number,
): number {
  const counter = { chars: 0, files: 0 };
  if (endpoint === "chat") {
    const messages = body.messages;
    if (Array.isArray(messages)) {
      for (const message of messages) {
        counter.chars += MESSAGE_OVERHEAD_CHARS;
        walk(message, counter, 0);
      }
    }
  } else {
    if (typeof body.instructions === "string") counter.chars += body.instructions.length;
    const input = body.input;
    if (typeof input === "string") counter.chars += input.length + MESSAGE_OVERHEAD_CHARS;
    else if (Array.isArray(input)) {
      for (const item of input) {
        counter.chars += MESSAGE_OVERHEAD_CHARS;
        walk(item, counter, 0);
      }
    }
  }
  const tools = body.tools;
  if (Array.isArray(tools)) {
    for (const tool of tools) {
      if (tool === null || typeof tool !== "object") continue;
      let size = schemaChars.get(tool);
      if (size === undefined) {
        try {
          size = JSON.stringify(tool)?.length ?? 0;
        } catch {
          size = 0;
        }
        schemaChars.set(tool, size);
      }
      counter.chars += size;
    }
  }
  return Math.ceil(counter.chars / charsPerToken) + counter.files * FILE_TOKENS;
}

function walk(value: unknown, counter: { chars: number; files: number }, depth: number): void {
  if (typeof value === "string") {
    counter.chars += value.length;
    return;
  }
  if (value === null || typeof value !== "object" || depth > MAX_DEPTH) return;
  if (Array.isArray(value)) {
    for (const item of value) walk(item, counter, depth + 1);
    return;
  }
  const record = value as Record<string, unknown>;
  if (typeof record.type === "string" && FILE_PART_TYPES.has(record.type)) {
    counter.files++;
    return;
  }
  for (const key in record) {
    if (!SKIPPED_KEYS.has(key)) walk(record[key], counter, depth + 1);
  }
}
