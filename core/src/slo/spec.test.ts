import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { ConfigError } from "../errors.js";
import { ErrorRate, type HumanFeedbackScore, LatencyPercentile } from "./indicators.js";
import { SLOStatus } from "./slo.js";
import { parseSloSpecs, sloFromSpec } from "./spec.js";

const HOUR = 3_600_000;

function fieldOfError(build: () => unknown): string | undefined {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).field;
  }
  return undefined;
}

describe("sloFromSpec", () => {
  it("builds an SLO from data: target ratio, window, indicator, action and policy", () => {
    const slo = sloFromSpec({
      name: "latency",
      agentId: "support-bot",
      target: 0.995,
      window: "7d",
      indicator: { type: "latency", percentile: 0.99, thresholdMs: 5000 },
      exhaustionAction: "THROTTLE",
      alertPolicy: [{ severity: "page", burnRate: 10, longWindow: "1h", shortWindow: "5m" }],
    });
    expect(slo.name).toBe("latency");
    expect(slo.agentId).toBe("support-bot");
    expect(slo.errorBudget.total).toBe(0.005);
    expect(slo.errorBudget.windowMs).toBe(7 * 24 * HOUR);
    expect(slo.errorBudget.exhaustionAction).toBe("THROTTLE");
    expect(slo.errorBudget.alertPolicy).toEqual([
      { severity: "page", burnRate: 10, longWindowMs: HOUR, shortWindowMs: 300_000 },
    ]);
    const [indicator] = slo.indicators;
    expect(indicator).toBeInstanceOf(LatencyPercentile);
    expect(indicator?.name).toBe("latency_p99");
    expect((indicator as LatencyPercentile).thresholdMs).toBe(5000);
  });

  it("builds every indicator type, several per SLO, with defaults for optional fields", () => {
    const slo = sloFromSpec({
      name: "all",
      target: 0.99,
      indicators: [
        { type: "task_success" },
        { type: "error_rate", kind: "tool" },
        { type: "latency", thresholdMs: 2000, window: "30m" },
        { type: "cost_per_task", maxCostUsd: 0.25 },
        { type: "tokens_per_completion", maxTokens: 4000 },
        { type: "tool_call_success" },
        { type: "factual_accuracy", minScore: 0.8 },
        { type: "hallucination_rate" },
        { type: "human_feedback", minScore: 4 },
      ],
    });
    expect(slo.indicators.map((i) => i.type)).toEqual([
      "task_success",
      "error_rate",
      "latency",
      "cost_per_task",
      "tokens_per_completion",
      "tool_call_success",
      "factual_accuracy",
      "hallucination_rate",
      "human_feedback",
    ]);
    expect(slo.getIndicator("latency_p95")?.windowMs).toBe(30 * 60_000);
    expect(slo.getIndicator("tool_error_rate")).toBeInstanceOf(ErrorRate);
    expect(slo.errorBudget.alertPolicy.map((r) => r.burnRate)).toEqual([14.4, 6, 1]);
  });

  it("records values into a spec-built SLO through its indicators", () => {
    const clock = new ManualClock();
    const slo = sloFromSpec(
      { name: "feedback", target: 0.9, indicator: { type: "human_feedback", minScore: 4 } },
      { clock },
    );
    const feedback = slo.getIndicator("human_feedback_score") as HumanFeedbackScore;
    for (let i = 0; i < 9; i++) feedback.record(5);
    feedback.record(1);
    const evaluation = slo.evaluate();
    expect(evaluation.status).toBe(SLOStatus.EXHAUSTED);
    expect(evaluation.budgetConsumed).toBeCloseTo(1, 12);
  });

  it("maps burnRateAlert / burnRateCritical onto the Workbook rules", () => {
    const slo = sloFromSpec({
      name: "s",
      target: 0.999,
      indicator: { type: "error_rate" },
      burnRateAlert: 2,
      burnRateCritical: 10,
    });
    expect(slo.errorBudget.alertPolicy.map((r) => [r.severity, r.burnRate])).toEqual([
      ["page", 10],
      ["page", 6],
      ["ticket", 2],
    ]);
  });

  it.each([
    [{ target: 0.99, indicator: { type: "task_success" } }, "name"],
    [{ name: "s", target: 99.5, indicator: { type: "task_success" } }, "target"],
    [{ name: "s", target: 1, indicator: { type: "task_success" } }, "target"],
    [{ name: "s", target: "0.99", indicator: { type: "task_success" } }, "target"],
    [{ name: "s", target: 0.99 }, "indicator"],
    [{ name: "s", target: 0.99, indicator: { type: "throughput" } }, "indicator.type"],
    [{ name: "s", target: 0.99, indicator: { type: "latency" } }, "indicator.thresholdMs"],
    [{ name: "s", target: 0.99, indicator: { type: "latency", thresholdMs: -5 } }, "indicator.thresholdMs"],
    [
      { name: "s", target: 0.99, indicator: { type: "latency", thresholdMs: 5, treshold: 1 } },
      "indicator.treshold",
    ],
    [
      { name: "s", target: 0.99, indicator: { type: "latency", thresholdMs: 5, window: "1 hour" } },
      "indicator.window",
    ],
    [
      { name: "s", target: 0.99, indicators: [{ type: "error_rate" }, { type: "error_rate" }] },
      "indicators[1].name",
    ],
    [{ name: "s", target: 0.99, indicators: [] }, "indicators"],
    [{ name: "s", target: 0.99, window: "a month", indicator: { type: "error_rate" } }, "window"],
    [
      { name: "s", target: 0.99, indicator: { type: "error_rate" }, exhaustionAction: "PANIC" },
      "exhaustionAction",
    ],
    [{ name: "s", target: 0.99, indicator: { type: "error_rate" }, owner: "me" }, "owner"],
    [{ name: "s", agentId: 7, target: 0.99, indicator: { type: "error_rate" } }, "agentId"],
    [
      {
        name: "s",
        target: 0.99,
        indicator: { type: "error_rate" },
        alertPolicy: [{ severity: "page", burnRate: 14.4, longWindow: "5m", shortWindow: "1h" }],
      },
      "alertPolicy[0].shortWindow",
    ],
  ])("rejects %j naming %s", (spec, field) => {
    expect(fieldOfError(() => sloFromSpec(spec))).toBe(field);
  });

  it("suggests the ratio when given a percentage", () => {
    expect(() => sloFromSpec({ name: "s", target: 99.5, indicator: { type: "error_rate" } })).toThrow(
      /0\.995 \(not a percentage\)/,
    );
  });
});

