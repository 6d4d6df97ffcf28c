import { describe, expect, it } from "vitest";
import { AdmissionBucket } from "./admission-bucket.js";

function admitAll(bucket: AdmissionBucket, nowMs: number, attempts: number): number {
  let admitted = 0;
  for (let i = 0; i < attempts; i++) {
    if (bucket.waitMs(nowMs) === 0) {
      bucket.take(nowMs);
      admitted++;
    }
  }
  return admitted;
}

describe("AdmissionBucket", () => {
  it("admits a full minute's worth at once, then one per interval", () => {
    const bucket = new AdmissionBucket(6, 0);
    expect(admitAll(bucket, 0, 20)).toBe(6);
    expect(bucket.waitMs(0)).toBe(10_000);
    expect(bucket.waitMs(4_000)).toBe(6_000);
    expect(admitAll(bucket, 9_999, 5)).toBe(0);
    expect(admitAll(bucket, 10_000, 5)).toBe(1);
    expect(admitAll(bucket, 70_000, 20)).toBe(6);
  });

  it("refills by the clock up to its capacity only", () => {
    const bucket = new AdmissionBucket(3, 0);
    admitAll(bucket, 0, 3);
    expect(admitAll(bucket, 10 * 60_000, 10)).toBe(3);
  });

  it("admits exactly N per minute over a long run, also for rates that do not divide a minute", () => {
    for (const perMinute of [1, 6, 7, 13, 0.5]) {
      const bucket = new AdmissionBucket(perMinute, 0);
      let admitted = 0;
      for (let nowMs = 0; nowMs < 60 * 60_000; nowMs += 250) admitted += admitAll(bucket, nowMs, 3);
      // An hour at N per minute, plus the initial burst of max(1, N).
      expect(admitted).toBe(Math.round(60 * perMinute + Math.max(1, perMinute)) - 1);
    }
  });

  it("starts full again after reset", () => {
    const bucket = new AdmissionBucket(2, 0);
    admitAll(bucket, 0, 2);
    bucket.reset(1_000);
    expect(admitAll(bucket, 1_000, 5)).toBe(2);
  });
});
