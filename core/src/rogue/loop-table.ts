/** "No entry" (an entry number or a lookup result). */
const EMPTY = -1;
const FIRST_CAPACITY = 8;
/** Entries at most: a head slot and a link hold `entry + 1` in 16 bits, and the slots (≤ 2 × entries) ≤ 2^16. */
export const MAX_LOOP_TABLE_ENTRIES = 32_768;
/** A stored time of 0 means "no call"; others are `floor(ms) − base + 1`. */
const NO_CALL = 0;
const MAX_STORED_TIME = 0xffff_ffff;
/** Room kept below the first time seen (a clock that steps back, a caller passing older times). */
const BASE_MARGIN_MS = 2 ** 30;
/** The base is a whole number of these (2^20 ms, ~17 min): a small integer for V8, not a boxed double. */
const BASE_UNIT_MS = 2 ** 20;
const TWO_32 = 0x1_0000_0000;
/** Record layout: fingerprint low and high words, the chain link, then the times, oldest first. */
const FP_LOW = 0;
const FP_HIGH = 1;
/** `entry + 1` of the next older entry of the record's chain (0: none). */
const LINK = 2;
const TIMES = 3;
/** A chain head slot: `entry + 1` (bits 0–15), "older entries follow" (bit 16), a 15-bit tag (bits 17–31). */
const HAS_OLDER = 0x1_0000;
/** The tag: bits 16–30 of the fingerprint's low word (the home slot takes bits 0–15 at most). */
const tagOf = (low: number) => (low >>> 16) & 0x7fff;
/**
 * Tables of at most this many entries keep no chains and no head slots: a key array (16 bits per entry, in a
 * block of its own: 64 bytes up to `NARROW_KEYS` entries, else 128) that a lookup scans — the same lines every
 * call, where a head slot is a line picked by the fingerprint (a miss for an agent among thousands) and a tag
 * that differs sends a fresh call down its chain (a record read, another miss): for agents making 60 distinct
 * calls a minute, 64 scanned entries instead of 32 took 10,000 agents from ~2.2× one agent's to ~1.5×.
 */
const SCANNED_ENTRIES = 64;
/** Scanned tables of at most this many entries keep their keys in a 64-byte block (a fleet's usual table). */
const NARROW_KEYS = 32;
/** Narrow tables of at most this many entries have their keys in the first half of their block. */
const HALF_NARROW_KEYS = 16;
/** A scanned entry's key: its fingerprint's low 16 bits (a match is confirmed against the record). */
const KEY_MASK = 0xffff;
/** A key in both halves of a 32-bit word is `key * KEY_PAIR` (each half's low bit); each half's high bit. */
const KEY_PAIR = 0x1_0001;
const HALF_HIGH_BITS = 0x8000_8000 | 0;
/** `#capacityAndOldest`: the capacity in the low bits, the oldest entry's ring index from `OLDEST_SHIFT`. */
const CAPACITY_BITS = 0xffff;
const OLDEST_SHIFT = 16;

import { Slab, SlabPool } from "./slab.js";

// Shared by every table that has seen no call yet (an agent's table costs nothing until it is used).
const NO_CELLS = new Uint32Array(0);
const NO_KEY_SLAB = new Slab(new Uint16Array(0), 0, true);
const newCells = (length: number) => new Uint32Array(length);
const newKeys = (length: number) => new Uint16Array(length);
/** Which half of a 32-bit word holds the even 16-bit cell (the low half, little-endian), and the odd one. */
const EVEN_HALF_LOW = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LOW_HALF = EVEN_HALF_LOW ? 0 : 1;
const HIGH_HALF = 1 - LOW_HALF;

