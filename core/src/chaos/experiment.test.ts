import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { ChaosInjectedError, ConfigError, InvalidArgumentError } from "../errors.js";
import { type AgentSREEventName, type AgentSREEvents, EventBus } from "../events.js";
import type { CallObservation } from "../types.js";
import type { AbortCondition } from "./abort.js";
import { ChaosExperiment } from "./experiment.js";
import type { ChaosCall, ChaosExperimentConfig } from "./experiment-types.js";
import {
  errorInjection,
  latencyInjection,
  privilegeEscalation,
  promptInjection,
  timeoutInjection,
  toolAbuse,
} from "./faults.js";

const START = Date.UTC(2026, 0, 1);

function setup(config: Partial<ChaosExperimentConfig> = {}) {
  const clock = new ManualClock(START);
  const events = new EventBus();
  const seen: Array<{ name: AgentSREEventName; payload: unknown }> = [];
  for (const name of ["chaos.fault", "chaos.abort", "chaos.complete"] as const) {
    events.on(name, (payload) => seen.push({ name, payload }));
  }
  const experiment = new ChaosExperiment({
    name: "exp",
    faults: [errorInjection("*")],
    seed: 1234,
    ...config,
  });
  experiment.start({ clock, events });
  return { clock, events, seen, experiment };
}

const call = (agentId = "agent-1", kind: "model" | "tool" = "tool", name = "search"): ChaosCall => ({
  agentId,
  kind,
  name,
});

function observation(overrides: Partial<CallObservation> = {}): CallObservation {
  return {
    at: START,
    agentId: "agent-1",
    taskId: undefined,
    kind: "tool",
    name: "search",
    ok: true,
    durationMs: 100,
    costUsd: 0.01,
    inputTokens: 10,
    outputTokens: 5,
    errorCode: undefined,
    ...overrides,
  };
}

