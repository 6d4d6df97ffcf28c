import { type RefusalCode, RefusalError } from "@agent-sre/core";

const AI_SDK_ERROR = Symbol.for("vercel.ai.error");
const API_CALL_ERROR = Symbol.for("vercel.ai.error.AI_APICallError");
/** Marks every error this adapter builds as a stand-in for a provider error (`instanceof AgentSREApiCallError`). */
const AGENT_SRE_API_CALL_ERROR = Symbol.for("agent-sre.ai-sdk.AgentSREApiCallError");

type ApiCallErrorFields = {
  message: string;
  url: string;
  requestBodyValues: unknown;
  statusCode: number;
  responseHeaders: Record<string, string> | undefined;
  responseBody: string | undefined;
  cause: unknown;
  isRetryable: boolean;
  data: unknown;
};
type ApiCallErrorClass = new (fields: ApiCallErrorFields) => Error;

/** The AI SDK's own rule for `APICallError.isRetryable`. */
const retryable = (status: number) => status === 408 || status === 409 || status === 429 || status >= 500;

function fieldsOf(
  cause: RefusalError,
  statusCode: number,
  retryAfterMs: number | undefined,
): ApiCallErrorFields {
  return {
    message: cause.message,
    url: "agent-sre://fault",
    requestBodyValues: {},
    statusCode,
    responseHeaders: retryAfterMs === undefined ? undefined : { "retry-after-ms": String(retryAfterMs) },
    responseBody: undefined,
    cause,
    isRetryable: retryable(statusCode),
    data: cause.toJSON(),
  };
}

/**
 * A transient failure the engine produced for a model call — an injected chaos fault (`CHAOS_INJECTED`) or a
 * timeout (`TIMEOUT`, from `timeouts.modelMs` or a chaos timeout fault) — as the AI SDK's `APICallError`, so
 * the SDK treats it exactly like a provider's 5xx/429: `isRetryable` follows the simulated status and
 * `maxRetries` retries it. What the middleware throws is a real subclass of the `APICallError` of the `ai`
 * package your app imports (`error instanceof APICallError` and `APICallError.isInstance(error)` hold); this
 * class is its stand-in when `ai` cannot be loaded, and `instanceof AgentSREApiCallError` matches both. The
 * engine's error is the `cause` (`refusalFrom(error)` finds it); `code` repeats its stable code.
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

  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      typeof value === "object" &&
      value !== null &&
      (value as Record<symbol, unknown>)[AGENT_SRE_API_CALL_ERROR] === true
    );
  }

  constructor(cause: RefusalError, statusCode: number, retryAfterMs: number | undefined) {
    const fields = fieldsOf(cause, statusCode, retryAfterMs);
    super(fields.message, { cause });
    this.name = "AI_APICallError";
    this.url = fields.url;
    this.requestBodyValues = fields.requestBodyValues;
    this.statusCode = statusCode;
    this.responseHeaders = fields.responseHeaders;
    this.responseBody = undefined;
    this.isRetryable = fields.isRetryable;
    this.data = fields.data;
    this.code = cause.code;
    Object.defineProperty(this, AI_SDK_ERROR, { value: true, enumerable: false });
    Object.defineProperty(this, API_CALL_ERROR, { value: true, enumerable: false });
    Object.defineProperty(this, AGENT_SRE_API_CALL_ERROR, { value: true, enumerable: false });
  }
}

/** The subclass of the app's `APICallError`, once `ai` is loaded; `null` when it cannot be. */
let sdkClass: ApiCallErrorClass | null | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads the `APICallError` of the `ai` package (the adapter's optional peer, i.e. the one your app uses) once.
 * The middleware starts this when it is created; errors are built after it settles.
 */
export function loadApiCallError(): Promise<void> {
  loading ??= import("ai").then(
    (ai: { APICallError?: unknown }) => {
      const Base = ai.APICallError;
      sdkClass = typeof Base === "function" ? subclassOf(Base as ApiCallErrorClass) : null;
    },
    () => {
      sdkClass = null;
    },
  );
  return loading;
}

function subclassOf(Base: ApiCallErrorClass): ApiCallErrorClass {
  return class AgentSREApiCallError extends Base {
    readonly code: RefusalCode;
    constructor(fields: ApiCallErrorFields) {
      super(fields);
      this.code = (fields.cause as RefusalError).code;
      Object.defineProperty(this, AGENT_SRE_API_CALL_ERROR, { value: true, enumerable: false });
    }
  };
}

function apiCallError(cause: RefusalError, statusCode: number, retryAfterMs: number | undefined): Error {
  if (sdkClass) return new sdkClass(fieldsOf(cause, statusCode, retryAfterMs));
  return new AgentSREApiCallError(cause, statusCode, retryAfterMs);
}

/** Whether the app's `APICallError` has been looked up (then errors are built synchronously). */
export function apiCallErrorLoaded(): boolean {
  return sdkClass !== undefined;
}

/** {@link toSdkError} once the app's `APICallError` has been looked up. */
export async function toSdkErrorLoaded(error: unknown, retryAfterMs: number | undefined): Promise<unknown> {
  if (sdkClass === undefined && error instanceof RefusalError) await loadApiCallError();
  return toSdkError(error, retryAfterMs);
}

/**
 * Maps an error from the engine to what the AI SDK should see. `retryAfterMs` sets the `retry-after-ms`
 * header of injected errors (the SDK honours 0–60 s; without it the SDK backs off as for a real 5xx).
 */
export function toSdkError(error: unknown, retryAfterMs: number | undefined): unknown {
  if (!(error instanceof RefusalError)) return error;
  if (error.code === "TIMEOUT") return apiCallError(error, 408, retryAfterMs);
  if (error.code !== "CHAOS_INJECTED") return error;
  const status = (error as RefusalError & { status?: unknown }).status;
  return apiCallError(error, typeof status === "number" ? status : 503, retryAfterMs);
}

/**
 * The engine refusal behind an error the AI SDK hands you, if any: the error itself, the `cause` of an
 * `APICallError` the adapter built, the errors of a `RetryError` (the last attempt first), a tool error's
 * `error`, or anything further down their `cause` chains.
 *
 * ```ts
 * try { await generateText({ model, prompt }); } catch (error) {
 *   const refusal = refusalFrom(error);
 *   if (refusal?.code === "BUDGET_EXCEEDED") ...
 * }
 * ```
 */
export function refusalFrom(error: unknown): RefusalError | undefined {
  const pending: unknown[] = [error];
  for (let seen = 0; pending.length > 0 && seen < 32; seen++) {
    const current = pending.shift();
    if (current === null || current === undefined || typeof current !== "object") continue;
    if (current instanceof RefusalError) return current;
    const e = current as { lastError?: unknown; errors?: unknown; error?: unknown; cause?: unknown };
    if (e.lastError !== undefined) pending.push(e.lastError);
    if (Array.isArray(e.errors)) for (let i = e.errors.length - 1; i >= 0; i--) pending.push(e.errors[i]);
    if (e.error !== undefined) pending.push(e.error);
    if (e.cause !== undefined) pending.push(e.cause);
  }
  return undefined;
}
