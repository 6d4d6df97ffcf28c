import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { RetryBudget, RetryBudgetExceededError } from "./retry-budget.js";

describe("RetryBudget", () => {
  it("admits retries up to minRetries + ratio × first attempts in the window", () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ ratio: 0.2, minRetries: 2, windowMs: 10_000 }, clock);
    for (let i = 0; i < 50; i++) expect(budget.admit("upstream:s", false)).toBeUndefined();
    // 2 + 0.2 × 50 = 12 retries.
    let admitted = 0;
    let refusal: RetryBudgetExceededError | undefined;
    for (let i = 0; i < 30; i++) {
      const r = budget.admit("upstream:s", true, "agent-a");
      if (r === undefined) admitted++;
      else refusal = r;
    }
    expect(admitted).toBe(12);
    expect(refusal).toBeInstanceOf(RetryBudgetExceededError);
    expect(refusal?.code).toBe("RETRY_BUDGET_EXCEEDED");
    expect(refusal?.retryable).toBe(true);
    expect(refusal?.agentId).toBe("agent-a");
    expect(refusal?.retryAfterMs).toBe(10_000);
    expect(budget.snapshot().targets["upstream:s"]).toEqual({
      firstAttempts: 50,
      retries: 12,
      retriesAllowed: 12,
    });
    // Another target has its own budget.
    expect(budget.admit("upstream:other", true)).toBeUndefined();
  });

  it("slides: retries leave the window bucket by bucket", () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ ratio: 0, minRetries: 3, windowMs: 1_000 }, clock);
    for (let i = 0; i < 3; i++) expect(budget.admit("t", true)).toBeUndefined();
    const refused = budget.admit("t", true);
    expect(refused?.retryAfterMs).toBe(1_000);
    clock.advance(999);
    expect(budget.admit("t", true)).toBeDefined();
    clock.advance(1);
    expect(budget.admit("t", true)).toBeUndefined();
    clock.advance(60_000);
    expect(budget.snapshot().targets.t).toEqual({ firstAttempts: 0, retries: 0, retriesAllowed: 3 });
  });

  it("sheds every retry on demand and resumes", () => {
    const budget = new RetryBudget({}, new ManualClock());
    budget.shed("cascade");
    expect(budget.admit("t", true)?.message).toMatch(/cascade/);
    expect(budget.admit("t", false)).toBeUndefined();
    budget.resume();
    expect(budget.admit("t", true)).toBeUndefined();
  });

  it("validates its options and bounds its targets", () => {
    const clock = new ManualClock();
    expect(() => new RetryBudget({ ratio: 2 }, clock)).toThrow(/retryBudget.ratio/);
    expect(() => new RetryBudget({ windowMs: 0 }, clock)).toThrow(/retryBudget.windowMs/);
    const budget = new RetryBudget({ maxTargets: 2 }, clock);
    budget.admit("a", false);
    budget.admit("b", false);
    budget.admit("c", false);
    expect(Object.keys(budget.snapshot().targets)).toEqual(["b", "c"]);
  });
});
