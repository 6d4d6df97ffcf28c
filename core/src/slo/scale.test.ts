import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import type { CallObservation } from "../types.js";
import { buildThirtyDaySloFixture } from "./bench-fixtures.js";
import { ErrorRate } from "./indicators.js";
import { SLI_SLOTS } from "./sli.js";
import { SLO } from "./slo.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 0, 1);
const EVENTS = 1_000_000;

/** Each tracked window and the bucket size its tier uses (see prefix-sums.test.ts for the plan). */
const WINDOWS: Array<[label: string, windowMs: number, bucketMs: number]> = [
  ["5m", 5 * MINUTE, MINUTE],
  ["30m", 30 * MINUTE, MINUTE],
  ["1h", HOUR, MINUTE],
  ["6h", 6 * HOUR, MINUTE],
  ["3d", 3 * DAY, 5 * MINUTE],
  ["30d", 30 * DAY, HOUR],
];

describe("1 M events over 30 days", () => {
  it("evaluates exactly (against a brute-force count) with bounded, traffic-independent memory", () => {
    const clock = new ManualClock(START);
    const slo = new SLO({
      name: "volume",
      indicators: [new ErrorRate()],
      errorBudget: { total: 0.005 },
      clock,
    });
    const storageBefore = slo.errorBudget.storage;
    const bytesBefore = slo.byteLength;

    const times = new Float64Array(EVENTS);
    const bad = new Uint8Array(EVENTS);
    const spacingMs = (30 * DAY) / EVENTS;
    let seed = 12345;
    const observation: CallObservation = {
      at: START,
      agentId: "a",
      taskId: undefined,
      kind: "model",
      name: "m",
      ok: true,
      durationMs: 1,
      costUsd: 0,
      inputTokens: 0,
      outputTokens: 0,
      errorCode: undefined,
    };
    for (let i = 0; i < EVENTS; i++) {
      // A deterministic LCG; errors are ~0.3 % overall and ~8 % in the last three hours.
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      const at = START + Math.floor(i * spacingMs);
      const isBad = at > START + 30 * DAY - 3 * HOUR ? seed % 12 === 0 : seed % 333 === 0;
      times[i] = at;
      bad[i] = isBad ? 1 : 0;
      observation.at = at;
      observation.ok = !isBad;
      slo.observe(observation);
    }

    for (const nowMs of [START + 30 * DAY - 1, START + 30 * DAY + 17 * MINUTE, START + 32 * DAY + 7 * HOUR]) {
      clock.set(nowMs);
      const evaluation = slo.evaluate();
      for (const [label, windowMs, bucketMs] of WINDOWS) {
        const firstBucket = Math.floor(nowMs / bucketMs) - Math.ceil(windowMs / bucketMs) + 1;
        let total = 0;
        let badCount = 0;
        for (let i = 0; i < EVENTS; i++) {
          if (Math.floor((times[i] as number) / bucketMs) >= firstBucket) {
            total++;
            badCount += bad[i] as number;
          }
        }
        const expected = total === 0 ? 0 : badCount / total / 0.005;
        expect(evaluation.burnRates[label], `${label} at ${nowMs}`).toBe(expected);
        if (label === "30d") {
          expect(evaluation.events).toBe(total);
          expect(evaluation.badEvents).toBe(badCount);
          expect(evaluation.budgetConsumed).toBe(expected);
        }
      }
      // The indicator's own 1-hour window: 24 slots of 150 s.
      const slotMs = HOUR / SLI_SLOTS;
      const firstSlot = Math.floor(nowMs / slotMs) - SLI_SLOTS + 1;
      let events = 0;
      let errors = 0;
      for (let i = 0; i < EVENTS; i++) {
        if (Math.floor((times[i] as number) / slotMs) >= firstSlot) {
          events++;
          errors += bad[i] as number;
        }
      }
      expect(evaluation.indicators[0]).toMatchObject({
        events,
        goodEvents: events - errors,
        value: events === 0 ? null : errors / events,
      });
    }

    expect(slo.errorBudget.storage).toEqual(storageBefore);
    expect(storageBefore.slots).toBe(360 + 864 + 720);
    expect(slo.byteLength).toBe(bytesBefore);
    expect(slo.byteLength).toBeLessThanOrEqual(64 * 1024);
  });

  it("the benchmark fixture builds a 30-day SLO holding 1 M events", () => {
    const fixture = buildThirtyDaySloFixture();
    const evaluation = fixture.slo.evaluate();
    expect(fixture.recordedEvents).toBe(EVENTS);
    expect(evaluation.events).toBe(EVENTS);
    expect(evaluation.badEvents).toBe(fixture.badEvents);
    expect(evaluation.budgetConsumed).toBeCloseTo(0.5, 12);
    expect(evaluation.status).toBe("HEALTHY");
    expect(fixture.slo.byteLength).toBeLessThanOrEqual(64 * 1024);
    const before = fixture.slo.eventCounts().total;
    fixture.slo.observe(fixture.observation);
    expect(fixture.slo.eventCounts().total).toBe(before + 1);
  });
});
