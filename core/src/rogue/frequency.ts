// The frequency windows themselves are part of each agent's record (agent-signals.ts).

/** The most actions a completed window keeps in the history (two bytes per window). */
export const MAX_WINDOW_COUNT = 0xffff;

/**
 * Frequency signal in [0, 1]: only a burst counts (a quiet agent is not rogue), and only the excess of the
 * z-score over `threshold` is scored, linearly, reaching 1 at twice the threshold.
 */
export function frequencyScore(zScore: number | undefined, threshold: number): number {
  if (zScore === undefined || zScore <= threshold) return 0;
  return Math.min(1, (zScore - threshold) / threshold);
}
