import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AgentSignals, SignalShape } from "./agent-signals.js";
import { frequencyScore } from "./frequency.js";

const WINDOW_MS = 60_000;
const START = Date.UTC(2026, 0, 1); // a multiple of 60 s

/**
 * An agent's record keeping `historyWindows` completed windows of `WINDOW_MS` (with an action window of
 * `actions`: above 255 its cells are two bytes wide, and so is a history count's cell).
 */
function windowsOf(historyWindows: number, actions = 100): AgentSignals {
  return new AgentSignals(
    new SignalShape({
      entropyWindowSize: actions,
      frequencyWindowMs: WINDOW_MS,
      frequencyHistoryWindows: historyWindows,
      loopRepeats: 3,
      loopWindowMs: 60_000,
      loopTableSize: 256,
    }),
  );
}

function recordMany(windows: AgentSignals, atMs: number, count: number): void {
  for (let i = 0; i < count; i++) windows.countInWindow(atMs + i);
}

describe("the frequency windows (AgentSignals)", () => {
  it("uses aligned window boundaries floor(t / windowMs), not windows started at the first event", () => {
    const windows = windowsOf(60);
    windows.countInWindow(START + 30_000);
    windows.countInWindow(START + 59_999);
    expect(windows.completedWindows).toBe(0);
    expect(windows.currentWindowActions).toBe(2);
    // 30 s after the first event, but across the minute boundary: a new window.
    windows.countInWindow(START + 60_000);
    expect(windows.completedWindows).toBe(1);
    expect(windows.currentWindowActions).toBe(1);
    windows.countInWindow(START + 119_999);
    expect(windows.completedWindows).toBe(1);
    expect(windows.currentWindowActions).toBe(2);
  });

  it("counts idle windows as 0", () => {
    const windows = windowsOf(60);
    for (let w = 0; w < 3; w++) recordMany(windows, START + w * WINDOW_MS, 6);
    // Windows 3 and 4 are idle; the next action lands in window 5.
    windows.countInWindow(START + 5 * WINDOW_MS);
    expect(windows.completedWindows).toBe(5);
    expect(windows.meanWindowActions).toBeCloseTo(18 / 5, 12);
  });

  it("fills the whole ring with zeros after a silence longer than the history", () => {
    const windows = windowsOf(10);
    for (let w = 0; w < 10; w++) recordMany(windows, START + w * WINDOW_MS, 50);
    windows.countInWindow(START + 1_000 * WINDOW_MS);
    expect(windows.completedWindows).toBe(10);
    expect(windows.meanWindowActions).toBe(0);
  });

  it("flags a burst after steady windows", () => {
    const windows = windowsOf(60);
    for (let w = 0; w < 10; w++) recordMany(windows, START + w * WINDOW_MS, 5);
    recordMany(windows, START + 10 * WINDOW_MS, 5);
    // Same rate as the history: no burst.
    expect(frequencyScore(windows.frequencyZScore(5), 2.5)).toBe(0);
    recordMany(windows, START + 10 * WINDOW_MS + 100, 15);
    // Steady history has std 0; the spread is floored at √mean = √5, so z = (20 − 5) / √5 ≈ 6.7.
    const z = windows.frequencyZScore(5) as number;
    expect(z).toBeCloseTo(15 / Math.sqrt(5), 10);
    expect(frequencyScore(z, 2.5)).toBe(1);
  });

  it("respects the threshold: a z just below it scores 0, just above it scores the excess", () => {
    const windows = windowsOf(60);
    // Completed windows 1, 11, 1, 11, 1, 11: mean 6, population std 5 (above √6), so z = (count − 6) / 5.
    for (let w = 0; w < 6; w++) recordMany(windows, START + w * WINDOW_MS, w % 2 === 0 ? 1 : 11);
    recordMany(windows, START + 6 * WINDOW_MS, 18);
    expect(windows.completedWindows).toBe(6);
    expect(windows.frequencyZScore(5)).toBeCloseTo(2.4, 12);
    expect(frequencyScore(windows.frequencyZScore(5), 2.5)).toBe(0);

    windows.countInWindow(START + 6 * WINDOW_MS + 500); // 19 actions: z = 2.6
    expect(windows.frequencyZScore(5)).toBeCloseTo(2.6, 12);
    expect(frequencyScore(windows.frequencyZScore(5), 2.5)).toBeCloseTo(0.1 / 2.5, 12);
  });

  it("returns undefined below the minimum number of completed windows", () => {
    const windows = windowsOf(60);
    for (let w = 0; w < 4; w++) recordMany(windows, START + w * WINDOW_MS, 3);
    expect(windows.completedWindows).toBe(3);
    expect(windows.frequencyZScore(5)).toBeUndefined();
    expect(windows.frequencyZScore(3)).toBeDefined();
  });

  it.each([100, 300])("keeps a window's count up to 65,535 in the history (action window %i)", (actions) => {
    const windows = windowsOf(60, actions);
    for (let i = 0; i < 70_000; i++) windows.countInWindow(START);
    expect(windows.currentWindowActions).toBe(70_000);
    windows.advanceWindowTo(START + WINDOW_MS);
    expect(windows.meanWindowActions).toBe(65_535);
    recordMany(windows, START + WINDOW_MS, 2);
    windows.advanceWindowTo(START + 2 * WINDOW_MS);
    expect(windows.meanWindowActions).toBe((65_535 + 2) / 2);
  });

  it("keeps exactly `historyWindows` completed windows", () => {
    const windows = windowsOf(60);
    for (let w = 0; w < 500; w++) windows.countInWindow(START + w * WINDOW_MS);
    expect(windows.completedWindows).toBe(60);
    expect(windows.meanWindowActions).toBe(1);
  });
});

