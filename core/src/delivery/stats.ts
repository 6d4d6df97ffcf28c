/**
 * Small-count statistics for rollout analysis. A canary step at 1 % sees a handful of candidate calls, so
 * a normal approximation of the error-rate difference would promote on noise or abort on one failure;
 * Fisher's exact test gives an exact tail probability for any counts.
 */

// ln(n!) for small n, summed exactly once; Stirling's series (error < 1e-15 from n = 20) above it.
const SMALL_LOG_FACTORIALS: number[] = (() => {
  const table = [0];
  for (let n = 1; n < 20; n++) table.push((table[n - 1] as number) + Math.log(n));
  return table;
})();

/** ln(n!) for an integer n >= 0. */
export function logFactorial(n: number): number {
  if (n < 20) return SMALL_LOG_FACTORIALS[n] as number;
  const inv = 1 / n;
  const inv2 = inv * inv;
  return (
    n * Math.log(n) -
    n +
    0.5 * Math.log(2 * Math.PI * n) +
    inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))
  );
}

function logChoose(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

/**
 * One-sided Fisher's exact test on the 2x2 table
 *
 *                 failed        succeeded
 *   candidate  candidateFail  candidateOk
 *   baseline   baselineFail   baselineOk
 *
 * Returns P(X >= candidateFail) for X hypergeometric with the table's margins: the probability of seeing
 * at least this many candidate failures if both variants failed at the same rate. Small means the
 * candidate is worse. Equals R's `fisher.test(table, alternative = "greater")$p.value`.
 */
export function fisherExactGreater(
  candidateFail: number,
  candidateOk: number,
  baselineFail: number,
  baselineOk: number,
): number {
  for (const count of [candidateFail, candidateOk, baselineFail, baselineOk]) {
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`fisherExactGreater: counts must be integers >= 0, got ${count}`);
    }
  }
  const candidateCalls = candidateFail + candidateOk;
  const failures = candidateFail + baselineFail;
  const total = candidateCalls + baselineFail + baselineOk;
  // X >= 0 is certain; summing the whole distribution would only add rounding.
  if (candidateCalls === 0 || failures === 0 || candidateFail === 0) return 1;
  const logDenominator = logChoose(total, candidateCalls);
  const last = Math.min(candidateCalls, failures);
  let p = 0;
  for (let x = candidateFail; x <= last; x++) {
    p += Math.exp(logChoose(failures, x) + logChoose(total - failures, candidateCalls - x) - logDenominator);
  }
  return Math.min(1, p);
}

/** The nearest-rank quantile (q in [0, 1]) of `values` (sorted in place); undefined when empty. */
export function quantileInPlace(values: Float64Array, q: number): number | undefined {
  if (values.length === 0) return undefined;
  values.sort();
  const rank = Math.max(1, Math.ceil(q * values.length));
  return values[rank - 1];
}
