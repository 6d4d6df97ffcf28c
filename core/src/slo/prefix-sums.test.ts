import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BucketedPrefixSums, MAX_SLOTS_PER_TIER, planTiers } from "./prefix-sums.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe("planTiers", () => {
  it("puts the Workbook windows of a 30-day SLO on 1-minute, 5-minute and 1-hour tiers", () => {
    const plan = planTiers([5 * MINUTE, 30 * MINUTE, HOUR, 6 * HOUR, 3 * DAY, 30 * DAY]);
    expect(plan.tiers).toEqual([
      { bucketMs: MINUTE, slots: 360 },
      { bucketMs: 5 * MINUTE, slots: 864 },
      { bucketMs: HOUR, slots: 720 },
    ]);
    expect(plan.windows).toEqual([
      { tier: 0, buckets: 5 },
      { tier: 0, buckets: 30 },
      { tier: 0, buckets: 60 },
      { tier: 0, buckets: 360 },
      { tier: 1, buckets: 864 },
      { tier: 2, buckets: 720 },
    ]);
  });

  it("never gives a tier more than MAX_SLOTS_PER_TIER slots, so the worst case stays under 64 KiB", () => {
    const plan = planTiers([999 * MINUTE, 1001 * MINUTE, 41 * DAY, 999 * DAY]);
    for (const tier of plan.tiers) expect(tier.slots).toBeLessThanOrEqual(MAX_SLOTS_PER_TIER);
    const sums = new BucketedPrefixSums(2, plan.tiers);
    expect(sums.byteLength).toBeLessThanOrEqual(64 * 1024);
  });

  it("refuses a window longer than 1000 daily buckets", () => {
    expect(() => planTiers([1001 * DAY])).toThrow(RangeError);
  });
});

