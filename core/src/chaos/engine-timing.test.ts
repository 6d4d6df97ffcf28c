import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentSRE } from "../engine/agent-sre.js";
import type { AbortCondition } from "./abort.js";
import { LATENCY_SAMPLE_EVERY, LATENCY_SAMPLES_PER_RATE } from "./controller.js";
import { ChaosExperiment, EXACT_LATENCY_CALLS } from "./experiment.js";
import type { ChaosExperimentConfig } from "./experiment-types.js";
import { latencyInjection } from "./faults.js";

// What a running experiment sees of the calls' durations through the engine (issue 18): a run that reports
// a p99 only gets a random sample of them once past its exact start; one whose abort condition or baseline
// reads the p99 gets every call's duration.

const START = Date.UTC(2026, 11, 6, 9, 0, 0);

/** A manual clock that counts its reads. */
class CountingClock extends ManualClock {
  reads = 0;
  override now(): number {
    this.reads++;
    return super.now();
  }
}

function engineWith(experiment: Omit<ChaosExperimentConfig, "name" | "faults">) {
  const clock = new CountingClock(START);
  const sre = new AgentSRE({
    clock,
    rogue: false,
    retryBudget: false,
    breakers: { defaults: { failureThreshold: 1_000_000 } },
  });
  const run = new ChaosExperiment({
    name: "control",
    // Rate 0: a control run, it injects nothing and only measures.
    faults: [latencyInjection("*", { delayMs: 100, rate: 0 })],
    durationMs: "24h",
    ...experiment,
  });
  sre.startExperiment(run);
  let sequence = 0;
  /** A tool call that takes `ms` on the clock (and fails if asked). */
  const call = (ms: number, fail = false) =>
    sre.guard({ kind: "tool", agentId: "a", name: "search", input: sequence++ }, async () => {
      clock.advance(ms);
      if (fail) throw new Error("tool failed");
      return "ok";
    });
  return { clock, sre, run, call };
}

const p99Above = (threshold: number): AbortCondition => ({
  metric: "p99_latency_ms",
  comparator: "gt",
  threshold,
});

