import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { ConfigError, InvalidArgumentError } from "../errors.js";
import { type AgentSREEvents, EventBus } from "../events.js";
import type { CallObservation } from "../types.js";
import { ErrorBudget, ExhaustionAction } from "./error-budget.js";
import { ErrorRate, LatencyPercentile, TaskSuccessRate, ToolCallSuccessRate } from "./indicators.js";
import { SLO, SLOStatus } from "./slo.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 0, 1);

function recorder(bus: EventBus) {
  const seen: Array<{ name: keyof AgentSREEvents; payload: unknown }> = [];
  for (const name of ["slo.status", "slo.alert", "slo.exhausted"] as const) {
    bus.on(name, (payload) => seen.push({ name, payload }));
  }
  return seen;
}

function makeSlo(options: { total?: number; action?: ExhaustionAction } = {}) {
  const clock = new ManualClock(START);
  const events = new EventBus();
  const seen = recorder(events);
  const exhausted: string[] = [];
  const recovered: string[] = [];
  const slo = new SLO({
    name: "checkout",
    agentId: "agent-1",
    indicators: [new TaskSuccessRate()],
    errorBudget: new ErrorBudget({
      total: options.total ?? 0.01,
      exhaustionAction: options.action ?? ExhaustionAction.THROTTLE,
    }),
    clock,
    events,
    onExhausted: (s, action) => exhausted.push(`${s.name}:${action}`),
    onRecovered: (s, action) => recovered.push(`${s.name}:${action}`),
  });
  return { clock, slo, seen, exhausted, recovered };
}

/**
 * 30 days of uniform traffic, 1000 events a minute, one record per minute; `badPerMinute(minutesAgo)`
 * says how many are bad. The clock ends at the start of the last minute, where every window covers
 * whole minutes exactly (5 m = 5 minutes, 3 d = 4320 minutes, 30 d = 43,200 minutes).
 */
function fillThirtyDays(slo: SLO, clock: ManualClock, badPerMinute: (minutesAgo: number) => number) {
  const minutes = 30 * 24 * 60;
  for (let i = 0; i < minutes; i++) {
    slo.errorBudget.recordEvents(1000, badPerMinute(minutes - 1 - i), START + i * MINUTE);
  }
  clock.set(START + (minutes - 1) * MINUTE);
}

