import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { ConfigError } from "../errors.js";
import type { MemoryStore } from "../store/memory-store.js";
import { AgentSRE } from "./agent-sre.js";
import type { TrackedEntries } from "./generations.js";

// Agent ids and tool names can come from untrusted input (a model, an MCP peer): whatever arrives, the
// engine's per-agent and per-target state stays within `memory`'s bounds, and idle entries are forgotten.

const run = async () => 1;
const trackedBy = (sre: AgentSRE) => sre.status().tracked as TrackedEntries;

describe("bounded memory", () => {
  it("1,000,000 distinct agent ids and tool names: every tracked-entry count stays under its cap", async () => {
    const maxAgents = 2_000;
    const maxTargets = 500;
    // With a budget every call reserves (nothing, for a free tool call): the budget's records are bounded too.
    const sre = new AgentSRE({ memory: { maxAgents, maxTargets }, budget: { perAgentDailyLimitUsd: 5 } });
    let peak = { agents: 0, tools: 0, breakers: 0, detectorAgents: 0, retryTargets: 0, budgetAgents: 0 };
    for (let i = 0; i < 1_000_000; i++) {
      await sre.guard(
        { kind: "tool", agentId: `agent-${i}`, taskId: `task-${i}`, name: `tool-${i}`, input: { i } },
        run,
      );
      if (i % 50_000 === 49_999) {
        const tracked = trackedBy(sre);
        peak = {
          agents: Math.max(peak.agents, tracked.agents),
          tools: Math.max(peak.tools, tracked.tools),
          breakers: Math.max(peak.breakers, tracked.breakers),
          detectorAgents: Math.max(peak.detectorAgents, tracked.detectorAgents),
          retryTargets: Math.max(peak.retryTargets, tracked.retryTargets),
          budgetAgents: Math.max(peak.budgetAgents, tracked.budgetAgents),
        };
      }
    }
    expect(peak.agents).toBeLessThanOrEqual(maxAgents);
    expect(peak.tools).toBeLessThanOrEqual(maxTargets);
    expect(peak.detectorAgents).toBeLessThanOrEqual(maxAgents);
    // An agent breaker per agent, a target breaker per tool.
    expect(peak.breakers).toBeLessThanOrEqual(maxAgents + maxTargets);
    expect(peak.retryTargets).toBeLessThanOrEqual(1_000);
    expect(peak.budgetAgents).toBeLessThanOrEqual(maxAgents);
    // Free calls hold and spend nothing: no ledger key was left behind.
    expect((sre.store as MemoryStore).size).toBe(0);
    const tracked = trackedBy(sre);
    expect(tracked.evictedAgents).toBeGreaterThanOrEqual(1_000_000 - maxAgents);
    expect(tracked.agents).toBeGreaterThan(0);
  }, 300_000);

  it("forgets agents and tools idle for `idleMs`, keeps quarantined agents and calls in flight", async () => {
    const clock = new ManualClock(0);
    const sre = new AgentSRE({ clock, memory: { idleMs: "10m" } });
    await sre.guard({ kind: "tool", agentId: "idle", name: "lookup" }, run);
    await sre.guard({ kind: "tool", agentId: "jailed", name: "lookup" }, run);
    sre.quarantine("jailed", "operator");
    let finish: (value: number) => void = () => {};
    const inFlight = sre.guard(
      { kind: "tool", agentId: "busy", name: "slow" },
      () => new Promise<number>((resolve) => (finish = resolve)),
    );
    for (let minute = 1; minute <= 11; minute++) {
      clock.advance(60_000);
      await sre.guard({ kind: "tool", agentId: "active", name: "ping" }, run);
    }
    const agents = Object.keys(sre.status().agents).sort();
    expect(agents).toEqual(["active", "busy", "jailed"]);
    expect(trackedBy(sre).tools).toBe(1); // "ping": "lookup" and "slow" were idle
    expect(sre.isQuarantined("jailed")).toBe(true);
    finish(1);
    await inFlight;
    expect(sre.status().agents.busy?.calls).toBe(1);
  });

  it("an evicted agent comes back with its quarantine and an evicted breaker with its OPEN state", async () => {
    const clock = new ManualClock(0);
    const sre = new AgentSRE({
      clock,
      memory: { idleMs: "2m" },
      breakers: { defaults: { failureThreshold: 1, recoveryTimeoutMs: 3_600_000 } },
    });
    await expect(
      sre.guard({ kind: "tool", agentId: "a", name: "flaky" }, () => Promise.reject(new Error("503"))),
    ).rejects.toThrow("503");
    expect(sre.breakers.get("tool:flaky").state).toBe("OPEN");
    for (let i = 0; i < 5; i++) {
      clock.advance(60_000);
      await sre.guard({ kind: "tool", agentId: "other", name: "ping" }, run);
    }
    expect(sre.breakers.peek("tool:flaky")).toBeUndefined();
    // Rebuilt from the state store: still open.
    await expect(sre.guard({ kind: "tool", agentId: "a", name: "flaky" }, run)).rejects.toMatchObject({
      code: "CIRCUIT_OPEN",
    });
  });

  it("rejects invalid bounds with the option's path", () => {
    expect(() => new AgentSRE({ memory: { maxAgents: 0 } })).toThrow(ConfigError);
    expect(() => new AgentSRE({ memory: { maxAgents: 0 } })).toThrow(/memory\.maxAgents/);
    expect(() => new AgentSRE({ memory: { idleMs: "soon" } as never })).toThrow(/memory\.idleMs/);
    expect(() => new AgentSRE({ memory: { maxAgent: 5 } as never })).toThrow(/memory\.maxAgent/);
  });
});
