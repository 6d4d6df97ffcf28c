import fc from "fast-check";
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

  it("reuses the rows of expired keys and shrinks its columns once most keys expired", () => {
    const store = new MemoryStore();
    for (let i = 0; i < 1_000; i++) store.add(`k${i}`, i + 1, i < 990 ? 100 : 200);
    const grown = store.rowCapacity;
    expect(grown).toBeGreaterThanOrEqual(1_000);
    expect(store.expire(100)).toBe(990);
    expect(store.rowCapacity).toBeLessThan(grown / 4);
    for (let i = 990; i < 1_000; i++) expect(store.read(`k${i}`)).toEqual({ spent: i + 1, reserved: 0 });
    expect(store.read("k5")).toEqual({ spent: 0, reserved: 0 });
    // New keys after a compaction start from zero, the old ones keep their balances.
    store.reserve([line("k5", 3, 10, 300), line("k995", 4, 10_000, 300)]);
    expect(store.read("k5")).toEqual({ spent: 0, reserved: 3 });
    expect(store.read("k995")).toEqual({ spent: 996, reserved: 4 });
    expect(store.size).toBe(11);
  });

  it("keeps the same balances as a plain model over any sequence of operations (property)", () => {
    const keys = ["a", "b", "c", "d", "e", "f"];
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("reserve" as const),
        keys: fc.uniqueArray(fc.constantFrom(...keys), { minLength: 1, maxLength: 4 }),
        amount: fc.integer({ min: 0, max: 50 }),
        expiresAtMs: fc.integer({ min: 0, max: 100 }),
      }),
      fc.record({
        kind: fc.constant("settle" as const),
        key: fc.constantFrom(...keys),
        reserved: fc.integer({ min: 0, max: 50 }),
        actual: fc.integer({ min: 0, max: 80 }),
      }),
      fc.record({
        kind: fc.constant("add" as const),
        key: fc.constantFrom(...keys),
        amount: fc.integer({ min: 0, max: 30 }),
        expiresAtMs: fc.integer({ min: 0, max: 100 }),
      }),
      fc.record({ kind: fc.constant("expire" as const), beforeMs: fc.integer({ min: 0, max: 100 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const store = new MemoryStore();
        const model = new Map<string, { spent: number; reserved: number; expiresAtMs: number }>();
        for (const o of ops) {
          if (o.kind === "reserve") {
            const lines = o.keys.map((key) => line(key, o.amount, 120, o.expiresAtMs));
            const fits = o.keys.every((key) => {
              const entry = model.get(key);
              return !exceedsLimit(entry === undefined ? 0 : entry.spent + entry.reserved, o.amount, 120);
            });
            expect(store.reserve(lines).ok).toBe(fits);
            if (fits) {
              for (const key of o.keys) {
                // Holding 0 on a key without a balance leaves no key; on a key with one it extends its expiry.
                const entry =
                  model.get(key) ??
                  (o.amount === 0 ? undefined : { spent: 0, reserved: 0, expiresAtMs: o.expiresAtMs });
                if (entry === undefined) continue;
                entry.reserved += o.amount;
                entry.expiresAtMs = Math.max(entry.expiresAtMs, o.expiresAtMs);
                model.set(key, entry);
              }
            }
          } else if (o.kind === "settle") {
            store.settle([{ key: o.key, reserved: o.reserved, actual: o.actual }]);
            const entry =
              model.get(o.key) ?? (o.actual === 0 ? undefined : { spent: 0, reserved: 0, expiresAtMs: 0 });
            if (entry !== undefined) {
              entry.reserved = Math.max(0, entry.reserved - o.reserved);
              entry.spent += o.actual;
              model.set(o.key, entry);
            }
          } else if (o.kind === "add") {
            store.add(o.key, o.amount, o.expiresAtMs);
            const entry =
              model.get(o.key) ??
              (o.amount === 0 ? undefined : { spent: 0, reserved: 0, expiresAtMs: o.expiresAtMs });
            if (entry !== undefined) {
              entry.spent += o.amount;
              entry.expiresAtMs = Math.max(entry.expiresAtMs, o.expiresAtMs);
              model.set(o.key, entry);
            }
          } else {
            let dropped = 0;
            for (const [key, entry] of model) {
              if (entry.expiresAtMs <= o.beforeMs) {
                model.delete(key);
                dropped++;
              }
            }
            expect(store.expire(o.beforeMs)).toBe(dropped);
          }
          expect(store.size).toBe(model.size);
          for (const key of keys) {
            const entry = model.get(key);
            expect(store.read(key)).toEqual({ spent: entry?.spent ?? 0, reserved: entry?.reserved ?? 0 });
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
