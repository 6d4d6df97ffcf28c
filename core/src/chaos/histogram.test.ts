import { describe, expect, it } from "vitest";
import { LatencyHistogram } from "./histogram.js";
import { mulberry32 } from "./rng.js";

function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

describe("LatencyHistogram", () => {
  it("is empty without samples", () => {
    expect(new LatencyHistogram().quantile(0.99)).toBeUndefined();
  });

  it("returns the single value for one sample and clamps to the observed range", () => {
    const histogram = new LatencyHistogram();
    histogram.record(123);
    expect(histogram.quantile(0.99)).toBe(123);
    expect(histogram.quantile(0.5)).toBe(123);
  });

  it("is within 2 % above the exact nearest-rank quantile on skewed data", () => {
    const rng = mulberry32(3);
    const histogram = new LatencyHistogram();
    const values: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      const value = -Math.log(1 - rng()) * 400; // exponential, mean 400 ms
      values.push(value);
      histogram.record(value);
    }
    for (const q of [0.5, 0.9, 0.99]) {
      const exact = exactQuantile(values, q);
      const approx = histogram.quantile(q)!;
      expect(approx).toBeGreaterThanOrEqual(exact);
      expect(approx).toBeLessThanOrEqual(exact * 1.02 + 1e-9);
    }
    expect(histogram.count).toBe(50_000);
  });

  it("keeps sub-millisecond and very long latencies", () => {
    const histogram = new LatencyHistogram();
    for (let i = 0; i < 99; i++) histogram.record(0.2);
    histogram.record(50_000_000);
    // sub-millisecond samples share one bucket and report as (at most) 1 ms
    expect(histogram.quantile(0.5)).toBe(1);
    expect(histogram.quantile(1)).toBe(50_000_000);
  });

  it("counts a weighted sample as that many samples (a sampled run's calls)", () => {
    const weighted = new LatencyHistogram();
    const plain = new LatencyHistogram();
    for (let i = 1; i <= 200; i++) {
      weighted.record(i, 16);
      for (let k = 0; k < 16; k++) plain.record(i);
    }
    expect(weighted.count).toBe(3_200);
    for (const q of [0.5, 0.9, 0.99]) expect(weighted.quantile(q)).toBe(plain.quantile(q));
  });
});
