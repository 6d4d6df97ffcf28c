import type { OutcomeWindow, WindowSummary } from "./outcome-window.js";

const FAILED = 1;
const SLOW = 2;

/**
 * The last `size` outcomes in a ring (one byte each: bit 0 failed, bit 1 slow). Recording overwrites the oldest
 * outcome and subtracts it from the totals: O(1), no allocation.
 */
export class CountWindow implements OutcomeWindow {
  readonly type = "count" as const;
  readonly #ring: Uint8Array;
  #next = 0;
  #calls = 0;
  #failures = 0;
  #slowCalls = 0;

  constructor(size: number) {
    this.#ring = new Uint8Array(size);
  }

  get size(): number {
    return this.#ring.length;
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
    const ring = this.#ring;
    const index = this.#next;
    if (this.#calls === ring.length) {
      const evicted = ring[index] as number;
      this.#failures -= evicted & FAILED;
      this.#slowCalls -= (evicted & SLOW) >> 1;
    } else {
      this.#calls++;
    }
    ring[index] = (failed ? FAILED : 0) | (slow ? SLOW : 0);
    if (failed) this.#failures++;
    if (slow) this.#slowCalls++;
    this.#next = index + 1 === ring.length ? 0 : index + 1;
  }

  sync(): void {}

  exportSummary(): WindowSummary {
    const ring = this.#ring;
    let outcomes = "";
    const oldest = this.#calls === ring.length ? this.#next : 0;
    for (let i = 0; i < this.#calls; i++) outcomes += String(ring[(oldest + i) % ring.length]);
    return { type: "count", outcomes };
  }

  importSummary(summary: unknown): boolean {
    const value = summary as Partial<Extract<WindowSummary, { type: "count" }>> | null;
    if (value?.type !== "count" || typeof value.outcomes !== "string" || !/^[0-3]*$/.test(value.outcomes))
      return false;
    this.reset();
    // The newest `size` outcomes, replayed in order (a smaller window keeps the most recent ones).
    for (const digit of value.outcomes.slice(-this.#ring.length)) {
      const bits = Number(digit);
      this.record((bits & FAILED) !== 0, (bits & SLOW) !== 0);
    }
    return true;
  }

  reset(): void {
    this.#ring.fill(0);
    this.#next = 0;
    this.#calls = 0;
    this.#failures = 0;
    this.#slowCalls = 0;
  }
}
