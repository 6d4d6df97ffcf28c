import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentSRE } from "../engine/agent-sre.js";
import type { LedgerBalance, LedgerLine, LedgerStore, SettleLine } from "../store/ledger-store.js";
import { MemoryStore } from "../store/memory-store.js";
import { CostGuard } from "./cost-guard.js";

// The keys (and, in a MemoryStore, the rows) an agent's reservations hold are kept on the agent and reused
// (issue 18): a call looks no ledger key up by its string once the agent's keys are known, and rows that
// `expire` freed or moved are never used again.

const START = Date.UTC(2026, 11, 6, 12);
const HOUR = 3_600_000;
const MINUTE = 60_000;

/** Counts `Map#get` calls made while `fn` runs. */
function mapLookups(fn: () => void): number {
  const get = Map.prototype.get;
  let count = 0;
  Map.prototype.get = function (this: Map<unknown, unknown>, key: unknown) {
    count++;
    return get.call(this, key);
  };
  try {
    fn();
  } finally {
    Map.prototype.get = get;
  }
  return count;
}

describe("held keys and rows", () => {
  it("a repeated call of one agent and task looks up only the agent, not its ledger keys", () => {
    const clock = new ManualClock(START);
    const guard = new CostGuard({ clock, anomalyDetection: false, perAgentDailyLimitUsd: 100 });
    const call = () => {
      const held = guard.reserveCall("a", "t", 0.01, 100, clock.now());
      guard.commitUnread(held, 0.004, 80, clock.now());
    };
    call();
    // None: the agent of the call before is kept while the agent table has not turned over (before: one
    // lookup of the agent a call; before that 6 keys reserved, 6 settled, 2 reads).
    expect(mapLookups(call)).toBe(0);
    expect(guard.agentStatus("a")).toMatchObject({ spentTodayUsd: 0.008, tokensToday: 160 });
  });

  it("a reservation reads its agent, task and guard from the held keys it shares with the agent's others", () => {
    const clock = new ManualClock(START);
    const guard = new CostGuard({ clock, anomalyDetection: false });
    const other = new CostGuard({ clock, anomalyDetection: false });
    const first = guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 0.5, estimatedTokens: 7 });
    const second = guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 0.25 });
    const untasked = guard.reserve({ agentId: "a", estimatedCostUsd: 0.125 });
    expect(JSON.parse(JSON.stringify(first))).toEqual({
      agentId: "a",
      taskId: "t",
      reservedUsd: 0.5,
      reservedTokens: 7,
      state: "open",
    });
    expect([second.agentId, second.taskId, second.reservedUsd, second.reservedTokens]).toEqual([
      "a",
      "t",
      0.25,
      0,
    ]);
    expect([untasked.taskId, untasked.reservedUsd]).toEqual([undefined, 0.125]);
    // Another guard's reservation is committed by its own guard, whichever guard is handed it.
    const foreign = other.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 1 });
    guard.commitUnread(foreign, 0.75, 3, clock.now());
    expect(foreign.state).toBe("committed");
    expect(other.agentStatus("a").spentTodayUsd).toBe(0.75);
    first.commit(0.5);
    second.release();
    untasked.commit(0.125);
    expect(guard.agentStatus("a").spentTodayUsd).toBe(0.625);
    expect(() => first.commit(0.5)).toThrow(/open reservation/);
  });

  it("the agent kept from the call before is the table's: another agent, a turn-over, a new day", () => {
    const clock = new ManualClock(START);
    // Two agents at most: the table turns over when its current generation holds one.
    const guard = new CostGuard({
      clock,
      anomalyDetection: false,
      perAgentDailyLimitUsd: 100,
      memory: { maxAgents: 2, idleMs: "1h" },
    });
    const spend = (agentId: string, usd: number) =>
      guard.reserveCall(agentId, undefined, usd, 0, clock.now()).commit(usd);
    spend("a", 0.25);
    spend("a", 0.25);
    spend("b", 0.125); // adds b (a turn-over: a is in the previous generation)
    spend("a", 0.25); // a is found again (moved back), not a new record
    expect(guard.agentStatus("a").spentTodayUsd).toBe(0.75);
    expect(guard.agentStatus("b").spentTodayUsd).toBe(0.125);
    // Past the table's idle time (two turn-overs): a is kept (today's spend lives here), found, not made anew.
    clock.advance(2 * HOUR);
    spend("a", 0.25);
    spend("a", 0.25);
    expect(guard.agentStatus("a").spentTodayUsd).toBe(1.25);
    // A new day: the kept agent rolls to it (today's spend starts at zero).
    clock.advance(24 * HOUR);
    spend("a", 0.5);
    expect(guard.agentStatus("a").spentTodayUsd).toBe(0.5);
    expect(guard.agentStatus("b").spentTodayUsd).toBe(0);
    // An invalid id is refused as ever, before and after a turn-over (nothing kept matches it).
    expect(() => guard.reserveCall("", undefined, 0.1, 0, clock.now())).toThrow(/agentId/);
    clock.advance(HOUR);
    guard.reserve({ agentId: "c", estimatedCostUsd: 0.1 }).release();
    clock.advance(HOUR);
    expect(() => guard.reserveCall("", undefined, 0.1, 0, clock.now())).toThrow(/agentId/);
  });

  it("rows freed by expire (a task past its TTL while a reservation was open) are not written through", () => {
    const clock = new ManualClock(START);
    const store = new MemoryStore();
    const guard = new CostGuard({ clock, store, anomalyDetection: false, taskTtl: "1h", perTaskLimitUsd: 5 });
    guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 1, estimatedTokens: 10 }).commit(1);
    const open = guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 2, estimatedTokens: 20 });
    const epoch = store.epoch;
    // The task's keys expire while the reservation is open; another agent's new task takes their rows.
    clock.advance(HOUR + MINUTE);
    guard.reserve({ agentId: "b", taskId: "u", estimatedCostUsd: 3, estimatedTokens: 30 }).commit(3, {
      tokens: 30,
    });
    expect(store.epoch).toBeGreaterThan(epoch);
    open.commit(0.5, { tokens: 5 });
    // b's task holds exactly b's spend: a's late commit went to a's own (recreated) key.
    expect(store.read("task:1:b:u")).toEqual({ spent: 3_000_000, reserved: 0 });
    expect(store.read("task-tokens:1:b:u")).toEqual({ spent: 30, reserved: 0 });
    expect(store.read("task:1:a:t")).toEqual({ spent: 500_000, reserved: 0 });
    expect(guard.agentStatus("a")).toMatchObject({ spentTodayUsd: 1.5, reservedTodayUsd: 0 });
    expect(guard.agentStatus("b")).toMatchObject({ spentTodayUsd: 3, reservedTodayUsd: 0 });
    // a's next call finds its keys again (its kept rows are stale), and its task limit counts from zero.
    expect(guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 4.5 }).state).toBe("open");
    expect(store.read("task:1:a:t")).toEqual({ spent: 500_000, reserved: 4_500_000 });
  });

  it("switching tasks, a call without a task, and a new day each hold their own keys", () => {
    const clock = new ManualClock(START);
    const store = new MemoryStore();
    const guard = new CostGuard({ clock, store, anomalyDetection: false, perTaskLimitUsd: 2 });
    for (const taskId of ["t1", "t2", undefined, "t1"]) {
      guard.reserve({ agentId: "a", taskId, estimatedCostUsd: 0.5 }).commit(0.25);
    }
    expect(store.read("task:1:a:t1").spent).toBe(500_000);
    expect(store.read("task:1:a:t2").spent).toBe(250_000);
    expect(guard.agentStatus("a").spentTodayUsd).toBe(1);
    // An open reservation across midnight settles on the day it was held in.
    const late = guard.reserve({ agentId: "a", taskId: "t2", estimatedCostUsd: 0.5 });
    clock.advance(13 * HOUR);
    guard.reserve({ agentId: "a", taskId: "t2", estimatedCostUsd: 0.5 }).commit(0.1);
    late.commit(0.3);
    expect(guard.agentStatus("a")).toMatchObject({ spentTodayUsd: 0.1, reservedTodayUsd: 0 });
    expect(store.read("task:1:a:t2").spent).toBe(650_000);
    expect(guard.agentStatus("a").spentThisMonthUsd).toBe(1.4);
  });

  it("a store that is not exactly a MemoryStore is called by key (reserve / settle / read)", () => {
    const calls: string[] = [];
    class Counting extends MemoryStore {
      override reserve(lines: readonly LedgerLine[]) {
        calls.push(`reserve ${lines.length}`);
        return super.reserve(lines);
      }
      override settle(lines: readonly SettleLine[]) {
        calls.push(`settle ${lines.length}`);
        super.settle(lines);
      }
    }
    const store: LedgerStore & { read(key: string): LedgerBalance } = new Counting();
    const clock = new ManualClock(START);
    const guard = new CostGuard({ clock, store, anomalyDetection: false });
    guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 1, estimatedTokens: 5 }).commit(0.5);
    guard.reserve({ agentId: "a", estimatedCostUsd: 1 }).release();
    expect(calls).toEqual(["reserve 6", "settle 6", "reserve 4", "settle 4"]);
    expect(store.read("task:1:a:t")).toEqual({ spent: 500_000, reserved: 0 });
    expect(guard.agentStatus("a")).toMatchObject({ spentTodayUsd: 0.5, reservedTodayUsd: 0, tokensToday: 5 });
  });
});

