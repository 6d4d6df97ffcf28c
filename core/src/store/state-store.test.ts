import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentSRE, type AgentSREOptions } from "../engine/agent-sre.js";
import { MemoryStore } from "./memory-store.js";
import type { StateChange, StateValue } from "./state-store.js";

const START = Date.UTC(2026, 10, 23, 9, 0, 0);

/** Two stores that see each other's writes, as two processes sharing a Redis store do (the broadcast). */
class LinkedStore extends MemoryStore {
  peer: LinkedStore | undefined;
  readonly #listeners: Array<(change: StateChange) => void> = [];

  override putState(kind: string, id: string, value: StateValue, expiresAtMs: number): void {
    super.putState(kind, id, value, expiresAtMs);
    this.peer?.receive({ kind, id, value }, expiresAtMs);
  }

  override deleteState(kind: string, id: string): void {
    super.deleteState(kind, id);
    this.peer?.receive({ kind, id, value: undefined }, 0);
  }

  override subscribe(listener: (change: StateChange) => void): () => void {
    this.#listeners.push(listener);
    return () => {};
  }

  receive(change: StateChange, expiresAtMs: number): void {
    if (change.value === undefined) super.deleteState(change.kind, change.id);
    else super.putState(change.kind, change.id, change.value, expiresAtMs);
    for (const listener of this.#listeners) listener(change);
  }
}

const budget: AgentSREOptions["budget"] = {
  perAgentDailyLimitUsd: 1,
  perTaskLimitUsd: 10,
  killSwitchThreshold: 0.9,
  autoThrottle: false,
};
const toolCall = (agentId: string, costUsd = 0.3) =>
  ({ kind: "tool", agentId, name: "search", estimate: { costUsd } }) as const;

describe("state store seam", () => {
  it("a new engine on the same store keeps kills, spend, quarantines and breaker states (a restart)", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const first = new AgentSRE({
      clock,
      store,
      budget,
      rogue: false,
      breakers: { defaults: { failureThreshold: 2 } },
    });
    for (let i = 0; i < 4; i++) await first.guard(toolCall("spender"), async () => "ok").catch(() => {});
    expect(first.budget.isKilled("spender")).toBe(true);
    first.quarantine("rogue", "exfiltration attempt");
    const failing = { kind: "tool", agentId: "a", name: "flaky" } as const;
    for (let i = 0; i < 2; i++)
      await first.guard(failing, async () => Promise.reject(new Error("down"))).catch(() => {});
    expect(first.breakers.get("tool:flaky").state).toBe("OPEN");
    const openedAt = first.breakers.get("tool:flaky").snapshot().openedAt;

    clock.advance(10_000);
    const second = new AgentSRE({
      clock,
      store,
      budget,
      rogue: false,
      breakers: { defaults: { failureThreshold: 2 } },
    });
    // Asked before any call: what the store holds, not what this process has seen.
    expect(second.budget.isKilled("spender")).toBe(true);
    expect(second.budget.isKilled("never-seen")).toBe(false);
    expect(second.isQuarantined("rogue")).toBe(true);
    await expect(second.guard(toolCall("spender"), async () => "ok")).rejects.toMatchObject({
      code: "AGENT_KILLED",
    });
    expect(second.budget.agentStatus("spender").spentTodayUsd).toBe(0.9);
    await expect(second.guard(toolCall("rogue"), async () => "ok")).rejects.toMatchObject({
      code: "AGENT_QUARANTINED",
      reason: "exfiltration attempt",
    });
    const breaker = second.breakers.get("tool:flaky");
    expect(breaker.snapshot()).toMatchObject({ state: "OPEN", openedAt });
    // The recovery timeout (30 s by default) runs from the original opening, not from the restart.
    clock.advance(20_000);
    expect(breaker.state).toBe("HALF_OPEN");
    await second.guard(failing, async () => "recovered");
    expect(breaker.state).toBe("CLOSED");

    second.revive("spender");
    second.release("rogue");
    const third = new AgentSRE({ clock, store, budget });
    expect(third.budget.isKilled("spender")).toBe(false);
    expect(third.isQuarantined("rogue")).toBe(false);
    expect(third.breakers.get("tool:flaky").state).toBe("CLOSED");
  });

  it("an operator revives or unthrottles an agent the restarted process has not seen call yet", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const first = new AgentSRE({ clock, store, budget });
    first.kill("a", "operator stop");
    first.budget.throttle("b", "noisy");
    const second = new AgentSRE({ clock, store, budget });
    const revived: string[] = [];
    second.on("budget.revive", (event) => revived.push(event.agentId ?? "org"));
    expect(second.budget.revive("a")).toBe(true);
    expect(revived).toEqual(["a"]);
    expect(second.budget.unthrottle("b")).toBe(true);
    const third = new AgentSRE({ clock, store, budget });
    await expect(third.guard(toolCall("a"), async () => "ok")).resolves.toBe("ok");
    expect(third.budget.agentStatus("b").throttled).toBe(false);
  });

  it("a kill lapses with its day", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const first = new AgentSRE({ clock, store, budget });
    first.kill("a", "operator stop");
    expect(first.budget.isKilled("a")).toBe(true);
    clock.advance(86_400_000);
    const second = new AgentSRE({ clock, store, budget });
    expect(second.budget.isKilled("a")).toBe(false);
  });

  it("kills, throttles, quarantines and breaker openings made in one engine apply in another at once", async () => {
    const left = new LinkedStore();
    const right = new LinkedStore();
    left.peer = right;
    right.peer = left;
    const clock = new ManualClock(START);
    const a = new AgentSRE({ clock, store: left, budget, throttle: { mode: "reject" } });
    const b = new AgentSRE({ clock, store: right, budget, throttle: { mode: "reject" }, rogue: false });
    await b.guard(toolCall("x", 0.01), async () => "ok");

    a.kill("x", "operator stop");
    await expect(b.guard(toolCall("x", 0.01), async () => "ok")).rejects.toMatchObject({
      code: "AGENT_KILLED",
    });
    a.revive("x");
    await expect(b.guard(toolCall("x", 0.01), async () => "ok")).resolves.toBe("ok");

    a.quarantine("x", "risk HIGH");
    await expect(b.guard(toolCall("x", 0.01), async () => "ok")).rejects.toMatchObject({
      code: "AGENT_QUARANTINED",
    });
    a.release("x");
    await expect(b.guard(toolCall("x", 0.01), async () => "ok")).resolves.toBe("ok");

    a.budget.throttle("x", "SLO burn");
    expect(b.budget.isThrottled("x")).toBe(true);
    a.budget.unthrottle("x");
    expect(b.budget.isThrottled("x")).toBe(false);

    const upstream = b.breakers.get("upstream:files");
    a.breakers.get("upstream:files").forceOpen("maintenance");
    expect(upstream.state).toBe("OPEN");
    expect(upstream.isForcedOpen).toBe(true);
    a.breakers.get("upstream:files").reset();
    expect(upstream.state).toBe("CLOSED");
  });

  it("rejects a store without state methods", () => {
    expect(() => new AgentSRE({ store: { reserve() {} } as never })).toThrow(/store/);
  });
});
