import { type FailureClass, failureClassOfStatus } from "@agent-sre/core";

/**
 * The AI SDK's error types (from `@ai-sdk/provider` and `ai`, v6 and v7) read as `FailureClass`, so breakers
 * attribute a failed call: provider-side failures count against the shared `model:<name>` breaker, the
 * caller's own against its agent's breaker only. The rule for HTTP statuses is core's
 * (`failureClassOfStatus`); this file only says which of the SDK's errors carry which fact.
 *
 * The SDK marks each error class with `Symbol.for("vercel.ai.error.<name>")` (what its own `isInstance`
 * checks), so errors are recognised without importing `ai` and across duplicate installs.
 */

const marker = (name: string) => Symbol.for(`vercel.ai.error.${name}`);
const API_CALL_ERROR = marker("AI_APICallError");
/** ai@7: an error reported inside a model stream after it started (carries an HTTP-equivalent status). */
const STREAM_PROVIDER_ERROR = marker("AI_StreamProviderError");
const RETRY_ERROR = marker("AI_RetryError");

/** The request as built can never succeed: missing keys and settings, invalid prompts, arguments and tool input. */
const CALLER_MARKERS = [
  "AI_LoadAPIKeyError",
  "AI_LoadSettingError",
  "AI_InvalidPromptError",
  "AI_InvalidArgumentError",
  "AI_TypeValidationError",
  "AI_UnsupportedFunctionalityError",
  "AI_NoSuchModelError",
  "AI_NoSuchProviderError",
  "AI_TooManyEmbeddingValuesForCallError",
  "AI_InvalidToolInputError",
  "AI_NoSuchToolError",
  "AI_InvalidDataContentError",
  "AI_InvalidMessageRoleError",
  "AI_MessageConversionError",
  "AI_InvalidToolApprovalError",
  "AI_InvalidToolApprovalSignatureError",
  "AI_ToolCallNotFoundForApprovalError",
  "AI_MissingToolResultsError",
].map(marker);

/** The provider answered with something unusable. */
const PROVIDER_MARKERS = [
  "AI_EmptyResponseBodyError",
  "AI_InvalidResponseDataError",
  "AI_JSONParseError",
  "AI_NoContentGeneratedError",
  "AI_DownloadError",
].map(marker);

const MAX_DEPTH = 4;

/**
 * Classifies an error thrown by an AI SDK model or tool call; `undefined` leaves it to core's default rule.
 * `APICallError` goes by its `statusCode` (5xx, 429, 408: provider; other 4xx: caller); one without a status
 * (the SDK's "Cannot connect to API" network errors) or with a 2xx status (a response body that failed to
 * parse) is the provider's; so is ai@7's `StreamProviderError`. `RetryError` is classified by its last error.
 */
export function classifyAiSdkFailure(error: unknown): FailureClass | undefined {
  let current = error;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    if (typeof current !== "object" || current === null) return undefined;
    const marked = current as Record<symbol, unknown>;
    if (marked[API_CALL_ERROR] === true || marked[STREAM_PROVIDER_ERROR] === true) {
      const status = (current as { statusCode?: unknown }).statusCode;
      return failureClassOfStatus(typeof status === "number" ? status : undefined) ?? "provider";
    }
    if (marked[RETRY_ERROR] === true) {
      current = (current as { lastError?: unknown }).lastError;
      continue;
    }
    for (const symbol of CALLER_MARKERS) if (marked[symbol] === true) return "caller";
    for (const symbol of PROVIDER_MARKERS) if (marked[symbol] === true) return "provider";
    return undefined;
  }
  return undefined;
}
