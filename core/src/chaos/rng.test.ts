import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hashString, mulberry32, seededUnit, toSeed } from "./rng.js";

describe("mulberry32", () => {
  it("gives the same sequence for the same seed and a different one for another seed", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const seqA = Array.from({ length: 50 }, () => a());
    const seqB = Array.from({ length: 50 }, () => b());
    const seqC = Array.from({ length: 50 }, () => c());
    expect(seqA).toEqual(seqB);
    expect(seqA).not.toEqual(seqC);
  });

  it("stays in [0, 1) for any seed", () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const rng = mulberry32(seed);
        for (let i = 0; i < 100; i++) {
          const value = rng();
          if (!(value >= 0 && value < 1)) return false;
        }
        return true;
      }),
    );
  });

  it("is roughly uniform: mean ≈ 0.5 and each tenth holds ≈ 10 %", () => {
    const rng = mulberry32(7);
    const n = 100_000;
    const deciles = new Array<number>(10).fill(0);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const value = rng();
      sum += value;
      deciles[Math.floor(value * 10)]!++;
    }
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.005);
    // binomial σ for p = 0.1: sqrt(n · 0.1 · 0.9) ≈ 95; allow 5σ
    for (const count of deciles) expect(Math.abs(count - n / 10)).toBeLessThan(475);
  });
});

describe("hashing", () => {
  it("hashes strings stably and spreads them", () => {
    expect(hashString("agent-1")).toBe(hashString("agent-1"));
    expect(hashString("agent-1")).not.toBe(hashString("agent-2"));
    expect(toSeed("experiment")).toBe(hashString("experiment"));
    expect(toSeed(-1)).toBe(0xffffffff);
  });

  it("seededUnit is stable per (seed, key), lies in [0, 1) and depends on the seed", () => {
    fc.assert(
      fc.property(fc.integer(), fc.string(), (seed, key) => {
        const value = seededUnit(seed, key);
        return value === seededUnit(seed, key) && value >= 0 && value < 1;
      }),
    );
    const keys = Array.from({ length: 200 }, (_, i) => `agent-${i}`);
    const underSeed1 = keys.map((key) => seededUnit(1, key) < 0.5);
    const underSeed2 = keys.map((key) => seededUnit(2, key) < 0.5);
    expect(underSeed1).not.toEqual(underSeed2);
  });
});