function configErrorField(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.field;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

function injectionSequence(seed: number, calls: number): boolean[] {
  const { experiment } = setup({ faults: [errorInjection("*", { rate: 0.3 })], blastRadius: 0.5, seed });
  return Array.from({ length: calls }, (_, i) => experiment.plan(call(`agent-${i % 7}`)) !== undefined);
}

describe("plan(): rate × blast radius, seeded", () => {
  it("injects at rate × blastRadius within 4σ of the binomial over 20,000 calls", () => {
    const n = 20_000;
    const p = 0.3 * 0.5;
    const injected = injectionSequence(99, n).filter(Boolean).length;
    const sigma = Math.sqrt(n * p * (1 - p));
    expect(Math.abs(injected - n * p)).toBeLessThan(4 * sigma);
  });

  it("gives the same sequence for the same seed and another one for another seed", () => {
    expect(injectionSequence(5, 2000)).toEqual(injectionSequence(5, 2000));
    expect(injectionSequence(5, 2000)).not.toEqual(injectionSequence(6, 2000));
  });

  it("accepts string seeds and derives a stable seed from the name by default", () => {
    const a = new ChaosExperiment({ name: "x", faults: [], seed: "alpha" });
    const b = new ChaosExperiment({ name: "x", faults: [], seed: "alpha" });
    expect(a.seed).toBe(b.seed);
    expect(new ChaosExperiment({ name: "same", faults: [] }).seed).toBe(
      new ChaosExperiment({ name: "same", faults: [] }).seed,
    );
  });

  it("rate 1 and blast radius 1 hit every matching call and nothing else", () => {
    const { experiment } = setup({ faults: [errorInjection("tool:search")] });
    for (let i = 0; i < 100; i++) expect(experiment.plan(call())).toBeDefined();
    expect(experiment.plan(call("agent-1", "tool", "fetch"))).toBeUndefined();
    expect(experiment.plan(call("agent-1", "model", "search"))).toBeUndefined();
  });

  it("rate 0 and blast radius 0 never inject", () => {
    const zeroRate = setup({ faults: [errorInjection("*", { rate: 0 })] }).experiment;
    const zeroRadius = setup({ faults: [errorInjection("*")], blastRadius: 0 }).experiment;
    for (let i = 0; i < 1000; i++) {
      expect(zeroRate.plan(call())).toBeUndefined();
      expect(zeroRadius.plan(call())).toBeUndefined();
    }
  });

  it("targetAgent limits the experiment to matching agents", () => {
    const { experiment } = setup({ targetAgent: "billing-*" });
    expect(experiment.plan(call("billing-eu"))).toBeDefined();
    expect(experiment.plan(call("support-1"))).toBeUndefined();
    expect(experiment.inScope("billing-us")).toBe(true);
    expect(experiment.inScope("support")).toBe(false);
  });

  it("an agent-share blast radius picks a deterministic subset of agents and hits all their calls", () => {
    const agents = Array.from({ length: 1000 }, (_, i) => `agent-${i}`);
    const pick = (seed: number) => {
      const { experiment } = setup({ blastRadius: { agents: 0.25 }, seed });
      return agents.filter((agentId) => experiment.plan(call(agentId)) !== undefined);
    };
    const chosen = pick(77);
    expect(pick(77)).toEqual(chosen);
    expect(pick(78)).not.toEqual(chosen);
    // binomial(1000, 0.25): σ ≈ 13.7
    expect(Math.abs(chosen.length - 250)).toBeLessThan(4 * 13.7);
    // the choice does not depend on call order: every call of a chosen agent is hit, no call of another
    const { experiment } = setup({ blastRadius: { agents: 0.25 }, seed: 77 });
    for (const agentId of [...agents].reverse()) {
      expect(experiment.plan(call(agentId)) !== undefined).toBe(chosen.includes(agentId));
      expect(experiment.plan(call(agentId, "model", "gpt-4o")) !== undefined).toBe(chosen.includes(agentId));
    }
  });

  it("combines agent share and call share", () => {
    const { experiment } = setup({
      blastRadius: { agents: 0.5, calls: 0.5 },
      faults: [errorInjection("*")],
      seed: 3,
    });
    const agents = Array.from({ length: 400 }, (_, i) => `a${i}`);
    const inScope = agents.filter((agentId) => experiment.inScope(agentId));
    let injected = 0;
    for (let round = 0; round < 25; round++) {
      for (const agentId of agents) if (experiment.plan(call(agentId)) !== undefined) injected++;
    }
    const n = inScope.length * 25;
    expect(Math.abs(injected - n * 0.5)).toBeLessThan(4 * Math.sqrt(n * 0.25));
  });
});

describe("plan(): fault applications", () => {
  it("builds each application type", () => {
    const { experiment } = setup({
      name: "shapes",
      faults: [
        latencyInjection("tool:search", { delayMs: 250 }),
        promptInjection("tool:search", { technique: "tool-hijack" }),
        toolAbuse("tool:search", { toolName: "shell_exec" }),
        errorInjection("tool:search", { error: "rate_limited" }),
      ],
    });
    const plan = experiment.plan(call("agent-9"))!;
    expect(plan.experiment).toBe("shapes");
    expect(plan.faults.map((fault) => fault.type)).toEqual(["latency", "payload", "tool-abuse", "error"]);
    expect(plan.faults[0]).toEqual({ type: "latency", faultId: "latency@tool:search", delayMs: 250 });
    expect(plan.faults[1]).toMatchObject({ type: "payload", technique: "tool-hijack", where: "result" });
    expect(plan.faults[2]).toEqual({
      type: "tool-abuse",
      faultId: "tool-abuse@tool:search",
      toolName: "shell_exec",
    });
    const error = plan.faults[3]!;
    if (error.type !== "error") throw new Error("expected an error application");
    expect(error.error).toBeInstanceOf(ChaosInjectedError);
    expect(error.error).toMatchObject({
      status: 429,
      retryable: true,
      code: "CHAOS_INJECTED",
      faultId: "error@tool:search",
      experiment: "shapes",
      agentId: "agent-9",
    });
    expect(error.error.message).toMatch(/^429 Too Many Requests/);
  });

  it("gives each injected error its own instance", () => {
    const { experiment } = setup();
    const first = experiment.plan(call())!.faults[0]!;
    const second = experiment.plan(call())!.faults[0]!;
    expect(first).not.toBe(second);
    if (first.type !== "error" || second.type !== "error") throw new Error("expected errors");
    expect(first.error).not.toBe(second.error);
  });

  it("places payloads in model input and tool results by default, or where told", () => {
    const { experiment } = setup({
      faults: [
        privilegeEscalation("*", { id: "esc" }),
        promptInjection("model:*", { id: "pi", where: "result" }),
      ],
    });
    const onTool = experiment.plan(call("a", "tool", "search"))!;
    expect(onTool.faults).toEqual([
      expect.objectContaining({ faultId: "esc", technique: "privilege-escalation", where: "result" }),
    ]);
    const onModel = experiment.plan(call("a", "model", "gpt-4o"))!;
    expect(onModel.faults).toEqual([
      expect.objectContaining({ faultId: "esc", where: "input" }),
      expect.objectContaining({ faultId: "pi", where: "result" }),
    ]);
  });

  it("applies at most one terminal fault (error or timeout), last", () => {
    const { experiment } = setup({
      faults: [
        timeoutInjection("*", { delayMs: 5000 }),
        errorInjection("*"),
        latencyInjection("*", { delayMs: 10 }),
      ],
    });
    const plan = experiment.plan(call())!;
    expect(plan.faults.map((fault) => fault.type)).toEqual(["latency", "timeout"]);
    expect(experiment.report().injected).toEqual({ "timeout@*": 1, "error@*": 0, "latency@*": 1 });
  });

  it("varies latency within ±jitter", () => {
    const { experiment } = setup({ faults: [latencyInjection("*", { delayMs: 1000, jitterMs: 200 })] });
    const delays = Array.from({ length: 500 }, () => {
      const fault = experiment.plan(call())!.faults[0]!;
      return fault.type === "latency" ? fault.delayMs : Number.NaN;
    });
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(800);
    expect(Math.max(...delays)).toBeLessThanOrEqual(1200);
    expect(new Set(delays).size).toBeGreaterThan(50);
  });

  it("emits chaos.fault per injected fault with the concrete call", () => {
    const { experiment, seen } = setup({ name: "ev", faults: [errorInjection("tool:*", { id: "boom" })] });
    experiment.plan(call("agent-3", "tool", "fetch"));
    expect(seen).toEqual([
      {
        name: "chaos.fault",
        payload: {
          at: START,
          experiment: "ev",
          faultId: "boom",
          faultType: "error",
          agentId: "agent-3",
          target: "tool:fetch",
        },
      },
    ]);
  });
});

describe("duration", () => {
  it("completes by itself when the duration is over and stops injecting", () => {
    const { experiment, clock, seen } = setup({ durationMs: "10m" });
    expect(experiment.plan(call())).toBeDefined();
    clock.advance(10 * 60_000 - 1);
    expect(experiment.plan(call())).toBeDefined();
    clock.advance(1);
    expect(experiment.state).toBe("completed");
    expect(experiment.plan(call())).toBeUndefined();
    expect(experiment.endedAt).toBe(START + 10 * 60_000);
    expect(seen.filter((event) => event.name === "chaos.complete")).toEqual([
      {
        name: "chaos.complete",
        payload: { at: START + 10 * 60_000, experiment: "exp", resilienceScore: undefined },
      },
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it("expires lazily with a clock that cannot schedule", () => {
    let now = START;
    const experiment = new ChaosExperiment({ name: "lazy", faults: [errorInjection("*")], durationMs: 1000 });
    experiment.start({ clock: { now: () => now } });
    expect(experiment.plan(call())).toBeDefined();
    now += 1000;
    expect(experiment.plan(call())).toBeUndefined();
    expect(experiment.state).toBe("completed");
    expect(experiment.endedAt).toBe(START + 1000);
  });

  it("cancels its expiry timer when it ends early", () => {
    const { experiment, clock } = setup({ durationMs: 60_000 });
    expect(clock.pendingTimers).toBe(1);
    experiment.abort("manual");
    expect(clock.pendingTimers).toBe(0);
  });
});

describe("automatic abort from observed calls", () => {
  const failing = (n: number, experiment: ChaosExperiment, ok = false) => {
    for (let i = 0; i < n; i++) experiment.observe(observation({ ok }));
  };

  it("aborts when the success rate drops below the threshold, emits chaos.abort and stops injecting", () => {
    const { experiment, seen } = setup({
      abortConditions: [{ metric: "success_rate", threshold: 0.5, comparator: "lt" }],
    });
    failing(6, experiment, true);
    failing(4, experiment); // 10 calls, 60 % success: holds
    expect(experiment.state).toBe("running");
    failing(3, experiment); // 13 calls, 6/13 = 46 %
    expect(experiment.state).toBe("aborted");
    expect(experiment.abortReason).toBe("abort condition met: success_rate 0.4615 < 0.5");
    expect(seen.filter((event) => event.name === "chaos.abort")).toEqual([
      {
        name: "chaos.abort",
        payload: { at: START, experiment: "exp", reason: "abort condition met: success_rate 0.4615 < 0.5" },
      },
    ]);
    expect(experiment.plan(call())).toBeUndefined();
    failing(5, experiment);
    expect(experiment.report().calls).toBe(13);
  });

  it("waits for minSamples before trusting a rate", () => {
    const { experiment } = setup({
      abortConditions: [{ metric: "success_rate", threshold: 0.5, comparator: "lte", minSamples: 5 }],
    });
    failing(4, experiment);
    expect(experiment.state).toBe("running");
    failing(1, experiment);
    expect(experiment.state).toBe("aborted");
  });

  it("ignores calls out of scope", () => {
    const { experiment } = setup({
      targetAgent: "billing-*",
      abortConditions: [{ metric: "error_rate", threshold: 0.5, comparator: "gte", minSamples: 1 }],
    });
    experiment.observe(observation({ agentId: "support", ok: false }));
    expect(experiment.state).toBe("running");
    expect(experiment.report().calls).toBe(0);
    experiment.observe(observation({ agentId: "billing-1", ok: false }));
    expect(experiment.state).toBe("aborted");
  });

  it("aborts on spend (cost_usd)", () => {
    const { experiment } = setup({
      abortConditions: [{ metric: "cost_usd", threshold: 1, comparator: "gt" }],
    });
    for (let i = 0; i < 4; i++) experiment.observe(observation({ costUsd: 0.25 }));
    expect(experiment.state).toBe("running");
    experiment.observe(observation({ costUsd: 0.01 }));
    expect(experiment.state).toBe("aborted");
    expect(experiment.abortReason).toContain("cost_usd 1.01 > 1");
  });

  it("aborts on p99 latency using the exact nearest rank", () => {
    const { experiment } = setup({
      abortConditions: [{ metric: "p99_latency_ms", threshold: 1000, comparator: "gt" }],
    });
    for (let i = 0; i < 200; i++) experiment.observe(observation({ durationMs: 100 }));
    experiment.observe(observation({ durationMs: 5000 }));
    experiment.observe(observation({ durationMs: 5000 }));
    // 202 samples, rank ⌈0.99·202⌉ = 200 is still fast
    expect(experiment.state).toBe("running");
    experiment.observe(observation({ durationMs: 5000 }));
    // 203 samples, rank 201 is slow
    expect(experiment.state).toBe("aborted");
    expect(experiment.abortReason).toMatch(/^abort condition met: p99_latency_ms 5000 > 1000$/);
  });

  it("property: the O(1) p99 check aborts exactly when the sorted nearest-rank p99 first satisfies it", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2000 }), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 0, max: 2000 }),
        fc.constantFrom("lt", "lte", "gt", "gte" as const),
        (latencies, threshold, comparator) => {
          const { experiment } = setup({
            abortConditions: [{ metric: "p99_latency_ms", threshold, comparator, minSamples: 1 }],
          });
          const seenSoFar: number[] = [];
          for (const latency of latencies) {
            seenSoFar.push(latency);
            experiment.observe(observation({ durationMs: latency }));
            const sorted = [...seenSoFar].sort((a, b) => a - b);
            const p99 = sorted[Math.ceil(0.99 * sorted.length) - 1]!;
            const holds =
              comparator === "lt"
                ? p99 < threshold
                : comparator === "lte"
                  ? p99 <= threshold
                  : comparator === "gt"
                    ? p99 > threshold
                    : p99 >= threshold;
            if ((experiment.state === "aborted") !== holds) return false;
            if (holds) return true;
          }
          return true;
        },
      ),
      { numRuns: 200 },
    );
  });

  it("aborts on bypass_rate from adversarial outcomes", () => {
    const { experiment } = setup({
      faults: [promptInjection("tool:*", { id: "pi" })],
      abortConditions: [{ metric: "bypass_rate", threshold: 0.3, comparator: "gte", minSamples: 4 }],
    });
    experiment.reportAdversarialOutcome("pi", "blocked");
    experiment.reportAdversarialOutcome("pi", "passed");
    experiment.reportAdversarialOutcome("pi", "passed");
    expect(experiment.state).toBe("running");
    experiment.reportAdversarialOutcome("pi", "detected");
    expect(experiment.state).toBe("aborted");
    expect(experiment.abortReason).toContain("bypass_rate 0.5 >= 0.3");
  });

  it("rejects invalid observations without recording them", () => {
    const { experiment } = setup();
    expect(() => experiment.observe(observation({ durationMs: Number.NaN }))).toThrow(InvalidArgumentError);
    expect(() => experiment.observe(observation({ costUsd: -1 }))).toThrow(/observation.costUsd/);
    expect(experiment.report()).toMatchObject({ calls: 0, costUsd: 0, p99LatencyMs: null });
  });
});

