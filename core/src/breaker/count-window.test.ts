import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CountWindow } from "./count-window.js";

describe("CountWindow", () => {
  it("counts calls, failures and slow calls until full, then evicts the oldest", () => {
    const window = new CountWindow(3);
    window.record(true, false);
    window.record(false, true);
    expect([window.calls, window.failures, window.slowCalls]).toEqual([2, 1, 1]);
    window.record(true, true);
    expect([window.calls, window.failures, window.slowCalls]).toEqual([3, 2, 2]);
    // Evicts the first outcome (failed, not slow).
    window.record(false, false);
    expect([window.calls, window.failures, window.slowCalls]).toEqual([3, 1, 2]);
    // Evicts the second (slow success).
    window.record(false, false);
    expect([window.calls, window.failures, window.slowCalls]).toEqual([3, 1, 1]);
  });

  it("reset empties the window", () => {
    const window = new CountWindow(2);
    window.record(true, true);
    window.record(true, true);
    window.reset();
    expect([window.calls, window.failures, window.slowCalls]).toEqual([0, 0, 0]);
    window.record(false, false);
    expect([window.calls, window.failures, window.slowCalls]).toEqual([1, 0, 0]);
  });

  it("matches a naive last-N list for any outcome sequence", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.record({ failed: fc.boolean(), slow: fc.boolean(), reset: fc.boolean() }), {
          maxLength: 80,
        }),
        (size, outcomes) => {
          const window = new CountWindow(size);
          let naive: Array<{ failed: boolean; slow: boolean }> = [];
          for (const outcome of outcomes) {
            if (outcome.reset && outcome.failed && outcome.slow) {
              window.reset();
              naive = [];
              continue;
            }
            window.record(outcome.failed, outcome.slow);
            naive.push(outcome);
            const last = naive.slice(-size);
            expect(window.calls).toBe(last.length);
            expect(window.failures).toBe(last.filter((o) => o.failed).length);
            expect(window.slowCalls).toBe(last.filter((o) => o.slow).length);
          }
        },
      ),
    );
  });
});
