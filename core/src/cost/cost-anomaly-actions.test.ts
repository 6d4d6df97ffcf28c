import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentKilledError, AgentThrottledError, AnomalyHeldError, BudgetExceededError } from "../errors.js";
import { type AgentSREEvents, EventBus } from "../events.js";
import { MemoryStore } from "../store/memory-store.js";
import type { CostAnomalyOptions } from "./cost-anomaly.js";
import { CostGuard } from "./cost-guard.js";

const HOUR = 3_600_000;

/** A guard whose agent "a" has a steady baseline of ~$0.01 calls, then one $0.20 call (a 20× spike). */
function spiked(anomalyDetection: CostAnomalyOptions, store = new MemoryStore()) {
  const clock = new ManualClock(Date.UTC(2026, 0, 10, 12));
  const events = new EventBus();
  const anomalies: Array<AgentSREEvents["cost.anomaly"]> = [];
  const releases: Array<AgentSREEvents["cost.anomaly.release"]> = [];
  events.on("cost.anomaly", (event) => anomalies.push(event));
  events.on("cost.anomaly.release", (event) => releases.push(event));
  const guard = new CostGuard({
    store,
    clock,
    events,
    perTaskLimitUsd: 1,
    perAgentDailyLimitUsd: 100,
    throttleTasksPerMinute: 1,
    anomalyDetection: { minSamples: 20, ...anomalyDetection },
  });
  let state = 7;
  for (let i = 0; i < 60; i++) {
    state = (state * 48271) % 2147483647;
    guard.recordCost({ agentId: "a", taskId: `t${i}`, costUsd: 0.01 * (0.8 + (0.4 * state) / 2147483647) });
  }
  const alerts = guard.recordCost({ agentId: "a", taskId: "spike", costUsd: 0.2 });
  return { clock, guard, anomalies, releases, alert: alerts.find((alert) => alert.type === "anomaly") };
}