describe("checkAbort", () => {
  const conditions: AbortCondition[] = [
    { metric: "success_rate", threshold: 0.8 },
    { metric: "p99_latency_ms", threshold: 2000, comparator: "gte" },
  ];

  it("aborts on the first condition that holds (default comparator lte)", () => {
    const { experiment } = setup({ abortConditions: conditions });
    expect(experiment.checkAbort({})).toBe(false);
    expect(experiment.checkAbort({ success_rate: 0.81, p99_latency_ms: 1999 })).toBe(false);
    expect(experiment.checkAbort({ success_rate: 0.8 })).toBe(true);
    expect(experiment.state).toBe("aborted");
    expect(experiment.abortReason).toBe("abort condition met: success_rate 0.8 <= 0.8");
    expect(experiment.checkAbort({ success_rate: 0 })).toBe(false);
  });

  it("uses each comparator", () => {
    for (const [comparator, value, expected] of [
      ["lt", 2000, false],
      ["lt", 1999, true],
      ["lte", 2000, true],
      ["gt", 2000, false],
      ["gt", 2001, true],
      ["gte", 2000, true],
    ] as const) {
      const { experiment } = setup({
        abortConditions: [{ metric: "p99_latency_ms", threshold: 2000, comparator }],
      });
      expect(experiment.checkAbort({ p99_latency_ms: value })).toBe(expected);
    }
  });

  it("rejects non-finite metric values", () => {
    const { experiment } = setup({ abortConditions: conditions });
    expect(() => experiment.checkAbort({ success_rate: Number.NaN })).toThrow(InvalidArgumentError);
  });
});

