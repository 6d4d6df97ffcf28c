/**
 * Money is held as integer micro-dollars (1 USD = 1,000,000 µUSD) inside the cost module, and as USD numbers at
 * its API edges. Integers add exactly (a million additions of $0.000123 sum to exactly $123), compare exactly
 * against limits, and map onto Redis `INCRBY`. Each call's amount is rounded to the nearest micro-dollar once,
 * when it enters (`usdToMicros`); sums are never rounded again.
 */
export const MICROS_PER_USD = 1_000_000;

/** Nearest whole micro-dollar; `Infinity` stays `Infinity` (no limit). */
export function usdToMicros(usd: number): number {
  return usd === Number.POSITIVE_INFINITY ? usd : Math.round(usd * MICROS_PER_USD);
}

export function microsToUsd(micros: number): number {
  return micros / MICROS_PER_USD;
}

/** True for a finite number >= 0 (false for NaN, negatives, infinities and non-numbers). */
export function isFiniteNonNegative(value: unknown): value is number {
  return typeof value === "number" && value >= 0 && value !== Number.POSITIVE_INFINITY;
}