function catching(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("cost anomalies that act (anomalyDetection.action)", () => {
  it("alert (default): the event, nothing else", () => {
    const { guard, anomalies, alert } = spiked({});
    expect(anomalies).toEqual([expect.objectContaining({ agentId: "a", response: "alert", threshold: 4 })]);
    expect(alert).toMatchObject({ action: "ALERT", response: "alert" });
    expect(guard.reserve({ agentId: "a", taskId: "next", estimatedCostUsd: 0.9 }).release()).toBeUndefined();
  });

  it("hold: the agent's next calls are refused with ANOMALY_HELD and its figures until an operator confirms", () => {
    const { guard, anomalies, releases, alert } = spiked({ action: "hold" });
    expect(alert).toMatchObject({ action: "HOLD", response: "hold" });
    expect(anomalies[0]?.untilMs).toBeUndefined();
    const refused = catching(() => guard.reserve({ agentId: "a", taskId: "next", estimatedCostUsd: 0.01 }));
    expect(refused).toBeInstanceOf(AnomalyHeldError);
    expect(refused).toMatchObject({
      code: "ANOMALY_HELD",
      agentId: "a",
      costUsd: 0.2,
      taskId: "spike",
      retryable: false,
      retryAfterMs: undefined,
    });
    const held = refused as AnomalyHeldError;
    expect(held.expectedUsd).toBeGreaterThan(0.008);
    expect(held.expectedUsd).toBeLessThan(0.012);
    expect(held.score).toBeGreaterThan(4);
    expect(held.message).toMatch(/held after a cost anomaly: \$0\.20 in task "spike", \d+\.\d× its typical/);
    // Tool calls (no cost) are held too; advisory checks say so without counting as refused calls.
    expect(() => guard.reserve({ agentId: "a", estimatedCostUsd: 0 })).toThrow(AnomalyHeldError);
    expect(guard.refusalFor("a")?.code).toBe("ANOMALY_HELD");
    expect(guard.checkTask("a")).toMatchObject({ allowed: false, action: "HOLD" });
    expect(guard.isHeld("a")).toBe(true);
    expect(guard.agentStatus("a")).toMatchObject({
      held: true,
      action: "HOLD",
      hold: { costUsd: 0.2, taskId: "spike", untilMs: null, refusedCalls: 2 },
    });
    // Spend that already happened is still recorded; other agents are not held.
    expect(() => guard.recordCost({ agentId: "a", costUsd: 0.01 })).not.toThrow();
    guard.reserve({ agentId: "b", estimatedCostUsd: 0.5 }).release();

    expect(guard.confirmAnomaly("a")).toBe(true);
    expect(releases).toEqual([
      expect.objectContaining({ agentId: "a", by: "confirm", costUsd: 0.2, refusedCalls: 2 }),
    ]);
    expect(guard.isHeld("a")).toBe(false);
    expect(guard.agentStatus("a")).toMatchObject({ held: false, hold: null });
    guard.reserve({ agentId: "a", taskId: "after", estimatedCostUsd: 0.01 }).release();
    expect(guard.confirmAnomaly("a")).toBe(false);
    expect(guard.confirmAnomaly("b")).toBe(false);
  });

  it("hold: a confirmation keeps the baseline (the next cost at that level is held again) unless newBaseline", () => {
    const { guard, anomalies } = spiked({ action: "hold" });
    expect(guard.confirmAnomaly("a")).toBe(true);
    // The level is still anomalous against the old baseline: held again.
    guard.recordCost({ agentId: "a", taskId: "again", costUsd: 0.2 });
    expect(guard.isHeld("a")).toBe(true);
    expect(anomalies).toHaveLength(2);
    // The on-call says the new level is intended: the baseline starts afresh at it.
    expect(guard.confirmAnomaly("a", { newBaseline: true })).toBe(true);
    for (let i = 0; i < 40; i++)
      guard.recordCost({ agentId: "a", taskId: `new-${i}`, costUsd: 0.2 * (1 + (i % 5) / 20) });
    expect(guard.isHeld("a")).toBe(false);
    expect(anomalies).toHaveLength(2);
    // And a spike above the new level is caught again.
    guard.recordCost({ agentId: "a", taskId: "spike-2", costUsd: 4 });
    expect(guard.isHeld("a")).toBe(true);
    expect(anomalies).toHaveLength(3);
  });

  it("hold with holdMs: the hold lapses by itself at holdMs, and the refusal says when", () => {
    const { clock, guard, anomalies, releases } = spiked({ action: "hold", holdMs: "10m" });
    const start = clock.now();
    expect(anomalies[0]).toMatchObject({ response: "hold", untilMs: start + 600_000 });
    clock.advance(60_000);
    const refused = catching(() => guard.reserve({ agentId: "a", estimatedCostUsd: 0.01 }));
    expect(refused).toMatchObject({ code: "ANOMALY_HELD", retryAfterMs: 540_000 });
    expect(guard.agentStatus("a").hold?.untilMs).toBe(start + 600_000);
    clock.advance(540_000);
    guard.reserve({ agentId: "a", estimatedCostUsd: 0.01 }).release();
    expect(releases).toEqual([expect.objectContaining({ agentId: "a", by: "expiry", refusedCalls: 1 })]);
  });

  it("hold survives a restart on the same store, and a confirmation there lifts it for good", () => {
    const store = new MemoryStore();
    const { clock } = spiked({ action: "hold" }, store);
    const events = new EventBus();
    const releases: Array<AgentSREEvents["cost.anomaly.release"]> = [];
    events.on("cost.anomaly.release", (event) => releases.push(event));
    const restarted = new CostGuard({ store, clock, events, anomalyDetection: { action: "hold" } });
    // Not seen by this process yet: the store's record answers.
    expect(restarted.isHeld("a")).toBe(true);
    const refused = catching(() => restarted.reserve({ agentId: "a", estimatedCostUsd: 0.01 }));
    expect(refused).toMatchObject({ code: "ANOMALY_HELD", costUsd: 0.2, taskId: "spike" });
    expect(restarted.confirmAnomaly("a")).toBe(true);
    expect(releases[0]).toMatchObject({ by: "confirm", refusedCalls: 1 });
    const again = new CostGuard({ store, clock, anomalyDetection: { action: "hold" } });
    expect(again.isHeld("a")).toBe(false);
    again.reserve({ agentId: "a", estimatedCostUsd: 0.01 }).release();
  });

  it("lower-task-limit: the agent's per-task limit is lowered for the cooldown, then restored", () => {
    const { clock, guard, anomalies } = spiked({
      action: "lower-task-limit",
      taskLimitFactor: 0.25,
      cooldownMs: "1h",
    });
    const start = clock.now();
    expect(anomalies[0]).toMatchObject({
      response: "lower-task-limit",
      taskLimitUsd: 0.25,
      untilMs: start + HOUR,
    });
    expect(guard.agentStatus("a").limits.perTaskLimitUsd).toBe(0.25);
    const refused = (() => {
      try {
        guard.reserve({ agentId: "a", taskId: "next", estimatedCostUsd: 0.5 });
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(BudgetExceededError);
    expect(refused).toMatchObject({ scope: "task", limitUsd: 0.25 });
    guard.reserve({ agentId: "a", taskId: "small", estimatedCostUsd: 0.2 }).release();
    // Other agents keep their limits.
    guard.reserve({ agentId: "b", taskId: "x", estimatedCostUsd: 0.9 }).release();
    clock.advance(HOUR);
    guard.reserve({ agentId: "a", taskId: "after", estimatedCostUsd: 0.9 }).release();
    expect(guard.agentStatus("a").limits.perTaskLimitUsd).toBe(1);
  });

  it("throttle: the agent's new tasks are throttled (1 a minute here); unthrottle lifts it", () => {
    const { guard, alert } = spiked({ action: "throttle" });
    expect(alert).toMatchObject({ action: "THROTTLE", response: "throttle" });
    guard.reserve({ agentId: "a", taskId: "n1", estimatedCostUsd: 0.01 }).release();
    expect(() => guard.reserve({ agentId: "a", taskId: "n2", estimatedCostUsd: 0.01 })).toThrow(
      AgentThrottledError,
    );
    expect(guard.unthrottle("a")).toBe(true);
    guard.reserve({ agentId: "a", taskId: "n3", estimatedCostUsd: 0.01 }).release();
  });

  it("kill: the agent is refused until revived", () => {
    const { guard, alert } = spiked({ action: "kill" });
    expect(alert).toMatchObject({ action: "KILL", response: "kill" });
    expect(guard.isKilled("a")).toBe(true);
    expect(() => guard.reserve({ agentId: "a", estimatedCostUsd: 0.01 })).toThrow(AgentKilledError);
    expect(guard.revive("a")).toBe(true);
    guard.reserve({ agentId: "a", estimatedCostUsd: 0.01 }).release();
  });
});