describe("a running chaos experiment and the calls' durations", () => {
  it("at rate 0 with no p99 to check, reads the clock at the end of about 1 call in 16 after its exact start, then fewer", async () => {
    const { clock, run, call } = engineWith({});
    for (let i = 0; i < EXACT_LATENCY_CALLS; i++) await call(1);
    /** Clock reads at the calls' ends over `calls` calls (one read per call at pre-flight besides). */
    const endReadsOver = async (calls: number) => {
      const before = clock.reads;
      for (let i = 0; i < calls; i++) await call(1);
      return clock.reads - before - calls;
    };
    // The first LATENCY_SAMPLES_PER_RATE samples at 1 in 16 (binomial: 1,024 ± 31 expected), the next at 1 in
    // 32 (1,024 ± 32 over twice as many calls).
    const first = LATENCY_SAMPLES_PER_RATE * LATENCY_SAMPLE_EVERY;
    const firstReads = await endReadsOver(first);
    expect(firstReads).toBeGreaterThan((first / LATENCY_SAMPLE_EVERY) * 0.9);
    expect(firstReads).toBeLessThan((first / LATENCY_SAMPLE_EVERY) * 1.1);
    const secondReads = await endReadsOver(2 * first);
    expect(secondReads).toBeGreaterThan(LATENCY_SAMPLES_PER_RATE * 0.9);
    expect(secondReads).toBeLessThan(LATENCY_SAMPLES_PER_RATE * 1.1);
    // Every call is counted, timed or not.
    expect(run.report().calls).toBe(EXACT_LATENCY_CALLS + 3 * first);
  });

  it("a new run's sampled durations start again at 1 in 16", async () => {
    const { clock, sre, call } = engineWith({});
    for (let i = 0; i < EXACT_LATENCY_CALLS + 3 * LATENCY_SAMPLES_PER_RATE * LATENCY_SAMPLE_EVERY; i++)
      await call(1);
    sre.chaos.stop("control");
    sre.startExperiment(
      new ChaosExperiment({
        name: "again",
        faults: [latencyInjection("*", { delayMs: 100, rate: 0 })],
        durationMs: "24h",
      }),
    );
    for (let i = 0; i < EXACT_LATENCY_CALLS; i++) await call(1);
    const calls = 8_000;
    const before = clock.reads;
    for (let i = 0; i < calls; i++) await call(1);
    // 500 ± 22 expected at 1 in 16 (250 at the old run's 1 in 32).
    expect(clock.reads - before - calls).toBeGreaterThan((calls / LATENCY_SAMPLE_EVERY) * 0.85);
  });

  it("records every call's duration during its exact start", async () => {
    const { clock, run, call } = engineWith({});
    const before = clock.reads;
    for (let i = 0; i < 100; i++) await call(i === 99 ? 700 : 2);
    expect(clock.reads - before).toBeGreaterThanOrEqual(200);
    // 100 samples: the nearest-rank p99 is the 99th, the one slow call is the 100th.
    expect(run.report().p99LatencyMs).toBeCloseTo(2, 0);
    await call(700);
    expect(run.report().p99LatencyMs).toBeGreaterThan(690);
  });

  it("keeps the report's p99 of a sampled run over several sample rates: 3 % slow calls among 120,000", async () => {
    const { run, call } = engineWith({});
    // Samples at 1 in 16, 32, 64 and 128: each weighs the calls of its own rate.
    for (let i = 0; i < 120_000; i++) await call(i % 100 < 3 ? 800 : 2);
    const report = run.report();
    expect(report.calls).toBe(120_000);
    expect(report.p99LatencyMs).toBeGreaterThan(780);
    expect(report.p99LatencyMs).toBeLessThan(820);
  });

  it("weighs each sampled duration by the rate it was sampled at", async () => {
    const { run, call } = engineWith({});
    // 2 % slow among the first 40,000 calls, none among the next 80,000: 0.67 % overall, so the p99 is fast.
    // Samples counted alike would read ~1.1 % slow (the early ones are denser), a slow p99.
    for (let i = 0; i < 40_000; i++) await call(i % 100 < 2 ? 800 : 2);
    for (let i = 0; i < 80_000; i++) await call(2);
    expect(run.report().p99LatencyMs).toBeLessThan(10);
  });

  it("a p99 abort condition sees every call's duration: it aborts at the exact call past its exact start", async () => {
    const { run, call } = engineWith({ abortConditions: [p99Above(100)] });
    const fast = 3_000;
    for (let i = 0; i < fast; i++) await call(1);
    // p99 > 100 ms once more than n − ⌈0.99 n⌉ of the n calls took over 100 ms.
    let slow = 0;
    while (slow <= fast + slow - Math.ceil(0.99 * (fast + slow))) {
      expect(run.state).toBe("running");
      await call(500);
      slow++;
    }
    // Sampled durations (1 in 16) would have seen about 2 of these 31 slow calls, too few to abort.
    expect(slow).toBe(31);
    expect(run.state).toBe("aborted");
    expect(run.abortReason).toMatch(/^abort condition met: p99_latency_ms/);
  });

  it("a baseline p99 makes every duration count for the resilience score", async () => {
    const { run, call } = engineWith({ baseline: { successRate: 1, p99LatencyMs: 10 } });
    // 2,000 calls of 1 ms, then 21 of 1,000 ms: the nearest-rank p99 of 2,021 is the 2,001st, a slow one.
    for (let i = 0; i < 2_000; i++) await call(1);
    for (let i = 0; i < 21; i++) await call(1_000);
    const report = run.report();
    expect(report.p99LatencyMs).toBeGreaterThan(980);
    // 70 (success kept) + 30 × 10 / p99.
    expect(report.resilienceScore).toBeCloseTo(70 + (30 * 10) / report.p99LatencyMs!, 1);
  });

  it("an error-rate abort condition counts the untimed successful calls of a sampled run", async () => {
    const { run, call } = engineWith({
      abortConditions: [{ metric: "error_rate", comparator: "gt", threshold: 0.5 }],
    });
    for (let i = 0; i < 2_000; i++) await call(1);
    let failed = 0;
    while (run.state === "running") {
      await call(1, true).catch(() => undefined);
      failed++;
    }
    // More than half of 2,000 + f calls failed: f = 2,001.
    expect(failed).toBe(2_001);
    expect(run.report()).toMatchObject({ calls: 4_001, failedCalls: 2_001 });
  });
});