describe("parseSloSpecs", () => {
  const valid = { name: "ok", target: 0.99, indicator: { type: "error_rate" } };

  it("builds a list of SLOs from an array or { slos: [...] }", () => {
    expect(parseSloSpecs([valid, { ...valid, name: "ok2" }]).map((s) => s.name)).toEqual(["ok", "ok2"]);
    expect(parseSloSpecs({ slos: [valid] }).map((s) => s.name)).toEqual(["ok"]);
  });

  it("names the failing spec's path, e.g. slos[2].indicator.thresholdMs", () => {
    const specs = [
      valid,
      { ...valid, name: "b" },
      { name: "c", target: 0.99, indicator: { type: "latency", thresholdMs: "fast" } },
    ];
    expect(fieldOfError(() => parseSloSpecs(specs))).toBe("slos[2].indicator.thresholdMs");
    expect(fieldOfError(() => parseSloSpecs([valid, { ...valid, target: 95 }]))).toBe("slos[1].target");
    expect(fieldOfError(() => parseSloSpecs([valid, valid]))).toBe("slos[1].name");
    expect(fieldOfError(() => parseSloSpecs([valid, { ...valid, name: "x", burnRateAlert: 0 }]))).toBe(
      "slos[1].burnRateAlert",
    );
    expect(fieldOfError(() => parseSloSpecs("nope"))).toBe("slos");
  });
});
