/**
 * A per-receiver token bucket on the injected clock: `perMinute` sustained, `burst` at once. Delivery
 * waits for a token instead of dropping (an alert is never discarded for speed).
 */
export interface RateLimitOptions {
  perMinute: number;
  /** Default: `max(1, perMinute / 6)` (ten seconds' worth). */
  burst?: number;
}

export class TokenBucket {
  readonly #capacity: number;
  readonly #perMs: number;
  #tokens: number;
  #updatedAt: number;

  constructor(options: RateLimitOptions, now: number) {
    this.#capacity = Math.max(1, options.burst ?? Math.floor(options.perMinute / 6));
    this.#perMs = options.perMinute / 60_000;
    this.#tokens = this.#capacity;
    this.#updatedAt = now;
  }

  /** Takes a token and returns 0, or returns how long (ms) until one is available. */
  take(now: number): number {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.#tokens) / this.#perMs);
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#updatedAt);
    this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed * this.#perMs);
    this.#updatedAt = now;
  }
}