describe("SLO multi-window, multi-burn-rate alerting (SRE Workbook, 99 % target)", () => {
  it("2 % of the budget in the last hour (14.4×) fires the fast page only", () => {
    const { clock, slo } = makeSlo();
    fillThirtyDays(slo, clock, (ago) => (ago < 60 ? 144 : 0));
    const evaluation = slo.evaluate();
    expect(evaluation.firingAlerts).toEqual([
      {
        severity: "page",
        burnRateThreshold: 14.4,
        longWindowMs: HOUR,
        shortWindowMs: 5 * MINUTE,
        longWindow: "1h",
        shortWindow: "5m",
        longBurnRate: expect.closeTo(14.4, 9),
        shortBurnRate: expect.closeTo(14.4, 9),
      },
    ]);
    expect(evaluation.status).toBe(SLOStatus.CRITICAL);
    expect(evaluation.budgetConsumed).toBeCloseTo(0.02, 12);
    expect(evaluation.burnRates["6h"]).toBeCloseTo(2.4, 9);
    expect(evaluation.burnRates["3d"]).toBeCloseTo(0.2, 9);
  });

  it("5 % of the budget in six hours (6×) fires the slow page only", () => {
    const { clock, slo } = makeSlo();
    fillThirtyDays(slo, clock, (ago) => (ago < 360 ? 60 : 0));
    const evaluation = slo.evaluate();
    expect(
      evaluation.firingAlerts.map((a) => [a.severity, a.burnRateThreshold, a.longWindow, a.shortWindow]),
    ).toEqual([["page", 6, "6h", "30m"]]);
    expect(evaluation.status).toBe(SLOStatus.CRITICAL);
    expect(evaluation.budgetConsumed).toBeCloseTo(0.05, 12);
    expect(evaluation.burnRates["1h"]).toBeCloseTo(6, 9);
    expect(evaluation.burnRates["3d"]).toBeCloseTo(0.5, 9);
  });

  it("10 % of the budget in three days (1×) opens a ticket only: WARNING", () => {
    const { clock, slo } = makeSlo();
    fillThirtyDays(slo, clock, (ago) => (ago < 3 * 24 * 60 ? 10 : 0));
    const evaluation = slo.evaluate();
    expect(
      evaluation.firingAlerts.map((a) => [a.severity, a.burnRateThreshold, a.longWindow, a.shortWindow]),
    ).toEqual([["ticket", 1, "3d", "6h"]]);
    expect(evaluation.status).toBe(SLOStatus.WARNING);
    expect(evaluation.budgetConsumed).toBeCloseTo(0.1, 12);
  });

  it("does not fire when the long window burns but the short one has stopped (AND within a pair)", () => {
    const { clock, slo } = makeSlo();
    // 173 bad a minute from 60 to 6 minutes ago: 1 h burn ≈ 15.9, last 5 minutes clean.
    fillThirtyDays(slo, clock, (ago) => (ago >= 5 && ago < 60 ? 173 : 0));
    expect(slo.burnRate("1h")).toBeGreaterThan(14.4);
    expect(slo.burnRate("5m")).toBe(0);
    const evaluation = slo.evaluate();
    expect(evaluation.firingAlerts).toEqual([]);
    expect(evaluation.status).toBe(SLOStatus.HEALTHY);
  });

  it("does not fire when only the short window burns", () => {
    const { clock, slo } = makeSlo();
    fillThirtyDays(slo, clock, (ago) => (ago < 5 ? 300 : 0));
    expect(slo.burnRate("5m")).toBeCloseTo(30, 9);
    expect(slo.firingAlerts()).toEqual([]);
  });

  it("fires both pages and the ticket together when everything burns (OR across pairs)", () => {
    const { clock, slo } = makeSlo({ total: 0.001 });
    fillThirtyDays(slo, clock, (ago) => (ago < 60 ? 20 : 0));
    expect(slo.firingAlerts().map((a) => a.burnRateThreshold)).toEqual([14.4]);
    const all = makeSlo({ total: 0.001 });
    fillThirtyDays(all.slo, all.clock, () => 20);
    expect(all.slo.firingAlerts().map((a) => a.burnRateThreshold)).toEqual([14.4, 6, 1]);
  });
});

describe("SLO status", () => {
  it("is UNKNOWN with no data and HEALTHY with good data", () => {
    const { slo, seen } = makeSlo();
    expect(slo.status).toBe(SLOStatus.UNKNOWN);
    const empty = slo.evaluate();
    expect(empty.status).toBe(SLOStatus.UNKNOWN);
    expect(empty.budgetRemainingPercent).toBe(100);
    expect(seen).toEqual([]);
    slo.recordEvent(true);
    expect(slo.evaluate().status).toBe(SLOStatus.HEALTHY);
    expect(seen).toEqual([
      {
        name: "slo.status",
        payload: {
          at: START,
          slo: "checkout",
          agentId: "agent-1",
          from: "UNKNOWN",
          to: "HEALTHY",
          budgetRemainingPercent: 100,
        },
      },
    ]);
  });

  it("puts EXHAUSTED above CRITICAL", () => {
    const { slo } = makeSlo();
    slo.errorBudget.recordEvents(100, 100);
    const evaluation = slo.evaluate();
    expect(evaluation.firingAlerts.some((a) => a.severity === "page")).toBe(true);
    expect(evaluation.status).toBe(SLOStatus.EXHAUSTED);
  });

  it("goes back to UNKNOWN when all data has left the SLO window", () => {
    const { clock, slo } = makeSlo();
    slo.recordEvent(true);
    expect(slo.evaluate().status).toBe(SLOStatus.HEALTHY);
    clock.advance(31 * DAY);
    expect(slo.evaluate().status).toBe(SLOStatus.UNKNOWN);
  });

  it("emits slo.status only on change and the evaluation is JSON-serializable", () => {
    const { slo, seen } = makeSlo();
    slo.recordEvent(true);
    slo.evaluate();
    slo.evaluate();
    expect(seen.filter((e) => e.name === "slo.status")).toHaveLength(1);
    const evaluation = slo.evaluate();
    expect(JSON.parse(JSON.stringify(evaluation))).toEqual(evaluation);
  });
});

