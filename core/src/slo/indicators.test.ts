import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { ConfigError, InvalidArgumentError } from "../errors.js";
import type { CallObservation } from "../types.js";
import {
  CostPerTask,
  ErrorRate,
  FactualAccuracy,
  HallucinationRate,
  HumanFeedbackScore,
  LatencyPercentile,
  TaskSuccessRate,
  TokensPerCompletion,
  ToolCallSuccessRate,
} from "./indicators.js";
import { LATENCY_HISTOGRAM_MAX_MS } from "./latency-histogram.js";
import type { SLI } from "./sli.js";
import { SLO } from "./slo.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const START = Date.UTC(2026, 0, 1);

const call: CallObservation = {
  at: START,
  agentId: "a",
  taskId: undefined,
  kind: "model",
  name: "m",
  ok: true,
  durationMs: 100,
  costUsd: 0.01,
  inputTokens: 500,
  outputTokens: 200,
  errorCode: undefined,
};

/** Wraps an indicator in an SLO and returns the SLO's good/bad count after one call. */
function judge(indicator: SLI, observation: Partial<CallObservation>) {
  const slo = new SLO({
    name: "s",
    indicators: [indicator],
    errorBudget: { total: 0.01 },
    clock: new ManualClock(START),
  });
  slo.observe({ ...call, ...observation });
  const { total, bad } = slo.eventCounts();
  return total === 0 ? "n/a" : bad === 0 ? "good" : "bad";
}

describe("direction of good for each built-in SLI", () => {
  it("task success: higher is better, success is good", () => {
    const sli = new TaskSuccessRate();
    expect(sli.direction).toBe("higher_is_better");
    expect(sli.isGood(1)).toBe(true);
    expect(sli.isGood(0)).toBe(false);
    expect(judge(new TaskSuccessRate(), {})).toBe("n/a");
  });

  it("error rate: lower is better, a failed call is bad", () => {
    expect(new ErrorRate().direction).toBe("lower_is_better");
    expect(judge(new ErrorRate(), { ok: true })).toBe("good");
    expect(judge(new ErrorRate(), { ok: false })).toBe("bad");
    expect(judge(new ErrorRate({ kind: "tool" }), { ok: false, kind: "model" })).toBe("n/a");
  });

  it("latency: lower is better, good iff durationMs <= thresholdMs", () => {
    expect(new LatencyPercentile().direction).toBe("lower_is_better");
    expect(judge(new LatencyPercentile({ thresholdMs: 5000 }), { durationMs: 4999 })).toBe("good");
    expect(judge(new LatencyPercentile({ thresholdMs: 5000 }), { durationMs: 5000 })).toBe("good");
    expect(judge(new LatencyPercentile({ thresholdMs: 5000 }), { durationMs: 5001 })).toBe("bad");
    expect(judge(new LatencyPercentile({ kind: "tool" }), { durationMs: 99_999 })).toBe("n/a");
  });

  it("cost per task: lower is better, good iff costUsd <= maxCostUsd", () => {
    expect(new CostPerTask().direction).toBe("lower_is_better");
    expect(judge(new CostPerTask({ maxCostUsd: 0.5 }), { costUsd: 0.5 })).toBe("good");
    expect(judge(new CostPerTask({ maxCostUsd: 0.5 }), { costUsd: 0.51 })).toBe("bad");
    expect(judge(new CostPerTask({ autoObserve: false }), { costUsd: 9 })).toBe("n/a");
  });

  it("tokens per completion: lower is better, model calls only", () => {
    expect(new TokensPerCompletion({ maxTokens: 1 }).direction).toBe("lower_is_better");
    expect(judge(new TokensPerCompletion({ maxTokens: 200 }), { outputTokens: 200 })).toBe("good");
    expect(judge(new TokensPerCompletion({ maxTokens: 200 }), { outputTokens: 201 })).toBe("bad");
    expect(judge(new TokensPerCompletion({ maxTokens: 600, count: "total" }), {})).toBe("bad");
    expect(judge(new TokensPerCompletion({ maxTokens: 1 }), { kind: "tool", outputTokens: 9 })).toBe("n/a");
  });

  it("tool-call success: higher is better, tool calls only", () => {
    expect(new ToolCallSuccessRate().direction).toBe("higher_is_better");
    expect(judge(new ToolCallSuccessRate(), { kind: "tool", ok: true })).toBe("good");
    expect(judge(new ToolCallSuccessRate(), { kind: "tool", ok: false })).toBe("bad");
    expect(judge(new ToolCallSuccessRate(), { kind: "model", ok: false })).toBe("n/a");
  });

  it("hallucination rate: lower is better, a hallucination is bad", () => {
    const sli = new HallucinationRate();
    expect(sli.direction).toBe("lower_is_better");
    expect(sli.isGood(0)).toBe(true);
    expect(sli.isGood(1)).toBe(false);
  });

  it("factual accuracy: higher is better, good iff score >= minScore", () => {
    const sli = new FactualAccuracy({ minScore: 0.8 });
    expect(sli.direction).toBe("higher_is_better");
    expect(sli.isGood(0.8)).toBe(true);
    expect(sli.isGood(0.79)).toBe(false);
  });

  it("human feedback: higher is better, good iff rating >= 4 of 5", () => {
    const sli = new HumanFeedbackScore();
    expect(sli.direction).toBe("higher_is_better");
    expect(sli.isGood(4)).toBe(true);
    expect(sli.isGood(3.9)).toBe(false);
  });
});

