import type { OutcomeWindow } from "./outcome-window.js";

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

  reset(): void {
    this.#ring.fill(0);
    this.#next = 0;
    this.#calls = 0;
    this.#failures = 0;
    this.#slowCalls = 0;
  }
}