/** What the loop tables of one detector share: their sizes (one object, not four fields per agent). */
export class LoopShape {
  readonly repeats: number;
  readonly windowMs: number;
  readonly maxEntries: number;
  /** Cells per record: the fingerprint's two words and `repeats` times. */
  readonly stride: number;
  /** One pool of blocks per table capacity (8, 16, … `maxEntries`): the tables' cells live in its slabs. */
  readonly #pools = new Map<number, SlabPool<Uint32Array>>();
  /**
   * The key arrays of scanned tables of up to `NARROW_KEYS` entries (16-bit keys, entry `e`'s in cell `e`, 64
   * bytes each, scanned as 32-bit words: the slabs' `words`), apart from their records: a lookup that finds no
   * key reads no record, and tables used in turn (a fleet) read their keys from one dense, prefetched run.
   */
  readonly keyPool = new SlabPool<Uint16Array>(NARROW_KEYS, 2, newKeys, true);
  /** The key blocks of scanned tables of more than `NARROW_KEYS` entries (128 bytes each). */
  readonly wideKeyPool = new SlabPool<Uint16Array>(SCANNED_ENTRIES, 2, newKeys, true);

  /** The pool of key blocks for a scanned table of `capacity` entries. */
  keyPoolFor(capacity: number): SlabPool<Uint16Array> {
    return capacity <= NARROW_KEYS ? this.keyPool : this.wideKeyPool;
  }
  /**
   * The table and fingerprint the last `count` found no entry for, until any table of this shape records or
   * clears: the detector counts a call before it runs and records it after, so `record` skips the lookup
   * that `count` just did (a fresh call, the usual one, is a miss). One per shape, not per table.
   */
  missTable: LoopTable | undefined = undefined;
  missLow = 0;
  missHigh = 0;

  constructor(repeats: number, windowMs: number, maxEntries: number) {
    this.repeats = repeats;
    this.windowMs = windowMs;
    this.maxEntries = Math.min(maxEntries, MAX_LOOP_TABLE_ENTRIES);
    this.stride = TIMES + repeats;
  }

  /** The pool of blocks for tables of `capacity` entries (chain head slots if chained, then the records). */
  poolFor(capacity: number): SlabPool<Uint32Array> {
    let pool = this.#pools.get(capacity);
    if (pool === undefined) {
      pool = new SlabPool(headSlotsFor(capacity) + capacity * this.stride, 4, newCells);
      this.#pools.set(capacity, pool);
    }
    return pool;
  }

