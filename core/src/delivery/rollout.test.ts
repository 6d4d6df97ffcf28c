import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentSRE } from "../engine/agent-sre.js";
import { EventBus, type RolloutHoldEvent, type RolloutTransitionEvent } from "../events.js";
import type { CallObservation } from "../types.js";
import type { RolloutOptions, Variant } from "./config.js";
import { ROLLOUT_BUCKETS, Rollout, rolloutBucket } from "./rollout.js";

const MINUTE = 60_000;
const baseline: Variant = { id: "v1", model: "gpt-4o" };
const candidate: Variant = { id: "v2", model: "gpt-4.1" };

interface Outcome {
  ok: boolean;
  durationMs: number;
  costUsd: number;
}
type Behaviour = (variant: Variant, task: number, percent: number, call?: number) => Outcome;

/** Same-shaped traffic for both variants: 2 % of calls fail, latency 100..149 ms, $0.001 a call. */
const healthy: Behaviour = (_variant, task, _percent, call = task) => ({
  ok: call % 50 !== 7,
  durationMs: 100 + ((task * 37) % 50),
  costUsd: 0.001,
});

function setup(overrides: Partial<RolloutOptions> = {}) {
  const clock = new ManualClock();
  const events = new EventBus();
  const transitions: RolloutTransitionEvent[] = [];
  const holds: RolloutHoldEvent[] = [];
  events.on("rollout.transition", (event) => transitions.push(event));
  events.on("rollout.hold", (event) => holds.push(event));
  const rollout = new Rollout({
    id: "model-upgrade",
    baseline,
    candidate,
    strategy: {
      type: "canary",
      steps: [
        { percent: 1, holdMs: 10 * MINUTE },
        { percent: 5, holdMs: 10 * MINUTE },
        { percent: 25, holdMs: 10 * MINUTE },
        { percent: 50, holdMs: 10 * MINUTE },
        { percent: 100 },
      ],
    },
    seed: 42,
    clock,
    events,
    ...overrides,
  });
  return { clock, events, rollout, transitions, holds };
}

/**
 * Runs `minutes` of traffic, `tasksPerMinute` tasks a minute, three calls per task. Every call of a task
 * asks `assign` again (as an adapter does) and must get the task's first variant. Returns which tasks
 * reached the candidate, in order.
 */
function drive(
  rollout: Rollout,
  clock: ManualClock,
  behaviour: Behaviour,
  options: { minutes: number; tasksPerMinute: number; firstTask?: number },
) {
  const candidateTasks: number[] = [];
  let mixed = 0;
  let task = options.firstTask ?? 0;
  let calls = 0;
  for (let minute = 0; minute < options.minutes; minute++) {
    for (let i = 0; i < options.tasksPerMinute; i++, task++) {
      const key = `task-${task}`;
      const first = rollout.assign(key);
      if (first.id === candidate.id) candidateTasks.push(task);
      const percent = rollout.percent;
      for (let call = 0; call < 3; call++) {
        const variant = rollout.assign(key);
        // Stickiness: a task never mixes variants (until a rollback sends it home).
        if (rollout.state !== "rolled_back" && variant.id !== first.id) mixed++;
        const outcome = behaviour(variant, task, percent, calls++);
        rollout.observe(observation(key, variant, outcome, clock.now()));
      }
      clock.advance(MINUTE / options.tasksPerMinute);
    }
  }
  expect(mixed).toBe(0);
  return { candidateTasks, nextTask: task };
}

function observation(taskId: string, variant: Variant, outcome: Outcome, at: number): CallObservation {
  return {
    at,
    agentId: "support",
    taskId,
    kind: "model",
    name: variant.model as string,
    ok: outcome.ok,
    durationMs: outcome.durationMs,
    costUsd: outcome.costUsd,
    inputTokens: 100,
    outputTokens: 50,
    errorCode: undefined,
  };
}

