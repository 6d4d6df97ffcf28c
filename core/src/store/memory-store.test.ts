import { describe, expect, it } from "vitest";
import { exceedsLimit, type LedgerLine } from "./ledger-store.js";
import { MemoryStore } from "./memory-store.js";

const line = (key: string, amount: number, limit: number, expiresAtMs = 1000): LedgerLine => ({
  key,
  amount,
  limit,
  expiresAtMs,
});

describe("exceedsLimit", () => {
  it("lets a reservation end exactly at the limit and refuses past it", () => {
    expect(exceedsLimit(60, 40, 100)).toBe(false);
    expect(exceedsLimit(60, 41, 100)).toBe(true);
    expect(exceedsLimit(0, 5, Number.POSITIVE_INFINITY)).toBe(false);
  });

  it("refuses a zero amount only when nothing is left", () => {
    expect(exceedsLimit(99, 0, 100)).toBe(false);
    expect(exceedsLimit(100, 0, 100)).toBe(true);
    expect(exceedsLimit(0, 0, 0)).toBe(true);
    expect(exceedsLimit(1e15, 0, Number.POSITIVE_INFINITY)).toBe(false);
  });
});

describe("MemoryStore", () => {
  it("reserves every line or none, reporting the first that does not fit", () => {
    const store = new MemoryStore();
    expect(store.reserve([line("a", 70, 100), line("b", 70, 100)])).toEqual({ ok: true });
    const refused = store.reserve([line("c", 10, 100), line("a", 40, 100), line("b", 50, 100)]);
    expect(refused).toEqual({ ok: false, index: 1, used: 70 });
    expect(store.read("c")).toMatchObject({ spent: 0, reserved: 0 });
    expect(store.read("a")).toMatchObject({ spent: 0, reserved: 70 });
    expect(store.size).toBe(2);
  });

  it("settles held amounts into spend, recording more than was held", () => {
    const store = new MemoryStore();
    store.reserve([line("a", 50, 100)]);
    store.settle([{ key: "a", reserved: 50, actual: 20 }]);
    expect(store.read("a")).toMatchObject({ spent: 20, reserved: 0 });
    store.reserve([line("a", 30, 100)]);
    store.settle([{ key: "a", reserved: 30, actual: 45 }]);
    expect(store.read("a")).toMatchObject({ spent: 65, reserved: 0 });
    expect(store.reserve([line("a", 36, 100)]).ok).toBe(false);
  });

  it("adds unreserved spend", () => {
    const store = new MemoryStore();
    store.add("a", 7, 10);
    store.add("a", 8, 10);
    expect(store.read("a")).toMatchObject({ spent: 15, reserved: 0 });
  });

  it("expires keys at their latest expiry", () => {
    const store = new MemoryStore();
    store.reserve([line("short", 1, 10, 100), line("long", 1, 10, 100)]);
    store.add("long", 1, 500);
    expect(store.expire(99)).toBe(0);
    expect(store.expire(100)).toBe(1);
    expect(store.read("short")).toMatchObject({ spent: 0, reserved: 0 });
    expect(store.read("long").spent).toBe(1);
    expect(store.expire(500)).toBe(1);
    expect(store.size).toBe(0);
  });

  it("tolerates a settlement after its key expired, and drops it again at the next expiry", () => {
    const store = new MemoryStore();
    store.reserve([line("a", 5, 10, 100)]);
    store.expire(100);
    store.settle([{ key: "a", reserved: 5, actual: 3 }]);
    expect(store.read("a")).toMatchObject({ spent: 3, reserved: 0 });
    expect(store.expire(101)).toBe(1);
  });

  it("does not keep the caller's line objects", () => {
    const store = new MemoryStore();
    const reused = line("a", 10, 100);
    store.reserve([reused]);
    reused.key = "b";
    reused.amount = 99;
    expect(store.read("a").reserved).toBe(10);
    expect(store.read("b").reserved).toBe(0);
  });
});
