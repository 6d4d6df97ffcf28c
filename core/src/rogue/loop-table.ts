const EMPTY = -1;
const FIRST_CAPACITY = 8;
// Shared by every table that has seen no call yet (an agent's table costs nothing until it is used).
const NO_SLOTS = new Float64Array(0);
const NO_LINKS = new Int32Array(0);

/**
 * Recent identical tool calls of one agent, keyed by call fingerprint. Each entry keeps only the last
 * `repeats` timestamps (enough to tell whether the call repeated `repeats` times within the window), and the
 * table holds at most `maxEntries` fingerprints. Entries form a ring in the order their fingerprints were
 * first seen: when the table is full — or when the entry first seen longest ago has no call left within the
 * window (it can no longer count) — that entry is recycled for the new fingerprint. No reordering on hits.
 * A repeating call therefore loses its count only once `maxEntries` other distinct calls have appeared
 * since it was first seen.
 *
 * Memory: two typed arrays, grown by doubling from 8 entries only while every entry is still within the
 * window, so the table's size follows the distinct calls per window, at most `maxEntries` entries of
 * 8 × (1 + repeats) + 12 bytes (with the default 3 repeats and 256 entries: 11 KB). Lookups hash the
 * fingerprint into a chained bucket array: O(1), no allocation once grown, no boxed Map keys.
 */
export class LoopTable {
  readonly #repeats: number;
  readonly #windowMs: number;
  readonly #maxEntries: number;
  readonly #stride: number;
  #capacity = 0;
  #size = 0;
  /** Ring index of the entry first seen longest ago. */
  #oldest = 0;
  /** Per entry: its fingerprint, then `repeats` timestamps (a ring; −∞ where empty). */
  #slots: Float64Array = NO_SLOTS;
  /** Bucket heads (`#mask + 1` of them), then per entry: the next entry in its bucket, its ring cursor. */
  #links: Int32Array = NO_LINKS;
  #mask = 0;
  /** Bumped whenever an entry is added, recycled or moved: a cached lookup is valid while it is unchanged. */
  #version = 0;
  /** The last `count()` lookup (the engine records the same call after it ran): fingerprint, entry, version. */
  #lastFingerprint = Number.NaN;
  #lastEntry = EMPTY;
  #lastVersion = -1;

  constructor(repeats: number, windowMs: number, maxEntries: number) {
    this.#repeats = repeats;
    this.#windowMs = windowMs;
    this.#maxEntries = maxEntries;
    this.#stride = 1 + repeats;
  }

  /** How many calls with this fingerprint happened within the window before `nowMs` (at most `repeats`). */
  count(fingerprint: number, nowMs: number): number {
    const entry = this.#find(fingerprint);
    this.#lastFingerprint = fingerprint;
    this.#lastEntry = entry;
    this.#lastVersion = this.#version;
    return entry === EMPTY ? 0 : this.#countRecent(entry, nowMs);
  }

  /** Records a call at `atMs`; returns how many calls with this fingerprint fall within the window now. */
  record(fingerprint: number, atMs: number): number {
    let entry =
      fingerprint === this.#lastFingerprint && this.#version === this.#lastVersion
        ? this.#lastEntry
        : this.#find(fingerprint);
    this.#lastFingerprint = Number.NaN;
    if (entry === EMPTY) entry = this.#insert(fingerprint, atMs);
    const cursorAt = this.#mask + 1 + this.#capacity + entry;
    const links = this.#links;
    const cursor = links[cursorAt] as number;
    this.#slots[entry * this.#stride + 1 + cursor] = atMs;
    links[cursorAt] = cursor + 1 === this.#repeats ? 0 : cursor + 1;
    return this.#countRecent(entry, atMs);
  }

  /** Fingerprints currently tracked. */
  get size(): number {
    return this.#size;
  }

  /** Entries allocated (grows with the distinct calls per window, up to `maxEntries`). */
  get capacity(): number {
    return this.#capacity;
  }

  clear(): void {
    this.#version++;
    this.#capacity = 0;
    this.#size = 0;
    this.#oldest = 0;
    this.#slots = NO_SLOTS;
    this.#links = NO_LINKS;
    this.#mask = 0;
  }

