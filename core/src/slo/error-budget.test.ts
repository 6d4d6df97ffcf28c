import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { ConfigError, InvalidArgumentError } from "../errors.js";
import { WORKBOOK_POLICY } from "./burn-rate.js";
import { ErrorBudget, ExhaustionAction } from "./error-budget.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function budget(options: Partial<ConstructorParameters<typeof ErrorBudget>[0]> = {}) {
  const clock = new ManualClock();
  return { clock, budget: new ErrorBudget({ total: 0.005, clock, ...options }) };
}

describe("ErrorBudget maths", () => {
  it("95 good + 5 bad in the last hour against total 0.005: burn rate 10, budget exhausted", () => {
    const { clock, budget: b } = budget();
    for (let i = 0; i < 95; i++) b.recordEvent(true);
    for (let i = 0; i < 5; i++) b.recordEvent(false);
    clock.advance(30 * MINUTE);
    expect(b.burnRate("1h")).toBeCloseTo(10, 12);
    expect(b.consumed).toBeCloseTo(10, 12);
    expect(b.isExhausted).toBe(true);
    expect(b.remainingPercent).toBe(0);
  });

  it("consumes (bad / all) / total of the budget over the SLO window", () => {
    const { budget: b } = budget({ total: 0.01 });
    b.recordEvents(1000, 5);
    expect(b.consumed).toBeCloseTo(0.5, 12);
    expect(b.remainingPercent).toBeCloseTo(50, 9);
    expect(b.isExhausted).toBe(false);
  });

  it("running exactly on target uses the whole budget (remaining 0, exhausted)", () => {
    const { budget: b } = budget({ total: 0.001 });
    b.recordEvents(10_000, 10);
    expect(b.consumed).toBeCloseTo(1, 12);
    expect(b.remainingPercent).toBe(0);
    expect(b.isExhausted).toBe(true);
  });

  it("one bad event among many does not exhaust the budget (Python bug #1)", () => {
    const { budget: b } = budget();
    b.recordEvents(10_000, 1);
    expect(b.consumed).toBeCloseTo(0.02, 12);
    expect(b.remainingPercent).toBeCloseTo(98, 9);
  });

  it("has no burn, full budget and no exhaustion without events", () => {
    const { budget: b } = budget();
    expect(b.burnRate("1h")).toBe(0);
    expect(b.consumed).toBe(0);
    expect(b.remainingPercent).toBe(100);
    expect(b.isExhausted).toBe(false);
  });

  it("measures each window on its own events", () => {
    const { clock, budget: b } = budget({ total: 0.01 });
    b.recordEvents(1000, 50); // 5 % errors, two hours ago
    clock.advance(2 * HOUR);
    b.recordEvents(1000, 0);
    expect(b.burnRate("1h")).toBe(0);
    expect(b.burnRate("6h")).toBeCloseTo(2.5, 12);
    expect(b.eventCounts("6h")).toEqual({ total: 2000, bad: 50 });
  });

  it("lets old events expire from every window", () => {
    const { clock, budget: b } = budget({ total: 0.01 });
    b.recordEvents(100, 100);
    clock.advance(HOUR);
    expect(b.burnRate("1h")).toBe(0);
    expect(b.eventCounts("6h").bad).toBe(100);
    clock.advance(30 * DAY);
    expect(b.eventCounts()).toEqual({ total: 0, bad: 0 });
    expect(b.isExhausted).toBe(false);
  });

  it("refuses a window longer than the counters keep", () => {
    const { budget: b } = budget({ windowMs: "7d" });
    expect(() => b.burnRate("3d")).not.toThrow();
    expect(() => b.burnRate("60d")).toThrow(InvalidArgumentError);
  });

  it("rejects invalid records and changes nothing", () => {
    const { budget: b } = budget();
    b.recordEvent(false);
    expect(() => b.recordEvent(false, Number.NaN)).toThrow(InvalidArgumentError);
    expect(() => b.recordEvent(false, -1)).toThrow(InvalidArgumentError);
    expect(() => b.recordEvents(10, 11)).toThrow(InvalidArgumentError);
    expect(() => b.recordEvents(-1, 0)).toThrow(InvalidArgumentError);
    expect(() => b.recordEvents(1.5, 0)).toThrow(InvalidArgumentError);
    expect(b.eventCounts()).toEqual({ total: 1, bad: 1 });
  });
});