describe("report and adversarial outcomes", () => {
  it("reports counts, observed rates and the resilience score against the baseline", () => {
    const { experiment, clock } = setup({
      name: "journal",
      faults: [
        errorInjection("tool:*", { id: "err", rate: 1 }),
        latencyInjection("model:*", { id: "slow", delayMs: 5 }),
      ],
      baseline: { successRate: 1 },
      durationMs: 60_000,
    });
    for (let i = 0; i < 3; i++) experiment.plan(call("a", "tool", "t"));
    experiment.plan(call("a", "model", "m"));
    for (let i = 0; i < 6; i++)
      experiment.observe(observation({ ok: i % 2 === 0, durationMs: 100 + i, costUsd: 0.5 }));
    clock.advance(1000);
    expect(experiment.complete()).toBe(true);
    expect(experiment.complete()).toBe(false);
    expect(experiment.report()).toEqual({
      name: "journal",
      description: undefined,
      state: "completed",
      targetAgent: "*",
      seed: 1234,
      blastRadius: { calls: 1, agents: 1 },
      durationMs: 60_000,
      startedAt: START,
      endedAt: START + 1000,
      endsAt: START + 60_000,
      injected: { err: 3, slow: 1 },
      injectedTotal: 4,
      calls: 6,
      failedCalls: 3,
      successRate: 0.5,
      errorRate: 0.5,
      p99LatencyMs: 105,
      costUsd: 3,
      abortReason: null,
      adversarial: [],
      bypassRate: null,
      resilienceScore: 50,
    });
    expect(JSON.parse(JSON.stringify(experiment.report())).injected).toEqual({ err: 3, slow: 1 });
  });

  it("emits the resilience score on chaos.complete", () => {
    const { experiment, seen } = setup({ baseline: { successRate: 0.8, p99LatencyMs: 100 } });
    experiment.observe(observation({ ok: true, durationMs: 200 }));
    experiment.complete();
    const complete = seen.find((event) => event.name === "chaos.complete")!
      .payload as AgentSREEvents["chaos.complete"];
    expect(complete.resilienceScore).toBe(85);
  });

  it("tracks outcomes per adversarial fault with the worst outcome", () => {
    const { experiment } = setup({
      faults: [
        promptInjection("tool:*", { id: "pi", technique: "data-exfiltration" }),
        privilegeEscalation("tool:*", { id: "esc" }),
        toolAbuse("model:*", { id: "abuse" }),
        errorInjection("tool:*", { id: "err", rate: 0 }),
      ],
    });
    experiment.plan(call());
    experiment.plan(call());
    experiment.reportAdversarialOutcome("pi", "blocked");
    experiment.reportAdversarialOutcome("pi", "passed");
    experiment.reportAdversarialOutcome("esc", "detected");
    experiment.reportAdversarialOutcome("esc", "blocked");
    const report = experiment.report();
    expect(report.adversarial).toEqual([
      {
        faultId: "pi",
        type: "prompt-injection",
        technique: "data-exfiltration",
        injected: 2,
        blocked: 1,
        detected: 0,
        passed: 1,
        outcome: "passed",
      },
      {
        faultId: "esc",
        type: "privilege-escalation",
        technique: "privilege-escalation",
        injected: 2,
        blocked: 1,
        detected: 1,
        passed: 0,
        outcome: "detected",
      },
      {
        faultId: "abuse",
        type: "tool-abuse",
        technique: undefined,
        injected: 0,
        blocked: 0,
        detected: 0,
        passed: 0,
        outcome: "pending",
      },
    ]);
    expect(report.bypassRate).toBe(0.25);
  });

  it("rejects unknown faults, non-adversarial faults and unknown outcomes", () => {
    const { experiment } = setup({
      faults: [errorInjection("*", { id: "err" }), toolAbuse("*", { id: "abuse" })],
    });
    expect(() => experiment.reportAdversarialOutcome("nope", "blocked")).toThrow(InvalidArgumentError);
    expect(() => experiment.reportAdversarialOutcome("err", "blocked")).toThrow(/adversarial/);
    expect(() => experiment.reportAdversarialOutcome("abuse", "ignored" as "blocked")).toThrow(ConfigError);
    expect(experiment.report().bypassRate).toBeNull();
  });

  it("still counts outcomes that arrive after the run ended", () => {
    const { experiment } = setup({ faults: [toolAbuse("*", { id: "abuse" })] });
    experiment.plan(call());
    experiment.complete();
    experiment.reportAdversarialOutcome("abuse", "blocked");
    expect(experiment.report().adversarial[0]!.outcome).toBe("blocked");
  });
});

