/**
 * Time-bucketed running sums with O(1) windowed reads.
 *
 * Instead of storing each bucket's count and summing buckets per query, we keep one running total per
 * column (since creation) and, in a ring per tier, the value that total had when each bucket began. The
 * sum over the last `k` buckets is then `total − boundary[current − k + 1]`: one subtraction, whatever
 * the traffic or the window length. Recording is one bucket-index check plus the caller's additions.
 *
 * Several tiers (e.g. 1-minute buckets for short windows, 1-hour buckets for a 30-day window) share the
 * same running totals, so recording does not grow with the number of tiers.
 */

/** One resolution: buckets of `bucketMs`, keeping the last `slots` bucket boundaries. */
export interface TierPlan {
  bucketMs: number;
  slots: number;
}

/** Where a window is read: `buckets` buckets (the current one included) of tier `tier`. */
export interface WindowPlan {
  tier: number;
  buckets: number;
}

/** Bucket sizes tried, finest first; each divides the next so coarse buckets change only with fine ones. */
export const TIER_BUCKET_SIZES_MS: readonly number[] = [60_000, 300_000, 3_600_000, 86_400_000];

/**
 * Most slots one tier keeps. With the 4 sizes above and 2 columns of 8 bytes, the worst case is
 * 4 × 1000 × 16 B = 64,000 B (< 64 KiB); the default 30-day policy uses 1,944 slots (~31 KB).
 */
export const MAX_SLOTS_PER_TIER = 1000;

/** The longest window any tier can hold (1000 daily buckets). */
export const MAX_WINDOW_MS =
  (TIER_BUCKET_SIZES_MS[TIER_BUCKET_SIZES_MS.length - 1] as number) * MAX_SLOTS_PER_TIER;

/**
 * Chooses, for each window, the finest bucket size that holds it in at most `MAX_SLOTS_PER_TIER`
 * buckets, and sizes each used tier for the longest window it serves.
 */
export function planTiers(windowsMs: readonly number[]): { tiers: TierPlan[]; windows: WindowPlan[] } {
  const slotsBySize = new Map<number, number>();
  const chosenSizes: number[] = [];
  for (const windowMs of windowsMs) {
    const size = TIER_BUCKET_SIZES_MS.find(
      (bucketMs) => Math.ceil(windowMs / bucketMs) <= MAX_SLOTS_PER_TIER,
    );
    if (size === undefined) throw new RangeError(`window ${windowMs} ms exceeds ${MAX_WINDOW_MS} ms`);
    const buckets = Math.max(1, Math.ceil(windowMs / size));
    slotsBySize.set(size, Math.max(slotsBySize.get(size) ?? 0, buckets));
    chosenSizes.push(size);
  }
  const tiers = [...slotsBySize.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([bucketMs, slots]) => ({ bucketMs, slots }));
  const windows = windowsMs.map((windowMs, i) => {
    const size = chosenSizes[i] as number;
    return {
      tier: tiers.findIndex((tier) => tier.bucketMs === size),
      buckets: Math.max(1, Math.ceil(windowMs / size)),
    };
  });
  return { tiers, windows };
}

/** `BucketedPrefixSums.exportState()`: plain JSON. */
export interface PrefixSumsState {
  fineBucket: number;
  totals: number[];
  tiers: Array<{ bucketMs: number; slots: number; current: number; currentSlot: number; below: number[] }>;
}

function isWholeNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= -1;
}

function isNumberArray(value: unknown, length: number): value is number[] {
  if (!Array.isArray(value) || value.length !== length) return false;
  for (const item of value) if (typeof item !== "number" || !Number.isFinite(item)) return false;
  return true;
}

interface Tier {
  readonly bucketMs: number;
  readonly slots: number;
  /** `slots × columns` boundary values; slot `j % slots` holds the totals at the start of bucket `j`. */
  readonly ring: Float64Array;
  /** Index of the newest bucket this tier has rotated to (−1 before any record). */
  current: number;
  /** Ring slot of `current` (kept incrementally: `%` on large doubles is slow in V8). */
  currentSlot: number;
}

export class BucketedPrefixSums {
  readonly columns: number;
  /**
   * Running totals since creation, one per column. Callers call `touch(atMs)` and then add to these
   * directly (kept public so the hot path is two array writes, not a method call per column).
   */
  readonly totals: Float64Array;
  readonly #tiers: Tier[];
  readonly #fineBucketMs: number;
  #fineBucket = -1;