  #find(fingerprint: number): number {
    if (this.#size === 0) return EMPTY;
    const links = this.#links;
    const nextAt = this.#mask + 1;
    const slots = this.#slots;
    const stride = this.#stride;
    for (let entry = links[bucketOf(fingerprint, this.#mask)] as number; entry !== EMPTY; ) {
      if (slots[entry * stride] === fingerprint) return entry;
      entry = links[nextAt + entry] as number;
    }
    return EMPTY;
  }

  #insert(fingerprint: number, atMs: number): number {
    this.#version++;
    let entry: number;
    if (this.#size < this.#capacity) {
      entry = (this.#oldest + this.#size) % this.#capacity;
      this.#size++;
    } else if (
      this.#capacity < this.#maxEntries &&
      (this.#capacity === 0 || !this.#expired(this.#oldest, atMs))
    ) {
      this.#grow();
      entry = this.#size;
      this.#size++;
    } else {
      // Full, or the oldest entry can no longer count: recycle it (it becomes the newest).
      entry = this.#oldest;
      this.#unlink(entry);
      this.#oldest = (this.#oldest + 1) % this.#capacity;
    }
    const slots = this.#slots;
    const base = entry * this.#stride;
    slots[base] = fingerprint;
    slots.fill(Number.NEGATIVE_INFINITY, base + 1, base + this.#stride);
    const links = this.#links;
    const bucket = bucketOf(fingerprint, this.#mask);
    const nextAt = this.#mask + 1;
    links[nextAt + entry] = links[bucket] as number;
    links[bucket] = entry;
    links[nextAt + this.#capacity + entry] = 0;
    return entry;
  }

  /** Whether none of the entry's calls is within the window ending at `nowMs`. */
  #expired(entry: number, nowMs: number): boolean {
    return this.#countRecent(entry, nowMs) === 0;
  }

  #unlink(entry: number): void {
    const links = this.#links;
    const nextAt = this.#mask + 1;
    const bucket = bucketOf(this.#slots[entry * this.#stride] as number, this.#mask);
    let at = bucket;
    for (let current = links[at] as number; current !== EMPTY; current = links[at] as number) {
      if (current === entry) {
        links[at] = links[nextAt + entry] as number;
        return;
      }
      at = nextAt + current;
    }
  }

  /** Doubles the entries (at most `maxEntries`), laid out oldest first, and rehashes them. */
  #grow(): void {
    const capacity = Math.min(this.#maxEntries, this.#capacity === 0 ? FIRST_CAPACITY : this.#capacity * 2);
    const stride = this.#stride;
    const slots = new Float64Array(capacity * stride);
    const oldCapacity = this.#capacity;
    const oldSlots = this.#slots;
    const oldLinks = this.#links;
    const oldCursorAt = this.#mask + 1 + oldCapacity;
    let buckets = 1;
    while (buckets < capacity) buckets *= 2;
    const mask = buckets - 1;
    const links = new Int32Array(buckets + 2 * capacity).fill(EMPTY, 0, buckets);
    for (let i = 0; i < this.#size; i++) {
      const from = (this.#oldest + i) % oldCapacity;
      slots.set(oldSlots.subarray(from * stride, (from + 1) * stride), i * stride);
      const bucket = bucketOf(slots[i * stride] as number, mask);
      links[buckets + i] = links[bucket] as number;
      links[bucket] = i;
      links[buckets + capacity + i] = oldLinks[oldCursorAt + from] as number;
    }
    this.#slots = slots;
    this.#links = links;
    this.#capacity = capacity;
    this.#mask = mask;
    this.#oldest = 0;
  }

  #countRecent(entry: number, nowMs: number): number {
    const oldestInWindow = nowMs - this.#windowMs;
    const slots = this.#slots;
    const start = entry * this.#stride + 1;
    const end = start + this.#repeats;
    let count = 0;
    for (let i = start; i < end; i++) if ((slots[i] as number) > oldestInWindow) count++;
    return count;
  }
}

/** Fingerprints are hashes already: their low 32 bits pick the bucket. */
function bucketOf(fingerprint: number, mask: number): number {
  return (fingerprint >>> 0) & mask;
}