  /** Blocks handed out over all capacities (for tests). */
  get blocksInUse(): number {
    let blocks = 0;
    for (const pool of this.#pools.values()) blocks += pool.blocksInUse;
    return blocks;
  }

  /** Slabs held over all capacities (for tests). */
  get slabs(): number {
    let slabs = 0;
    for (const pool of this.#pools.values()) slabs += pool.slabs;
    return slabs;
  }
}

/** Chain head slots for `capacity` entries: a power of two, at least the entries; none for a scanned table. */
function headSlotsFor(capacity: number): number {
  return capacity <= SCANNED_ENTRIES ? 0 : chainMaskOf(capacity) + 1;
}

/** A chained table's head slots − 1 (`capacity` > `SCANNED_ENTRIES`): the least power of two ≥ it, − 1. */
function chainMaskOf(capacity: number): number {
  return (1 << (32 - Math.clz32(capacity - 1))) - 1;
}

/**
 * Recent identical tool calls of one agent, keyed by call fingerprint. Each entry keeps only the last
 * `repeats` timestamps, and the table at most `maxEntries` fingerprints, in a ring in the order they were
 * first seen: when it is full — or when the entry first seen longest ago has no call left within the window —
 * that entry is recycled for the new fingerprint (no reordering on hits): a repeating call loses its count
 * only once `maxEntries` other distinct calls have appeared since it was first seen.
 *
 * Memory and cache: one block of a slab (a `Uint32Array` many tables share, see slab.ts), grown by doubling
 * from 8 entries only while every entry is still within the window (the size follows the distinct calls per
 * window, at most `maxEntries` and `MAX_LOOP_TABLE_ENTRIES`); old blocks go back to their pools. In the block,
 * first the chain heads: one 32-bit slot per home position (a power of two, at least the entries) holding
 * `entry + 1` of the newest entry whose fingerprint's low bits lead there, a 15-bit tag and whether older
 * entries follow; then one record per entry: the fingerprint's two words, the link to the next older entry
 * of its chain (`entry + 1`) and its last `repeats` times, oldest first, as ms offsets from a base (24 bytes
 * with 3 repeats). A new entry is pushed on its chain and a recycled one never unlinked: chains run newest
 * first and entries are recycled oldest first, so a walk stops at the first record now in another chain or
 * linking to an entry not older than the one it leaves. A fresh call reads one head slot and no record unless
 * the tags match or older entries follow. O(1) insert, no allocation once grown. A table of at most
 * `SCANNED_ENTRIES` entries (most agents) keeps no chains: each entry's key (the fingerprint's low 16 bits) is
 * in a 64- or 128-byte block of the shape's key pools, which a lookup scans, reading a record only where a key
 * matches; key blocks of tables used in turn lie side by side, so a fleet's calls read them as one run.
 */
export class LoopTable<Shape extends LoopShape = LoopShape> {
  // Helper methods are `private`, not `#` methods: those would give each instance a brand field (8 bytes on
  // the lines a call reads: the detector's per-agent record extends this class).
  /** The sizes the table shares (the detector's record, a subclass, has its whole shape here: one field). */
  readonly shape: Shape;
  /** Entries allocated (bits 0–15) and the ring index of the oldest entry (bits 16–30): one field, 8 bytes. */
  #capacityAndOldest = 0;
  #size = 0;
  /** The slab's cells: the block's head slots (chained tables) from `#recordsAt − head slots`, then the records. */
  #cells: Uint32Array = NO_CELLS;
  /** Where the records start in `#cells` (after the head slots; the head slots follow from the capacity). */
  #recordsAt = 0;
  /** Stored time 1 in `BASE_UNIT_MS` (set by the first call; moved forward when times outgrow 32 bits). */
  #baseUnits = 0;
  /** A scanned table's keys: words `#keysAt …` of its key slab's `words` (cells `2 × #keysAt + i`). */
  #keysAt = 0;
  #keySlab: Slab<Uint16Array> = NO_KEY_SLAB;

  /** A table of its own (`repeats`, `windowMs`, `maxEntries`), or one of many sharing `shape`. */
  constructor(repeats: number | Shape, windowMs = 0, maxEntries = 0) {
    this.shape =
      typeof repeats === "number" ? (new LoopShape(repeats, windowMs, maxEntries) as Shape) : repeats;
  }

  /** How many calls with this fingerprint happened within the window before `nowMs` (at most `repeats`). */
  count(fingerprint: number, nowMs: number): number {
    return this.countKey(fingerprint | 0, Math.floor(fingerprint / TWO_32), nowMs);
  }

  /** `count` with the fingerprint as its low 32 bits (an int32) and its high bits (< 2^21): two small integers. */
  countKey(low: number, high: number, nowMs: number): number {
    const entry = this.find(low, high);
    if (entry !== EMPTY) return this.countRecent(this.recordAt(entry), nowMs);
    this.shape.missTable = this;
    this.shape.missLow = low;
    this.shape.missHigh = high;
    return 0;
  }

  /**
   * Reads the line a scanned table's lookup reads first (its key words; a chained table's depends on the key: 0):
   * called before the fingerprint is computed, that line (a miss among thousands of agents) comes meanwhile.
   */
  prefetchKeys(): number {
    const capacity = this.#capacityAndOldest & CAPACITY_BITS;
    return capacity === 0 || capacity > SCANNED_ENTRIES ? 0 : (this.#keySlab.words[this.#keysAt] as number);
  }

  /** Records a call at `atMs`; returns how many calls with this fingerprint fall within the window now. */
  record(fingerprint: number, atMs: number): number {
    return this.recordKey(fingerprint | 0, Math.floor(fingerprint / TWO_32), atMs);
  }

  /** `record` with the fingerprint as two small integers (see `countKey`). */
  recordKey(low: number, high: number, atMs: number): number {
    let stored = Math.floor(atMs) - this.#baseUnits * BASE_UNIT_MS + 1;
    // The rare cases in a method of their own. An empty table (an agent's first call) sets its base in
    // `insert`, out of line: a fleet warming up makes first calls all the time, and V8 would inline their
    // code here, into the detector's hot path, within a bytecode budget the path's getters need too.
    if ((stored > MAX_STORED_TIME || stored < 1) && this.#capacityAndOldest !== 0)
      stored = this.storedTimeOf(atMs);
    const shape = this.shape;
    if (shape.missTable === this && shape.missLow === low && shape.missHigh === high) {
      shape.missTable = undefined;
      return this.insert(low, high, atMs, stored);
    }
    shape.missTable = undefined;
    return this.recordLookedUp(low, high, atMs, stored);
  }

  /** `recordKey` without `count`'s lookup: a repeat (the times shift) or a new entry. Out of line. */
  private recordLookedUp(low: number, high: number, atMs: number, stored: number): number {
    const entry = this.find(low, high);
    if (entry === EMPTY) return this.insert(low, high, atMs, stored);
    const at = this.recordAt(entry);
    const cells = this.#cells;
    // The oldest time drops out: a shift of `repeats − 1` cells instead of a ring cursor (4 bytes an entry).
    const last = at + this.shape.stride - 1;
    for (let i = at + TIMES; i < last; i++) cells[i] = cells[i + 1] as number;
    cells[last] = stored;
    return this.countRecent(at, atMs);
  }

  /** `atMs` as a stored time in a table that is not empty, when it outgrew 32 bits or lies before the base. */
  private storedTimeOf(atMs: number): number {
    if (Math.floor(atMs) - this.#baseUnits * BASE_UNIT_MS + 1 < 1) return 1; // further back than the margin
    this.rebase(atMs);
    return Math.floor(atMs) - this.#baseUnits * BASE_UNIT_MS + 1;
  }

  /** `atMs` as the stored time of an empty table's first call: the base is set from it. */
  private firstStoredTime(atMs: number): number {
    this.#baseUnits = baseUnitsFor(atMs);
    return Math.floor(atMs) - this.#baseUnits * BASE_UNIT_MS + 1;
  }

  /** Fingerprints currently tracked. */
  get size(): number {
    return this.#size;
  }

  /** Entries allocated (grows with the distinct calls per window, up to `maxEntries`). */
  get capacity(): number {
    return this.#capacityAndOldest & CAPACITY_BITS;
  }

  /** Ring index of the entry first seen longest ago. */
  private get oldest(): number {
    return this.#capacityAndOldest >>> OLDEST_SHIFT;
  }

  private set oldest(entry: number) {
    this.#capacityAndOldest = (this.#capacityAndOldest & CAPACITY_BITS) | (entry << OLDEST_SHIFT);
  }

  /** Forgets every call and gives the table's block back to its pool. */
  clear(): void {
    this.shape.missTable = undefined;
    if (this.#cells !== NO_CELLS) this.giveBlock();
    this.dropKeys();
    this.#capacityAndOldest = 0;
    this.#size = 0;
    this.#cells = NO_CELLS;
    this.#recordsAt = 0;
  }

  /**
   * Gives the table's block back to its capacity's pool. The slab holding it is found from its cells (the
   * pool keeps them by array): no field for it on the lines a call reads.
   */
  private giveBlock(): void {
    const capacity = this.capacity;
    const pool = this.shape.poolFor(capacity);
    pool.give(pool.slabOf(this.#cells), this.#recordsAt - headSlotsFor(capacity));
  }

  /** Gives the key block back (the table cleared, widened, or chained from now on): before the capacity changes. */
  private dropKeys(): void {
    if (this.#keySlab !== NO_KEY_SLAB)
      this.shape.keyPoolFor(this.capacity).give(this.#keySlab, 2 * this.#keysAt);
    this.#keySlab = NO_KEY_SLAB;
    this.#keysAt = 0;
  }

  /** Index of the entry's record in `#cells` (after the chain heads). */
  private recordAt(entry: number): number {
    return this.#recordsAt + entry * this.shape.stride;
  }

  /**
   * The entry holding the fingerprint, or `EMPTY`. The usual call (not a repeat) reads one head slot: empty,
   * or its tag differs and no older entry follows. Otherwise the record of a tag-matching head, or the chain.
   */
  private find(fingerprintLow: number, high: number): number {
    // No entries exactly when no capacity (entries are only added, and only `clear` empties the table).
    const capacity = this.#capacityAndOldest & CAPACITY_BITS;
    if (capacity === 0) return EMPTY;
    // (The scan takes the int32: a uint32 ≥ 2^31 passed to a call is a heap number, half the calls.)
    if (capacity <= SCANNED_ENTRIES) return this.scan(fingerprintLow, high, capacity);
    const low = fingerprintLow >>> 0;
    const cells = this.#cells;
    const mask = chainMaskOf(capacity);
    const slot = cells[this.#recordsAt - mask - 1 + (low & mask)] as number;
    if (slot === 0) return EMPTY;
    const entry = (slot & 0xffff) - 1;
    if (slot >>> 17 === tagOf(low)) {
      const at = this.recordAt(entry);
      if (cells[at + FP_LOW] === low && cells[at + FP_HIGH] === high) return entry;
    }
    return (slot & HAS_OLDER) === 0 ? EMPTY : this.findOlder(low, high, entry, mask);
  }

  /**
   * A small table's lookup: its key array, two keys a word (a half equal to the key is a zero half of `word ^
   * pair`: `(x − 0x0001_0001) & ~x & 0x8000_8000` is non-zero exactly when `x` has one, the borrow of a zero
   * low half flagging at most the high one too, so both halves are then checked); a record is read only for a
   * matching key. Up to 32 entries all words are tested together, else four at a time; flagged ones word by word.
   */
  private scan(low32: number, high: number, capacity: number): number {
    const keys = this.#keySlab.words;
    const pair = Math.imul(low32 & KEY_MASK, KEY_PAIR);
    let at = this.#keysAt;
    if (capacity <= NARROW_KEYS) {
      // A fleet agent's usual table: 8 or 16 words, no loop (a narrow block has 16 words; the stale keys past a
      // table's entries are checked against its capacity).
      // (One call site: a second one, for the second half, was not inlined where tables grew past 16 later.)
      const to = at + (capacity > HALF_NARROW_KEYS ? 16 : 8);
      let zeroHalves = 0;
      for (let from = at; from < to; from += 8) zeroHalves |= zeroHalvesOf8(keys, from, pair);
      return (zeroHalves & HALF_HIGH_BITS) === 0 ? EMPTY : this.scanWords(at, to, pair, low32 >>> 0, high);
    }
    const end = at + ((capacity + 1) >> 1);
    for (const groupsEnd = end - 3; at < groupsEnd; at += 4) {
      const x0 = (keys[at] as number) ^ pair;
      const x1 = (keys[at + 1] as number) ^ pair;
      const x2 = (keys[at + 2] as number) ^ pair;
      const x3 = (keys[at + 3] as number) ^ pair;
      const zeroHalves =
        ((x0 - KEY_PAIR) & ~x0) | ((x1 - KEY_PAIR) & ~x1) | ((x2 - KEY_PAIR) & ~x2) | ((x3 - KEY_PAIR) & ~x3);
      if ((zeroHalves & HALF_HIGH_BITS) !== 0) {
        const entry = this.scanWords(at, at + 4, pair, low32 >>> 0, high);
        if (entry !== EMPTY) return entry;
      }
    }
    return at < end ? this.scanWords(at, end, pair, low32 >>> 0, high) : EMPTY;
  }

  /** `scan` of the key words from `from` to `to`, one at a time. */
  private scanWords(from: number, to: number, pair: number, low: number, high: number): number {
    const keys = this.#keySlab.words;
    const keysAt = this.#keysAt;
    const capacity = this.capacity;
    for (let at = from; at < to; at++) {
      const x = (keys[at] as number) ^ pair;
      if (((x - KEY_PAIR) & ~x & HALF_HIGH_BITS) !== 0) {
        const entry = (at - keysAt) << 1;
        // (An odd capacity's last word holds no entry in its odd cell.)
        const inLow = entry + LOW_HALF;
        if ((x & KEY_MASK) === 0 && inLow < capacity && this.isEntry(inLow, low, high)) return inLow;
        const inHigh = entry + HIGH_HALF;
        if (x >>> 16 === 0 && inHigh < capacity && this.isEntry(inHigh, low, high)) return inHigh;
      }
    }
    return EMPTY;
  }

  /** Whether live entry `entry` holds the fingerprint (a key past the live entries may be stale or zero). */
  private isEntry(entry: number, low: number, high: number): boolean {
    let rank = entry - this.oldest;
    if (rank < 0) rank += this.capacity;
    const at = this.recordAt(entry);
    return rank < this.#size && this.#cells[at + FP_LOW] === low && this.#cells[at + FP_HIGH] === high;
  }

  /** Sets entry `entry`'s key (its 16-bit cell). */
  private setKey(entry: number, key: number): void {
    this.#keySlab.cells[2 * this.#keysAt + entry] = key;
  }

  /**
   * The chain below head `entry`, newest first. It ends at an empty link, at a record now in another chain, or
   * at a link to an entry not older than the one it leaves (recycled since: entries are recycled oldest first).
   */
  private findOlder(low: number, high: number, head: number, mask: number): number {
    const cells = this.#cells;
    const home = low & mask;
    const stride = this.shape.stride;
    const records = this.#recordsAt;
    const oldest = this.oldest;
    const capacity = this.capacity;
    let entry = head;
    let at = records + entry * stride;
    if (((cells[at + FP_LOW] as number) & mask) !== home) return EMPTY;
    for (;;) {
      const next = (cells[at + LINK] as number) - 1;
      if (
        next === EMPTY ||
        (next < oldest ? next + capacity : next) >= (entry < oldest ? entry + capacity : entry)
      ) {
        return EMPTY;
      }
      at = records + next * stride;
      const nextLow = cells[at + FP_LOW] as number;
      if ((nextLow & mask) !== home) return EMPTY;
      if (nextLow === low && cells[at + FP_HIGH] === high) return next;
      entry = next;
    }
  }

  /**
   * A fingerprint not in the table (the usual call): a new entry holding the one call at `stored`, pushed on its
   * chain (a recycled entry is not unlinked); returns its count (1 unless the window is shorter than a ms).
   */
  private insert(fingerprintLow: number, high: number, atMs: number, storedTime: number): number {
    // Full at its bound (the usual case once an agent made `maxEntries` distinct calls): recycle the oldest.
    const capacityAndOldest = this.#capacityAndOldest;
    let entry = capacityAndOldest >>> OLDEST_SHIFT;
    const capacity = capacityAndOldest & CAPACITY_BITS;
    let stored = storedTime;
    if (this.#size === this.shape.maxEntries) {
      this.#capacityAndOldest = entry + 1 === capacity ? capacity : capacityAndOldest + (1 << OLDEST_SHIFT);
    } else {
      entry = this.newEntry(atMs);
      // An empty table's first call: `recordKey` left the time to this (the base is set from it).
      if (capacity === 0) stored = this.firstStoredTime(atMs);
    }
    const cells = this.#cells;
    const at = this.recordAt(entry);
    const low = fingerprintLow >>> 0;
    cells[at + FP_LOW] = low;
    cells[at + FP_HIGH] = high;
    const last = at + this.shape.stride - 1;
    for (let i = at + TIMES; i < last; i++) cells[i] = NO_CALL;
    cells[last] = stored;
    const capacityNow = this.#capacityAndOldest & CAPACITY_BITS; // (`newEntry` may have grown the table)
    if (capacityNow <= SCANNED_ENTRIES) this.setKey(entry, low & KEY_MASK);
    else link(cells, this.#recordsAt, chainMaskOf(capacityNow), low, entry, at);
    // The same test as countRecent's for its one time.
    return stored > atMs - this.shape.windowMs - this.#baseUnits * BASE_UNIT_MS + 1 ? 1 : 0;
  }

  /** The entry for a new fingerprint in a table below its bound (out of line: `insert` stays small). */
  private newEntry(atMs: number): number {
    const capacity = this.#capacityAndOldest & CAPACITY_BITS;
    const oldest = this.#capacityAndOldest >>> OLDEST_SHIFT;
    let entry: number;
    if (this.#size < capacity) {
      entry = oldest + this.#size;
      if (entry >= capacity) entry -= capacity;
      this.#size++;
    } else if (
      capacity < this.shape.maxEntries &&
      (capacity === 0 || this.countRecent(this.recordAt(oldest), atMs) > 0)
    ) {
      this.grow();
      entry = this.#size;
      this.#size++;
    } else {
      // Full, or the oldest entry can no longer count: recycle it (it becomes the newest).
      entry = oldest;
      this.oldest = entry + 1 === capacity ? 0 : entry + 1;
    }
    return entry;
  }

  /**
   * Doubles the entries (at most `maxEntries`), laid out oldest first, and rebuilds the chains: a block of
   * the larger capacity from the shape's pool, the old block given back to its own.
   */
  private grow(): void {
    const shape = this.shape;
    const oldCapacity = this.capacity;
    const oldest = this.oldest;
    const capacity = Math.min(shape.maxEntries, oldCapacity === 0 ? FIRST_CAPACITY : oldCapacity * 2);
    const stride = shape.stride;
    const scanned = capacity <= SCANNED_ENTRIES;
    const slots = headSlotsFor(capacity);
    const mask = slots - 1;
    const keyPool = shape.keyPoolFor(capacity);
    if (scanned && (this.#keySlab === NO_KEY_SLAB || keyPool !== shape.keyPoolFor(oldCapacity))) {
      // A first key block, or a wider one (the keys are rewritten below, from the records).
      this.dropKeys();
      this.#keySlab = keyPool.take();
      this.#keysAt = keyPool.taken >> 1;
    }
    const pool = shape.poolFor(capacity);
    const slab = pool.take();
    const base = pool.taken;
    const cells = slab.cells;
    const old = this.#cells;
    const oldRecordsAt = this.#recordsAt;
    for (let i = 0; i < this.#size; i++) {
      let from = oldest + i;
      if (from >= oldCapacity) from -= oldCapacity;
      const fromAt = oldRecordsAt + from * stride;
      const at = base + slots + i * stride;
      for (let k = 0; k < stride; k++) cells[at + k] = old[fromAt + k] as number;
      // The keys are rewritten in place: entry i's key from its record (the old order is read from the records).
      if (scanned) this.setKey(i, (cells[at + FP_LOW] as number) & KEY_MASK);
      else link(cells, base + slots, mask, cells[at + FP_LOW] as number, i, at);
    }
    if (!scanned) this.dropKeys();
    if (this.#cells !== NO_CELLS) this.giveBlock();
    this.#cells = cells;
    this.#recordsAt = base + slots;
    this.#capacityAndOldest = capacity; // the oldest entry now first
  }

  /**
   * Moves the base so `atMs` fits in 32 bits again (after ~49 days of one agent's calls): times that no
   * longer fit are older than any window that could still count them (the base margin is 2^30 ms, ~12 days).
   */
  private rebase(atMs: number): void {
    const baseUnits = baseUnitsFor(atMs);
    const shift = (baseUnits - this.#baseUnits) * BASE_UNIT_MS;
    const cells = this.#cells;
    for (let entry = 0, capacity = this.capacity; entry < capacity; entry++) {
      const at = this.recordAt(entry) + TIMES;
      for (let i = at; i < at + this.shape.repeats; i++) {
        const stored = cells[i] as number;
        cells[i] = stored === NO_CALL || stored <= shift ? NO_CALL : stored - shift;
      }
    }
    this.#baseUnits = baseUnits;
  }

  /** Calls of the record at `at` within the window ending at `nowMs`. */
  private countRecent(at: number, nowMs: number): number {
    // stored > threshold ⟺ floor(t) > nowMs − windowMs (stored = floor(t) − base + 1).
    const threshold = nowMs - this.shape.windowMs - this.#baseUnits * BASE_UNIT_MS + 1;
    const cells = this.#cells;
    let count = 0;
    for (let i = at + TIMES, end = at + this.shape.stride; i < end; i++) {
      const stored = cells[i] as number;
      if (stored > threshold && stored !== NO_CALL) count++;
    }
    return count;
  }
}

/**
 * Pushes `entry` (fingerprint low word `low`, record at `at`) on the chain of its home slot (the `mask + 1`
 * head slots end where the records start, at `recordsAt`): the record links to the previous head; the slot
 * gets the entry, its tag, and whether an older entry follows.
 */
function link(
  cells: Uint32Array,
  recordsAt: number,
  mask: number,
  low: number,
  entry: number,
  at: number,
): void {
  const slot = recordsAt - mask - 1 + (low & mask);
  const previous = (cells[slot] as number) & 0xffff;
  cells[at + LINK] = previous;
  cells[slot] = (tagOf(low) << 17) | (previous !== 0 && previous !== entry + 1 ? HAS_OLDER : 0) | (entry + 1);
}

/**
 * `scan`'s test of the 8 key words from `at`: each half equal to the key of `pair` sets its high bit. Written
 * out, with `| 0` indexes: ~10 instructions a word, where the loop took ~20.
 */
function zeroHalvesOf8(keys: Uint32Array, at: number, pair: number): number {
  let x = (keys[at] as number) ^ pair;
  let zeroHalves = (x - KEY_PAIR) & ~x;
  x = (keys[(at + 1) | 0] as number) ^ pair;
  zeroHalves |= (x - KEY_PAIR) & ~x;
  x = (keys[(at + 2) | 0] as number) ^ pair;
  zeroHalves |= (x - KEY_PAIR) & ~x;
  x = (keys[(at + 3) | 0] as number) ^ pair;
  zeroHalves |= (x - KEY_PAIR) & ~x;
  x = (keys[(at + 4) | 0] as number) ^ pair;
  zeroHalves |= (x - KEY_PAIR) & ~x;
  x = (keys[(at + 5) | 0] as number) ^ pair;
  zeroHalves |= (x - KEY_PAIR) & ~x;
  x = (keys[(at + 6) | 0] as number) ^ pair;
  zeroHalves |= (x - KEY_PAIR) & ~x;
  x = (keys[(at + 7) | 0] as number) ^ pair;
  return zeroHalves | ((x - KEY_PAIR) & ~x);
}

/** The base for a table whose times start at `atMs`: at least `BASE_MARGIN_MS` before it. */
function baseUnitsFor(atMs: number): number {
  return Math.floor((Math.floor(atMs) - BASE_MARGIN_MS) / BASE_UNIT_MS);
}
