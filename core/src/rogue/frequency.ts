/** The most actions a completed window keeps in the history (two bytes per window). */
const MAX_WINDOW_COUNT = 0xffff;

/**
 * Tool-call frequency per agent on ALIGNED windows: an action at time `t` belongs to window
 * `floor(t / windowMs)`, so every agent's windows share boundaries. Completed windows go into a fixed ring
 * (the history); a window in which the agent did nothing counts as 0, because a quiet minute is data too.
 * Running sums make the mean and variance O(1).
 */
export class FrequencyWindows {
  readonly #windowMs: number;
  readonly #historyWindows: number;
  /**
   * Completed windows' counts; allocated when the first window completes. Two bytes per window: a count is
   * kept up to 65,535 actions per window (over a thousand a second for a minute; more counts as that many).
   */
  #history: Uint16Array | undefined;
  #head = 0;
  #filled = 0;
  #sum = 0;
  #sumOfSquares = 0;
  #currentWindow = Number.NEGATIVE_INFINITY;
  #currentCount = 0;

  constructor(windowMs: number, historyWindows: number) {
    this.#windowMs = windowMs;
    this.#historyWindows = historyWindows;
    this.#history = undefined;
  }

  /** Counts one action at `atMs`. */
  record(atMs: number): void {
    this.advanceTo(atMs);
    this.#currentCount++;
  }

  /**
   * Moves the current window to the one containing `atMs`, pushing the finished window and one 0 per idle
   * window in between (at most the history length, so a long silence costs no more than a full ring).
   * Times before the current window are counted in the current window.
   */
  advanceTo(atMs: number): void {
    const window = Math.floor(atMs / this.#windowMs);
    if (window <= this.#currentWindow) return;
    if (this.#currentWindow !== Number.NEGATIVE_INFINITY) {
      this.#push(this.#currentCount);
      const idleWindows = window - this.#currentWindow - 1;
      if (idleWindows >= this.#historyWindows) {
        (this.#history as Uint16Array).fill(0);
        this.#head = 0;
        this.#filled = this.#historyWindows;
        this.#sum = 0;
        this.#sumOfSquares = 0;
      } else {
        for (let i = 0; i < idleWindows; i++) this.#push(0);
      }
    }
    this.#currentWindow = window;
    this.#currentCount = 0;
  }

  #push(actions: number): void {
    const count = Math.min(actions, MAX_WINDOW_COUNT);
    const capacity = this.#historyWindows;
    this.#history ??= new Uint16Array(capacity);
    const history = this.#history;
    if (this.#filled === capacity) {
      const evicted = history[this.#head] as number;
      this.#sum -= evicted;
      this.#sumOfSquares -= evicted * evicted;
    } else {
      this.#filled++;
    }
    history[this.#head] = count;
    this.#sum += count;
    this.#sumOfSquares += count * count;
    this.#head = (this.#head + 1) % capacity;
  }

  /** Actions counted in the current window. */
  get currentCount(): number {
    return this.#currentCount;
  }

  /** Completed windows in the history (idle ones included). */
  get completedWindows(): number {
    return this.#filled;
  }

  /** Mean actions per completed window (0 with no history). */
  get mean(): number {
    return this.#filled === 0 ? 0 : this.#sum / this.#filled;
  }

  /**
   * The spread used for the z-score: the population standard deviation of the history, floored at the
   * Poisson spread √mean and at 1 action. Without a floor a perfectly regular history (std 0) would make any
   * deviation infinite — or, as in the Python original, invisible.
   */
  get spread(): number {
    if (this.#filled === 0) return 1;
    const mean = this.#sum / this.#filled;
    const variance = Math.max(0, this.#sumOfSquares / this.#filled - mean * mean);
    return Math.max(Math.sqrt(variance), Math.sqrt(mean), 1);
  }

  /** Standard score of the current window against the history; `undefined` below `minWindows` windows. */
  zScore(minWindows: number): number | undefined {
    if (this.#filled < minWindows) return undefined;
    return (this.#currentCount - this.mean) / this.spread;
  }
}

/**
 * Frequency signal in [0, 1]: only a burst counts (a quiet agent is not rogue), and only the excess of the
 * z-score over `threshold` is scored, linearly, reaching 1 at twice the threshold.
 */
export function frequencyScore(zScore: number | undefined, threshold: number): number {
  if (zScore === undefined || zScore <= threshold) return 0;
  return Math.min(1, (zScore - threshold) / threshold);
}
