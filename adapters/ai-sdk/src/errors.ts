import { type RefusalCode, RefusalError } from "@agent-sre/core";

const AI_SDK_ERROR = Symbol.for("vercel.ai.error");
const API_CALL_ERROR = Symbol.for("vercel.ai.error.AI_APICallError");

/**
 * A transient failure the engine produced for a model call — an injected chaos fault (`CHAOS_INJECTED`) or a
 * timeout (`TIMEOUT`, from `timeouts.modelMs` or a chaos timeout fault) — dressed as the AI SDK's
 * `APICallError` so the SDK treats it exactly like a provider's 5xx/429: `APICallError.isInstance(e)` is
 * true, `isRetryable` follows the simulated status, and `maxRetries` retries it. The engine's error is the
 * `cause`; `code` repeats its stable code.
 *
 * Every other refusal (open breaker, exhausted budget, killed or quarantined agent, ...) is thrown as the
 * engine's own `RefusalError`, which the SDK never retries.
 */
export class AgentSREApiCallError extends Error {
  readonly url: string;
  readonly requestBodyValues: unknown;
  readonly statusCode: number;
  readonly responseHeaders: Record<string, string> | undefined;
  readonly responseBody: string | undefined;
  readonly isRetryable: boolean;
  readonly data: unknown;
  readonly code: RefusalCode;

  constructor(cause: RefusalError, statusCode: number, retryAfterMs: number | undefined) {
    super(cause.message, { cause });
    this.name = "AI_APICallError";
    this.url = "agent-sre://fault";
    this.requestBodyValues = {};
    this.statusCode = statusCode;
    this.responseHeaders =
      retryAfterMs === undefined ? undefined : { "retry-after-ms": String(retryAfterMs) };
    this.responseBody = undefined;
    // The AI SDK's own rule for APICallError.
    this.isRetryable = statusCode === 408 || statusCode === 409 || statusCode === 429 || statusCode >= 500;
    this.data = cause.toJSON();
    this.code = cause.code;
    Object.defineProperty(this, AI_SDK_ERROR, { value: true, enumerable: false });
    Object.defineProperty(this, API_CALL_ERROR, { value: true, enumerable: false });
  }
}

/**
 * Maps an error from the engine to what the AI SDK should see. `retryAfterMs` sets the `retry-after-ms`
 * header of injected errors (the SDK honours 0–60 s; without it the SDK backs off as for a real 5xx).
 */
export function toSdkError(error: unknown, retryAfterMs: number | undefined): unknown {
  if (!(error instanceof RefusalError)) return error;
  if (error.code === "CHAOS_INJECTED") {
    const status = (error as RefusalError & { status?: unknown }).status;
    return new AgentSREApiCallError(error, typeof status === "number" ? status : 503, retryAfterMs);
  }
  if (error.code === "TIMEOUT") return new AgentSREApiCallError(error, 408, retryAfterMs);
  return error;
}