describe("recorded indicators", () => {
  function owned<T extends SLI>(indicator: T, total = 0.05) {
    const clock = new ManualClock(START);
    const slo = new SLO({ name: "s", indicators: [indicator], errorBudget: { total }, clock });
    return { clock, slo, indicator };
  }

  it("human feedback: ratings and thumbs count as SLO events; the reading is the mean rating", () => {
    const { slo, indicator } = owned(new HumanFeedbackScore());
    indicator.record(5);
    indicator.record(4);
    indicator.record(2);
    expect(slo.eventCounts()).toEqual({ total: 3, bad: 1 });
    expect(indicator.collect()).toMatchObject({
      value: 11 / 3,
      target: 4,
      met: false,
      events: 3,
      goodEvents: 2,
    });
    const thumbs = owned(new HumanFeedbackScore({ scaleMin: 0, scaleMax: 1, minScore: 1 }));
    thumbs.indicator.recordThumb(true);
    thumbs.indicator.recordThumb(false);
    expect(thumbs.slo.eventCounts()).toEqual({ total: 2, bad: 1 });
  });

  it("rate indicators report the windowed rate against the SLO's objective unless given their own", () => {
    const { indicator } = owned(new TaskSuccessRate(), 0.05);
    for (let i = 0; i < 19; i++) indicator.recordTask(true);
    indicator.recordTask(false);
    expect(indicator.collect()).toMatchObject({ value: 0.95, target: 0.95, met: true });
    const errors = owned(new HallucinationRate(), 0.01).indicator;
    errors.recordResponse(true);
    errors.recordResponse(false);
    expect(errors.collect()).toMatchObject({ value: 0.5, target: 0.01, met: false });
    const strict = owned(new TaskSuccessRate({ target: 0.99 })).indicator;
    strict.recordTask(true);
    expect(strict.collect().target).toBe(0.99);
    expect(new TaskSuccessRate().collect(START).target).toBeNull();
  });

  it("rejects invalid values and changes nothing", () => {
    const { slo, indicator } = owned(new HumanFeedbackScore());
    expect(() => indicator.record(6)).toThrow(InvalidArgumentError);
    expect(() => indicator.record(Number.NaN)).toThrow(InvalidArgumentError);
    expect(() => indicator.record(4, Number.NaN)).toThrow(InvalidArgumentError);
    expect(() => new FactualAccuracy().record(1.5)).toThrow(InvalidArgumentError);
    expect(() => new TaskSuccessRate().record(0.5)).toThrow(InvalidArgumentError);
    expect(() => new CostPerTask().record(-1)).toThrow(InvalidArgumentError);
    expect(slo.eventCounts().total).toBe(0);
    expect(indicator.collect().events).toBe(0);
  });

  it("forgets values older than its window", () => {
    const { clock, indicator } = owned(new FactualAccuracy({ windowMs: "1h" }));
    indicator.record(0.2);
    clock.advance(30 * MINUTE);
    indicator.record(1);
    expect(indicator.currentValue()).toBeCloseTo(0.6, 12);
    clock.advance(40 * MINUTE);
    expect(indicator.currentValue()).toBe(1);
    expect(indicator.compliance()).toBe(1);
    clock.advance(HOUR);
    expect(indicator.currentValue()).toBeNull();
  });

  it("valuesInWindow() returns the window's slots, oldest first", () => {
    const { clock, indicator } = owned(new CostPerTask({ windowMs: "24m" }));
    indicator.record(0.2);
    indicator.record(0.4);
    clock.advance(3 * MINUTE);
    indicator.record(1);
    const slices = indicator.valuesInWindow();
    expect(slices).toHaveLength(24);
    const filled = slices.filter((slice) => slice.events > 0);
    expect(filled).toEqual([
      { startMs: START, endMs: START + MINUTE, events: 2, goodEvents: 2, mean: expect.closeTo(0.3, 12) },
      { startMs: START + 3 * MINUTE, endMs: START + 4 * MINUTE, events: 1, goodEvents: 0, mean: 1 },
    ]);
  });
});

