import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentSRE } from "../engine/agent-sre.js";

function engine() {
  const clock = new ManualClock();
  const sre = new AgentSRE({
    clock,
    rogue: false,
    throttle: { mode: "reject" },
    breakers: { cascadeThreshold: 2, defaults: { failureThreshold: 1, recoveryTimeoutMs: 1_000 } },
    cascade: { actions: ["shed-retries", "open-upstream", "slow-new-tasks"], newTaskDelayMs: "2s" },
  });
  const seen: string[] = [];
  sre.on("cascade.response", (e) => seen.push(`response held=${e.held.join(",")}`));
  sre.on("cascade.lifted", () => seen.push("lifted"));
  return { clock, sre, seen };
}

const ok = () => "ok";

describe("cascade response", () => {
  it("sheds retries, holds the failing upstream open, slows new tasks, and lifts itself when breakers recover", async () => {
    const { clock, sre, seen } = engine();
    const call = (taskId: string, name: string, attempt = 1) => ({
      kind: "tool" as const,
      agentId: "a",
      taskId,
      name,
      attempt,
      ...(name === "search" ? { breakers: ["upstream:search-server"] } : {}),
    });
    expect(await sre.guard(call("t1", "search"), ok)).toBe("ok");
    // One failure opens tool:search and upstream:search-server: two open breakers make a cascade.
    await expect(
      sre.guard(call("t1", "search"), () => {
        throw new Error("upstream down");
      }),
    ).rejects.toThrow("upstream down");
    expect(seen).toEqual(["response held=upstream:search-server"]);
    expect(sre.breakers.get("upstream:search-server").isForcedOpen).toBe(true);

    await expect(sre.guard(call("t1", "notes", 2), ok)).rejects.toMatchObject({
      code: "RETRY_BUDGET_EXCEEDED",
      retryable: true,
    });
    await expect(sre.guard(call("t2", "notes"), ok)).rejects.toMatchObject({
      code: "AGENT_THROTTLED",
      retryAfterMs: 2_000,
    });
    // Work already under way goes on.
    expect(await sre.guard(call("t1", "notes"), ok)).toBe("ok");

    // The tool's breaker goes half-open: the cascade is over, the response lifts and releases the upstream.
    clock.advance(1_000);
    expect(await sre.guard(call("t1", "search"), ok)).toBe("ok");
    expect(seen).toEqual(["response held=upstream:search-server", "lifted"]);
    expect(sre.breakers.get("upstream:search-server").state).toBe("CLOSED");
    expect(await sre.guard(call("t1", "notes", 2), ok)).toBe("ok");
    expect(await sre.guard(call("t2", "notes"), ok)).toBe("ok");
  });

  it("validates its actions", () => {
    expect(() => new AgentSRE({ cascade: { actions: [] } })).toThrow(/cascade.actions/);
    expect(() => new AgentSRE({ cascade: { actions: ["panic" as never] } })).toThrow(/cascade.actions/);
  });

  it("counts tagged retries against the target's budget in the engine (default on)", async () => {
    const sre = new AgentSRE({
      clock: new ManualClock(),
      rogue: false,
      retryBudget: { ratio: 0.1, minRetries: 1 },
    });
    const first = { kind: "tool" as const, agentId: "a", name: "t" };
    for (let i = 0; i < 10; i++) await sre.guard(first, ok);
    // 1 + 0.1 × 10 = 2 retries.
    await sre.guard({ ...first, attempt: 2 }, ok);
    await sre.guard({ ...first, attempt: 3 }, ok);
    await expect(sre.guard({ ...first, attempt: 4 }, ok)).rejects.toMatchObject({
      code: "RETRY_BUDGET_EXCEEDED",
    });
    expect(sre.retryBudget?.snapshot().targets["tool:t"]).toEqual({
      firstAttempts: 10,
      retries: 2,
      retriesAllowed: 2,
    });
    expect(new AgentSRE({ retryBudget: false }).retryBudget).toBeUndefined();
  });

  it("lifts once when several breakers reach their recovery time together", async () => {
    const clock = new ManualClock();
    const sre = new AgentSRE({
      clock,
      rogue: false,
      breakers: { cascadeThreshold: 3, defaults: { failureThreshold: 1, recoveryTimeoutMs: 1_000 } },
      cascade: { actions: ["shed-retries"] },
    });
    const seen: string[] = [];
    sre.on("cascade.response", () => seen.push("response"));
    sre.on("cascade.lifted", () => seen.push("lifted"));
    sre.on("breaker.half_open", (e) => seen.push(`half_open ${e.breakerId}`));
    for (const name of ["a", "b", "c"]) sre.breakers.get(`tool:${name}`).recordFailure();
    expect(seen).toEqual(["response"]);
    clock.advance(1_000);
    // The next call finds all three due: each goes half-open as the states are read, and the response
    // lifts once (not once per breaker).
    expect(await sre.guard({ kind: "tool", agentId: "x", name: "a" }, ok)).toBe("ok");
    expect(seen.filter((e) => e === "lifted")).toEqual(["lifted"]);
    expect(seen.filter((e) => e.startsWith("half_open"))).toHaveLength(3);
    expect(sre.retryBudget?.shedding).toBe(false);
  });
});
