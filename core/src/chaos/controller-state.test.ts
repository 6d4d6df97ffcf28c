import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { EventBus } from "../events.js";
import { MemoryStore } from "../store/memory-store.js";
import type { CallObservation } from "../types.js";
import { ChaosController } from "./controller.js";
import type { ChaosExperimentConfig } from "./experiment-types.js";
import { errorInjection } from "./faults.js";

const START = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;

const experiment = (): ChaosExperimentConfig => ({
  name: "search-outage",
  targetAgent: "agent-1",
  faults: [errorInjection("tool:search", { rate: 1 })],
  durationMs: 10 * MINUTE,
  abortConditions: [{ metric: "success_rate", threshold: 0.5, comparator: "lt", minSamples: 4 }],
});

const call = { agentId: "agent-1", kind: "tool", name: "search" } as const;

function failed(at: number): CallObservation {
  return {
    at,
    agentId: "agent-1",
    taskId: undefined,
    kind: "tool",
    name: "search",
    ok: false,
    durationMs: 5,
    costUsd: 0,
    inputTokens: 0,
    outputTokens: 0,
    errorCode: "CHAOS_INJECTED",
  };
}

/** One process's controller on a state store that outlives it (as a SQLite file or Redis does). */
function life(clock: ManualClock, store: MemoryStore) {
  const events = new EventBus();
  const aborts: string[] = [];
  events.on("chaos.abort", (event) => aborts.push(event.reason));
  return { chaos: new ChaosController({ clock, events, state: store }), aborts };
}

describe("chaos runs in the state store (restarts)", () => {
  it("a restarted process resumes a running experiment with its start, deadline and counts", () => {
    const clock = new ManualClock(START);
    const store = new MemoryStore();
    const first = life(clock, store);
    first.chaos.start(experiment());
    for (let i = 0; i < 3; i++) {
      expect(first.chaos.plan(call)?.faults[0]?.type).toBe("error");
      first.chaos.observe(failed(clock.now()));
    }
    first.chaos.saveAll(); // sre.flush() before a planned stop
    clock.advance(4 * MINUTE);

    const second = life(clock, store);
    const resumed = second.chaos.start(experiment());
    expect(resumed.state).toBe("running");
    expect(resumed.report()).toMatchObject({
      startedAt: START,
      endsAt: START + 10 * MINUTE,
      injectedTotal: 3,
      calls: 3,
      failedCalls: 3,
    });
    // The abort condition counts the earlier life's calls: the fourth failure aborts (minSamples 4).
    second.chaos.observe(failed(clock.now()));
    expect(resumed.state).toBe("aborted");
    expect(second.aborts).toHaveLength(1);

    // ... and the abort survives the next restart: the experiment is not run again.
    const third = life(clock, store);
    const again = third.chaos.start(experiment());
    expect(again.state).toBe("aborted");
    expect(again.abortReason).toMatch(/success_rate/);
    expect(third.chaos.hasActive).toBe(false);
    expect(third.chaos.plan(call)).toBeUndefined();
    expect(third.aborts).toEqual([]); // it was reported in the life where it happened

    // After its deadline, starting it is a new run.
    clock.advance(6 * MINUTE);
    const fourth = life(clock, store);
    const fresh = fourth.chaos.start(experiment());
    expect(fresh.report()).toMatchObject({ state: "running", startedAt: clock.now(), injectedTotal: 0 });
  });

  it("a resumed run completes at its original deadline; a new start in the same process is a new run", () => {
    const clock = new ManualClock(START);
    const store = new MemoryStore();
    const first = life(clock, store);
    first.chaos.start({ ...experiment(), abortConditions: [] });
    clock.advance(9 * MINUTE);
    const second = life(clock, store);
    const resumed = second.chaos.start({ ...experiment(), abortConditions: [] });
    expect(resumed.state).toBe("running");
    clock.advance(MINUTE);
    expect(resumed.state).toBe("completed");
    expect(resumed.endedAt).toBe(START + 10 * MINUTE);
    // This process ran it: starting it again is a new run, not the saved one.
    const rerun = second.chaos.start({ ...experiment(), abortConditions: [] });
    expect(rerun.report()).toMatchObject({ state: "running", startedAt: START + 10 * MINUTE });
  });
});