  constructor(columns: number, tiers: readonly TierPlan[]) {
    if (tiers.length === 0) throw new RangeError("BucketedPrefixSums needs at least one tier");
    this.columns = columns;
    this.totals = new Float64Array(columns);
    this.#fineBucketMs = (tiers[0] as TierPlan).bucketMs;
    this.#tiers = tiers.map((plan) => {
      if (plan.bucketMs % this.#fineBucketMs !== 0) {
        throw new RangeError("every tier's bucket size must be a multiple of the finest one");
      }
      return {
        bucketMs: plan.bucketMs,
        slots: plan.slots,
        ring: new Float64Array(plan.slots * columns),
        current: -1,
        currentSlot: 0,
      };
    });
  }

  /** The tiers' shapes (for sizing reports and tests). */
  get tiers(): TierPlan[] {
    return this.#tiers.map((tier) => ({ bucketMs: tier.bucketMs, slots: tier.slots }));
  }

  /** Bytes held in typed arrays (the only part that depends on configuration; none depends on traffic). */
  get byteLength(): number {
    let bytes = this.totals.byteLength;
    for (const tier of this.#tiers) bytes += tier.ring.byteLength;
    return bytes;
  }

  /** Whether anything was ever recorded. */
  get isEmpty(): boolean {
    return this.#fineBucket < 0;
  }

  /**
   * Moves the buckets forward to `atMs` before the caller adds to `totals`. Times before the newest
   * bucket are counted in the newest bucket (late events are not back-filled: that would cost O(slots)).
   */
  touch(atMs: number): void {
    const bucket = Math.floor(atMs / this.#fineBucketMs);
    if (bucket > this.#fineBucket) this.#rotate(atMs, bucket);
  }

  /** Finds the tier that holds a `windowMs` window at the finest resolution, or undefined if none does. */
  resolve(windowMs: number): WindowPlan | undefined {
    for (let tier = 0; tier < this.#tiers.length; tier++) {
      const { bucketMs, slots } = this.#tiers[tier] as Tier;
      const buckets = Math.max(1, Math.ceil(windowMs / bucketMs));
      if (buckets <= slots) return { tier, buckets };
    }
    return undefined;
  }

  /** The longest window the tiers can answer. */
  get maxWindowMs(): number {
    let max = 0;
    for (const tier of this.#tiers) max = Math.max(max, tier.bucketMs * tier.slots);
    return max;
  }

  /**
   * Sum of `column` over the last `buckets` buckets of `tierIndex` (the bucket holding `nowMs` included).
   * Reads only: it does not rotate, so it can be used for side-effect-free snapshots.
   */
  sum(column: number, tierIndex: number, buckets: number, nowMs: number): number {
    const offset = this.#windowStartOffset(tierIndex, buckets, nowMs);
    if (offset < 0) return 0;
    return (
      (this.totals[column] as number) - ((this.#tiers[tierIndex] as Tier).ring[offset + column] as number)
    );
  }

  /** Writes the windowed sums of `count` columns starting at `firstColumn` into `out` (no allocation). */
  sumColumns(
    tierIndex: number,
    buckets: number,
    nowMs: number,
    firstColumn: number,
    count: number,
    out: Float64Array,
  ): void {
    const offset = this.#windowStartOffset(tierIndex, buckets, nowMs);
    if (offset < 0) {
      out.fill(0, 0, count);
      return;
    }
    const ring = (this.#tiers[tierIndex] as Tier).ring;
    const totals = this.totals;
    const start = offset + firstColumn;
    for (let i = 0; i < count; i++) {
      out[i] = (totals[firstColumn + i] as number) - (ring[start + i] as number);
    }
  }

  /**
   * The value of `column` inside one bucket, for the last `buckets` buckets (oldest first), with each
   * bucket's start time. Allocates; meant for inspection, not the hot path.
   */
  bucketValues(
    column: number,
    tierIndex: number,
    buckets: number,
    nowMs: number,
  ): Array<{ startMs: number; value: number }> {
    const tier = this.#tiers[tierIndex] as Tier;
    const out: Array<{ startMs: number; value: number }> = [];
    if (this.#fineBucket < 0) return out;
    const newest = Math.max(Math.floor(nowMs / tier.bucketMs), tier.current);
    for (let j = newest - buckets + 1; j <= newest; j++) {
      const value = this.#boundary(tier, j + 1, column) - this.#boundary(tier, j, column);
      out.push({ startMs: j * tier.bucketMs, value });
    }
    return out;
  }

  /**
   * The whole state as plain JSON (for a state store): running totals and each tier's ring, the ring held
   * as distances below the totals (idle buckets become zeros). Allocates; call on a schedule, not per record.
   */
  exportState(): PrefixSumsState {
    const totals = Array.from(this.totals);
    return {
      fineBucket: this.#fineBucket,
      totals,
      tiers: this.#tiers.map((tier) => {
        const below: number[] = new Array(tier.ring.length);
        for (let i = 0; i < tier.ring.length; i++) {
          below[i] = (totals[i % this.columns] as number) - (tier.ring[i] as number);
        }
        return {
          bucketMs: tier.bucketMs,
          slots: tier.slots,
          current: tier.current,
          currentSlot: tier.currentSlot,
          below,
        };
      }),
    };
  }

  /**
   * Replaces the state with one `exportState()` produced for the same shape (columns and tiers). Returns
   * false, changing nothing, when the shape differs (the configuration changed) or the value is malformed.
   */
  importState(value: unknown): boolean {
    const state = value as Partial<PrefixSumsState> | null;
    if (typeof state !== "object" || state === null) return false;
    const { fineBucket, totals, tiers } = state;
    if (!isWholeNumber(fineBucket) || !isNumberArray(totals, this.columns)) return false;
    if (!Array.isArray(tiers) || tiers.length !== this.#tiers.length) return false;
    for (let t = 0; t < tiers.length; t++) {
      const saved = tiers[t] as Partial<PrefixSumsState["tiers"][number]>;
      const tier = this.#tiers[t] as Tier;
      if (saved.bucketMs !== tier.bucketMs || saved.slots !== tier.slots) return false;
      if (!isWholeNumber(saved.current) || !isWholeNumber(saved.currentSlot)) return false;
      if (saved.currentSlot < 0 || saved.currentSlot >= tier.slots) return false;
      if (!isNumberArray(saved.below, tier.ring.length)) return false;
    }
    this.#fineBucket = fineBucket;
    this.totals.set(totals);
    for (let t = 0; t < tiers.length; t++) {
      const saved = tiers[t] as PrefixSumsState["tiers"][number];
      const tier = this.#tiers[t] as Tier;
      tier.current = saved.current;
      tier.currentSlot = saved.currentSlot;
      for (let i = 0; i < tier.ring.length; i++) {
        tier.ring[i] = (totals[i % this.columns] as number) - (saved.below[i] as number);
      }
    }
    return true;
  }

  /** Index of the newest finest-tier bucket recorded into (−1 before any record): changes at most once per bucket. */
  get newestBucket(): number {
    return this.#fineBucket;
  }

  #boundary(tier: Tier, bucket: number, column: number): number {
    if (bucket > tier.current) return this.totals[column] as number;
    return tier.ring[slotOf(tier, bucket) * this.columns + column] as number;
  }

  /** Ring offset of the boundary where the window starts, or −1 when the window holds nothing. */
  #windowStartOffset(tierIndex: number, buckets: number, nowMs: number): number {
    const tier = this.#tiers[tierIndex] as Tier;
    if (tier.current < 0) return -1;
    let newest = Math.floor(nowMs / tier.bucketMs);
    if (newest < tier.current) newest = tier.current;
    const start = newest - buckets + 1;
    // Every bucket after the newest recorded one is empty, so such a window sums to zero.
    if (start > tier.current) return -1;
    return slotOf(tier, start) * this.columns;
  }

  #rotate(atMs: number, fineBucket: number): void {
    this.#fineBucket = fineBucket;
    const columns = this.columns;
    const totals = this.totals;
    for (const tier of this.#tiers) {
      const bucket = Math.floor(atMs / tier.bucketMs);
      if (tier.current < 0) {
        // First record: every boundary so far is zero, which the fresh ring already holds.
        tier.current = bucket;
        tier.currentSlot = bucket % tier.slots;
        continue;
      }
      if (bucket <= tier.current) continue;
      // Buckets skipped while idle all began with the same totals. At most `slots` writes.
      const skipped = Math.min(bucket - tier.current, tier.slots);
      let slot = tier.currentSlot;
      for (let n = 0; n < skipped; n++) {
        slot = slot + 1 === tier.slots ? 0 : slot + 1;
        const base = slot * columns;
        for (let c = 0; c < columns; c++) tier.ring[base + c] = totals[c] as number;
      }
      tier.current = bucket;
      tier.currentSlot = skipped === tier.slots ? bucket % tier.slots : slot;
    }
  }
}

/** Ring slot of `bucket`, which must lie within the last `slots` buckets of `tier`. */
function slotOf(tier: Tier, bucket: number): number {
  const slot = tier.currentSlot - (tier.current - bucket);
  return slot < 0 ? slot + tier.slots : slot;
}
