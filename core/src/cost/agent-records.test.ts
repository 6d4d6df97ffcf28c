import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentKilledError, ConfigError } from "../errors.js";
import type { LedgerStore } from "../store/ledger-store.js";
import { MemoryStore } from "../store/memory-store.js";
import { CostGuard } from "./cost-guard.js";
import type { CostGuardOptions } from "./cost-types.js";

// Agent ids can come from untrusted input: the budget's per-agent records are bounded (`memory`) like the
// engine's agents, but a record holding what only this process knows is never forgotten.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOON = Date.UTC(2026, 0, 10, 12);

/** Balances kept outside the records and outside this process's MemoryStore (as SQLite or Redis keep them). */
function ledgerOnly(inner = new MemoryStore()): LedgerStore {
  return {
    reserve: (lines) => inner.reserve(lines),
    settle: (lines) => inner.settle(lines),
    add: (key, amount, expiresAtMs) => inner.add(key, amount, expiresAtMs),
    read: (key) => inner.read(key),
    expire: (beforeMs) => inner.expire(beforeMs),
  };
}

function setup(options: Omit<CostGuardOptions, "clock"> = {}) {
  const clock = new ManualClock(NOON);
  const guard = new CostGuard({
    anomalyDetection: false,
    memory: { idleMs: "10m" },
    ...options,
    clock,
  });
  /** Lets `minutes` pass with another agent active (the tables turn over on calls). */
  const idle = (minutes: number) => {
    for (let i = 0; i < minutes; i++) {
      clock.advance(MINUTE);
      guard.checkTask("active");
    }
  };
  const held = () => guard.trackedAgents.agents;
  return { clock, guard, idle, held };
}

describe("CostGuard per-agent records", () => {
  it("forgets an idle agent that holds nothing of its own, and keeps the active one", () => {
    const { guard, idle, held } = setup();
    guard.checkTask("idle");
    expect(held()).toBe(1);
    idle(11);
    expect(held()).toBe(1); // "active" only
    expect(guard.trackedAgents.evicted).toBe(1);
    expect(guard.snapshot().agents.map((agent) => agent.agentId)).toEqual(["active"]);
  });

  it("1,000,000 distinct agent ids: records stay under memory.maxAgents, and free calls leave no ledger keys", () => {
    const store = new MemoryStore();
    const clock = new ManualClock(NOON);
    const maxAgents = 1_000;
    const guard = new CostGuard({ store, clock, memory: { maxAgents } });
    let peak = 0;
    for (let i = 0; i < 1_000_000; i++) {
      guard.reserve({ agentId: `agent-${i}`, taskId: `task-${i}`, estimatedCostUsd: 0 }).release();
      if (i % 10_000 === 9_999) peak = Math.max(peak, guard.trackedAgents.agents);
    }
    expect(peak).toBeLessThanOrEqual(maxAgents);
    expect(guard.trackedAgents.evicted).toBeGreaterThanOrEqual(1_000_000 - maxAgents);
    expect(store.size).toBe(0);
  }, 120_000);

  it("never forgets an agent with an open reservation; it settles into the same record", () => {
    const { guard, idle, held } = setup();
    const reservation = guard.reserve({ agentId: "busy", estimatedCostUsd: 0.5 });
    idle(30);
    expect(held()).toBe(2);
    expect(guard.agentStatus("busy").openReservations).toBe(1);
    reservation.commit(0.25);
    expect(guard.agentStatus("busy").openReservations).toBe(0);
    expect(guard.agentStatus("busy").spentTodayUsd).toBe(0.25);
  });

  it("keeps a kill only this process knows (no state store); with a state store the kill comes back from it", () => {
    const bare = setup({ store: ledgerOnly() });
    bare.guard.kill("rogue", "operator");
    bare.idle(30);
    expect(bare.held()).toBe(2);
    expect(bare.guard.isKilled("rogue")).toBe(true);

    const stored = setup({ store: new MemoryStore() });
    stored.guard.kill("rogue", "operator");
    stored.idle(30);
    // The MemoryStore keeps the kill as state: the record may go, the refusal stays.
    expect(() => stored.guard.reserve({ agentId: "rogue", estimatedCostUsd: 0 })).toThrow(AgentKilledError);
  });

  it("keeps a throttled agent (its admission bucket lives in the record)", () => {
    const { guard, idle, held } = setup({ store: ledgerOnly() });
    guard.throttle("slow", "SLO exhausted");
    idle(30);
    expect(held()).toBe(2);
    expect(guard.isThrottled("slow")).toBe(true);
    expect(guard.unthrottle("slow")).toBe(true);
    idle(11);
    expect(held()).toBe(1);
  });

  it("with balances in this process, keeps today's spend detail until the day ends", () => {
    const { guard, clock, idle, held } = setup();
    guard
      .reserve({ agentId: "spender", taskId: "t", estimatedCostUsd: 0.01 })
      .commit(0.0012345, { breakdown: { search: 0.001 } });
    idle(60);
    expect(held()).toBe(2);
    expect(guard.agentStatus("spender").costBreakdownUsd).toEqual({ search: 0.001 });
    // Past midnight the detail belonged to yesterday: the record goes.
    clock.advance(12 * HOUR);
    idle(11);
    expect(held()).toBe(1);
  });

  it("with balances in a store that keeps them, forgets a spender; its spend is still there", () => {
    const { guard, idle, held } = setup({ store: ledgerOnly(), perAgentDailyLimitUsd: 1 });
    guard.reserve({ agentId: "spender", estimatedCostUsd: 0.5 }).commit(0.4);
    idle(11);
    expect(held()).toBe(1);
    expect(guard.agentStatus("spender").spentTodayUsd).toBe(0.4);
    expect(() => guard.reserve({ agentId: "spender", estimatedCostUsd: 0.7 })).toThrow(/budget/i);
  });

  it("keeps an agent whose per-task limit is lowered after a cost anomaly until the cooldown ends", () => {
    const { guard, idle, held } = setup({
      store: ledgerOnly(),
      perTaskLimitUsd: 10,
      anomalyDetection: { minSamples: 20, cooldownMs: 30 * MINUTE, action: "lower-task-limit" },
    });
    for (let i = 0; i < 40; i++) guard.recordCost({ agentId: "spiky", costUsd: 0.01 + (i % 3) * 0.001 });
    guard.recordCost({ agentId: "spiky", costUsd: 5 });
    const lowered = guard.agentStatus("spiky").limits.perTaskLimitUsd as number;
    expect(lowered).toBeLessThan(10);
    idle(20);
    expect(held()).toBe(2);
    expect(guard.agentStatus("spiky").limits.perTaskLimitUsd).toBe(lowered);
    idle(25);
    expect(held()).toBe(1);
  });

  it("rejects invalid bounds with the option's path", () => {
    expect(() => new CostGuard({ memory: { maxAgents: 0 } })).toThrow(ConfigError);
    expect(() => new CostGuard({ memory: { maxAgents: 0 } })).toThrow(/memory\.maxAgents/);
    expect(() => new CostGuard({ memory: { idleMs: "soon" } as never })).toThrow(/memory\.idleMs/);
    expect(() => new CostGuard({ memory: { maxAgent: 5 } as never })).toThrow(/memory\.maxAgent/);
  });
});