// Thousands of simulated tasks per test: generous timeouts for a loaded CI machine.
describe("sticky deterministic assignment", { timeout: 60_000 }, () => {
  it("is a pure function of (seed, rollout id, key) spread evenly over the buckets", () => {
    expect(rolloutBucket(42, "r", "task-1")).toBe(rolloutBucket(42, "r", "task-1"));
    expect(rolloutBucket(42, "r", "task-1")).not.toBe(rolloutBucket(43, "r", "task-1"));
    const counts = new Array(10).fill(0);
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < 100_000; i++) {
      const bucket = rolloutBucket("seed", "r", `task-${i}`);
      min = Math.min(min, bucket);
      max = Math.max(max, bucket);
      counts[Math.floor(bucket / 1000)]++;
    }
    expect(min).toBe(0);
    expect(max).toBe(ROLLOUT_BUCKETS - 1);
    for (const count of counts) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });

  it("gives two rollouts with the same seed the same split, and a new one a different one", () => {
    const a = setup().rollout;
    const b = setup().rollout;
    const c = setup({ seed: 7 }).rollout;
    for (const r of [a, b, c]) r.start();
    const keys = Array.from({ length: 2000 }, (_, i) => `k${i}`);
    const pick = (r: Rollout) => keys.map((k) => r.assign(k).id).join();
    expect(pick(a)).toBe(pick(b));
    expect(pick(a)).not.toBe(pick(c));
    const share = keys.filter((k) => a.assign(k).id === "v2").length / keys.length;
    expect(share).toBeGreaterThan(0.002);
    expect(share).toBeLessThan(0.025);
  });

  it("keeps a task on the baseline across a promotion that widens the candidate's share", () => {
    const { rollout, clock } = setup({ analysis: { minCalls: 1, minTasks: 1 } });
    rollout.start();
    // A key whose bucket is in [1 %, 5 %): baseline at step 0, candidate for a new task at step 1.
    const keys = Array.from({ length: 5000 }, (_, i) => `k${i}`);
    const moving = keys.find((k) => {
      const bucket = rolloutBucket(42, "model-upgrade", k);
      return bucket >= 100 && bucket < 500;
    }) as string;
    const fresh = keys
      .filter((k) => k !== moving)
      .find((k) => {
        const bucket = rolloutBucket(42, "model-upgrade", k);
        return bucket >= 100 && bucket < 500;
      }) as string;
    expect(rollout.assign(moving).id).toBe("v1");
    drive(rollout, clock, healthy, { minutes: 11, tasksPerMinute: 300 });
    expect(rollout.percent).toBe(5);
    expect(rollout.assign(moving).id).toBe("v1");
    expect(rollout.assign(fresh).id).toBe("v2");
  });

  it("gives everyone the baseline before start", () => {
    const { rollout } = setup();
    for (let i = 0; i < 1000; i++) expect(rollout.assign(`k${i}`).id).toBe("v1");
  });
});

