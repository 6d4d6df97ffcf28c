/** Retry policy of a receiver: exponential backoff with jitter, `Retry-After` honoured on 429/503. */
export interface RetryOptions {
  /** Attempts in all, the first included (default 8). */
  maxAttempts: number;
  /** First retry delay (default 1 s). */
  initialDelayMs: number;
  /** Cap of the exponential delay (default 5 min). */
  maxDelayMs: number;
  /** Growth per attempt (default 2). */
  multiplier: number;
  /** Cap on a server's `Retry-After` (default 15 min): a bogus header must not park the queue for days. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxAttempts: 8,
  initialDelayMs: 1_000,
  maxDelayMs: 300_000,
  multiplier: 2,
  maxRetryAfterMs: 900_000,
};

/**
 * Delay before attempt `attempt + 1` after `attempt` failures: "equal jitter" — half the exponential
 * delay fixed, half random — so a fleet of retrying senders spreads out but never retries at once.
 */
export function backoffDelay(attempt: number, options: RetryOptions, random: () => number): number {
  const exponential = Math.min(
    options.maxDelayMs,
    options.initialDelayMs * options.multiplier ** Math.max(0, attempt - 1),
  );
  return Math.round(exponential / 2 + random() * (exponential / 2));
}

/** `Retry-After` as delta-seconds or an HTTP date → ms from `now`; `undefined` when absent or unreadable. */
export function parseRetryAfter(header: string | null | undefined, now: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
