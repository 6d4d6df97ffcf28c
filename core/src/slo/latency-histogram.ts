/**
 * A fixed log-scale latency histogram layout: bin 0 holds [0, 1) ms, bins 1..88 are quarter-octaves
 * [2^((i−1)/4), 2^(i/4)) ms up to 2^22 ms (~70 min), and bin 89 holds everything longer. A value is
 * reported as its bin's upper edge, so a percentile is never understated and at most ~19 % high.
 */

const BINS_PER_OCTAVE = 4;
const OCTAVES = 22;
const LAST_FINITE_BIN = OCTAVES * BINS_PER_OCTAVE;

export const LATENCY_BIN_COUNT = LAST_FINITE_BIN + 2;

/** Largest latency told apart from "longer": values above it are reported as this value. */
export const LATENCY_HISTOGRAM_MAX_MS = 2 ** OCTAVES;

export function latencyBinIndex(durationMs: number): number {
  if (durationMs < 1) return 0;
  const index = Math.floor(Math.log2(durationMs) * BINS_PER_OCTAVE) + 1;
  return index > LAST_FINITE_BIN ? LAST_FINITE_BIN + 1 : index;
}

/** The value a bin reports: its upper edge (the overflow bin reports the histogram's maximum). */
export function latencyBinUpperMs(index: number): number {
  if (index <= 0) return 1;
  if (index > LAST_FINITE_BIN) return LATENCY_HISTOGRAM_MAX_MS;
  return 2 ** (index / BINS_PER_OCTAVE);
}

/**
 * Nearest-rank percentile of the bin counts `bins[offset .. offset + LATENCY_BIN_COUNT)`, holding
 * `events` values in all; `percentile` in (0, 1).
 */
export function percentileFromBins(
  bins: Float64Array,
  offset: number,
  events: number,
  percentile: number,
): number {
  // Nearest rank; the tolerance keeps 0.07 × 100 = 7.000000000000001 at rank 7.
  const rank = Math.max(1, Math.ceil(percentile * events - 1e-9));
  let seen = 0;
  for (let i = 0; i < LATENCY_BIN_COUNT; i++) {
    seen += bins[offset + i] as number;
    if (seen >= rank) return latencyBinUpperMs(i);
  }
  return LATENCY_HISTOGRAM_MAX_MS;
}