describe("SLO alert reporting", () => {
  it("reports an escalation from ticket to page, once per severity while it keeps firing", () => {
    const { clock, slo, seen } = makeSlo({ total: 0.001 });
    // Good traffic four days ago keeps the 30-day budget from running out.
    slo.errorBudget.recordEvents(10_000_000, 0, clock.now());
    clock.advance(4 * DAY);
    // 1.5× for three days: the ticket fires.
    for (let minute = 0; minute < 3 * 24 * 60; minute++) {
      slo.errorBudget.recordEvents(1000, minute % 2 === 0 ? 1 : 2, clock.now());
      clock.advance(MINUTE);
    }
    expect(slo.evaluate().status).toBe(SLOStatus.WARNING);
    expect(slo.evaluate().status).toBe(SLOStatus.WARNING);
    const alerts = () =>
      seen.filter((e) => e.name === "slo.alert").map((e) => (e.payload as { severity: string }).severity);
    expect(alerts()).toEqual(["ticket"]);

    // A burst: 30 bad per 1000 for an hour: 30× over 1 h and 5 m pages.
    for (let minute = 0; minute < 60; minute++) {
      slo.errorBudget.recordEvents(1000, 30, clock.now());
      clock.advance(MINUTE);
    }
    slo.errorBudget.recordEvents(1000, 30, clock.now());
    const escalated = slo.evaluate();
    expect(escalated.status).toBe(SLOStatus.CRITICAL);
    expect(alerts()).toEqual(["ticket", "page"]);
    const page = seen.filter((e) => e.name === "slo.alert")[1]?.payload;
    expect(page).toMatchObject({
      slo: "checkout",
      agentId: "agent-1",
      severity: "page",
      burnRateThreshold: 14.4,
      longWindowMs: HOUR,
      shortWindowMs: 5 * MINUTE,
    });
    slo.evaluate();
    expect(alerts()).toEqual(["ticket", "page"]);
    expect(seen.filter((e) => e.name === "slo.status").map((e) => (e.payload as { to: string }).to)).toEqual([
      "WARNING",
      "CRITICAL",
    ]);
  });

  it("clears a severity when it stops firing, so the next episode is reported again", () => {
    const { clock, slo, seen } = makeSlo({ total: 0.01 });
    const burst = () => {
      for (let minute = 0; minute < 60; minute++) {
        slo.errorBudget.recordEvents(10_000, 2000, clock.now());
        clock.advance(MINUTE);
      }
    };
    // A large good baseline keeps the budget from running out.
    slo.errorBudget.recordEvents(100_000_000, 0, clock.now());
    clock.advance(MINUTE);
    burst();
    slo.errorBudget.recordEvents(10_000, 2000, clock.now());
    expect(slo.evaluate().status).toBe(SLOStatus.CRITICAL);
    clock.advance(10 * MINUTE);
    expect(slo.evaluate().firingAlerts.filter((a) => a.severity === "page")).toEqual([]);
    clock.advance(7 * HOUR);
    burst();
    slo.errorBudget.recordEvents(10_000, 2000, clock.now());
    expect(slo.evaluate().status).toBe(SLOStatus.CRITICAL);
    expect(
      seen.filter((e) => e.name === "slo.alert").map((e) => (e.payload as { severity: string }).severity),
    ).toEqual(["page", "page"]);
  });
});

