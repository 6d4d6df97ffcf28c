import type { RefusalCode } from "./errors.js";

/** What kind of call the pipeline guards. */
export type CallKind = "model" | "tool";

/**
 * Token usage of one model call, in the engine's one vocabulary. Adapters translate their framework's
 * usage into this shape.
 * - `inputTokens` is the total input, including cached and cache-written tokens (as OpenAI's
 *   `prompt_tokens` and the AI SDK's `inputTokens`);
 * - `outputTokens` is the total output, including reasoning tokens (as OpenAI's `completion_tokens`).
 */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  /** Input tokens read from a prompt cache (a subset of `inputTokens`). */
  cachedInputTokens?: number;
  /** Input tokens written to a prompt cache (a subset of `inputTokens`). */
  cacheWriteTokens?: number;
  /** Reasoning tokens (a subset of `outputTokens`). */
  reasoningTokens?: number;
}

/**
 * One finished (executed) call, as the post-flight stage reports it to SLOs, the rogue detector and
 * chaos experiments. Refused calls are not observations: they never ran.
 */
export interface CallObservation {
  /** When the call finished (ms, from the engine's clock). */
  at: number;
  agentId: string;
  taskId: string | undefined;
  kind: CallKind;
  /** Model id or tool name. */
  name: string;
  ok: boolean;
  durationMs: number;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  /** Set when the call failed with a typed engine error (e.g. `TIMEOUT`, `CHAOS_INJECTED`). */
  errorCode: RefusalCode | undefined;
}
