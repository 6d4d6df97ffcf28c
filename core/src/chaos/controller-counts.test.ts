import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentSRE } from "../engine/agent-sre.js";
import { ChaosExperiment, EXACT_LATENCY_CALLS } from "./experiment.js";
import type { ChaosExperimentConfig } from "./experiment-types.js";
import { latencyInjection } from "./faults.js";

// Past its exact start, the only running experiment that measures every agent without an abort condition
// has the controller count an untimed call straight into its counts (issue 18): the report must read the
// same calls, failures and cost as counting through the experiment, and stop at its end.

const START = Date.UTC(2026, 11, 6, 9, 0, 0);

function engine(clock: ManualClock) {
  return new AgentSRE({
    clock,
    rogue: false,
    retryBudget: false,
    breakers: { defaults: { failureThreshold: 1_000_000 } },
  });
}

const control = (name: string, extra: Partial<ChaosExperimentConfig> = {}) =>
  new ChaosExperiment({
    name,
    faults: [latencyInjection("*", { delayMs: 100, rate: 0 })],
    durationMs: "1h",
    ...extra,
  });

/**
 * Free tool calls that succeed (untimed: the controller counts them), failing ones and priced model calls
 * (timed: through the experiment's `observeCall`), interleaved; 1 ms each.
 */
async function traffic(sre: AgentSRE, clock: ManualClock, calls: number, agent = "a") {
  let failed = 0;
  for (let i = 0; i < calls; i++) {
    const fail = i % 7 === 3;
    const model = i % 5 === 1;
    const agentId = `${agent}-${i % 3}`;
    const call = model
      ? {
          kind: "model" as const,
          agentId,
          name: "gpt-4o",
          provider: "openai",
          usage: () => ({ inputTokens: 100 + (i % 11), outputTokens: 10 + (i % 5) }),
        }
      : { kind: "tool" as const, agentId, name: "search", input: i };
    await sre
      .guard(call, async () => {
        clock.advance(1);
        if (fail) throw new Error("provider down");
        return "ok";
      })
      .catch(() => undefined);
    if (fail) failed++;
  }
  return { failed };
}

describe("the controller's plain counting", () => {
  it("reports the same calls, failures and cost as an experiment counted call by call", async () => {
    const clockA = new ManualClock(START);
    const clockB = new ManualClock(START);
    const plain = engine(clockA);
    const reference = engine(clockB);
    const a = control("control");
    plain.startExperiment(a);
    // The reference is never the only running experiment: every call goes through `observeCall`.
    const b = control("control");
    reference.startExperiment(b);
    reference.startExperiment(control("other"));
    const calls = EXACT_LATENCY_CALLS + 3_000;
    const { failed } = await traffic(plain, clockA, calls);
    await traffic(reference, clockB, calls);
    const ra = a.report();
    const rb = b.report();
    expect(ra.calls).toBe(calls);
    expect(ra.failedCalls).toBe(failed);
    expect(ra.calls).toBe(rb.calls);
    expect(ra.failedCalls).toBe(rb.failedCalls);
    expect(ra.costUsd).toBeGreaterThan(0);
    expect(ra.costUsd).toBe(rb.costUsd); // the same additions in the same order
  });

  it("stops counting at the run's end (expiry or abort), as counting call by call does", async () => {
    const ends = async (withOther: boolean, timers = true) => {
      const clock = new ManualClock(START);
      // Without timers the run's expiry timer never fires: the calls' own times end the counting.
      const sre = engine(timers ? clock : ({ now: () => clock.now() } as ManualClock));
      const run = control("control", { durationMs: EXACT_LATENCY_CALLS + 1_000 });
      sre.startExperiment(run);
      if (withOther) sre.startExperiment(control("other", { targetAgent: "nobody" }));
      await traffic(sre, clock, EXACT_LATENCY_CALLS + 2_000);
      return run.report();
    };
    const plain = await ends(false);
    const reference = await ends(true);
    // No timer: the run ends at the first call that starts (untimed) or ends (timed) past its end. One call a
    // ms, so at most EXACT_LATENCY_CALLS + 1,000 started within it; counting call by call times every call
    // (the other run is in its exact start) and misses the one that started within it and ended past it.
    const noTimer = await ends(false, false);
    const noTimerReference = await ends(true, false);
    expect(noTimer.calls).toBeLessThanOrEqual(EXACT_LATENCY_CALLS + 1_000);
    expect(noTimer.calls - noTimerReference.calls).toBeGreaterThanOrEqual(0);
    expect(noTimer.calls - noTimerReference.calls).toBeLessThanOrEqual(1);
    expect(plain.state).toBe("completed");
    expect(plain.calls).toBeGreaterThan(EXACT_LATENCY_CALLS + 990);
    expect(plain.calls).toBeLessThanOrEqual(EXACT_LATENCY_CALLS + 1_000);
    expect(plain.calls).toBe(reference.calls);
    expect(plain.failedCalls).toBe(reference.failedCalls);
    expect(plain.costUsd).toBe(reference.costUsd);

    const clock = new ManualClock(START);
    const sre = engine(clock);
    const first = control("first");
    sre.startExperiment(first);
    await traffic(sre, clock, EXACT_LATENCY_CALLS + 100);
    // A second run: each counts its own scope.
    const second = control("second", { targetAgent: "b-*" });
    sre.startExperiment(second);
    await traffic(sre, clock, 50, "b");
    await traffic(sre, clock, 50, "c");
    expect(first.report().calls).toBe(EXACT_LATENCY_CALLS + 200);
    expect(second.report().calls).toBe(50);
    // The second one ends: the first counts plainly again, until it is aborted.
    second.abort("done");
    await traffic(sre, clock, 30);
    expect(first.report().calls).toBe(EXACT_LATENCY_CALLS + 230);
    first.abort("enough");
    await traffic(sre, clock, 20);
    expect(first.report().calls).toBe(EXACT_LATENCY_CALLS + 230);
    expect(second.report().calls).toBe(50);
  });
});