describe("SLO exhaustion actions", () => {
  it("emits slo.exhausted and calls onExhausted once per episode, then onRecovered, then re-arms", () => {
    const { clock, slo, seen, exhausted, recovered } = makeSlo({ total: 0.01 });
    slo.errorBudget.recordEvents(100, 2);
    expect(slo.evaluate().status).toBe(SLOStatus.EXHAUSTED);
    slo.evaluate();
    slo.evaluate();
    expect(exhausted).toEqual(["checkout:THROTTLE"]);
    expect(seen.filter((e) => e.name === "slo.exhausted").map((e) => e.payload)).toEqual([
      { at: START, slo: "checkout", agentId: "agent-1", action: "THROTTLE" },
    ]);
    expect(recovered).toEqual([]);

    clock.advance(MINUTE);
    slo.errorBudget.recordEvents(300, 0);
    expect(slo.evaluate().status).not.toBe(SLOStatus.EXHAUSTED);
    slo.evaluate();
    expect(recovered).toEqual(["checkout:THROTTLE"]);

    slo.errorBudget.recordEvents(100, 10);
    expect(slo.evaluate().status).toBe(SLOStatus.EXHAUSTED);
    expect(exhausted).toEqual(["checkout:THROTTLE", "checkout:THROTTLE"]);
    expect(seen.filter((e) => e.name === "slo.exhausted")).toHaveLength(2);
  });

  it("recovers when the bad events leave the window", () => {
    const { clock, slo, exhausted, recovered } = makeSlo({ action: ExhaustionAction.CIRCUIT_BREAK });
    slo.recordEvent(false);
    slo.evaluate();
    clock.advance(31 * DAY);
    expect(slo.evaluate().status).toBe(SLOStatus.UNKNOWN);
    expect(exhausted).toEqual(["checkout:CIRCUIT_BREAK"]);
    expect(recovered).toEqual(["checkout:CIRCUIT_BREAK"]);
  });

  it("updates its state before a throwing hook, and rethrows the hook's error", () => {
    const slo = new SLO({
      name: "s",
      indicators: [new TaskSuccessRate()],
      errorBudget: { total: 0.01 },
      clock: new ManualClock(START),
      onExhausted: () => {
        throw new Error("hook failed");
      },
    });
    slo.recordEvent(false);
    expect(() => slo.evaluate()).toThrow("hook failed");
    expect(slo.status).toBe(SLOStatus.EXHAUSTED);
    expect(() => slo.evaluate()).not.toThrow();
  });

  it("peek() computes the same evaluation without recording it or running hooks", () => {
    const { slo, exhausted, seen } = makeSlo();
    slo.recordEvent(false);
    const peeked = slo.peek();
    expect(peeked.status).toBe(SLOStatus.EXHAUSTED);
    expect(slo.status).toBe(SLOStatus.UNKNOWN);
    expect(exhausted).toEqual([]);
    expect(seen).toEqual([]);
  });
});

