import { describe, expect, it } from "vitest";
import { fisherExactGreater, logFactorial } from "./stats.js";

/** The exact one-sided tail with BigInt binomials: the reference the float version must match. */
function exactGreater(a: number, b: number, c: number, d: number): number {
  const choose = (n: number, k: number): bigint => {
    if (k < 0 || k > n) return 0n;
    let result = 1n;
    for (let i = 1; i <= k; i++) result = (result * BigInt(n - k + i)) / BigInt(i);
    return result;
  };
  const n1 = a + b;
  const failures = a + c;
  const total = a + b + c + d;
  let numerator = 0n;
  for (let x = a; x <= Math.min(n1, failures); x++)
    numerator += choose(failures, x) * choose(total - failures, n1 - x);
  const denominator = choose(total, n1);
  const scale = 10n ** 30n;
  return Number((numerator * scale) / denominator) / 1e30;
}

describe("fisherExactGreater", () => {
  it("matches published values", () => {
    // Fisher's lady tasting tea: 3 of 4 cups right; one-sided p = 17/70 (R: fisher.test(..., "greater")).
    expect(fisherExactGreater(3, 1, 1, 3)).toBeCloseTo(17 / 70, 12);
    // Wikipedia's studying example (women 9/12 vs men 1/12): one-sided p = 0.001379728.
    expect(fisherExactGreater(9, 3, 1, 11)).toBeCloseTo(0.001379728, 9);
    // A perfectly separated 10 vs 10 table: 1 / C(20, 10).
    expect(fisherExactGreater(10, 0, 0, 10)).toBeCloseTo(1 / 184_756, 15);
  });

  it("equals the exact BigInt tail on many tables, small and large", { timeout: 60_000 }, () => {
    let seed = 7;
    const next = (max: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % (max + 1);
    };
    for (let i = 0; i < 120; i++) {
      const big = i % 3 === 0 ? 3000 : 40;
      const [a, b, c, d] = [next(30), next(big), next(30), next(big)] as [number, number, number, number];
      const expected = exactGreater(a, b, c, d);
      const actual = fisherExactGreater(a, b, c, d);
      expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * Math.max(expected, 1e-6));
    }
  });

  it("is 1 when nothing failed or the candidate made no calls, and small when the candidate is clearly worse", () => {
    expect(fisherExactGreater(0, 20, 0, 2000)).toBe(1);
    expect(fisherExactGreater(0, 0, 5, 100)).toBe(1);
    expect(fisherExactGreater(0, 20, 5, 100)).toBe(1);
    expect(fisherExactGreater(6, 14, 20, 1980)).toBeLessThan(1e-5);
  });

  it("rejects counts that are not non-negative integers", () => {
    expect(() => fisherExactGreater(-1, 1, 1, 1)).toThrow(RangeError);
    expect(() => fisherExactGreater(1.5, 1, 1, 1)).toThrow(RangeError);
  });
});

describe("logFactorial", () => {
  it("is exact for small n and continuous across the Stirling switch", () => {
    expect(logFactorial(0)).toBe(0);
    expect(Math.exp(logFactorial(10))).toBeCloseTo(3_628_800, 6);
    let sum = 0;
    for (let n = 1; n <= 200; n++) {
      sum += Math.log(n);
      expect(logFactorial(n)).toBeCloseTo(sum, 9);
    }
  });
});