describe("lifecycle", () => {
  it("starts once, completes or aborts once", () => {
    const { experiment } = setup();
    expect(() => experiment.start()).toThrow(InvalidArgumentError);
    expect(experiment.abort("stop")).toBe(true);
    expect(experiment.abort("again")).toBe(false);
    expect(experiment.complete()).toBe(false);
    expect(experiment.state).toBe("aborted");
  });

  it("a pending experiment injects nothing, cannot complete, and can be aborted", () => {
    const experiment = new ChaosExperiment({ name: "p", faults: [errorInjection("*")] });
    expect(experiment.plan(call())).toBeUndefined();
    expect(() => experiment.complete()).toThrow(InvalidArgumentError);
    expect(() => experiment.reportAdversarialOutcome("x", "blocked")).toThrow(InvalidArgumentError);
    expect(experiment.abort("never mind")).toBe(true);
    expect(experiment.report()).toMatchObject({ state: "aborted", startedAt: null, endsAt: null });
  });

  it("runs the rollback exactly once, however the run ends, and records its errors", async () => {
    const calls: string[] = [];
    const expired = setup({
      durationMs: 1000,
      rollback: (report) => void calls.push(`expired:${report.state}`),
    });
    expired.clock.advance(1000);
    expired.experiment.complete();
    const aborted = setup({ rollback: (report) => void calls.push(`aborted:${report.abortReason}`) });
    aborted.experiment.abort("why");
    aborted.experiment.abort("again");
    expect(calls).toEqual(["expired:completed", "aborted:why"]);

    const throwing = setup({
      rollback: () => {
        throw new Error("restore failed");
      },
    });
    throwing.experiment.complete();
    expect(throwing.experiment.report().rollbackError).toBe("restore failed");
    const rejecting = setup({ rollback: () => Promise.reject(new Error("async restore failed")) });
    rejecting.experiment.complete();
    await Promise.resolve();
    expect(rejecting.experiment.report().rollbackError).toBe("async restore failed");
  });
});