describe("SLO.observe", () => {
  const base: CallObservation = {
    at: START,
    agentId: "agent-1",
    taskId: "t1",
    kind: "model",
    name: "gpt-4.1",
    ok: true,
    durationMs: 100,
    costUsd: 0.001,
    inputTokens: 10,
    outputTokens: 10,
    errorCode: undefined,
  };

  function observed() {
    const clock = new ManualClock(START);
    const slo = new SLO({
      name: "calls",
      agentId: "agent-1",
      indicators: [new ErrorRate(), new LatencyPercentile({ thresholdMs: 1000 }), new ToolCallSuccessRate()],
      errorBudget: { total: 0.01 },
      clock,
    });
    return { clock, slo };
  }

  it("counts one event per call, bad if any applicable indicator says bad", () => {
    const { slo } = observed();
    slo.observe(base);
    slo.observe({ ...base, durationMs: 1000 });
    slo.observe({ ...base, durationMs: 1001 });
    slo.observe({ ...base, ok: false });
    slo.observe({ ...base, ok: false, durationMs: 5000 });
    slo.observe({ ...base, kind: "tool", name: "search", ok: false });
    expect(slo.eventCounts()).toEqual({ total: 6, bad: 4 });
    const [errors, latency, tools] = slo.peek().indicators;
    expect(errors).toMatchObject({ events: 6, goodEvents: 3 });
    expect(latency).toMatchObject({ events: 6, goodEvents: 4 });
    expect(tools).toMatchObject({ events: 1, goodEvents: 0 });
  });

  it("ignores calls of other agents and calls no indicator applies to", () => {
    const clock = new ManualClock(START);
    const slo = new SLO({
      name: "tools",
      agentId: "agent-1",
      indicators: [new ToolCallSuccessRate()],
      errorBudget: { total: 0.01 },
      clock,
    });
    slo.observe({ ...base, agentId: "agent-2", kind: "tool" });
    slo.observe(base);
    expect(slo.eventCounts().total).toBe(0);
    slo.observe({ ...base, kind: "tool" });
    expect(slo.eventCounts().total).toBe(1);
    expect(slo.appliesTo("agent-1")).toBe(true);
    expect(slo.appliesTo("agent-2")).toBe(false);
  });

  it("rejects an observation with invalid numbers and records nothing", () => {
    const { slo } = observed();
    expect(() => slo.observe({ ...base, durationMs: Number.NaN })).toThrow(InvalidArgumentError);
    expect(() => slo.observe({ ...base, costUsd: -1 })).toThrow(InvalidArgumentError);
    expect(() => slo.observe({ ...base, at: Number.POSITIVE_INFINITY })).toThrow(InvalidArgumentError);
    expect(slo.eventCounts().total).toBe(0);
    expect(slo.peek().indicators.every((i) => i.events === 0)).toBe(true);
  });

  it("counts an indicator's record() as one SLO event", () => {
    const task = new TaskSuccessRate();
    const slo = new SLO({
      name: "tasks",
      indicators: [task],
      errorBudget: { total: 0.1 },
      clock: new ManualClock(START),
    });
    task.recordTask(true);
    task.recordTask(false);
    expect(slo.eventCounts()).toEqual({ total: 2, bad: 1 });
    expect(slo.agentId).toBeUndefined();
    expect(slo.appliesTo("anyone")).toBe(true);
  });
});

describe("SLO configuration", () => {
  it.each([
    [{ name: "", indicators: [new TaskSuccessRate()], errorBudget: { total: 0.01 } }, "name"],
    [{ name: "x", indicators: [], errorBudget: { total: 0.01 } }, "indicators"],
    [{ name: "x", indicators: [{}], errorBudget: { total: 0.01 } }, "indicators[0]"],
    [{ name: "x", indicators: [new TaskSuccessRate()] }, "errorBudget"],
    [{ name: "x", indicators: [new TaskSuccessRate()], errorBudget: { total: 5 } }, "errorBudget.total"],
    [
      { name: "x", indicators: [new TaskSuccessRate(), new TaskSuccessRate()], errorBudget: { total: 0.01 } },
      "indicators[1].name",
    ],
    [
      { name: "x", agentId: "", indicators: [new TaskSuccessRate()], errorBudget: { total: 0.01 } },
      "agentId",
    ],
  ])("rejects %j naming %s", (options, field) => {
    let error: unknown;
    try {
      new SLO(options as never);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
  });

  it("does not let two SLOs share an indicator or a budget", () => {
    const indicator = new TaskSuccessRate();
    const budget = new ErrorBudget({ total: 0.01 });
    new SLO({ name: "a", indicators: [indicator], errorBudget: budget });
    expect(() => new SLO({ name: "b", indicators: [indicator], errorBudget: { total: 0.01 } })).toThrow(
      ConfigError,
    );
    expect(() => new SLO({ name: "c", indicators: [new TaskSuccessRate()], errorBudget: budget })).toThrow(
      ConfigError,
    );
  });

  it("keeps its memory bounded: ≤ 64 KB for a 30-day SLO with a latency histogram", () => {
    const slo = new SLO({
      name: "m",
      indicators: [new ErrorRate(), new LatencyPercentile()],
      errorBudget: { total: 0.005 },
    });
    expect(slo.byteLength).toBeLessThanOrEqual(64 * 1024);
  });
});
