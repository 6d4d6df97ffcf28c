import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentKilledError, BudgetExceededError, TokenLimitExceededError } from "../errors.js";
import type { LedgerLine, LedgerStore, SettleLine } from "../store/ledger-store.js";
import { MemoryStore } from "../store/memory-store.js";
import { CostGuard } from "./cost-guard.js";
import type { BudgetReservation } from "./cost-types.js";

/** A memory store that remembers each key's limit, so a test can check every key against it. */
class AuditedStore implements LedgerStore {
  readonly inner = new MemoryStore();
  readonly limits = new Map<string, number>();

  reserve(lines: readonly LedgerLine[]) {
    for (const line of lines) this.limits.set(line.key, line.limit);
    return this.inner.reserve(lines);
  }
  settle(lines: readonly SettleLine[]) {
    this.inner.settle(lines);
  }
  add(key: string, amount: number, expiresAtMs: number) {
    this.inner.add(key, amount, expiresAtMs);
  }
  read(key: string) {
    return this.inner.read(key);
  }
  expire(beforeMs: number) {
    return this.inner.expire(beforeMs);
  }

  /** Every key within its limit, counting held money. */
  assertWithinLimits(): void {
    for (const [key, limit] of this.limits) {
      const { spent, reserved } = this.inner.read(key);
      expect(spent + reserved, key).toBeLessThanOrEqual(limit);
      expect(reserved, key).toBeGreaterThanOrEqual(0);
    }
  }
}

type Command =
  | { kind: "reserve"; agent: number; task: number; micros: number; tokens: number }
  | { kind: "commit"; pick: number; fraction: number; tokenFraction: number }
  | { kind: "release"; pick: number }
  | { kind: "advance"; ms: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("reserve" as const),
      agent: fc.integer({ min: 0, max: 2 }),
      task: fc.integer({ min: -1, max: 3 }),
      micros: fc.integer({ min: 0, max: 1_500_000 }),
      tokens: fc.integer({ min: 0, max: 3_000 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("commit" as const),
      pick: fc.nat(),
      fraction: fc.double({ min: 0, max: 1, noNaN: true }),
      tokenFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("advance" as const),
      ms: fc.integer({ min: 0, max: 8 * 3_600_000 }),
    }),
  },
);

