import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { type AgentSREEvents, EventBus } from "../events.js";
import { MemoryStore } from "../store/memory-store.js";
import { CostGuard } from "./cost-guard.js";

/**
 * The target, measured where it acts: ≤ 1 false alarm per 10,000 normal TASKS and ≥ 90 % recall on
 * injected 10× spikes, on a seeded synthetic workload fed through the CostGuard (one `recordCost` per task,
 * ten agents interleaved like a fleet), with `action: "hold"` — every alarm holds the agent, and the on-call
 * confirms before its next task.
 */

/** mulberry32 and Box-Muller: seeded lognormal task costs. */
function lognormal(seed: number, medianUsd: number, sigma: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () =>
    medianUsd * Math.exp(sigma * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()));
}

const AGENTS = 10;
const TASKS_PER_AGENT = 20_000;
const SPIKE_EVERY = 200;
const WARM_UP_TASKS = 100;

interface Measured {
  normalTasks: number;
  falseAlarms: number;
  spikes: number;
  caught: number;
  holds: number;
  refusedWhileHeld: number;
}

function measure(sigma: number): Measured {
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 0));
  const events = new EventBus();
  const releases: Array<AgentSREEvents["cost.anomaly.release"]> = [];
  events.on("cost.anomaly.release", (event) => releases.push(event));
  const guard = new CostGuard({
    store: new MemoryStore(),
    clock,
    events,
    perTaskLimitUsd: Number.POSITIVE_INFINITY,
    perAgentDailyLimitUsd: Number.POSITIVE_INFINITY,
    orgMonthlyBudgetUsd: Number.POSITIVE_INFINITY,
    anomalyDetection: { action: "hold" },
  });
  const costs = Array.from({ length: AGENTS }, (_, agent) => lognormal((agent + 1) * 7919, 0.02, sigma));
  const out: Measured = {
    normalTasks: 0,
    falseAlarms: 0,
    spikes: 0,
    caught: 0,
    holds: 0,
    refusedWhileHeld: 0,
  };
  for (let task = 0; task < TASKS_PER_AGENT; task++) {
    clock.advance(250); // 10 agents × 20,000 tasks in under 14 h: one calendar day
    for (let agent = 0; agent < AGENTS; agent++) {
      const agentId = `agent-${agent}`;
      const spike = task > WARM_UP_TASKS && task % SPIKE_EVERY === 0;
      const alerts = guard.recordCost({
        agentId,
        taskId: `t${task}`,
        costUsd: (costs[agent] as () => number)() * (spike ? 10 : 1),
      });
      const alarm = alerts.some((alert) => alert.type === "anomaly");
      if (task < 30) continue; // the baseline's warm-up (minSamples): nothing is judged yet
      if (spike) {
        out.spikes++;
        if (alarm) out.caught++;
      } else {
        out.normalTasks++;
        if (alarm) out.falseAlarms++;
      }
      if (alarm) {
        // The alarm acted: the agent's next call is refused until the on-call confirms.
        expect(guard.isHeld(agentId)).toBe(true);
        try {
          guard.reserve({ agentId, taskId: `t${task + 1}`, estimatedCostUsd: 0.02 }).release();
        } catch (error) {
          if ((error as { code?: string }).code === "ANOMALY_HELD") out.refusedWhileHeld++;
        }
        out.holds++;
        expect(guard.confirmAnomaly(agentId)).toBe(true);
      }
    }
  }
  expect(releases).toHaveLength(out.holds);
  return out;
}

describe("cost anomaly holds on a seeded synthetic workload, through the CostGuard (one recordCost per task)", () => {
  for (const sigma of [0.3, 0.4]) {
    it(`σ = ${sigma}: ≤ 1 false alarm per 10,000 normal tasks, ≥ 90 % of 10× spikes caught, each alarm a hold`, {
      timeout: 60_000,
    }, () => {
      const m = measure(sigma);
      const falseAlarmsPer10k = (m.falseAlarms / m.normalTasks) * 10_000;
      const recall = m.caught / m.spikes;
      // Printed for the issue note (the figures, not only pass/fail).
      console.log(
        `σ ${sigma}: ${m.normalTasks} normal tasks, ${m.falseAlarms} false alarms (${falseAlarmsPer10k.toFixed(2)} per 10k); ` +
          `${m.caught}/${m.spikes} spikes caught (${(recall * 100).toFixed(1)} %); ${m.holds} holds, ${m.refusedWhileHeld} calls refused while held`,
      );
      expect(m.normalTasks).toBeGreaterThan(195_000);
      expect(m.spikes).toBeGreaterThan(950);
      expect(falseAlarmsPer10k).toBeLessThanOrEqual(1);
      expect(recall).toBeGreaterThanOrEqual(0.9);
      expect(m.holds).toBe(m.caught + m.falseAlarms);
      expect(m.refusedWhileHeld).toBe(m.holds);
    });
  }
});
