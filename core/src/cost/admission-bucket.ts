/**
 * A token bucket of admissions: holds up to `max(1, perMinute)` admissions and refills at `perMinute` per
 * minute, driven by the caller's clock. Kept as one number (GCRA: the theoretical arrival time of the next
 * admission), so it needs no timer and its state is O(1). A freshly started bucket is full.
 */
export class AdmissionBucket {
  readonly perMinute: number;
  readonly #intervalMs: number;
  readonly #burstToleranceMs: number;
  #theoreticalArrivalMs: number;

  constructor(perMinute: number, nowMs: number) {
    this.perMinute = perMinute;
    this.#intervalMs = 60_000 / perMinute;
    this.#burstToleranceMs = (Math.max(1, perMinute) - 1) * this.#intervalMs;
    this.#theoreticalArrivalMs = nowMs;
  }

  /** ms until an admission is available (0 = one is available now). Takes nothing. */
  waitMs(nowMs: number): number {
    const wait = this.#theoreticalArrivalMs - this.#burstToleranceMs - nowMs;
    // Sub-microsecond float residue from fractional intervals must not refuse a due admission.
    return wait > 1e-6 ? wait : 0;
  }

  /** Takes one admission (call after `waitMs` returned 0). */
  take(nowMs: number): void {
    this.#theoreticalArrivalMs = Math.max(this.#theoreticalArrivalMs, nowMs) + this.#intervalMs;
  }

  /** Refills the bucket completely. */
  reset(nowMs: number): void {
    this.#theoreticalArrivalMs = nowMs;
  }
}
