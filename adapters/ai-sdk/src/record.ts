import type { LanguageModelLike } from "./types.js";

/** How the AI SDK adapter's calls appear in a trace (`api` of its call lines). */
export const AI_SDK_API = { api: "ai-sdk" } as const;

/**
 * The request of a model call as recorded: the model, the specification version and the call options
 * (prompt, tools offered, tool choice, response format, parameters). The abort signal is not recorded;
 * headers go through redaction like everything else.
 */
export function requestOf(params: object, model: LanguageModelLike): Record<string, unknown> {
  return {
    model: model.modelId,
    provider: model.provider,
    specificationVersion: model.specificationVersion,
    ...params,
  };
}

/** What a generate result is recorded as: content, finish reason, usage, metadata, warnings. */
export function generateResponseOf(result: unknown): Record<string, unknown> {
  if (typeof result !== "object" || result === null) return { result };
  const r = result as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of [
    "content",
    "finishReason",
    "usage",
    "providerMetadata",
    "warnings",
    "text",
    "toolCalls",
  ]) {
    if (r[key] !== undefined) out[key] = r[key];
  }
  const response = r.response as Record<string, unknown> | undefined;
  if (response !== undefined) {
    const kept: Record<string, unknown> = {};
    for (const key of ["id", "timestamp", "modelId"])
      if (response[key] !== undefined) kept[key] = response[key];
    out.response = kept;
  }
  return out;
}
