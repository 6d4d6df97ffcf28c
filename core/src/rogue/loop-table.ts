interface LoopEntry {
  /** Ring of the last `repeats` times this fingerprint was seen (−∞ where empty). */
  times: Float64Array;
  next: number;
}

/**
 * Recent identical tool calls of one agent, keyed by call fingerprint. Each entry keeps only the last
 * `repeats` timestamps (enough to tell whether the call repeated `repeats` times within the window), and the
 * table holds at most `maxEntries` fingerprints. When full, the fingerprint first seen longest ago is evicted
 * and its entry recycled (FIFO through a ring of keys: no reordering on hits, no allocation once full).
 * A repeating call therefore loses its count only once `maxEntries` other distinct calls have appeared
 * since it was first seen; memory grows with use up to that bound.
 */
export class LoopTable {
  readonly #repeats: number;
  readonly #windowMs: number;
  readonly #entries = new Map<number, LoopEntry>();
  /** Fingerprints in insertion order (a ring); `#oldest` is the next to evict once the table is full. */
  readonly #maxEntries: number;
  readonly #insertionOrder: number[] = [];
  #oldest = 0;

  constructor(repeats: number, windowMs: number, maxEntries: number) {
    this.#repeats = repeats;
    this.#windowMs = windowMs;
    this.#maxEntries = maxEntries;
  }

  /** How many calls with this fingerprint happened within the window before `nowMs` (at most `repeats`). */
  count(fingerprint: number, nowMs: number): number {
    const entry = this.#entries.get(fingerprint);
    return entry === undefined ? 0 : this.#countRecent(entry, nowMs);
  }

  /** Records a call at `atMs`; returns how many calls with this fingerprint fall within the window now. */
  record(fingerprint: number, atMs: number): number {
    let entry = this.#entries.get(fingerprint);
    if (entry === undefined) entry = this.#insert(fingerprint);
    entry.times[entry.next] = atMs;
    entry.next = (entry.next + 1) % this.#repeats;
    return this.#countRecent(entry, atMs);
  }

  #insert(fingerprint: number): LoopEntry {
    const capacity = this.#maxEntries;
    let entry: LoopEntry;
    if (this.#entries.size < capacity) {
      entry = { times: new Float64Array(this.#repeats).fill(Number.NEGATIVE_INFINITY), next: 0 };
      this.#insertionOrder.push(fingerprint);
    } else {
      const evicted = this.#insertionOrder[this.#oldest] as number;
      entry = this.#entries.get(evicted) as LoopEntry;
      this.#entries.delete(evicted);
      entry.times.fill(Number.NEGATIVE_INFINITY);
      entry.next = 0;
      this.#insertionOrder[this.#oldest] = fingerprint;
      this.#oldest = (this.#oldest + 1) % capacity;
    }
    this.#entries.set(fingerprint, entry);
    return entry;
  }

  #countRecent(entry: LoopEntry, nowMs: number): number {
    const oldestInWindow = nowMs - this.#windowMs;
    let count = 0;
    for (const time of entry.times) if (time > oldestInWindow) count++;
    return count;
  }

  /** Fingerprints currently tracked. */
  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
    this.#insertionOrder.length = 0;
    this.#oldest = 0;
  }
}