describe("frequencyScore", () => {
  it("scores only the excess over the threshold, reaching 1 at twice the threshold", () => {
    expect(frequencyScore(undefined, 2.5)).toBe(0);
    expect(frequencyScore(-10, 2.5)).toBe(0);
    expect(frequencyScore(2.49, 2.5)).toBe(0);
    expect(frequencyScore(2.5, 2.5)).toBe(0);
    expect(frequencyScore(3.75, 2.5)).toBeCloseTo(0.5, 12);
    expect(frequencyScore(5, 2.5)).toBe(1);
    expect(frequencyScore(50, 2.5)).toBe(1);
  });

  it("mayBurst is false only where the z-score cannot exceed the threshold (property: random histories)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 0, maxLength: 30 }),
        fc.integer({ min: 0, max: 600 }),
        fc.double({ min: 0.1, max: 6, noNaN: true }),
        fc.integer({ min: 1, max: 10 }),
        (history, current, zThreshold, minWindows) => {
          const signals = new AgentSignals(
            new SignalShape({
              entropyWindowSize: 100,
              frequencyWindowMs: WINDOW_MS,
              frequencyHistoryWindows: 20,
              frequencyZThreshold: zThreshold,
              frequencyMinWindows: minWindows,
              loopRepeats: 3,
              loopWindowMs: 60_000,
              loopTableSize: 256,
            }),
          );
          for (const [w, count] of history.entries()) recordMany(signals, START + w * WINDOW_MS, count);
          const now = START + history.length * WINDOW_MS;
          signals.advanceWindowTo(now);
          for (let i = 0; i <= current; i++) {
            const z = signals.frequencyZScore(minWindows);
            if (!signals.mayBurst) expect(frequencyScore(z, zThreshold)).toBe(0);
            signals.countInWindow(now);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("mayBurst turns true right at the first count that scores (steady history)", () => {
    const signals = windowsOf(10);
    const scored = new AgentSignals(
      new SignalShape({
        entropyWindowSize: 100,
        frequencyWindowMs: WINDOW_MS,
        frequencyHistoryWindows: 10,
        frequencyZThreshold: 2.5,
        frequencyMinWindows: 5,
        loopRepeats: 3,
        loopWindowMs: 60_000,
        loopTableSize: 256,
      }),
    );
    for (let w = 0; w < 6; w++) recordMany(scored, START + w * WINDOW_MS, 10);
    recordMany(signals, START, 1);
    expect(signals.mayBurst).toBe(false); // no threshold in its shape: never
    // 5 full windows of 10 (the 6th is current, 10 so far): mean 10, spread max(0, √10, 1) = 3.16.
    let first = -1;
    for (let i = 0; i < 40; i++) {
      if (first < 0 && frequencyScore(scored.frequencyZScore(5), 2.5) > 0)
        first = scored.currentWindowActions;
      if (frequencyScore(scored.frequencyZScore(5), 2.5) > 0) expect(scored.mayBurst).toBe(true);
      scored.countInWindow(START + 5 * WINDOW_MS + i);
    }
    expect(first).toBe(18); // 10 + 2.5 × √10 = 17.9
  });
});