describe("BucketedPrefixSums", () => {
  function counter() {
    const sums = new BucketedPrefixSums(1, [
      { bucketMs: MINUTE, slots: 10 },
      { bucketMs: 5 * MINUTE, slots: 6 },
    ]);
    const add = (atMs: number, amount = 1) => {
      sums.touch(atMs);
      sums.totals[0] = (sums.totals[0] as number) + amount;
    };
    return { sums, add };
  }

  it("sums the last k buckets, the current one included", () => {
    const { sums, add } = counter();
    add(0);
    add(MINUTE);
    add(2 * MINUTE + 59_999, 5);
    const now = 2 * MINUTE + 59_999;
    expect(sums.sum(0, 0, 1, now)).toBe(5);
    expect(sums.sum(0, 0, 2, now)).toBe(6);
    expect(sums.sum(0, 0, 3, now)).toBe(7);
    expect(sums.sum(0, 0, 10, now)).toBe(7);
  });

  it("drops buckets as time passes, without recording anything", () => {
    const { sums, add } = counter();
    add(0, 3);
    expect(sums.sum(0, 0, 5, 4 * MINUTE)).toBe(3);
    expect(sums.sum(0, 0, 5, 5 * MINUTE)).toBe(0);
    expect(sums.sum(0, 1, 2, 9 * MINUTE)).toBe(3);
    expect(sums.sum(0, 1, 2, 10 * MINUTE)).toBe(0);
  });

  it("stays correct after an idle gap longer than the whole ring", () => {
    const { sums, add } = counter();
    add(0, 7);
    add(HOUR, 2);
    expect(sums.sum(0, 0, 10, HOUR)).toBe(2);
    expect(sums.sum(0, 1, 6, HOUR)).toBe(2);
    add(HOUR + MINUTE, 1);
    expect(sums.sum(0, 0, 2, HOUR + MINUTE)).toBe(3);
  });

  it("counts a late event in the newest bucket instead of rewriting history", () => {
    const { sums, add } = counter();
    add(5 * MINUTE);
    add(MINUTE);
    expect(sums.sum(0, 0, 1, 5 * MINUTE)).toBe(2);
  });

  it("reads a window that ends before 'now' reached the newest bucket as of the newest bucket", () => {
    const { sums, add } = counter();
    add(5 * MINUTE, 4);
    expect(sums.sum(0, 0, 1, 0)).toBe(4);
  });

  it("returns per-bucket values for inspection", () => {
    const { sums, add } = counter();
    add(0, 1);
    add(2 * MINUTE, 2);
    expect(sums.bucketValues(0, 0, 3, 2 * MINUTE)).toEqual([
      { startMs: 0, value: 1 },
      { startMs: MINUTE, value: 0 },
      { startMs: 2 * MINUTE, value: 2 },
    ]);
  });

  it("matches a brute-force count for any monotonic event stream (property)", () => {
    const tiers = [
      { bucketMs: MINUTE, slots: 30 },
      { bucketMs: 5 * MINUTE, slots: 20 },
      { bucketMs: HOUR, slots: 8 },
    ];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 40 * MINUTE }), fc.integer({ min: 1, max: 5 })), {
          maxLength: 120,
        }),
        fc.integer({ min: 0, max: 3 * HOUR }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 100 }),
        (gaps, extraMs, tierIndex, bucketsRaw) => {
          const tier = tiers[tierIndex] as { bucketMs: number; slots: number };
          const buckets = 1 + (bucketsRaw % tier.slots);
          const sums = new BucketedPrefixSums(1, tiers);
          const events: Array<{ at: number; amount: number }> = [];
          let at = 1_700_000_000_000;
          for (const [gap, amount] of gaps) {
            at += gap;
            sums.touch(at);
            sums.totals[0] = (sums.totals[0] as number) + amount;
            events.push({ at, amount });
          }
          const now = at + extraMs;
          const first = Math.floor(now / tier.bucketMs) - buckets + 1;
          let expected = 0;
          for (const event of events) {
            if (Math.floor(event.at / tier.bucketMs) >= first) expected += event.amount;
          }
          expect(sums.sum(0, tierIndex, buckets, now)).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("BucketedPrefixSums state (a restart through a state store)", () => {
  const plan = planTiers([5 * MINUTE, HOUR, 6 * HOUR, 3 * DAY, 30 * DAY]);
  const windows = [5 * MINUTE, HOUR, 6 * HOUR, 3 * DAY, 30 * DAY];

  it("a copy restored from JSON answers every window exactly like the original, and keeps counting", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 * HOUR }), fc.boolean()), {
          minLength: 1,
          maxLength: 200,
        }),
        (steps) => {
          const original = new BucketedPrefixSums(2, plan.tiers);
          let now = Date.UTC(2026, 10, 23);
          for (const [gapMs, bad] of steps) {
            now += gapMs;
            original.touch(now);
            (original.totals[0] as number)++;
            if (bad) (original.totals[1] as number)++;
          }
          const copy = new BucketedPrefixSums(2, plan.tiers);
          expect(copy.importState(JSON.parse(JSON.stringify(original.exportState())))).toBe(true);
          for (const at of [now, now + 10 * MINUTE, now + 2 * DAY]) {
            for (const windowMs of windows) {
              const where = original.resolve(windowMs);
              if (where === undefined) throw new Error("unplanned window");
              for (const column of [0, 1]) {
                expect(copy.sum(column, where.tier, where.buckets, at)).toBe(
                  original.sum(column, where.tier, where.buckets, at),
                );
              }
            }
          }
          for (const target of [original, copy]) {
            target.touch(now + 7 * MINUTE);
            (target.totals[1] as number)++;
          }
          const where = original.resolve(HOUR);
          if (where === undefined) throw new Error("unplanned window");
          expect(copy.sum(1, where.tier, where.buckets, now + 7 * MINUTE)).toBe(
            original.sum(1, where.tier, where.buckets, now + 7 * MINUTE),
          );
        },
      ),
      { numRuns: 50 },
    );
  });

  it("refuses, changing nothing, a state of another shape or a malformed one", () => {
    const sums = new BucketedPrefixSums(2, plan.tiers);
    sums.touch(Date.UTC(2026, 10, 23));
    (sums.totals[0] as number) += 5;
    const saved = sums.exportState();
    const other = new BucketedPrefixSums(2, planTiers([HOUR, 30 * DAY]).tiers);
    expect(other.importState(saved)).toBe(false);
    expect(other.isEmpty).toBe(true);
    const fresh = new BucketedPrefixSums(2, plan.tiers);
    expect(fresh.importState({ ...saved, totals: [1] })).toBe(false);
    expect(fresh.importState({ ...saved, fineBucket: "x" })).toBe(false);
    expect(fresh.importState(null)).toBe(false);
    expect(fresh.isEmpty).toBe(true);
    expect(fresh.importState(saved)).toBe(true);
    expect(fresh.totals[0]).toBe(5);
  });
});

describe("BucketedPrefixSums.touch (one comparison inside the current bucket)", () => {
  it("rotates at the first record of a new bucket, after an import, and never back", () => {
    const sums = new BucketedPrefixSums(1, [{ bucketMs: MINUTE, slots: 3 }]);
    const add = (atMs: number) => {
      sums.touch(atMs);
      sums.totals[0] = (sums.totals[0] as number) + 1;
    };
    add(10 * MINUTE);
    add(11 * MINUTE - 1);
    expect(sums.sum(0, 0, 1, 11 * MINUTE - 1)).toBe(2);
    add(11 * MINUTE); // the next bucket starts here
    expect(sums.sum(0, 0, 1, 11 * MINUTE)).toBe(1);
    expect(sums.sum(0, 0, 2, 11 * MINUTE)).toBe(3);
    add(10 * MINUTE); // late: counted in the newest bucket, nothing rotates back
    expect(sums.sum(0, 0, 1, 11 * MINUTE)).toBe(2);
    const copy = new BucketedPrefixSums(1, [{ bucketMs: MINUTE, slots: 3 }]);
    expect(copy.importState(sums.exportState())).toBe(true);
    copy.touch(11 * MINUTE + 5);
    copy.totals[0] = (copy.totals[0] as number) + 1;
    expect(copy.sum(0, 0, 1, 11 * MINUTE + 5)).toBe(3);
    copy.touch(12 * MINUTE);
    expect(copy.sum(0, 0, 1, 12 * MINUTE)).toBe(0);
    expect(copy.sum(0, 0, 2, 12 * MINUTE)).toBe(3);
  });
});
