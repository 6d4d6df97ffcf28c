/**
 * A bounded latency histogram: log-spaced buckets (each 2 % wider than the last) from 1 ms to about
 * 2.3 hours, plus one bucket for [0, 1) ms and one overflow bucket. Recording is O(1); a quantile scans the
 * fixed bucket array. Reported quantiles are within 2 % of the exact nearest-rank value (clamped to the
 * observed min and max) from 1 ms up, and at most 1 ms for sub-millisecond values, whatever the number
 * of samples.
 */
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** 1 ms * 1.02^800 ≈ 7.6e6 ms ≈ 2.1 h. */
const LOG_BUCKETS = 800;

export class LatencyHistogram {
  readonly #counts = new Uint32Array(LOG_BUCKETS + 2);
  #count = 0;
  #minMs = Number.POSITIVE_INFINITY;
  #maxMs = 0;

  /** Number of recorded samples (a weighted sample counts its weight). */
  get count(): number {
    return this.#count;
  }

  /**
   * Records one latency (the caller has validated it: finite, >= 0) standing for `weight` calls: a sample of
   * one call in `weight` counts as that many (a positive integer; default 1).
   */
  record(latencyMs: number, weight = 1): void {
    this.#counts[bucketOf(latencyMs)]! += weight;
    this.#count += weight;
    if (latencyMs < this.#minMs) this.#minMs = latencyMs;
    if (latencyMs > this.#maxMs) this.#maxMs = latencyMs;
  }

  /** The nearest-rank quantile `q` in (0, 1], or `undefined` with no samples. */
  quantile(q: number): number | undefined {
    if (this.#count === 0) return undefined;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let bucket = 0; bucket < this.#counts.length; bucket++) {
      seen += this.#counts[bucket]!;
      if (seen >= rank) return Math.min(this.#maxMs, Math.max(this.#minMs, upperEdge(bucket)));
    }
    return this.#maxMs;
  }
}

function bucketOf(latencyMs: number): number {
  if (latencyMs < 1) return 0;
  const index = 1 + Math.floor(Math.log(latencyMs) / LOG_GROWTH);
  return index > LOG_BUCKETS ? LOG_BUCKETS + 1 : index;
}

/** Upper edge of a bucket: bucket i >= 1 holds [1.02^(i-1), 1.02^i). */
function upperEdge(bucket: number): number {
  if (bucket === 0) return 1;
  if (bucket > LOG_BUCKETS) return Number.POSITIVE_INFINITY;
  return GROWTH ** bucket;
}
