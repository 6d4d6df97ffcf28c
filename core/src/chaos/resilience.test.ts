import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../errors.js";
import { calculateResilience } from "./resilience.js";

describe("calculateResilience", () => {
  it("is 100 when success rate and latency hold", () => {
    expect(
      calculateResilience({ successRate: 0.98, p99LatencyMs: 800 }, { successRate: 0.98, p99LatencyMs: 800 }),
    ).toBe(100);
    expect(calculateResilience({ successRate: 0.9 }, { successRate: 0.95 })).toBe(100);
  });

  it("without latency it is the Python retention exp/base × 100", () => {
    expect(calculateResilience({ successRate: 0.8 }, { successRate: 0.6 })).toBe(75);
    expect(calculateResilience({ successRate: 1 }, { successRate: 0 })).toBe(0);
    expect(calculateResilience({ successRate: 0.9 }, { successRate: 0.3 })).toBe(33.3);
  });

  it("weights success retention 0.7 and latency retention 0.3", () => {
    // same success, twice as slow: 0.7 + 0.3 × 0.5
    expect(
      calculateResilience({ successRate: 1, p99LatencyMs: 1000 }, { successRate: 1, p99LatencyMs: 2000 }),
    ).toBe(85);
    // half the success, same latency: 0.7 × 0.5 + 0.3
    expect(
      calculateResilience({ successRate: 1, p99LatencyMs: 500 }, { successRate: 0.5, p99LatencyMs: 500 }),
    ).toBe(65);
    // faster under faults does not score above 100
    expect(
      calculateResilience({ successRate: 1, p99LatencyMs: 500 }, { successRate: 1, p99LatencyMs: 100 }),
    ).toBe(100);
    // latency only counts when both sides have it
    expect(
      calculateResilience({ successRate: 1, p99LatencyMs: 500 }, { successRate: 0.5, p99LatencyMs: null }),
    ).toBe(50);
  });

  it("guards a zero baseline", () => {
    expect(calculateResilience({ successRate: 0 }, { successRate: 0 })).toBe(0);
    expect(calculateResilience({ successRate: 0 }, { successRate: 0.5 })).toBe(100);
  });

  it("rejects rates outside [0, 1] and negative latencies", () => {
    expect(() => calculateResilience({ successRate: 1.2 }, { successRate: 1 })).toThrow(InvalidArgumentError);
    expect(() => calculateResilience({ successRate: 1 }, { successRate: Number.NaN })).toThrow(
      /experiment.successRate/,
    );
    expect(() =>
      calculateResilience({ successRate: 1, p99LatencyMs: -1 }, { successRate: 1, p99LatencyMs: 1 }),
    ).toThrow(/baseline.p99LatencyMs/);
  });
});
