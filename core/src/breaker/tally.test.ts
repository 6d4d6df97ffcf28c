import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentSRE } from "../engine/agent-sre.js";
import { CircuitOpenError } from "../errors.js";
import { BreakerRegistry } from "./registry.js";

describe("BreakerRegistry.allClosed: the count of breakers not CLOSED", () => {
  it("follows every transition of every policy (defaults and overrides), and a restored state", () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({
      clock,
      defaults: { failureThreshold: 2, recoveryTimeoutMs: 1_000, halfOpenMaxCalls: 1 },
      overrides: { "tool:*": { failureThreshold: 1, recoveryTimeoutMs: 500 } },
    });
    const agent = registry.get("agent:a");
    const tool = registry.get("tool:search");
    expect(registry.allClosed).toBe(true);
    tool.recordFailure();
    expect(tool.state).toBe("OPEN");
    expect(registry.allClosed).toBe(false);
    agent.forceOpen("test");
    expect(registry.allClosed).toBe(false);
    agent.reset();
    expect(registry.allClosed).toBe(false); // the tool's is still open
    clock.advance(600);
    expect(tool.tryAcquire()).toBe(2); // HALF_OPEN probe
    expect(registry.allClosed).toBe(false);
    tool.onSuccess(2, 1);
    expect(tool.state).toBe("CLOSED");
    expect(registry.allClosed).toBe(true);
    // A state taken over from the store (no transition reported) counts too.
    const saved = { ...agent.saveState(), state: "OPEN" as const, openUntilMs: clock.now() + 1_000 };
    agent.restoreState(saved);
    expect(registry.allClosed).toBe(false);
    agent.restoreState({ ...saved, state: "CLOSED", openUntilMs: null, openedAt: null });
    expect(registry.allClosed).toBe(true);
  });

  it("the engine still refuses an agent whose breaker is open, and admits the others' calls", async () => {
    const clock = new ManualClock();
    const sre = new AgentSRE({ clock });
    const run = async () => "ok";
    await expect(sre.guard({ kind: "tool", agentId: "a", name: "t" }, run)).resolves.toBe("ok");
    sre.breakers.get("agent:a").forceOpen("test");
    await expect(sre.guard({ kind: "tool", agentId: "a", name: "t" }, run)).rejects.toBeInstanceOf(
      CircuitOpenError,
    );
    await expect(sre.guard({ kind: "tool", agentId: "b", name: "t" }, run)).resolves.toBe("ok");
    sre.breakers.get("agent:a").reset();
    expect(sre.breakers.allClosed).toBe(true);
    await expect(sre.guard({ kind: "tool", agentId: "a", name: "t" }, run)).resolves.toBe("ok");
  });
});
