import type { Clock } from "../clock.js";
import type { OutcomeWindow, WindowSummary } from "./outcome-window.js";

/**
 * Outcomes of the last `durationMs`, in `buckets` equal time buckets aligned to the clock
 * (bucket = floor(now / bucketMs)). The window holds the current, partly filled bucket plus the `buckets - 1`
 * before it, so it covers between `durationMs - bucketMs` and `durationMs` of history (as Resilience4j and
 * opossum do). Moving forward subtracts each expired bucket from the totals: O(1) per call, and at most
 * `buckets` steps after a long idle gap.
 */
export class TimeWindow implements OutcomeWindow {
  readonly type = "time" as const;
  readonly #clock: Clock;
  readonly #bucketMs: number;
  readonly #bucketCalls: Float64Array;
  readonly #bucketFailures: Float64Array;
  readonly #bucketSlowCalls: Float64Array;
  /** Bucket number (floor(now / bucketMs)) of the newest bucket. */
  #headBucket: number;
  #calls = 0;
  #failures = 0;
  #slowCalls = 0;

  constructor(durationMs: number, buckets: number, clock: Clock) {
    this.#clock = clock;
    this.#bucketMs = durationMs / buckets;
    this.#bucketCalls = new Float64Array(buckets);
    this.#bucketFailures = new Float64Array(buckets);
    this.#bucketSlowCalls = new Float64Array(buckets);
    this.#headBucket = Math.floor(clock.now() / this.#bucketMs);
  }

  get calls(): number {
    return this.#calls;
  }

  get failures(): number {
    return this.#failures;
  }

  get slowCalls(): number {
    return this.#slowCalls;
  }

  record(failed: boolean, slow: boolean): void {
    this.#advance();
    const slot = this.#slot(this.#headBucket);
    this.#bucketCalls[slot] = (this.#bucketCalls[slot] as number) + 1;
    this.#calls++;
    if (failed) {
      this.#bucketFailures[slot] = (this.#bucketFailures[slot] as number) + 1;
      this.#failures++;
    }
    if (slow) {
      this.#bucketSlowCalls[slot] = (this.#bucketSlowCalls[slot] as number) + 1;
      this.#slowCalls++;
    }
  }

  sync(): void {
    this.#advance();
  }

  exportSummary(): WindowSummary {
    this.#advance();
    const buckets: Array<[number, number, number, number]> = [];
    const count = this.#bucketCalls.length;
    for (let bucket = this.#headBucket - count + 1; bucket <= this.#headBucket; bucket++) {
      const slot = this.#slot(bucket);
      const calls = this.#bucketCalls[slot] as number;
      if (calls > 0)
        buckets.push([
          bucket,
          calls,
          this.#bucketFailures[slot] as number,
          this.#bucketSlowCalls[slot] as number,
        ]);
    }
    return { type: "time", bucketMs: this.#bucketMs, buckets };
  }

  importSummary(summary: unknown): boolean {
    const value = summary as Partial<Extract<WindowSummary, { type: "time" }>> | null;
    if (value?.type !== "time" || value.bucketMs !== this.#bucketMs || !Array.isArray(value.buckets))
      return false;
    const valid = value.buckets.every(
      (b) =>
        Array.isArray(b) &&
        b.length === 4 &&
        b.every((n) => typeof n === "number" && Number.isInteger(n)) &&
        b[1] >= 0 &&
        b[2] >= 0 &&
        b[3] >= 0 &&
        b[2] <= b[1] &&
        b[3] <= b[1],
    );
    if (!valid) return false;
    this.reset(); // the head is now: buckets that aged out while the process was away are skipped
    const count = this.#bucketCalls.length;
    for (const [bucket, calls, failures, slow] of value.buckets) {
      if (bucket > this.#headBucket || bucket <= this.#headBucket - count) continue;
      const slot = this.#slot(bucket);
      this.#bucketCalls[slot] = calls;
      this.#bucketFailures[slot] = failures;
      this.#bucketSlowCalls[slot] = slow;
      this.#calls += calls;
      this.#failures += failures;
      this.#slowCalls += slow;
    }
    return true;
  }

  reset(): void {
    this.#bucketCalls.fill(0);
    this.#bucketFailures.fill(0);
    this.#bucketSlowCalls.fill(0);
    this.#calls = 0;
    this.#failures = 0;
    this.#slowCalls = 0;
    this.#headBucket = Math.floor(this.#clock.now() / this.#bucketMs);
  }

  #slot(bucket: number): number {
    const count = this.#bucketCalls.length;
    return ((bucket % count) + count) % count;
  }

  /** Moves the head to the current bucket, clearing every bucket it passes. A clock that steps back is ignored. */
  #advance(): void {
    const current = Math.floor(this.#clock.now() / this.#bucketMs);
    const gap = current - this.#headBucket;
    if (gap <= 0) return;
    if (gap >= this.#bucketCalls.length) {
      this.reset();
      return;
    }
    for (let bucket = this.#headBucket + 1; bucket <= current; bucket++) {
      const slot = this.#slot(bucket);
      this.#calls -= this.#bucketCalls[slot] as number;
      this.#failures -= this.#bucketFailures[slot] as number;
      this.#slowCalls -= this.#bucketSlowCalls[slot] as number;
      this.#bucketCalls[slot] = 0;
      this.#bucketFailures[slot] = 0;
      this.#bucketSlowCalls[slot] = 0;
    }
    this.#headBucket = current;
  }
}