// Thousands of simulated tasks per test: generous timeouts for a loaded CI machine.
describe("canary analysis", { timeout: 60_000 }, () => {
  it("walks a healthy candidate through every step to 100 %", () => {
    const { rollout, clock, transitions } = setup();
    rollout.start();
    drive(rollout, clock, healthy, { minutes: 50, tasksPerMinute: 300 });
    expect(rollout.state).toBe("completed");
    expect(transitions.map((t) => [t.action, t.percent])).toEqual([
      ["start", 1],
      ["promote", 5],
      ["promote", 25],
      ["promote", 50],
      ["complete", 100],
    ]);
    // Each promotion waited for its step's hold.
    for (let i = 1; i < transitions.length; i++) {
      const gap =
        (transitions[i] as RolloutTransitionEvent).at - (transitions[i - 1] as RolloutTransitionEvent).at;
      expect(gap).toBeGreaterThanOrEqual(10 * MINUTE);
    }
    for (let i = 0; i < 200; i++) expect(rollout.assign(`after-${i}`).id).toBe("v2");
  });

  it("rolls back a candidate with a higher error rate at the first step, and no later task reaches it", () => {
    const { rollout, clock, transitions } = setup();
    rollout.start();
    const failing: Behaviour = (variant, task) =>
      variant.id === "v2" ? { ...healthy(variant, task, 0), ok: task % 4 !== 0 } : healthy(variant, task, 0);
    const run = drive(rollout, clock, failing, { minutes: 30, tasksPerMinute: 300 });
    expect(rollout.state).toBe("rolled_back");
    const rollback = transitions.at(-1) as RolloutTransitionEvent;
    expect(rollback).toMatchObject({ action: "rollback", stepIndex: 0, automatic: true });
    expect(rollback.reason).toMatch(/^error rate .*Fisher p=/);
    // After the rollback every new task, and every in-flight one, gets the baseline.
    const after = drive(rollout, clock, failing, {
      minutes: 5,
      tasksPerMinute: 300,
      firstTask: run.nextTask,
    });
    expect(after.candidateTasks).toEqual([]);
    for (const task of run.candidateTasks) expect(rollout.assign(`task-${task}`).id).toBe("v1");
  });

  it("does not abort on one unlucky failure", () => {
    const { rollout, clock, transitions } = setup();
    rollout.start();
    let failed = false;
    const oneFailure: Behaviour = (variant, task) => {
      if (variant.id === "v2" && !failed) {
        failed = true;
        return { ok: false, durationMs: 120, costUsd: 0.001 };
      }
      return { ...healthy(variant, task, 0), ok: true };
    };
    drive(rollout, clock, oneFailure, { minutes: 11, tasksPerMinute: 300 });
    expect(failed).toBe(true);
    expect(transitions.map((t) => t.action)).toEqual(["start", "promote"]);
  });

  it("rolls back at the step where a higher p99 shows (a candidate that slows under 25 % of traffic)", () => {
    const { rollout, clock, transitions } = setup();
    rollout.start();
    const slowUnderLoad: Behaviour = (variant, task, percent) => {
      const outcome = healthy(variant, task, percent);
      return variant.id === "v2" && percent >= 25
        ? { ...outcome, durationMs: outcome.durationMs * 3 }
        : outcome;
    };
    const run = drive(rollout, clock, slowUnderLoad, { minutes: 40, tasksPerMinute: 300 });
    const rollback = transitions.at(-1) as RolloutTransitionEvent;
    expect(rollback).toMatchObject({ action: "rollback", stepIndex: 2, automatic: true });
    expect(rollback.reason).toMatch(/^p99 latency/);
    const after = drive(rollout, clock, slowUnderLoad, {
      minutes: 2,
      tasksPerMinute: 300,
      firstTask: run.nextTask,
    });
    expect(after.candidateTasks).toEqual([]);
  });

  it("rolls back a candidate that costs more per task", () => {
    const { rollout, clock, transitions } = setup();
    rollout.start();
    const pricey: Behaviour = (variant, task) => ({
      ...healthy(variant, task, 0),
      costUsd: variant.id === "v2" ? 0.0015 : 0.001,
    });
    drive(rollout, clock, pricey, { minutes: 30, tasksPerMinute: 300 });
    expect(transitions.at(-1)).toMatchObject({ action: "rollback", stepIndex: 0 });
    expect((transitions.at(-1) as RolloutTransitionEvent).reason).toMatch(/^cost per task/);
  });

  it("rolls back on a user metric (an eval score) that regresses", () => {
    const { rollout, clock, transitions } = setup({
      analysis: { metrics: { evalScore: { direction: "higherIsBetter", tolerance: 0.05, minSamples: 5 } } },
      evaluationIntervalMs: 0,
    });
    rollout.start();
    for (let task = 0; task < 3000; task++) {
      const key = `t${task}`;
      const variant = rollout.assign(key);
      rollout.observe(observation(key, variant, healthy(variant, task, 0), clock.now()));
      rollout.observeMetric(key, "evalScore", variant.id === "v2" ? 0.7 : 0.9);
    }
    expect(rollout.state).toBe("rolled_back");
    expect((transitions.at(-1) as RolloutTransitionEvent).reason).toMatch(/^metric evalScore/);
  });

  it("holds a step with too few samples instead of promoting on noise", () => {
    const { rollout, clock, holds, transitions } = setup();
    rollout.start();
    drive(rollout, clock, healthy, { minutes: 12, tasksPerMinute: 20 });
    expect(rollout.stepIndex).toBe(0);
    expect(holds).toHaveLength(1);
    expect(holds[0]).toMatchObject({ reason: "insufficient_samples", stepIndex: 0 });
    expect(holds[0]?.detail).toMatch(/^candidate has \d+ of 20 calls/);
    expect(transitions.map((t) => t.action)).toEqual(["start"]);
  });

  it("holds on task counts as well as on time", () => {
    const { rollout, clock } = setup({
      strategy: { type: "canary", steps: [{ percent: 50, holdTasks: 40 }, { percent: 100 }] },
      analysis: { minCalls: 5, minTasks: 2 },
      evaluationIntervalMs: 0,
    });
    rollout.start();
    for (let task = 0; rollout.state === "progressing"; task++) {
      const key = `t${task}`;
      const variant = rollout.assign(key);
      rollout.observe(observation(key, variant, healthy(variant, task, 50), clock.now()));
      if (rollout.state === "progressing") expect(rollout.status().candidate.tasks).toBeLessThan(40);
    }
    expect(rollout.state).toBe("completed");
  });
});