describe("LatencyPercentile reading", () => {
  it("reports windowed p50/p95/p99 from the histogram, never below the true value and at most 19 % above", () => {
    const clock = new ManualClock(START);
    const p = {
      p50: new LatencyPercentile({ percentile: 0.5, clock }),
      p95: new LatencyPercentile({ percentile: 0.95, clock }),
      p99: new LatencyPercentile({ percentile: 0.99, clock }),
    };
    expect(p.p95.name).toBe("latency_p95");
    const values: number[] = [];
    for (let i = 1; i <= 1000; i++) values.push(i * 7);
    for (const value of values) for (const sli of Object.values(p)) sli.record(value);
    for (const [percentile, sli] of [
      [0.5, p.p50],
      [0.95, p.p95],
      [0.99, p.p99],
    ] as const) {
      const exact = values[Math.ceil(percentile * values.length) - 1] as number;
      const reported = sli.currentValue() as number;
      expect(reported).toBeGreaterThanOrEqual(exact);
      expect(reported).toBeLessThanOrEqual(exact * 1.19);
    }
  });

  it("is windowed: slow calls an hour ago no longer count", () => {
    const clock = new ManualClock(START);
    const sli = new LatencyPercentile({ percentile: 0.5, clock });
    for (let i = 0; i < 100; i++) sli.record(30_000);
    clock.advance(HOUR + 5 * MINUTE);
    for (let i = 0; i < 10; i++) sli.record(100);
    expect(sli.currentValue()).toBeLessThan(120);
    expect(sli.collect().met).toBe(true);
  });

  it("reports latencies beyond the histogram as its maximum, and null without data", () => {
    const sli = new LatencyPercentile({ clock: new ManualClock(START) });
    expect(sli.currentValue()).toBeNull();
    sli.record(10 * LATENCY_HISTOGRAM_MAX_MS);
    expect(sli.currentValue()).toBe(LATENCY_HISTOGRAM_MAX_MS);
  });
});

describe("indicator configuration", () => {
  it.each([
    [() => new LatencyPercentile({ percentile: 95 }), "percentile"],
    [() => new LatencyPercentile({ thresholdMs: 0 }), "thresholdMs"],
    [() => new LatencyPercentile({ kind: "agent" as never }), "kind"],
    [() => new CostPerTask({ maxCostUsd: -1 }), "maxCostUsd"],
    [() => new TokensPerCompletion({} as never), "maxTokens"],
    [() => new TokensPerCompletion({ maxTokens: 10, count: "input" as never }), "count"],
    [() => new HumanFeedbackScore({ minScore: 6 }), "minScore"],
    [() => new HumanFeedbackScore({ scaleMin: 5, scaleMax: 1 }), "scaleMax"],
    [() => new FactualAccuracy({ minScore: 2 }), "minScore"],
    [() => new TaskSuccessRate({ target: 99 }), "target"],
    [() => new ErrorRate({ maxErrorRate: -0.1 }), "maxErrorRate"],
    [() => new ErrorRate({ autoObserve: "yes" as never }), "autoObserve"],
    [() => new ErrorRate({ windowMs: "1 hour" }), "windowMs"],
    [() => new ErrorRate({ name: "" }), "name"],
  ])("%s names %s", (build, field) => {
    let error: unknown;
    try {
      build();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
  });

  it("keeps a fixed footprint per indicator", () => {
    expect(new ErrorRate().byteLength).toBeLessThan(2 * 1024);
    expect(new LatencyPercentile().byteLength).toBeLessThan(20 * 1024);
  });
});
