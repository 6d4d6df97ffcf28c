import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentKilledError, AgentThrottledError, BudgetExceededError } from "../errors.js";
import { type AgentSREEvents, EventBus } from "../events.js";
import { MemoryStore } from "../store/memory-store.js";
import type { CostAnomalyOptions } from "./cost-anomaly.js";
import { CostGuard } from "./cost-guard.js";

const HOUR = 3_600_000;

/** A guard whose agent "a" has a steady baseline of ~$0.01 calls, then one $0.20 call (a 20× spike). */
function spiked(anomalyDetection: CostAnomalyOptions) {
  const clock = new ManualClock(Date.UTC(2026, 0, 10, 12));
  const events = new EventBus();
  const anomalies: Array<AgentSREEvents["cost.anomaly"]> = [];
  events.on("cost.anomaly", (event) => anomalies.push(event));
  const guard = new CostGuard({
    store: new MemoryStore(),
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
  return { clock, guard, anomalies, alert: alerts.find((alert) => alert.type === "anomaly") };
}

describe("cost anomalies that act (anomalyDetection.action)", () => {
  it("alert (default): the event, nothing else", () => {
    const { guard, anomalies, alert } = spiked({});
    expect(anomalies).toEqual([expect.objectContaining({ agentId: "a", response: "alert", threshold: 4 })]);
    expect(alert).toMatchObject({ action: "ALERT", response: "alert" });
    expect(guard.reserve({ agentId: "a", taskId: "next", estimatedCostUsd: 0.9 }).release()).toBeUndefined();
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
