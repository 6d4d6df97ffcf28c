const EMPTY = -1;
const FIRST_CAPACITY = 8;
/** A stored time of 0 means "no call"; others are `floor(ms) − base + 1`. */
const NO_CALL = 0;
const MAX_STORED_TIME = 0xffff_ffff;
/** Room kept below the first time seen (a clock that steps back, a caller passing older times). */
const BASE_MARGIN_MS = 2 ** 30;
// Shared by every table that has seen no call yet (an agent's table costs nothing until it is used).
const NO_KEYS = new Float64Array(0);
const NO_TIMES = new Uint32Array(0);
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
 * Memory: one buffer, grown by doubling from 8 entries only while every entry is still within the window, so
 * the table's size follows the distinct calls per window; at most `maxEntries` entries. Per entry: the
 * fingerprint (8 bytes), `repeats` times as 32-bit ms offsets from a base (times are kept to the ms, floored),
 * and three 16-bit links (bucket head, next in bucket, ring cursor): 26 bytes with the default 3 repeats,
 * 6.5 KB at the default 256 entries. Lookups hash the fingerprint into a chained bucket array: O(1), no
 * allocation once grown, no boxed Map keys.
 */
export class LoopTable {
  readonly #repeats: number;
  readonly #windowMs: number;
  readonly #maxEntries: number;
  #capacity = 0;
  #size = 0;
  /** Ring index of the entry first seen longest ago. */
  #oldest = 0;
  /** Per entry: its fingerprint. */
  #keys: Float64Array = NO_KEYS;
  /** Per entry: `repeats` stored times (a ring; `NO_CALL` where empty). */
  #times: Uint32Array = NO_TIMES;
  /** Bucket heads (`#mask + 1` of them), then per entry: the next entry in its bucket, its ring cursor. */
  #links: Int16Array | Int32Array = NO_LINKS;
  #mask = 0;
  /** ms of stored time 1 (set by the first call; moved forward when times outgrow 32 bits). */
  #baseMs = 0;
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
    if (this.#capacity === 0) this.#baseMs = Math.floor(atMs) - BASE_MARGIN_MS;
    let stored = Math.floor(atMs) - this.#baseMs + 1;
    if (stored > MAX_STORED_TIME) {
      this.#rebase(atMs);
      stored = Math.floor(atMs) - this.#baseMs + 1;
    } else if (stored < 1) {
      stored = 1; // further back than the margin: kept as the oldest representable time
    }
    let entry =
      fingerprint === this.#lastFingerprint && this.#version === this.#lastVersion
        ? this.#lastEntry
        : this.#find(fingerprint);
    this.#lastFingerprint = Number.NaN;
    if (entry === EMPTY) entry = this.#insert(fingerprint, atMs);
    const cursorAt = this.#mask + 1 + this.#capacity + entry;
    const links = this.#links;
    const cursor = links[cursorAt] as number;
    this.#times[entry * this.#repeats + cursor] = stored;
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
    this.#keys = NO_KEYS;
    this.#times = NO_TIMES;
    this.#links = NO_LINKS;
    this.#mask = 0;
  }

  #find(fingerprint: number): number {
    if (this.#size === 0) return EMPTY;
    const links = this.#links;
    const nextAt = this.#mask + 1;
    const keys = this.#keys;
    for (let entry = links[bucketOf(fingerprint, this.#mask)] as number; entry !== EMPTY; ) {
      if (keys[entry] === fingerprint) return entry;
      entry = links[nextAt + entry] as number;
    }
    return EMPTY;
  }

  #insert(fingerprint: number, atMs: number): number {
    this.#version++;
    let entry: number;
    if (this.#size < this.#capacity) {
      entry = this.#oldest + this.#size;
      if (entry >= this.#capacity) entry -= this.#capacity;
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
      this.#oldest = entry + 1 === this.#capacity ? 0 : entry + 1;
    }
    this.#keys[entry] = fingerprint;
    const times = this.#times;
    const repeats = this.#repeats;
    for (let i = entry * repeats, end = i + repeats; i < end; i++) times[i] = NO_CALL;
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
    const bucket = bucketOf(this.#keys[entry] as number, this.#mask);
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
    const repeats = this.#repeats;
    let buckets = 1;
    while (buckets < capacity) buckets *= 2;
    const mask = buckets - 1;
    const linkCount = buckets + 2 * capacity;
    // One allocation for the three arrays: fingerprints (8-byte aligned first), times, links.
    const wide = buckets + capacity > 0x7fff || repeats > 0x7fff;
    const timesAt = capacity * 8;
    const linksAt = timesAt + capacity * repeats * 4;
    const buffer = new ArrayBuffer(linksAt + linkCount * (wide ? 4 : 2));
    const keys = new Float64Array(buffer, 0, capacity);
    const times = new Uint32Array(buffer, timesAt, capacity * repeats);
    const links = wide
      ? new Int32Array(buffer, linksAt, linkCount)
      : new Int16Array(buffer, linksAt, linkCount);
    links.fill(EMPTY, 0, buckets);
    const oldCapacity = this.#capacity;
    const oldCursorAt = this.#mask + 1 + oldCapacity;
    for (let i = 0; i < this.#size; i++) {
      let from = this.#oldest + i;
      if (from >= oldCapacity) from -= oldCapacity;
      const fingerprint = this.#keys[from] as number;
      keys[i] = fingerprint;
      times.set(this.#times.subarray(from * repeats, (from + 1) * repeats), i * repeats);
      const bucket = bucketOf(fingerprint, mask);
      links[buckets + i] = links[bucket] as number;
      links[bucket] = i;
      links[buckets + capacity + i] = this.#links[oldCursorAt + from] as number;
    }
    this.#keys = keys;
    this.#times = times;
    this.#links = links;
    this.#capacity = capacity;
    this.#mask = mask;
    this.#oldest = 0;
  }

  /**
   * Moves the base so `atMs` fits in 32 bits again (after ~49 days of one agent's calls): times that no
   * longer fit are older than any window that could still count them (the base margin is 2^30 ms, ~12 days).
   */
  #rebase(atMs: number): void {
    const baseMs = Math.floor(atMs) - BASE_MARGIN_MS;
    const shift = baseMs - this.#baseMs;
    const times = this.#times;
    for (let i = 0; i < times.length; i++) {
      const stored = times[i] as number;
      times[i] = stored === NO_CALL || stored <= shift ? NO_CALL : stored - shift;
    }
    this.#baseMs = baseMs;
  }

  #countRecent(entry: number, nowMs: number): number {
    // stored > threshold ⟺ floor(t) > nowMs − windowMs (stored = floor(t) − base + 1).
    const threshold = nowMs - this.#windowMs - this.#baseMs + 1;
    const times = this.#times;
    const start = entry * this.#repeats;
    const end = start + this.#repeats;
    let count = 0;
    for (let i = start; i < end; i++) {
      const stored = times[i] as number;
      if (stored > threshold && stored !== NO_CALL) count++;
    }
    return count;
  }
}

/** Fingerprints are hashes already: their low 32 bits pick the bucket. */
function bucketOf(fingerprint: number, mask: number): number {
  return (fingerprint >>> 0) & mask;
}