describe("validation", () => {
  const make = (config: Partial<ChaosExperimentConfig>) => () =>
    new ChaosExperiment({ name: "v", faults: [errorInjection("*")], ...config });

  it("names the offending field", () => {
    expect(configErrorField(make({ name: "" }))).toBe("name");
    expect(configErrorField(make({ blastRadius: 1.5 }))).toBe("blastRadius");
    expect(configErrorField(make({ blastRadius: -0.1 }))).toBe("blastRadius");
    expect(configErrorField(make({ blastRadius: { agents: 2 } }))).toBe("blastRadius.agents");
    expect(configErrorField(make({ blastRadius: { calls: Number.NaN } }))).toBe("blastRadius.calls");
    expect(configErrorField(make({ blastRadius: { share: 0.5 } as never }))).toBe("blastRadius.share");
    expect(configErrorField(make({ durationMs: 0 }))).toBe("durationMs");
    expect(configErrorField(make({ durationMs: "soon" }))).toBe("durationMs");
    expect(configErrorField(make({ seed: 1.5 }))).toBe("seed");
    expect(configErrorField(make({ targetAgent: "" }))).toBe("targetAgent");
    expect(configErrorField(make({ faults: "none" as never }))).toBe("faults");
    expect(configErrorField(make({ faults: [errorInjection("*"), errorInjection("*")] }))).toBe(
      "faults[1].id",
    );
    expect(configErrorField(make({ faults: [{ ...errorInjection("*"), rate: 2 }] }))).toBe("faults[0].rate");
    expect(
      configErrorField(make({ faults: [{ ...latencyInjection("*", { delayMs: 5 }), delayMs: 0 }] })),
    ).toBe("faults[0].delayMs");
    expect(configErrorField(make({ rollback: 5 as never }))).toBe("rollback");
  });

  it("validates abort conditions", () => {
    const withCondition = (condition: unknown) => make({ abortConditions: [condition as AbortCondition] });
    expect(configErrorField(withCondition({ metric: "latency", threshold: 1 }))).toBe(
      "abortConditions[0].metric",
    );
    expect(
      configErrorField(withCondition({ metric: "success_rate", threshold: 0.5, comparator: "eq" })),
    ).toBe("abortConditions[0].comparator");
    expect(configErrorField(withCondition({ metric: "success_rate", threshold: 1.5 }))).toBe(
      "abortConditions[0].threshold",
    );
    expect(configErrorField(withCondition({ metric: "cost_usd", threshold: -1 }))).toBe(
      "abortConditions[0].threshold",
    );
    expect(configErrorField(withCondition({ metric: "cost_usd", threshold: 1, minSamples: 0.5 }))).toBe(
      "abortConditions[0].minSamples",
    );
    expect(configErrorField(withCondition(null))).toBe("abortConditions[0]");
  });

  it("validates the baseline up front", () => {
    expect(() => make({ baseline: { successRate: 2 } })()).toThrow(/baseline.successRate/);
  });

  it("allows an experiment without faults (steady-state measurement)", () => {
    const { experiment } = setup({ faults: [] });
    expect(experiment.plan(call())).toBeUndefined();
    experiment.observe(observation());
    expect(experiment.report().calls).toBe(1);
  });
});
