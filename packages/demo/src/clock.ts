import { ManualClock, type TimerHandle } from "@agent-sre/core";

/**
 * The demo's time: a `ManualClock`, so breaker recovery timeouts, SLO windows, budget days and rogue
 * windows pass without waiting. Scenes move it explicitly (`advance`), and the scripted models add their
 * simulated inference time. Short timers the engine sets while a call waits — injected chaos latency, a
 * throttled agent waiting for its next admission, an upstream restart backoff — are fired automatically
 * once the process has nothing else to do right now, so the demo never sleeps for them either.
 * Longer timers (an experiment's duration) only fire when a scene advances past them.
 */
export class DemoClock extends ManualClock {
  readonly #due = new Map<TimerHandle, number>();
  readonly autoAdvanceMaxMs: number;
  #pending = false;

  constructor(startMs: number | Date, options: { autoAdvanceMaxMs?: number } = {}) {
    super(startMs);
    this.autoAdvanceMaxMs = options.autoAdvanceMaxMs ?? 120_000;
  }

  override setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const dueAt = this.now() + (Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0);
    const handle = super.setTimeout(() => {
      this.#due.delete(handle);
      callback();
    }, delayMs);
    this.#due.set(handle, dueAt);
    this.#schedule();
    return handle;
  }

  override clearTimeout(handle: TimerHandle): void {
    this.#due.delete(handle);
    super.clearTimeout(handle);
  }

  /** Simulated time since `startMs`, for reports. */
  elapsedSince(startMs: number): number {
    return this.now() - startMs;
  }

  #schedule(): void {
    if (this.#pending) return;
    this.#pending = true;
    setImmediate(() => {
      this.#pending = false;
      let next = Number.POSITIVE_INFINITY;
      for (const dueAt of this.#due.values()) if (dueAt < next) next = dueAt;
      if (next === Number.POSITIVE_INFINITY || next - this.now() > this.autoAdvanceMaxMs) return;
      this.advance(Math.max(0, next - this.now()));
      if (this.#due.size > 0) this.#schedule();
    });
  }
}
