import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentSRE, ErrorRate, errorInjection, ManualClock, SLO } from "@agent-sre/core";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readSqliteState } from "./read-state.js";
import { SqliteStore } from "./sqlite-store.js";

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "agent-sre-sqlite-"));
  file = join(dir, "state", "state.db");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const line = (key: string, amount: number, limit: number, expiresAtMs = 1000) => ({
  key,
  amount,
  limit,
  expiresAtMs,
});

describe("SqliteStore", () => {
  it("reserves all lines or none, settles, adds, and keeps it all in the file", () => {
    const store = new SqliteStore(file);
    expect(store.reserve([line("a", 70, 100), line("b", 70, 100)]).ok).toBe(true);
    expect(store.reserve([line("c", 10, 100), line("a", 40, 100)])).toEqual({
      ok: false,
      index: 1,
      used: 70,
    });
    store.settle([
      { key: "a", reserved: 70, actual: 65 },
      { key: "b", reserved: 70, actual: 80 },
    ]);
    store.add("c", 5, Number.POSITIVE_INFINITY);
    store.close();

    const reopened = new SqliteStore(file);
    expect({ ...reopened.read("a") }).toMatchObject({ spent: 65, reserved: 0 });
    expect({ ...reopened.read("b") }).toMatchObject({ spent: 80, reserved: 0 });
    expect({ ...reopened.read("c") }).toMatchObject({ spent: 5, reserved: 0 });
    expect(reopened.reserve([line("a", 36, 100)]).ok).toBe(false);
    // `c` never expires; `a` and `b` go at their expiry.
    expect(reopened.expire(1000)).toBe(2);
    expect(reopened.read("a").spent).toBe(0);
    reopened.close();
    expect(readSqliteState(file).ledger.map((row) => row.key)).toEqual(["c"]);
  });

  it("releases reservations left by a writer that died, and keeps their spend", () => {
    const store = new SqliteStore(file);
    store.reserve([line("a", 40, 100)]);
    store.settle([{ key: "a", reserved: 40, actual: 30 }]);
    store.reserve([line("a", 50, 100)]); // the process dies with this call in flight
    const raw = new Database(file);
    raw.prepare("UPDATE owners SET pid = 999999999").run();
    raw.close();
    const next = new SqliteStore(file);
    expect({ ...next.read("a") }).toMatchObject({ spent: 30, reserved: 0 });
    next.close();
  });

  it("processes sharing a file share its limits, and see each other's state", async () => {
    const left = new SqliteStore(file, { pollIntervalMs: 5 });
    const right = new SqliteStore(file, { pollIntervalMs: 5 });
    expect(left.reserve([line("org", 60, 100)]).ok).toBe(true);
    expect(right.reserve([line("org", 50, 100)])).toEqual({ ok: false, index: 0, used: 60 });
    expect(right.reserve([line("org", 40, 100)]).ok).toBe(true);
    left.settle([{ key: "org", reserved: 60, actual: 55 }]);
    expect({ ...right.read("org") }).toEqual({ spent: 55, reserved: 40 });
    const seen = new Promise((resolve) => right.subscribe(resolve));
    left.putState("kill", "a", { reason: "budget" }, Number.POSITIVE_INFINITY);
    await expect(seen).resolves.toEqual({ kind: "kill", id: "a", value: { reason: "budget" } });
    expect(right.getState("kill", "a")).toEqual({ reason: "budget" });
    right.close();
    // `right` ended with 40 held: released; its spend (none) kept.
    expect({ ...left.read("org") }).toEqual({ spent: 55, reserved: 0 });
    left.close();
  });

  it("keeps state records with their expiry", () => {
    const store = new SqliteStore(file);
    store.putState("kill", "a", { reason: "budget", at: 1 }, 500);
    store.putState("breaker", "tool:x", { state: "OPEN" }, Number.POSITIVE_INFINITY);
    store.putState("quarantine", "q", { reason: "risk", at: 2 }, Number.POSITIVE_INFINITY);
    store.deleteState("quarantine", "q");
    store.close();
    const reopened = new SqliteStore(file);
    expect(reopened.getState("kill", "a")).toEqual({ reason: "budget", at: 1 });
    expect(reopened.listState("breaker")).toEqual([["tool:x", { state: "OPEN" }]]);
    expect(reopened.getState("quarantine", "q")).toBeUndefined();
    reopened.expire(500);
    expect(reopened.getState("kill", "a")).toBeUndefined();
    reopened.close();
  });

  it("an engine on a reopened file still refuses a killed agent with its spend", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 23, 9));
    const budget = { perAgentDailyLimitUsd: 1, killSwitchThreshold: 1, autoThrottle: false };
    const first = new AgentSRE({ clock, store: new SqliteStore(file), budget, rogue: false });
    const call = { kind: "tool", agentId: "spender", name: "t", estimate: { costUsd: 0.25 } } as const;
    for (let i = 0; i < 4; i++) await first.guard(call, async () => "ok");
    await expect(first.guard(call, async () => "ok")).rejects.toMatchObject({ code: "AGENT_KILLED" });
    (first.store as SqliteStore).close();
    const second = new AgentSRE({ clock, store: new SqliteStore(file), budget, rogue: false });
    await expect(second.guard(call, async () => "ok")).rejects.toMatchObject({ code: "AGENT_KILLED" });
    expect(second.budget.agentStatus("spender").spentTodayUsd).toBe(1);
    (second.store as SqliteStore).close();
  });

  it("an SLO's error budget survives a restart: the same burn, and EXHAUSTED freezes deployments again", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 23, 9));
    const slo = () =>
      new SLO({
        name: "checkout/calls",
        agentId: "checkout",
        indicators: [new ErrorRate({ name: "errors" })],
        errorBudget: { total: 0.1, windowMs: "1d", exhaustionAction: "FREEZE_DEPLOYMENTS" },
      });
    const engine = () => new AgentSRE({ clock, store: new SqliteStore(file), slos: [slo()], rogue: false });
    const first = engine();
    const call = { kind: "tool", agentId: "checkout", name: "pay" } as const;
    for (let i = 0; i < 10; i++) {
      await first.guard(call, async () => "ok");
      clock.advance(1_000);
    }
    for (let i = 0; i < 3; i++)
      await first.guard(call, async () => Promise.reject(new Error("declined"))).catch(() => {});
    first.slos.evaluateAll();
    const before = first.slos.get("checkout/calls")?.peek();
    expect(before).toMatchObject({ status: "EXHAUSTED", events: 13, badEvents: 3 });
    expect(first.deploymentsFrozen).toBe(true);
    first.flush(); // a planned shutdown
    (first.store as SqliteStore).close();

    const second = engine();
    expect(second.deploymentsFrozen).toBe(false); // until the first evaluation re-derives it from the counts
    const after = second.slos.get("checkout/calls")?.peek();
    expect(after).toMatchObject({ status: "EXHAUSTED", events: 13, badEvents: 3 });
    expect(after?.burnRates).toEqual(before?.burnRates);
    second.slos.evaluateAll();
    expect(second.deploymentsFrozen).toBe(true);
    // New events add to the restored ones.
    await second.guard(call, async () => "ok");
    expect(second.slos.get("checkout/calls")?.peek().events).toBe(14);

    // A crash (no flush): counts saved by evaluations at most once a minute survive; the rest is lost.
    clock.advance(60_000);
    await second.guard(call, async () => "ok");
    second.slos.evaluateAll(); // saves: a minute has passed since the restore
    await second.guard(call, async () => "ok"); // after the last save: lost in the crash
    (second.store as SqliteStore).close();
    const third = engine();
    expect(third.slos.get("checkout/calls")?.peek().events).toBe(15);
    (third.store as SqliteStore).close();
  });

  it("a chaos experiment keeps its deadline across a restart, and an abort is not lost or re-run", async () => {
    const clock = new ManualClock(Date.now());
    const engine = () => new AgentSRE({ clock, store: new SqliteStore(file), rogue: false });
    const experiment = {
      name: "search-outage",
      targetAgent: "researcher",
      faults: [errorInjection("tool:search", { rate: 1 })],
      durationMs: 600_000,
    };
    const call = { kind: "tool", agentId: "researcher", name: "search" } as const;
    const first = engine();
    first.chaos.start(experiment);
    await expect(first.guard(call, async () => "ok")).rejects.toMatchObject({ code: "CHAOS_INJECTED" });
    first.flush();
    (first.store as SqliteStore).close();

    clock.advance(60_000);
    const second = engine(); // the application starts its experiment again after the restart
    const resumed = second.chaos.start(experiment);
    expect(resumed.report()).toMatchObject({
      state: "running",
      injectedTotal: 1,
      endsAt: clock.now() + 540_000,
    });
    await expect(second.guard(call, async () => "ok")).rejects.toMatchObject({ code: "CHAOS_INJECTED" });
    second.chaos.abort("search-outage", "on-call stopped it");
    (second.store as SqliteStore).close(); // no flush(): the abort was written when it happened

    const third = engine();
    const again = third.chaos.start(experiment);
    expect(again.state).toBe("aborted");
    expect(again.abortReason).toBe("on-call stopped it");
    await expect(third.guard(call, async () => "ok")).resolves.toBe("ok");
    (third.store as SqliteStore).close();
  });

  it("a breaker's failure-rate window survives a planned restart: the next failure opens it as before", async () => {
    const clock = new ManualClock(Date.now());
    const breakers = {
      defaults: { window: { type: "count", size: 10, minimumCalls: 4, failureRateThreshold: 0.5 } },
    } as const;
    const engine = () => new AgentSRE({ clock, store: new SqliteStore(file), breakers, rogue: false });
    const call = { kind: "tool", agentId: "researcher", name: "search" } as const;
    const fail = async (sre: AgentSRE) =>
      sre.guard(call, async () => Promise.reject(new Error("503 from search"))).catch((error) => error);
    const first = engine();
    await first.guard(call, async () => "ok");
    await fail(first);
    await fail(first);
    first.flush(); // a planned shutdown writes the window (1 ok, 2 failed)
    (first.store as SqliteStore).close();

    const second = engine();
    await second.guard(call, async () => "ok");
    await fail(second); // 3 failures in 5 calls: 60 % >= 50 %
    await expect(second.guard(call, async () => "ok")).rejects.toMatchObject({ code: "CIRCUIT_OPEN" });
    (second.store as SqliteStore).close();
  });
});
