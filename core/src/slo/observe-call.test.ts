import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import type { CallObservation } from "../types.js";
import {
  CostPerTask,
  ErrorRate,
  FactualAccuracy,
  HumanFeedbackScore,
  LatencyPercentile,
  TaskSuccessRate,
  TokensPerCompletion,
  ToolCallSuccessRate,
} from "./indicators.js";
import { SLORegistry } from "./registry.js";
import { SLI } from "./sli.js";
import { SLO } from "./slo.js";

const START = Date.UTC(2026, 0, 1);

/** A user's indicator that keeps every observation it judges (e.g. for its own report). */
class KeepingSLI extends SLI {
  readonly seen: CallObservation[] = [];
  constructor() {
    super({
      type: "latency",
      name: "keeping",
      direction: "lower_is_better",
      threshold: 100,
      windowMs: "1h",
      clock: undefined,
    });
  }
  protected override observedValue(observation: CallObservation): number {
    this.seen.push(observation);
    return observation.durationMs;
  }
}

class KeepingSLO extends SLO {
  readonly seen: CallObservation[] = [];
  override observe(observation: CallObservation): void {
    this.seen.push(observation);
    super.observe(observation);
  }
}

const feed = (registry: SLORegistry, ok: boolean, durationMs: number, agentId = "a") =>
  registry.observeCall(START + 1, agentId, "t", "model", "m", ok, durationMs, 0.01, 10, 20, undefined);

describe("SLORegistry.observeCall (the engine's path: fields, no object per call)", () => {
  it("counts exactly as observe() with the same fields", () => {
    const make = () =>
      new SLO({
        name: "s",
        indicators: [
          new ErrorRate(),
          new LatencyPercentile({ thresholdMs: 50 }),
          new CostPerTask({ maxCostUsd: 1 }),
        ],
        errorBudget: { total: 0.1 },
      });
    const byFields = new SLORegistry({ clock: new ManualClock(START + 1) });
    const byObject = new SLORegistry({ clock: new ManualClock(START + 1) });
    byFields.add(make());
    byObject.add(make());
    const cases: Array<[boolean, number]> = [
      [true, 10],
      [false, 10],
      [true, 80],
      [true, 0.5],
      [true, 3],
    ];
    for (const [ok, durationMs] of cases) {
      feed(byFields, ok, durationMs);
      byObject.observe({
        at: START + 1,
        agentId: "a",
        taskId: "t",
        kind: "model",
        name: "m",
        ok,
        durationMs,
        costUsd: 0.01,
        inputTokens: 10,
        outputTokens: 20,
        errorCode: undefined,
      });
    }
    const [a] = byFields.snapshot();
    const [b] = byObject.snapshot();
    expect(a?.events).toBe(5);
    expect(a?.badEvents).toBe(2);
    expect({ ...a, at: 0 }).toEqual({ ...b, at: 0 });
  });

  it("gives an indicator or SLO that may keep observations a fresh object per call, while it is held", () => {
    const keeping = new KeepingSLI();
    const registry = new SLORegistry({ clock: new ManualClock(START + 1) });
    registry.add(new SLO({ name: "built-in", indicators: [new ErrorRate()], errorBudget: { total: 0.1 } }));
    registry.add(new SLO({ name: "custom", indicators: [keeping], errorBudget: { total: 0.1 } }));
    feed(registry, true, 10);
    feed(registry, false, 20);
    expect(keeping.seen).toHaveLength(2);
    expect(keeping.seen[0]).not.toBe(keeping.seen[1]);
    expect(keeping.seen.map((o) => [o.ok, o.durationMs, o.agentId, o.taskId])).toEqual([
      [true, 10, "a", "t"],
      [false, 20, "a", "t"],
    ]);
    const slo = new KeepingSLO({ name: "sub", indicators: [new ErrorRate()], errorBudget: { total: 0.1 } });
    registry.remove("custom");
    registry.add(slo);
    feed(registry, true, 1);
    feed(registry, true, 2);
    expect(slo.seen[0]).not.toBe(slo.seen[1]);
    expect(slo.seen.map((o) => o.durationMs)).toEqual([1, 2]);
    expect(registry.remove("sub")).toBe(true);
    // Only built-in SLOs left: still counted.
    feed(registry, false, 1);
    expect(registry.get("built-in")?.eventCounts().bad).toBe(2);
  });

  it("feeds the SLOs of the call's agent only, then the all-agent ones", () => {
    const registry = new SLORegistry({ clock: new ManualClock(START + 1) });
    registry.add(
      new SLO({ name: "a", agentId: "a", indicators: [new ErrorRate()], errorBudget: { total: 0.1 } }),
    );
    registry.add(new SLO({ name: "all", indicators: [new ErrorRate()], errorBudget: { total: 0.1 } }));
    feed(registry, false, 1, "a");
    feed(registry, false, 1, "b");
    expect(registry.get("a")?.eventCounts().total).toBe(1);
    expect(registry.get("all")?.eventCounts().total).toBe(2);
  });

  it("rejects invalid numbers as observe() does", () => {
    const registry = new SLORegistry({ clock: new ManualClock(START + 1) });
    registry.add(new SLO({ name: "s", indicators: [new ErrorRate()], errorBudget: { total: 0.1 } }));
    expect(() => feed(registry, true, Number.NaN)).toThrow(/durationMs/);
    expect(registry.get("s")?.eventCounts().total).toBe(0);
  });
});

describe("SLI.readsCalls (an SLO asks only the indicators that can judge a call)", () => {
  it("is true for indicators fed by calls, false for recorded ones and autoObserve: false", () => {
    expect(new ErrorRate().readsCalls).toBe(true);
    expect(new LatencyPercentile().readsCalls).toBe(true);
    expect(new CostPerTask().readsCalls).toBe(true);
    expect(new TokensPerCompletion({ maxTokens: 10 }).readsCalls).toBe(true);
    expect(new ToolCallSuccessRate().readsCalls).toBe(true);
    expect(new ErrorRate({ autoObserve: false }).readsCalls).toBe(false);
    expect(new TaskSuccessRate().readsCalls).toBe(false);
    expect(new FactualAccuracy().readsCalls).toBe(false);
    expect(new HumanFeedbackScore().readsCalls).toBe(false);
    expect(new KeepingSLI().readsCalls).toBe(true);
  });

  it("an SLO of recorded indicators only counts no call; a mixed one counts each call once", () => {
    const recorded = new SLO({ name: "r", indicators: [new TaskSuccessRate()], errorBudget: { total: 0.1 } });
    const mixed = new SLO({
      name: "m",
      indicators: [new TaskSuccessRate({ name: "tasks" }), new LatencyPercentile({ thresholdMs: 5 })],
      errorBudget: { total: 0.1 },
    });
    const registry = new SLORegistry({ clock: new ManualClock(START + 1) });
    registry.add(recorded).add(mixed);
    feed(registry, true, 1);
    feed(registry, true, 9);
    expect(recorded.eventCounts().total).toBe(0);
    expect(mixed.eventCounts()).toMatchObject({ total: 2, bad: 1 });
    (mixed.getIndicator("tasks") as TaskSuccessRate).recordTask(false, START + 1);
    expect(mixed.eventCounts()).toMatchObject({ total: 3, bad: 2 });
  });
});