// Thousands of simulated tasks per test: generous timeouts for a loaded CI machine.
describe("operators and freezes", { timeout: 60_000 }, () => {
  it("blocks promotion while the engine's deployments are frozen, and resumes when unfrozen", () => {
    const clock = new ManualClock();
    const sre = new AgentSRE({ clock });
    const { rollout, transitions, holds } = setup({ clock, isFrozen: () => sre.deploymentsFrozen });
    sre.freezeDeployments("manual", "incident in progress");
    rollout.start();
    drive(rollout, clock, healthy, { minutes: 30, tasksPerMinute: 300 });
    expect(rollout.stepIndex).toBe(0);
    expect(holds.map((h) => h.reason)).toEqual(["frozen"]);
    sre.unfreezeDeployments("manual");
    drive(rollout, clock, healthy, { minutes: 1, tasksPerMinute: 300 });
    expect(transitions.map((t) => t.action)).toEqual(["start", "promote"]);
  });

  it("feeds from the engine's call.completed events with connect()", () => {
    const clock = new ManualClock();
    const sre = new AgentSRE({ clock });
    const { rollout } = setup({ clock });
    const off = rollout.connect(sre);
    rollout.start();
    const variant = rollout.assign("task-x");
    sre.events.emit(
      "call.completed",
      observation("task-x", variant, { ok: true, durationMs: 5, costUsd: 0 }, 0),
    );
    const side = variant.id === "v2" ? "candidate" : "baseline";
    expect(rollout.status()[side].calls).toBe(1);
    off();
    sre.events.emit(
      "call.completed",
      observation("task-x", variant, { ok: true, durationMs: 5, costUsd: 0 }, 0),
    );
    expect(rollout.status()[side].calls).toBe(1);
  });

  it("attributes calls by model when the task is not remembered", () => {
    const { rollout, clock } = setup();
    rollout.start();
    rollout.observe(observation("unknown-task", candidate, healthy(candidate, 1, 0), clock.now()));
    rollout.observe(
      observation("other", { id: "x", model: "some-other-model" }, healthy(candidate, 1, 0), clock.now()),
    );
    expect(rollout.status().candidate.calls).toBe(1);
    expect(rollout.status().baseline.calls).toBe(0);
  });

  it("pauses (no decisions), resumes, and aborts to the baseline", () => {
    const { rollout, clock, transitions } = setup();
    rollout.start();
    rollout.pause("looking at a dashboard");
    const run = drive(rollout, clock, healthy, { minutes: 30, tasksPerMinute: 300 });
    expect(rollout.state).toBe("paused");
    expect(run.candidateTasks.length).toBeGreaterThan(0);
    rollout.resume();
    drive(rollout, clock, healthy, { minutes: 1, tasksPerMinute: 300, firstTask: run.nextTask });
    expect(rollout.percent).toBe(5);
    rollout.abort("wrong candidate");
    expect(rollout.percent).toBe(0);
    for (const task of run.candidateTasks) expect(rollout.assign(`task-${task}`).id).toBe("v1");
    expect(transitions.map((t) => t.action)).toEqual(["start", "pause", "resume", "promote", "abort"]);
    expect(transitions.at(-1)).toMatchObject({ reason: "wrong candidate", automatic: false });
    expect(() => rollout.resume()).toThrow(/rollout state/);
  });
});

// Thousands of simulated tasks per test: generous timeouts for a loaded CI machine.
describe("blue-green", { timeout: 60_000 }, () => {
  it("validates on a sampled share, then switches every new task at once", () => {
    const { rollout, clock, transitions } = setup({
      strategy: { type: "blueGreen", validationPercent: 10, validateForMs: 15 * MINUTE },
    });
    rollout.start();
    drive(rollout, clock, healthy, { minutes: 16, tasksPerMinute: 100 });
    expect(transitions.map((t) => [t.action, t.percent])).toEqual([
      ["start", 10],
      ["complete", 100],
    ]);
  });

  it("never switches a candidate that fails validation", () => {
    const { rollout, clock } = setup({
      strategy: { type: "blueGreen", validationPercent: 10, validateForTasks: 100 },
    });
    rollout.start();
    const failing: Behaviour = (variant, task) => ({
      ...healthy(variant, task, 0),
      ok: variant.id !== "v2" || task % 3 !== 0,
    });
    drive(rollout, clock, failing, { minutes: 20, tasksPerMinute: 100 });
    expect(rollout.state).toBe("rolled_back");
    expect(rollout.stepIndex).toBe(0);
  });
});
