import { RefusalError } from "@agent-sre/core";

// biome-ignore lint/suspicious/noExplicitAny: the client's APIError.generate is the SDK's
type AnyFn = (...args: any[]) => any;

/**
 * What the caller sees: refusals as the engine's typed `RefusalError`; injected faults and timeouts as the
 * OpenAI SDK's own `APIError` for the simulated status (`InternalServerError`, `RateLimitError`, ...) built
 * with the client's `APIError.generate`, with the engine's error as `cause`.
 */
export function toClientError(error: unknown, client: unknown): unknown {
  if (!(error instanceof RefusalError)) return error;
  if (error.code !== "CHAOS_INJECTED" && error.code !== "TIMEOUT") return error;
  const ctor = (client as { constructor?: { APIError?: { generate?: AnyFn } } } | undefined)?.constructor;
  const generate = ctor?.APIError?.generate;
  if (typeof generate !== "function") return error;
  const status =
    error.code === "TIMEOUT" ? 408 : ((error as RefusalError & { status?: number }).status ?? 503);
  const apiError = generate.call(
    ctor?.APIError,
    status,
    { message: error.message, type: "agent_sre_fault", code: error.code },
    error.message,
    new Headers(),
  ) as Error;
  Object.defineProperty(apiError, "cause", { value: error, configurable: true, writable: true });
  return apiError;
}
