import type { SchedulingClock, TimerHandle } from "../clock.js";

/** Something with a deadline that can be told it timed out. */
export interface DeadlineEntry {
  deadlineAtMs: number;
  /** Set once the call finished; a finished entry is skipped when its deadline passes. */
  finished: boolean;
  onDeadline(): void;
}

/**
 * Timeouts without a timer per call. All calls that share one timeout duration get deadlines in the order
 * they start, so a FIFO queue per duration is already sorted: adding is O(1), finishing is a flag, and a
 * single timer is armed for the head only. Node's `setTimeout` + `clearTimeout` costs ~600 ns and
 * `AbortController.abort()` ~15 µs; this costs an array push on the success path.
 */
export class DeadlineQueue {
  readonly #clock: SchedulingClock;
  readonly #timeoutMs: number;
  #entries: Array<DeadlineEntry | undefined> = [];
  #head = 0;
  #timer: TimerHandle | undefined;
  #timerDueAtMs = Number.POSITIVE_INFINITY;
  readonly #onTimer = () => this.#sweep();

  constructor(clock: SchedulingClock, timeoutMs: number) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /** Number of entries still held (finished ones are dropped lazily). */
  get size(): number {
    return this.#entries.length - this.#head;
  }

  /** Adds an entry whose deadline is now + timeoutMs (set on the entry). */
  add(entry: DeadlineEntry, nowMs: number): void {
    entry.deadlineAtMs = nowMs + this.#timeoutMs;
    this.#dropFinishedHead();
    this.#entries.push(entry);
    if (this.#timer === undefined) this.#arm(entry.deadlineAtMs, nowMs);
  }

  #arm(dueAtMs: number, nowMs: number): void {
    this.#timerDueAtMs = dueAtMs;
    this.#timer = this.#clock.setTimeout(this.#onTimer, Math.max(0, dueAtMs - nowMs));
    // Never keep a process alive just to time out calls that may all finish.
    const handle = this.#timer as { unref?: () => void };
    if (typeof handle?.unref === "function") handle.unref();
  }

  /** Calls mostly finish in the order they started: dropping finished heads keeps the queue short. */
  #dropFinishedHead(): void {
    const entries = this.#entries;
    while (this.#head < entries.length && (entries[this.#head] as DeadlineEntry).finished) {
      entries[this.#head] = undefined;
      this.#head++;
    }
    if (this.#head === entries.length) {
      if (this.#head > 0) {
        entries.length = 0;
        this.#head = 0;
      }
    } else if (this.#head > 1024 && this.#head * 2 > entries.length) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
  }

  #sweep(): void {
    this.#timer = undefined;
    this.#timerDueAtMs = Number.POSITIVE_INFINITY;
    const nowMs = this.#clock.now();
    const entries = this.#entries;
    while (this.#head < entries.length) {
      const entry = entries[this.#head] as DeadlineEntry;
      if (!entry.finished && entry.deadlineAtMs > nowMs) break;
      entries[this.#head] = undefined;
      this.#head++;
      if (!entry.finished) {
        entry.finished = true;
        entry.onDeadline();
      }
    }
    // Skip over finished entries at the head so the next timer targets a live call.
    while (this.#head < entries.length && (entries[this.#head] as DeadlineEntry).finished) {
      entries[this.#head] = undefined;
      this.#head++;
    }
    if (this.#head >= entries.length) {
      this.#entries = [];
      this.#head = 0;
      return;
    }
    if (this.#head > 1024 && this.#head * 2 > entries.length) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
    const next = this.#entries[this.#head] as DeadlineEntry;
    this.#arm(next.deadlineAtMs, nowMs);
  }
}
