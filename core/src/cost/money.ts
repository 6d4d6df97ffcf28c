/**
 * Money is held as integer micro-dollars (1 USD = 1,000,000 µUSD) in the ledger, and as USD numbers at the
 * API edges. Integers add exactly, compare exactly against limits, and map onto Redis `INCRBY`.
 *
 * A call's real cost is rarely a whole number of micro-dollars (100 tokens at $0.15 per million cost
 * 0.015 µUSD), so amounts enter the ledger rounded UP, and the part charged beyond the exact amount is
 * carried as a credit (`MoneyCarry`) that the next charge uses first. Sums over any number of calls are
 * therefore exact: the ledger total minus the carried credit is the exact total (to float precision, far
 * below 1e-9 USD), and the ledger never holds less than what was really spent (limits stay safe).
 */
export const MICROS_PER_USD = 1_000_000;

/**
 * Float noise allowance when rounding up, in µUSD (1e-12 USD): `0.07 * 1e6` is `70000.00000000001` in
 * binary floating point and must hold 70,000 µUSD, not 70,001.
 */
const ROUNDING_SLACK_MICROS = 1e-6;

/** Nearest whole micro-dollar; `Infinity` stays `Infinity` (no limit). For limits and display. */
export function usdToMicros(usd: number): number {
  return usd === Number.POSITIVE_INFINITY ? usd : Math.round(usd * MICROS_PER_USD);
}

/** Whole micro-dollars rounded up (a hold never covers less than its estimate). */
export function usdToMicrosUp(usd: number): number {
  return usd === Number.POSITIVE_INFINITY ? usd : Math.ceil(usd * MICROS_PER_USD - ROUNDING_SLACK_MICROS);
}

export function microsToUsd(micros: number): number {
  return micros / MICROS_PER_USD;
}

/**
 * An exact (carried) amount in µUSD as USD for reports, snapped to whole pico-dollars: float noise from
 * millions of additions (~1e-14 USD) does not show as `122.99999999999999`.
 */
export function exactMicrosToUsd(micros: number): number {
  return Math.round(micros * MICROS_PER_USD) / (MICROS_PER_USD * MICROS_PER_USD);
}

/** The sub-micro-dollar credit carried between charges of one ledger owner (an agent). */
export interface MoneyCarry {
  /** µUSD charged to the ledger beyond the exact amounts so far, in [-1e-6, 1). */
  creditMicros: number;
}

/**
 * The whole micro-dollars to put on the ledger for an exact cost of `usd`, using and updating the carried
 * credit: `charged - exact` accumulates in `carry.creditMicros`, which stays below one micro-dollar.
 */
export function chargeMicros(carry: MoneyCarry, usd: number): number {
  const exact = usd * MICROS_PER_USD;
  const due = exact - carry.creditMicros;
  const charged = due <= 0 ? 0 : Math.ceil(due - ROUNDING_SLACK_MICROS);
  carry.creditMicros = charged - due;
  return charged;
}

/** True for a finite number >= 0 (false for NaN, negatives, infinities and non-numbers). */
export function isFiniteNonNegative(value: unknown): value is number {
  return typeof value === "number" && value >= 0 && value !== Number.POSITIVE_INFINITY;
}

/**
 * A USD amount for people (refusal messages, events, tables) with precision that means something: whole
 * cents at $1 and above (`$12.50`), three significant digits below (`$0.05`, `$0.004`, `$0.000123`), so a
 * tiny request never reads `$0.000000` and a spend of $0.004 never reads `$0.00`. Zero is `$0`.
 */
export function formatUsd(usd: number): string {
  if (!Number.isFinite(usd)) return `$${usd}`;
  const sign = usd < 0 ? "-" : "";
  const value = Math.abs(usd);
  if (value === 0) return "$0";
  if (value >= 1) return `${sign}$${value.toFixed(2)}`;
  // Three significant digits, at least two decimals, at most twelve (a pico-dollar).
  const decimals = Math.min(12, Math.max(2, 2 - Math.floor(Math.log10(value))));
  const fixed = value.toFixed(decimals);
  // Trailing zeros beyond two decimals go (a scan, not a regex: overrun alerts format on the settle path).
  const keep = fixed.indexOf(".") + 3;
  let end = fixed.length;
  while (end > keep && fixed.charCodeAt(end - 1) === 48 /* "0" */) end--;
  const trimmed = end === fixed.length ? fixed : fixed.slice(0, end);
  return trimmed === "0.00" ? `${sign}<$0.000000000001` : `${sign}$${trimmed}`;
}
