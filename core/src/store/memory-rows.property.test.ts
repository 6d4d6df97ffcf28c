import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { LedgerLine, ReserveResult, SettleLine } from "./ledger-store.js";
import { MemoryStore } from "./memory-store.js";

// `reserveRows` / `settleRows` take straight-line paths for a task's six lines with every row known (issue 18,
// session 11); anything else goes line by line. Both must do exactly what the `LedgerStore` calls do on the
// same keys: a second store, driven by `reserve` / `settle` only, is the model.

const SIX = ["task", "day", "month", "org", "task-tokens", "day-tokens"];
const FOUR = ["day", "month", "org", "day-tokens"];

/** One slot array per key set, as `HeldKeys` keeps it: `[key0, row0, …]`, rows written back by the store. */
const slotsOf = (keys: readonly string[]): Array<string | number> => keys.flatMap((key) => [key, -1]);

// Mostly limits that fit (the fast paths run only when every line fits), some that refuse.
const limitArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(Number.POSITIVE_INFINITY) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 2_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 100 }) },
);

type Op =
  | {
      kind: "reserve";
      six: boolean;
      /** Money lines of the six (4 as `HeldKeys` makes them; others must take the line-by-line path). */
      sixMoney: number;
      money: number;
      tokens: number;
      limits: number[];
      expiry: number;
    }
  | { kind: "settle"; pick: number; actualMoney: number; actualTokens: number }
  | { kind: "release"; pick: number }
  | { kind: "expire"; before: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("reserve" as const),
      six: fc.boolean(),
      sixMoney: fc.constantFrom(4, 4, 4, 5, 2),
      money: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 120 })),
      tokens: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 600 })),
      limits: fc.array(limitArb, { minLength: 6, maxLength: 6 }),
      expiry: fc.integer({ min: 1, max: 50 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("settle" as const),
      pick: fc.nat(),
      actualMoney: fc.integer({ min: 0, max: 200 }),
      actualTokens: fc.integer({ min: 0, max: 200 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("expire" as const), before: fc.integer({ min: 0, max: 50 }) }),
  },
);

describe("MemoryStore reserveRows / settleRows (property)", () => {
  it("hold, refuse, settle and expire exactly as reserve / settle on the same keys", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const store = new MemoryStore();
        const model = new MemoryStore();
        // The owner keeps one slot array per key set and its epoch, as ReserveCommit does (HeldKeys).
        const held = { six: slotsOf(SIX), four: slotsOf(FOUR), epoch: store.epoch };
        const open: Array<{
          six: boolean;
          moneyCount: number;
          money: number;
          tokens: number;
          slots: Array<string | number>;
          epoch: number;
        }> = [];
        for (const op of ops) {
          if (store.epoch !== held.epoch) {
            // Rows found before an `expire` that dropped some are stale: the owner starts new slots.
            held.six = slotsOf(SIX);
            held.four = slotsOf(FOUR);
            held.epoch = store.epoch;
          }
          if (op.kind === "reserve") {
            const keys = op.six ? SIX : FOUR;
            const moneyCount = op.six ? op.sixMoney : 3;
            const limits = op.limits.slice(0, keys.length);
            const expiries = keys.map(() => op.expiry);
            const lines: LedgerLine[] = keys.map((key, i) => ({
              key,
              amount: i < moneyCount ? op.money : op.tokens,
              limit: limits[i] as number,
              expiresAtMs: op.expiry,
            }));
            const slots = op.six ? held.six : held.four;
            const got: ReserveResult = store.reserveRows(
              slots,
              keys.length,
              moneyCount,
              op.money,
              op.tokens,
              limits,
              expiries,
            );
            const want = model.reserve(lines);
            expect(got).toEqual(want);
            if (got.ok)
              open.push({
                six: op.six,
                moneyCount,
                money: op.money,
                tokens: op.tokens,
                slots,
                epoch: held.epoch,
              });
          } else if (op.kind === "settle" || op.kind === "release") {
            if (open.length === 0) continue;
            const [reservation] = open.splice(op.pick % open.length, 1);
            if (reservation === undefined) continue;
            const keys = reservation.six ? SIX : FOUR;
            const moneyCount = reservation.moneyCount;
            const actualMoney = op.kind === "settle" ? op.actualMoney : 0;
            const actualTokens = op.kind === "settle" ? op.actualTokens : 0;
            const current = reservation.epoch === store.epoch;
            store.settleRows(
              reservation.slots,
              current,
              keys.length,
              moneyCount,
              reservation.money,
              actualMoney,
              reservation.tokens,
              actualTokens,
            );
            const lines: SettleLine[] = keys.map((key, i) => ({
              key,
              reserved: i < moneyCount ? reservation.money : reservation.tokens,
              actual: i < moneyCount ? actualMoney : actualTokens,
            }));
            model.settle(lines);
          } else {
            expect(store.expire(op.before)).toBe(model.expire(op.before));
          }
          for (const key of SIX) expect(store.read(key), key).toEqual(model.read(key));
          expect(store.size).toBe(model.size);
          // Rows the store wrote back are the keys' rows while the epoch holds.
          if (held.epoch === store.epoch) {
            for (const slots of [held.six, held.four]) {
              for (let i = 0; i < slots.length; i += 2) {
                const row = slots[i + 1] as number;
                if (row >= 0) expect(store.rowOf(slots[i] as string)).toBe(row);
              }
            }
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});
