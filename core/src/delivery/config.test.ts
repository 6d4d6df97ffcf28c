import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { type RolloutConfigError, resolveRolloutOptions } from "./config.js";

const valid = {
  id: "r",
  baseline: { id: "v1", model: "gpt-4o" },
  candidate: { id: "v2", model: "gpt-4.1" },
  strategy: { type: "canary", steps: [{ percent: 5, holdMs: 1000 }, { percent: 100 }] },
};

describe("rollout config", () => {
  it("fills defaults", () => {
    const o = resolveRolloutOptions(valid);
    expect(o.steps.map((s) => s.threshold)).toEqual([500, 10_000]);
    expect(o).toMatchObject({ minCalls: 20, minTasks: 5, seed: "r", evaluationIntervalMs: 1000 });
    expect(o.errorRate).toEqual({ alpha: 0.05, tolerance: 0, minFailures: 3 });
    expect(o.latencyP99).toEqual({ tolerance: 0.2 });
    expect(resolveRolloutOptions({ ...valid, analysis: { latencyP99: false } }).latencyP99).toBeUndefined();
  });

  it("turns blue-green into a validation step and a switch", () => {
    const o = resolveRolloutOptions({ ...valid, strategy: { type: "blueGreen", validateForTasks: 50 } });
    expect(o.steps).toEqual([
      { percent: 10, threshold: 1000, holdMs: undefined, holdTasks: 50 },
      { percent: 100, threshold: 10_000, holdMs: undefined, holdTasks: undefined },
    ]);
  });

  it("reads durations as ms or strings, and checks the delivery keys", () => {
    const o = resolveRolloutOptions({
      ...valid,
      strategy: { type: "canary", steps: [{ percent: 5, holdMs: "30m" }, { percent: 100 }] },
      stickyTtlMs: "2h",
      evaluationIntervalMs: 0,
      agents: ["a"],
      stickyBy: "agent",
      mirrorPercent: 2.5,
      analysis: { refusals: { minRefusals: 2 }, rogue: { minLevel: "CRITICAL" } },
    });
    expect(o.steps[0]?.holdMs).toBe(1_800_000);
    expect(o).toMatchObject({
      stickyTtlMs: 7_200_000,
      evaluationIntervalMs: 0,
      stickyBy: "agent",
      mirrorPercent: 2.5,
    });
    expect(o.refusals).toEqual({ alpha: 0.05, minRefusals: 2 });
    expect(o.rogue).toEqual({ minLevel: "CRITICAL", minFlags: 1 });
    let error: RolloutConfigError | undefined;
    try {
      resolveRolloutOptions({
        ...valid,
        strategy: { type: "canary", steps: [{ percent: 5, holdMs: "soon" }, { percent: 100 }] },
        agents: [],
        analysis: { rogue: { minLevel: "LOW" }, refusals: { alpha: 2 } },
      });
    } catch (caught) {
      error = caught as RolloutConfigError;
    }
    expect(error?.problems.map((p) => p.path)).toEqual([
      "strategy.steps.0.holdMs",
      "analysis.refusals.alpha",
      "analysis.rogue.minLevel",
      "agents",
    ]);
  });

  it("lists every problem at once, each with its path", () => {
    let error: RolloutConfigError | undefined;
    try {
      resolveRolloutOptions({
        id: "",
        baseline: { id: "v1", modle: "x" },
        candidate: { id: "v1" },
        strategy: {
          type: "canary",
          steps: [
            { percent: 5, holdMs: 1 },
            { percent: 3, holdMs: 1 },
            { percent: 50 },
            { percent: 90, holdTasks: 0 },
          ],
        },
        analysis: { errorRate: { alpha: 2 }, metrics: { score: { direction: "up", tolerance: -1 } } },
        stickyTtl: 5,
      });
    } catch (caught) {
      error = caught as RolloutConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.code).toBe("CONFIG_INVALID");
    expect(error?.problems.map((p) => p.path)).toEqual([
      "stickyTtl",
      "id",
      "baseline.modle",
      "candidate.id",
      "strategy.steps.1.percent",
      "strategy.steps.2",
      "strategy.steps.3.holdTasks",
      "strategy.steps.3.percent",
      "analysis.errorRate.alpha",
      "analysis.metrics.score.direction",
      "analysis.metrics.score.tolerance",
    ]);
    expect(error?.message).toMatch(/^11 problems in rollout config:\n {2}- Invalid stickyTtl: 5/);
  });

  it("rejects a missing or unknown strategy", () => {
    expect(() => resolveRolloutOptions({ ...valid, strategy: { type: "linear" } })).toThrow(/strategy\.type/);
    expect(() => resolveRolloutOptions({ ...valid, strategy: { type: "blueGreen" } })).toThrow(
      /validateForMs/,
    );
  });
});
