import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { TimeWindow } from "./time-window.js";

const START = 1_000_000; // a multiple of every bucket width used below

describe("TimeWindow", () => {
  it("keeps outcomes for the window and drops each bucket as it expires", () => {
    const clock = new ManualClock(START);
    const window = new TimeWindow(10_000, 10, clock); // 1 s buckets
    window.record(true, false); // bucket 0
    clock.advance(999);
    window.record(false, true); // still bucket 0
    clock.advance(1); // bucket 1
    window.record(true, true);
    expect([window.calls, window.failures, window.slowCalls]).toEqual([3, 2, 2]);

    clock.set(START + 9_999); // bucket 9: buckets 0..9 all in the window
    window.sync();
    expect(window.calls).toBe(3);

    clock.set(START + 10_000); // bucket 10: bucket 0 expires
    window.sync();
    expect([window.calls, window.failures, window.slowCalls]).toEqual([1, 1, 1]);

    clock.set(START + 11_000); // bucket 11: bucket 1 expires
    window.sync();
    expect([window.calls, window.failures, window.slowCalls]).toEqual([0, 0, 0]);
  });

  it("clears everything after an idle gap longer than the window", () => {
    const clock = new ManualClock(START);
    const window = new TimeWindow(5_000, 5, clock);
    for (let i = 0; i < 4; i++) window.record(true, true);
    clock.advance(60_000);
    window.record(false, false);
    expect([window.calls, window.failures, window.slowCalls]).toEqual([1, 0, 0]);
  });

  it("ignores a clock that steps back (records into the newest bucket)", () => {
    let now = START + 5_000;
    const window = new TimeWindow(10_000, 10, { now: () => now });
    window.record(true, false);
    now = START; // backwards
    window.record(true, false);
    expect([window.calls, window.failures]).toEqual([2, 2]);
    now = START + 14_999; // bucket of the first record (5) is still inside (15 - 10 < 5)
    window.sync();
    expect(window.calls).toBe(2);
    now = START + 15_000;
    window.sync();
    expect(window.calls).toBe(0);
  });

  it("matches a naive timestamped list for any sequence of records and clock moves", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant("record" as const), failed: fc.boolean(), slow: fc.boolean() }),
            fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
          ),
          { maxLength: 100 },
        ),
        (buckets, bucketSeconds, ops) => {
          const bucketMs = bucketSeconds * 250;
          const clock = new ManualClock(START);
          const window = new TimeWindow(bucketMs * buckets, buckets, clock);
          const naive: Array<{ bucket: number; failed: boolean; slow: boolean }> = [];
          for (const op of ops) {
            if (op.kind === "advance") {
              clock.advance(op.ms);
              window.sync();
            } else {
              window.record(op.failed, op.slow);
              naive.push({ bucket: Math.floor(clock.now() / bucketMs), failed: op.failed, slow: op.slow });
            }
            const current = Math.floor(clock.now() / bucketMs);
            const live = naive.filter((o) => o.bucket > current - buckets);
            expect(window.calls).toBe(live.length);
            expect(window.failures).toBe(live.filter((o) => o.failed).length);
            expect(window.slowCalls).toBe(live.filter((o) => o.slow).length);
          }
        },
      ),
    );
  });
});
