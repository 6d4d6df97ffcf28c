import { defaultModelLimits, type ModelLimitsCatalog } from "../cost/model-limits.js";
import { ConfigError } from "../errors.js";

/** How an adapter estimates a model call it cannot see the size of yet (shared by every adapter). */
export interface ModelEstimateOptions {
  /** The agent the calls belong to. */
  agentId: string;
  /** Characters per token for the prompt-size estimate. Default 4. */
  charsPerToken?: number;
  /**
   * Output tokens to hold when the request sets no maximum (never more than the model's maximum output).
   * Default {@link DEFAULT_MAX_OUTPUT_TOKENS}, shared by every model adapter.
   */
  defaultMaxOutputTokens?: number;
  /** Clamp the request's max output tokens to what the budget can still pay for. Default true. */
  clampMaxOutputTokens?: boolean;
  /** With clamping: the fewest output tokens worth running the call with. Default 64. */
  minOutputTokens?: number;
  /**
   * Where model limits (maximum output, context window) come from, for the output-cap rule
   * (`outputTokenCap`). Default: the shared models.dev catalog (`defaultModelLimits()`).
   */
  modelLimits?: ModelLimitsCatalog;
}

export interface ResolvedModelEstimateOptions {
  readonly agentId: string;
  readonly charsPerToken: number;
  readonly defaultMaxOutputTokens: number;
  readonly clamp: boolean;
  readonly minOutputTokens: number;
  readonly modelLimits: ModelLimitsCatalog;
}

export const DEFAULT_CHARS_PER_TOKEN = 4;
/**
 * Output tokens every model adapter reserves for a call whose request sets no maximum (its worst case,
 * settled with the real usage afterwards); `defaultMaxOutputTokens` changes it.
 */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4096;
export const DEFAULT_MIN_OUTPUT_TOKENS = 64;

/** Validates the estimate options of a model adapter; errors name the field and the value. */
export function resolveModelEstimateOptions(options: ModelEstimateOptions): ResolvedModelEstimateOptions {
  if (typeof options?.agentId !== "string" || options.agentId.length === 0) {
    throw new ConfigError("agentId", options?.agentId, "a non-empty agent id");
  }
  const charsPerToken = options.charsPerToken ?? DEFAULT_CHARS_PER_TOKEN;
  if (!(charsPerToken > 0) || !Number.isFinite(charsPerToken)) {
    throw new ConfigError("charsPerToken", charsPerToken, "a positive number");
  }
  const defaultMaxOutputTokens = options.defaultMaxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS;
  if (!(defaultMaxOutputTokens >= 0) || !Number.isFinite(defaultMaxOutputTokens)) {
    throw new ConfigError("defaultMaxOutputTokens", defaultMaxOutputTokens, "a non-negative number");
  }
  const minOutputTokens = options.minOutputTokens ?? DEFAULT_MIN_OUTPUT_TOKENS;
  if (!Number.isInteger(minOutputTokens) || minOutputTokens < 1) {
    throw new ConfigError("minOutputTokens", minOutputTokens, "an integer >= 1");
  }
  return {
    agentId: options.agentId,
    charsPerToken,
    defaultMaxOutputTokens,
    clamp: options.clampMaxOutputTokens ?? true,
    minOutputTokens,
    modelLimits: options.modelLimits ?? defaultModelLimits(),
  };
}
