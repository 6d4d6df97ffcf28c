import { TimeoutError } from "../errors.js";
import type { GuardedCall } from "./guarded-call.js";
import type { GuardCall } from "./types.js";

/**
 * Who a failed call says something about, which decides the breaker it counts against:
 * - `"provider"` — the model or upstream is failing (HTTP 5xx, 429, 408, timeouts, connection errors):
 *   it counts against the target's breaker (`model:<name>`, `tool:<name>`, extra breakers such as an MCP
 *   upstream), shared by every agent;
 * - `"caller"` — the agent's own request was bad (HTTP 400/401/403/404/422, validation errors, its own
 *   tool errors): it counts against that agent's breaker (`agent:<id>`) only, so one misbehaving agent
 *   cannot lock the others out of a model;
 * - `"ignore"` — it counts against no breaker (it is still a failed call for SLOs and metrics).
 */
export type FailureClass = "provider" | "caller" | "ignore";

/** Classifies a failed call; `undefined` passes the decision on (to the adapter's, then the default rule). */
export type FailureClassifier = (error: unknown, call: GuardCall<never>) => FailureClass | undefined;

/** Node/undici/fetch error codes of a connection that failed or dropped. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

/** Error names of connection failures and timeouts across the SDKs we wrap. */
const PROVIDER_NAMES = new Set([
  "APIConnectionError",
  "APIConnectionTimeoutError",
  "TimeoutError",
  "FetchError",
  "ConnectTimeoutError",
]);

/** Error names of requests the provider will never accept as sent (schema and validation errors). */
const CALLER_NAMES = new Set([
  "ZodError",
  "ValidationError",
  "TypeValidationError",
  "AI_TypeValidationError",
  "InvalidToolInputError",
  "AI_InvalidToolInputError",
  "AI_InvalidArgumentError",
  "InvalidArgumentError",
  "NoSuchToolError",
  "AI_NoSuchToolError",
]);

const MAX_CAUSE_DEPTH = 4;

/**
 * Attaches a classification to an error, for adapters that map their framework's error types: the default
 * classifier honours it (as it honours a `failureClass` property an error class declares itself).
 */
export function tagFailure<E>(error: E, failureClass: FailureClass): E {
  if (typeof error === "object" && error !== null) {
    try {
      Object.defineProperty(error, "failureClass", {
        value: failureClass,
        configurable: true,
        writable: true,
      });
    } catch {
      // A frozen error cannot carry a tag: the default rule applies to it.
    }
  }
  return error;
}

/**
 * The default rule: a `failureClass` tag; an HTTP `status` / `statusCode` (5xx, 429 and 408 are the
 * provider's, other 4xx the caller's); timeouts and connection errors (the provider's); known validation
 * error names (the caller's); the same questions asked of `error.cause`. Anything else is the provider's,
 * as before classification existed: an unexplained failure of the target still protects everyone from it.
 */
export function defaultClassifyFailure(error: unknown): FailureClass {
  let current = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH; depth++) {
    const found = classifyOne(current);
    if (found !== undefined) return found;
    if (typeof current !== "object" || current === null || !("cause" in current)) break;
    current = (current as { cause?: unknown }).cause;
  }
  return "provider";
}

/**
 * The rule for an HTTP status, which adapters apply to their framework's error types: 5xx, 429 (rate
 * limited) and 408 (request timeout) are the provider's; every other 4xx is the caller's (the request as
 * sent will not succeed anywhere); anything else (no status, 2xx/3xx) says nothing.
 */
export function failureClassOfStatus(status: number | undefined): FailureClass | undefined {
  if (status === undefined || status < 400) return undefined;
  if (status >= 500 || status === 429 || status === 408) return "provider";
  return status < 500 ? "caller" : undefined;
}

function classifyOne(error: unknown): FailureClass | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  if (error instanceof TimeoutError) return "provider";
  const e = error as {
    failureClass?: unknown;
    status?: unknown;
    statusCode?: unknown;
    code?: unknown;
    name?: unknown;
  };
  const tag = e.failureClass;
  if (tag === "provider" || tag === "caller" || tag === "ignore") return tag;
  const status = failureClassOfStatus(
    typeof e.status === "number" ? e.status : typeof e.statusCode === "number" ? e.statusCode : undefined,
  );
  if (status !== undefined) return status;
  if (typeof e.code === "string" && CONNECTION_CODES.has(e.code)) return "provider";
  if (typeof e.name === "string") {
    if (PROVIDER_NAMES.has(e.name)) return "provider";
    if (CALLER_NAMES.has(e.name)) return "caller";
  }
  return undefined;
}

/** The work `guard()` runs: it gets the call's abort signal and the call in flight. */
export type GuardRun<T> = (signal: AbortSignal | undefined, inFlight: GuardedCall) => T | Promise<T>;

/**
 * An adapter's translation of a guarded call's outcome into its framework's answer (a refusal into a
 * message or a state update, a failure counted as a failed attempt, ...). The engine runs it in its own
 * reaction to the call, after the call is settled, so the adapter adds no promise of its own: `guard()`'s
 * promise settles with what `done` or `failed` returns (or rejects with what they throw). `failed` sees
 * every rejection the call would have had: a refusal, the call's own error, an abort.
 */
export interface OutcomeMapping<T, R> {
  /** The call succeeded and is settled: what the guard's promise resolves with. */
  done(result: T): R;
  /** The call was refused or failed and is settled: what the guard's promise resolves with; throw to reject. */
  failed(error: unknown): R;
}

/** A rejection through the adapter's mapping: a promise of what `failed` answers (rejected if it throws). */
export function failedWith<R>(outcome: OutcomeMapping<never, R> | undefined, error: unknown): Promise<R> {
  if (outcome === undefined) return Promise.reject(error);
  try {
    return Promise.resolve(outcome.failed(error));
  } catch (mapped) {
    return Promise.reject(mapped);
  }
}