describe("CostGuard properties", () => {
  it("never lets spend pass a limit when commits stay within their reservations, and returns releases exactly", () => {
    fc.assert(
      fc.property(fc.array(commandArb, { maxLength: 120 }), (commands) => {
        const clock = new ManualClock(Date.UTC(2026, 0, 30, 6));
        const store = new AuditedStore();
        const guard = new CostGuard({
          perTaskLimitUsd: 1,
          perAgentDailyLimitUsd: 2.5,
          orgMonthlyBudgetUsd: 5,
          perTaskTokenLimit: 4_000,
          perAgentDailyTokenLimit: 9_000,
          autoThrottle: false,
          anomalyDetection: false,
          clock,
          store,
        });
        const open: Array<{ reservation: BudgetReservation; micros: number }> = [];
        /** What the org month key must hold, in µUSD: the sum of every commit. */
        let committedMicros = 0;
        const monthStart = Date.UTC(2026, 0, 1);
        const monthKey = () =>
          `org-month:${clock.now() < Date.UTC(2026, 1, 1) ? monthStart : Date.UTC(2026, 1, 1)}`;
        for (const command of commands) {
          if (command.kind === "reserve") {
            try {
              const reservation = guard.reserve({
                agentId: `agent-${command.agent}`,
                taskId: command.task < 0 ? undefined : `task-${command.task}`,
                estimatedCostUsd: command.micros / 1_000_000,
                estimatedTokens: command.tokens,
              });
              expect(reservation.reservedUsd * 1_000_000).toBeCloseTo(command.micros, 6);
              open.push({ reservation, micros: command.micros });
            } catch (error) {
              const expected =
                error instanceof BudgetExceededError ||
                error instanceof TokenLimitExceededError ||
                error instanceof AgentKilledError;
              expect(expected, String(error)).toBe(true);
            }
          } else if ((command.kind === "commit" || command.kind === "release") && open.length > 0) {
            const [held] = open.splice(command.pick % open.length, 1);
            if (held === undefined) continue;
            if (command.kind === "release") {
              held.reservation.release();
            } else {
              const micros = Math.floor(held.micros * command.fraction);
              const tokens = Math.floor(held.reservation.reservedTokens * command.tokenFraction);
              held.reservation.commit(micros / 1_000_000, { tokens });
              if (monthKey() === `org-month:${monthStart}`) committedMicros += micros;
            }
          } else if (command.kind === "advance") {
            clock.advance(command.ms);
          }
          store.assertWithinLimits();
        }
        // Releasing everything still held leaves exactly the committed money, and nothing reserved.
        for (const held of open) held.reservation.release();
        store.assertWithinLimits();
        for (const key of store.limits.keys()) expect(store.read(key).reserved, key).toBe(0);
        if (clock.now() < Date.UTC(2026, 1, 1)) {
          expect(store.read(`org-month:${monthStart}`).spent).toBe(committedMicros);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("a reserve followed by a release leaves every balance as it was", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 400_000 }), { maxLength: 20 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        (history, probe) => {
          const guard = new CostGuard({
            clock: new ManualClock(),
            anomalyDetection: false,
            perTaskLimitUsd: 3,
          });
          for (const micros of history)
            guard.recordCost({ agentId: "a", taskId: "t", costUsd: micros / 1e6 });
          const before = { org: guard.snapshot().org, agent: guard.agentStatus("a") };
          try {
            guard
              .reserve({ agentId: "a", taskId: "t", estimatedCostUsd: probe / 1e6, estimatedTokens: 10 })
              .release();
          } catch {
            // A refusal holds nothing either.
          }
          expect({ org: guard.snapshot().org, agent: guard.agentStatus("a") }).toEqual(before);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("CostGuard under concurrency", () => {
  /** A seeded generator (mulberry32) for the interleaving. */
  function rng(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  async function yieldTimes(times: number): Promise<void> {
    for (let i = 0; i < times; i++) await Promise.resolve();
  }

  it("admits exactly the affordable number of thousands of overlapping tasks", async () => {
    const random = rng(42);
    const guard = new CostGuard({
      clock: new ManualClock(),
      perTaskLimitUsd: 1,
      perAgentDailyLimitUsd: 1,
      orgMonthlyBudgetUsd: 1000,
      autoThrottle: false,
      killSwitchThreshold: 1,
      anomalyDetection: false,
    });
    let admitted = 0;
    let refused = 0;
    await Promise.all(
      Array.from({ length: 5000 }, async (_, index) => {
        await yieldTimes(Math.floor(random() * 20));
        let reservation: BudgetReservation;
        try {
          reservation = guard.reserve({ agentId: "agent", taskId: `task-${index}`, estimatedCostUsd: 0.001 });
        } catch (error) {
          expect(error instanceof BudgetExceededError || error instanceof AgentKilledError).toBe(true);
          refused++;
          return;
        }
        admitted++;
        await yieldTimes(Math.floor(random() * 20));
        reservation.commit(0.001);
      }),
    );
    expect(admitted).toBe(1000);
    expect(refused).toBe(4000);
    expect(guard.agentStatus("agent")).toMatchObject({ spentTodayUsd: 1, reservedTodayUsd: 0 });
  });

  it("shares an org budget across agents without overshoot", async () => {
    const random = rng(7);
    const guard = new CostGuard({
      clock: new ManualClock(),
      perTaskLimitUsd: 1,
      perAgentDailyLimitUsd: 0.5,
      orgMonthlyBudgetUsd: 2,
      autoThrottle: false,
      killSwitchThreshold: 1,
      anomalyDetection: false,
    });
    const admittedByAgent = new Map<string, number>();
    await Promise.all(
      Array.from({ length: 8000 }, async (_, index) => {
        const agentId = `agent-${index % 8}`;
        await yieldTimes(Math.floor(random() * 30));
        try {
          const reservation = guard.reserve({ agentId, estimatedCostUsd: 0.002 });
          admittedByAgent.set(agentId, (admittedByAgent.get(agentId) ?? 0) + 1);
          await yieldTimes(Math.floor(random() * 30));
          reservation.commit(0.002);
        } catch (error) {
          expect(error instanceof BudgetExceededError || error instanceof AgentKilledError).toBe(true);
        }
      }),
    );
    const total = [...admittedByAgent.values()].reduce((sum, count) => sum + count, 0);
    expect(total).toBe(1000);
    for (const count of admittedByAgent.values()) expect(count).toBeLessThanOrEqual(250);
    expect(guard.snapshot().org.spentThisMonthUsd).toBe(2);
  });
});