const slotsOf = (keys: string[]): Array<string | number> => keys.flatMap((key) => [key, -1]);
const rowsOf = (slots: Array<string | number>): number[] =>
  slots.filter((_, i) => i % 2 === 1).map((row) => row as number);

describe("unreserved spend (recordCost)", () => {
  it("records on the held keys: exact balances, no ledger key looked up again, expiries kept", () => {
    const clock = new ManualClock(START);
    const store = new MemoryStore();
    const guard = new CostGuard({ clock, store, anomalyDetection: false, taskTtl: "1h" });
    guard.recordCost({ agentId: "a", taskId: "t", costUsd: 0.25, tokens: 10 });
    const record = () => guard.recordCost({ agentId: "a", taskId: "t", costUsd: 0.25, tokens: 10 });
    expect(mapLookups(record)).toBe(0);
    // A reservation and a commit on the same keys, then more unreserved spend without a task.
    guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 1 }).commit(0.5, { tokens: 5 });
    guard.recordCost({ agentId: "a", costUsd: 0.125 });
    expect(store.read("task:1:a:t")).toEqual({ spent: 1_000_000, reserved: 0 });
    expect(store.read("task-tokens:1:a:t")).toEqual({ spent: 25, reserved: 0 });
    expect(guard.agentStatus("a")).toMatchObject({ spentTodayUsd: 1.125, tokensToday: 25 });
    // The task's keys were touched last an hour ago: the sweep drops them, the day's stay.
    clock.advance(HOUR + MINUTE);
    guard.recordCost({ agentId: "b", costUsd: 0.5 });
    expect(store.read("task:1:a:t")).toEqual({ spent: 0, reserved: 0 });
    expect(guard.agentStatus("a").spentTodayUsd).toBe(1.125);
  });

  it("a model call without a budget reads the clock twice (its start and end), as with one", async () => {
    let reads = 0;
    let t = START;
    const clock = {
      now: () => {
        reads++;
        return t;
      },
    };
    const usage = { inputTokens: 1200, outputTokens: 300 };
    const call = {
      kind: "model" as const,
      agentId: "a",
      taskId: "t",
      name: "gpt-4o",
      provider: "openai",
      estimate: { inputTokens: 1200, outputTokens: 1000 },
      usage: () => usage,
    };
    for (const budget of [undefined, { perAgentDailyLimitUsd: 100 }]) {
      const sre = new AgentSRE({ clock, ...(budget === undefined ? {} : { budget }) });
      await sre.guard(call, async () => "ok");
      reads = 0;
      for (let i = 0; i < 10; i++) {
        t += 1_000;
        await sre.guard(call, async () => "ok");
      }
      expect(reads).toBe(20);
      // 11 calls of 1,200 input and 300 output tokens, priced and recorded.
      expect(sre.budget.agentStatus("a").tokensToday).toBe(11 * 1_500);
    }
  });
});

