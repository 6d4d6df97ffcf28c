/**
 * Time is injected everywhere: every windowed or timed component takes a `Clock`.
 * A clock that can also schedule (`SchedulingClock`) drives timeouts, throttling delays and
 * injected latency, so tests advance a `ManualClock` instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (or any monotonic origin that matches calendar maths). */
  now(): number;
}

export type TimerHandle = unknown;

export interface SchedulingClock extends Clock {
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock: `Date.now()` and the runtime's timers. */
export const systemClock: SchedulingClock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => globalThis.setTimeout(callback, delayMs),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

/** Returns a clock that can schedule: the given one if it can, else one that reads `clock` and uses runtime timers. */
export function toSchedulingClock(clock: Clock | undefined): SchedulingClock {
  if (clock === undefined) return systemClock;
  const candidate = clock as Partial<SchedulingClock>;
  if (typeof candidate.setTimeout === "function" && typeof candidate.clearTimeout === "function") {
    return clock as SchedulingClock;
  }
  return {
    now: () => clock.now(),
    setTimeout: systemClock.setTimeout,
    clearTimeout: systemClock.clearTimeout,
  };
}

interface ManualTimer {
  id: number;
  dueAt: number;
  callback: () => void;
}

/**
 * A clock for tests: time moves only when you call `advance()` or `set()`, and timers fire in due order
 * as time passes them. `sleep()` resolves when the clock reaches its deadline.
 */
export class ManualClock implements SchedulingClock {
  #nowMs: number;
  #timers: ManualTimer[] = [];
  #nextId = 1;

  constructor(startMs: number | Date = Date.UTC(2026, 0, 1)) {
    this.#nowMs = typeof startMs === "number" ? startMs : startMs.getTime();
    if (!Number.isFinite(this.#nowMs))
      throw new RangeError(`ManualClock: startMs must be finite, got ${startMs}`);
  }

  now(): number {
    return this.#nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    const delay = Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0;
    this.#timers.push({ id, dueAt: this.#nowMs + delay, callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    const index = this.#timers.findIndex((timer) => timer.id === handle);
    if (index >= 0) this.#timers.splice(index, 1);
  }

  /** Number of timers still waiting. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0)
      throw new RangeError(`ManualClock.advance: ms must be >= 0, got ${ms}`);
    this.#runUntil(this.#nowMs + ms);
  }

  /** Sets the time (never backwards), firing due timers. */
  set(timeMs: number | Date): void {
    const target = typeof timeMs === "number" ? timeMs : timeMs.getTime();
    if (target < this.#nowMs)
      throw new RangeError(`ManualClock.set: cannot move back from ${this.#nowMs} to ${target}`);
    this.#runUntil(target);
  }

  /**
   * Advances time and lets promise callbacks run between timers, so async code that awaits a timer
   * and then schedules another is driven to completion.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.#nowMs + ms;
    for (;;) {
      await flushMicrotasks();
      const next = this.#earliest();
      if (next === undefined || next.dueAt > target) break;
      this.#nowMs = Math.max(this.#nowMs, next.dueAt);
      this.#timers.splice(this.#timers.indexOf(next), 1);
      next.callback();
    }
    this.#nowMs = target;
    await flushMicrotasks();
  }

  #earliest(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const timer of this.#timers) {
      if (
        best === undefined ||
        timer.dueAt < best.dueAt ||
        (timer.dueAt === best.dueAt && timer.id < best.id)
      ) {
        best = timer;
      }
    }
    return best;
  }

  #runUntil(target: number): void {
    for (;;) {
      const next = this.#earliest();
      if (next === undefined || next.dueAt > target) break;
      this.#nowMs = Math.max(this.#nowMs, next.dueAt);
      this.#timers.splice(this.#timers.indexOf(next), 1);
      next.callback();
    }
    this.#nowMs = target;
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** Resolves after `delayMs` on `clock`; rejects with the signal's reason if aborted first. */
export function sleep(clock: SchedulingClock, delayMs: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (delayMs <= 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