describe("ErrorBudget configuration", () => {
  it("defaults to a 30-day window, the Workbook policy and the ALERT action", () => {
    const b = new ErrorBudget({ total: 0.001 });
    expect(b.windowMs).toBe(30 * DAY);
    expect(b.target).toBeCloseTo(0.999, 12);
    expect(b.exhaustionAction).toBe(ExhaustionAction.ALERT);
    expect(b.alertPolicy).toEqual(WORKBOOK_POLICY);
    expect(b.windowLabels).toEqual(["5m", "30m", "1h", "6h", "3d", "30d"]);
  });

  it("maps burnRateCritical onto the fast page rule and burnRateAlert onto the ticket rule", () => {
    const b = new ErrorBudget({ total: 0.001, burnRateAlert: 2, burnRateCritical: 10 });
    expect(b.alertPolicy).toEqual([
      { severity: "page", burnRate: 10, longWindowMs: HOUR, shortWindowMs: 5 * MINUTE },
      { severity: "page", burnRate: 6, longWindowMs: 6 * HOUR, shortWindowMs: 30 * MINUTE },
      { severity: "ticket", burnRate: 2, longWindowMs: 3 * DAY, shortWindowMs: 6 * HOUR },
    ]);
  });

  it("takes a custom policy with duration strings", () => {
    const b = new ErrorBudget({
      total: 0.01,
      windowMs: "28d",
      alertPolicy: [
        { severity: "page", burnRate: 14, longWindow: "1h", shortWindow: "5m" },
        { severity: "ticket", burnRate: 2, longWindow: "1d", shortWindow: "2h" },
      ],
    });
    expect(b.windowLabels).toEqual(["5m", "1h", "2h", "1d", "28d"]);
    expect(b.alertPolicy[1]).toEqual({
      severity: "ticket",
      burnRate: 2,
      longWindowMs: DAY,
      shortWindowMs: 2 * HOUR,
    });
  });

  it.each([
    [{ total: 0 }, "errorBudget.total"],
    [{ total: 1 }, "errorBudget.total"],
    [{ total: Number.NaN }, "errorBudget.total"],
    [{ total: 99.5 }, "errorBudget.total"],
    [{ total: 0.01, windowMs: "30 days" }, "errorBudget.windowMs"],
    [{ total: 0.01, windowMs: "2000d" }, "errorBudget.windowMs"],
    [{ total: 0.01, exhaustionAction: "KILL" }, "errorBudget.exhaustionAction"],
    [{ total: 0.01, burnRateCritical: -1 }, "errorBudget.burnRateCritical"],
    [{ total: 0.01, burnRateAlert: 5, burnRateCritical: 2 }, "errorBudget.burnRateCritical"],
    [
      {
        total: 0.01,
        burnRateAlert: 2,
        alertPolicy: [{ severity: "page", burnRate: 1, longWindow: "1h", shortWindow: "5m" }],
      },
      "errorBudget.alertPolicy",
    ],
    [{ total: 0.01, alertPolicy: [] }, "errorBudget.alertPolicy"],
    [
      { total: 0.01, alertPolicy: [{ severity: "sms", burnRate: 1, longWindow: "1h", shortWindow: "5m" }] },
      "errorBudget.alertPolicy[0].severity",
    ],
    [
      { total: 0.01, alertPolicy: [{ severity: "page", burnRate: 0, longWindow: "1h", shortWindow: "5m" }] },
      "errorBudget.alertPolicy[0].burnRate",
    ],
    [
      { total: 0.01, alertPolicy: [{ severity: "page", burnRate: 2, longWindow: "1h", shortWindow: "2h" }] },
      "errorBudget.alertPolicy[0].shortWindow",
    ],
  ])("rejects %j naming %s", (options, field) => {
    let error: unknown;
    try {
      new ErrorBudget(options as never);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
  });

  it("uses 1,944 slots (~31 KB) for the default 30-day policy, fixed whatever the traffic", () => {
    const { clock, budget: b } = budget();
    const before = b.storage;
    expect(before.slots).toBe(1944);
    expect(before.bytes).toBe(1944 * 16 + 16);
    for (let minute = 0; minute < 2000; minute++) {
      b.recordEvents(1000, 1);
      clock.advance(MINUTE);
    }
    expect(b.storage).toEqual(before);
  });
});

describe("ErrorBudget peers (a fleet's other processes)", () => {
  it("reads its own counts plus every peer's, per window, and refuses a peer of another shape", () => {
    const { clock, budget: own } = budget({ total: 0.01 });
    const { budget: peer } = budget({ total: 0.01 });
    clock.advance(3 * HOUR);
    own.recordEvents(90, 0, clock.now());
    peer.recordEvents(10, 2, clock.now() - 2 * HOUR);
    expect(own.setPeerState("p1", peer.exportState())).toBe(true);
    expect(own.peerCount).toBe(1);
    expect(own.eventCounts()).toEqual({ total: 100, bad: 2 });
    expect(own.consumed).toBeCloseTo(2, 12); // 2 % errors over a 1 % budget
    expect(own.eventCounts("1h")).toEqual({ total: 90, bad: 0 }); // the peer's events are 2 h old
    expect(own.eventsRecorded).toBe(90); // what this process saves stays its own
    const { budget: other } = budget({ total: 0.01, windowMs: "7d" });
    expect(other.setPeerState("p1", peer.exportState())).toBe(false);
    expect(other.setPeerState("p2", { version: 2 })).toBe(false);
    expect(other.peerCount).toBe(0);
    own.setPeerState("p1", undefined);
    expect(own.eventCounts()).toEqual({ total: 90, bad: 0 });
  });
});