describe("MemoryStore rows", () => {
  const keys = ["m1", "m2", "t1"];
  const limits = [100, Number.POSITIVE_INFINITY, 50];
  const expiries = [1000, 1000, 1000];

  it("reserveRows holds all or nothing, writes the rows back, and settleRows settles by row or by key", () => {
    const store = new MemoryStore();
    const slots = slotsOf(keys);
    expect(store.reserveRows(slots, 3, 2, 60, 30, limits, expiries)).toEqual({ ok: true });
    expect(rowsOf(slots).every((row) => row >= 0)).toBe(true);
    expect(store.reserveRows(slots, 3, 2, 50, 30, limits, expiries)).toEqual({
      ok: false,
      index: 0,
      used: 60,
    });
    expect(store.read("t1")).toMatchObject({ spent: 0, reserved: 30 });
    store.settleRows(slots, true, 3, 2, 60, 70, 30, 40);
    expect(store.read("m1")).toEqual({ spent: 70, reserved: 0 });
    expect(store.read("t1")).toEqual({ spent: 40, reserved: 0 });
    // Without rows: by key, and a key without a row is made only for something spent.
    const stale = [...slotsOf(["m1", "none", "zero"])];
    stale[1] = 99; // a stale row: not used, not written
    store.settleRows(stale, false, 3, 2, 0, 5, 0, 0);
    expect(stale[1]).toBe(99);
    expect(store.read("m1").spent).toBe(75);
    expect(store.read("none").spent).toBe(5);
    expect(store.size).toBe(4);
  });

  it("rows made while the cells grow land where they are read (reserveRows, settleRows, addRows)", () => {
    const store = new MemoryStore();
    const many = Array.from({ length: 70 }, (_, i) => `k${i}`);
    const slots = slotsOf(many);
    const ones = many.map(() => 1);
    const limit = many.map(() => Number.POSITIVE_INFINITY);
    expect(store.reserveRows(slots, 70, 35, 3, 4, limit, ones)).toEqual({ ok: true });
    expect(store.rowCapacity).toBeGreaterThanOrEqual(70);
    const fresh = slotsOf(many.map((key) => `s${key}`));
    store.settleRows(fresh, true, 70, 35, 0, 5, 0, 6);
    store.addRows(slotsOf(many.map((key) => `a${key}`)), 70, 35, 7, 8, ones);
    for (const [i, key] of many.entries()) {
      expect(store.read(key)).toEqual({ spent: 0, reserved: i < 35 ? 3 : 4 });
      expect(store.read(`s${key}`).spent).toBe(i < 35 ? 5 : 6);
      expect(store.read(`a${key}`).spent).toBe(i < 35 ? 7 : 8);
    }
  });

  it("addRows adds spend, keeps the latest expiry, and makes no row for nothing", () => {
    const store = new MemoryStore();
    const slots = slotsOf(keys);
    store.addRows(slots, 3, 2, 5, 0, [10, 2000, 10]);
    expect(rowsOf(slots)[2]).toBe(-1);
    store.addRows(slots, 3, 2, 5, 7, [20, 1000, 20]);
    expect(store.read("m1").spent).toBe(10);
    expect(store.read("t1").spent).toBe(7);
    expect(store.expire(19)).toBe(0);
    expect(store.expire(20)).toBe(2);
    expect(store.read("m2").spent).toBe(10);
  });

  it("a zero amount on a key without a row makes no row; expire that drops rows changes the epoch", () => {
    const store = new MemoryStore();
    const slots = slotsOf(keys);
    store.reserveRows(slots, 3, 2, 0, 0, limits, [10, 2000, 10]);
    expect(rowsOf(slots)).toEqual([-1, -1, -1]);
    expect(store.size).toBe(0);
    store.reserveRows(slots, 3, 2, 1, 1, limits, [10, 2000, 10]);
    const epoch = store.epoch;
    expect(store.expire(5)).toBe(0);
    expect(store.epoch).toBe(epoch);
    expect(store.expire(10)).toBe(2);
    expect(store.epoch).toBe(epoch + 1);
    expect(store.rowOf("m2")).toBe(rowsOf(slots)[1]);
    expect(store.rowOf("m1")).toBe(-1);
    expect(store.spentAt(-1)).toBe(0);
  });
});
