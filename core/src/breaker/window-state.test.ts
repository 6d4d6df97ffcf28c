import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import { CountWindow } from "./count-window.js";
import type { CircuitBreakerOptions } from "./options.js";
import { TimeWindow } from "./time-window.js";

const outcomes = fc.array(fc.record({ failed: fc.boolean(), slow: fc.boolean() }), { maxLength: 40 });

describe("window summaries (a restarted breaker resumes its window)", () => {
  it("a count window's summary restores the same totals and evicts the same outcomes next", () => {
    fc.assert(
      fc.property(outcomes, outcomes, (before, after) => {
        const original = new CountWindow(10);
        for (const o of before) original.record(o.failed, o.slow);
        const restored = new CountWindow(10);
        expect(restored.importSummary(JSON.parse(JSON.stringify(original.exportSummary())))).toBe(true);
        for (const o of after) {
          original.record(o.failed, o.slow);
          restored.record(o.failed, o.slow);
        }
        expect([restored.calls, restored.failures, restored.slowCalls]).toEqual([
          original.calls,
          original.failures,
          original.slowCalls,
        ]);
      }),
    );
  });

  it("a time window's summary restores its buckets; buckets that aged out meanwhile are dropped", () => {
    const clock = new ManualClock(1_000_000);
    const original = new TimeWindow(10_000, 10, clock);
    original.record(true, false);
    clock.advance(3_000);
    original.record(false, true);
    original.record(true, false);
    const summary = original.exportSummary();
    const restored = new TimeWindow(10_000, 10, clock);
    expect(restored.importSummary(summary)).toBe(true);
    expect([restored.calls, restored.failures, restored.slowCalls]).toEqual([3, 2, 1]);
    clock.advance(7_500); // the first bucket has left the window
    restored.sync();
    expect([restored.calls, restored.failures, restored.slowCalls]).toEqual([2, 1, 1]);
    expect(new TimeWindow(20_000, 10, clock).importSummary(summary)).toBe(false); // another bucket size
    expect(restored.importSummary({ type: "time", bucketMs: 1_000, buckets: [[1, 1, 2, 0]] })).toBe(false);
    expect(new CountWindow(5).importSummary({ type: "count", outcomes: "01x" })).toBe(false);
  });

  it("a breaker restored with its window opens on the same next failure; HALF_OPEN keeps its probes", () => {
    const clock = new ManualClock(0);
    const options: CircuitBreakerOptions = {
      id: "model:gpt-5",
      clock,
      window: { type: "count", size: 10, minimumCalls: 4, failureRateThreshold: 0.5 },
      recoveryTimeoutMs: 1_000,
      halfOpenMaxCalls: 3,
    };
    const first = new CircuitBreaker(options);
    first.recordSuccess();
    first.recordFailure();
    first.recordFailure();
    const second = new CircuitBreaker(options);
    second.restoreState(JSON.parse(JSON.stringify(first.saveState({ window: true }))));
    expect(second.failureCount).toBe(2);
    const third = new CircuitBreaker(options);
    third.restoreState(first.saveState()); // without the window: it restarts empty
    for (const breaker of [first, second, third]) breaker.recordSuccess();
    for (const breaker of [first, second, third]) breaker.recordFailure(); // 3 of 5 failed
    expect([first.state, second.state, third.state]).toEqual(["OPEN", "OPEN", "CLOSED"]);

    clock.advance(1_000);
    expect(first.state).toBe("HALF_OPEN");
    const probe = first.tryAcquire();
    first.onSuccess(probe as never, 1);
    const resumed = new CircuitBreaker(options);
    resumed.restoreState(first.saveState({ window: true }));
    for (let i = 0; i < 2; i++) {
      const permit = resumed.tryAcquire();
      resumed.onSuccess(permit as never, 1);
    }
    expect(resumed.state).toBe("CLOSED"); // 1 probe before the restart + 2 after = halfOpenMaxCalls
  });
});
