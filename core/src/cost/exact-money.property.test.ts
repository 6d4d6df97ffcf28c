import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentSRE } from "../engine/agent-sre.js";
import { CostGuard } from "./cost-guard.js";
import { chargeMicros } from "./money.js";
import { GenAIPriceCatalog } from "./price-catalog.js";

const UNLIMITED = {
  perTaskLimitUsd: Number.POSITIVE_INFINITY,
  perAgentDailyLimitUsd: Number.POSITIVE_INFINITY,
  orgMonthlyBudgetUsd: Number.POSITIVE_INFINITY,
  anomalyDetection: false,
} as const;

/** Prices as whole pico-dollars (1e-12 USD): their exact sum is a BigInt, the reference. */
const picoPrices = fc.array(
  fc.oneof(
    fc.integer({ min: 0, max: 1_000_000 }), // below one micro-dollar: rounding to µUSD would record $0
    fc.integer({ min: 1_000_000, max: 100_000_000 }), // up to $0.0001
    fc.integer({ min: 0, max: 1_000_000_000_000 }), // up to $1
  ),
  { minLength: 1, maxLength: 3_000 },
);

const exactUsd = (picos: readonly number[]) => Number(picos.reduce((sum, p) => sum + BigInt(p), 0n)) / 1e12;

describe("exact money (property)", () => {
  it("sums of many small prices equal the exact total to 1e-9 USD, through commit and recordCost", () => {
    fc.assert(
      fc.property(picoPrices, fc.boolean(), (picos, viaCommit) => {
        const guard = new CostGuard({ ...UNLIMITED, clock: new ManualClock(Date.UTC(2026, 0, 10, 12)) });
        for (const p of picos) {
          const usd = p / 1e12;
          if (viaCommit) guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: usd }).commit(usd);
          else guard.recordCost({ agentId: "a", costUsd: usd });
        }
        const status = guard.agentStatus("a");
        expect(Math.abs(status.spentTodayUsd - exactUsd(picos))).toBeLessThanOrEqual(1e-9);
        // The ledger itself never holds less than the exact spend, and at most one µUSD more.
        const org = guard.snapshot().org.spentThisMonthUsd;
        expect(org).toBeGreaterThanOrEqual(exactUsd(picos) - 1e-9);
        expect(org - exactUsd(picos)).toBeLessThan(1e-6 + 1e-9);
        expect(status.reservedTodayUsd).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it("the carried credit stays within [-1e-6, 1) µUSD and charges are whole micro-dollars", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 0.01, noNaN: true }), { maxLength: 500 }), (costs) => {
        const carry = { creditMicros: 0 };
        for (const usd of costs) {
          const charged = chargeMicros(carry, usd);
          expect(Number.isInteger(charged)).toBe(true);
          expect(charged).toBeGreaterThanOrEqual(0);
          expect(carry.creditMicros).toBeGreaterThanOrEqual(-1e-6);
          expect(carry.creditMicros).toBeLessThan(1);
        }
      }),
    );
  });

  it("a million calls of a cheap model through the engine cost exactly the catalog's price × a million", () => {
    const sre = new AgentSRE({ budget: UNLIMITED, rogue: false });
    const catalog = new GenAIPriceCatalog();
    // 7 input + 1 output tokens of gpt-4o-mini: 1.65 µUSD, which rounding per call would record as 2 µUSD (+21 %).
    const usage = { inputTokens: 7, outputTokens: 1 };
    const perCallMicros = catalog.costMicros("gpt-4o-mini", usage) as number;
    expect(Number.isInteger(perCallMicros)).toBe(false);
    for (let i = 0; i < 1_000_000; i++)
      sre.record({ kind: "model", agentId: "a", name: "gpt-4o-mini" }, { ok: true, durationMs: 1, usage });
    const spent = sre.budget.agentStatus("a").spentTodayUsd;
    expect(Math.abs(spent - perCallMicros)).toBeLessThanOrEqual(1e-9); // 1e6 calls × µUSD = USD
  });
});
