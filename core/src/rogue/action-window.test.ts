import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { entropyScore } from "./action-window.js";
import { AgentSignals, SignalShape } from "./agent-signals.js";

/** An agent's record with a window of `capacity` actions (the other sizes as the detector's defaults). */
function windowOf(capacity: number): AgentSignals {
  return new AgentSignals(
    new SignalShape({
      entropyWindowSize: capacity,
      frequencyWindowMs: 60_000,
      frequencyHistoryWindows: 60,
      loopRepeats: 3,
      loopWindowMs: 60_000,
      loopTableSize: 256,
    }),
  );
}

function shannonBits(labels: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const label of labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / labels.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

describe("the action window (AgentSignals)", () => {
  it("measures 0 bits for a loop, 1 bit for two alternating actions, log2(k) for k uniform actions", () => {
    const loop = windowOf(100);
    for (let i = 0; i < 50; i++) loop.pushAction("search", false);
    expect(loop.entropyBits).toBe(0);

    const pair = windowOf(100);
    for (let i = 0; i < 50; i++) pair.pushAction(i % 2 === 0 ? "search" : "fetch", false);
    expect(pair.entropyBits).toBeCloseTo(1, 12);

    const chaos = windowOf(16);
    for (let i = 0; i < 16; i++) chaos.pushAction(`tool-${i}`, false);
    expect(chaos.entropyBits).toBeCloseTo(4, 12);
  });

  it("a label leaving as it comes back (a cycle of tools as long as the window divides) keeps counts exact", () => {
    const window = windowOf(100);
    const tools = ["search", "lookup", "send", "fetch", "sum"];
    for (let i = 0; i < 1_000; i++) window.pushAction(tools[i % 5] as string, false);
    expect(window.entropyBits).toBeCloseTo(Math.log2(5), 12);
    expect(window.distinctLabels).toBe(5);
    expect(window.labelSlots).toBe(5);
    // A cycle of 3 in a window of 100 (the leaving label differs from the incoming one): still exact.
    for (let i = 0; i < 1_000; i++) window.pushAction(tools[i % 3] as string, false);
    expect(window.entropyBits).toBeCloseTo(
      -(34 / 100) * Math.log2(34 / 100) - 2 * (33 / 100) * Math.log2(33 / 100),
      12,
    );
    expect(window.distinctLabels).toBe(3);
  });

  it("is a sliding window: old actions fall out", () => {
    const window = windowOf(10);
    for (let i = 0; i < 10; i++) window.pushAction("same", false);
    expect(window.entropyBits).toBe(0);
    for (let i = 0; i < 10; i++) window.pushAction(`distinct-${i}`, false);
    expect(window.windowActions).toBe(10);
    expect(window.distinctLabels).toBe(10);
    expect(window.entropyBits).toBeCloseTo(Math.log2(10), 12);
    for (let i = 0; i < 10; i++) window.pushAction("same", false);
    expect(window.distinctLabels).toBe(1);
    expect(window.entropyBits).toBe(0);
  });

  it("matches a from-scratch Shannon entropy of the last N labels (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 40 }),
        fc.array(fc.constantFrom("a", "b", "c", "d", "e", "f", "g"), { minLength: 1, maxLength: 400 }),
        (capacity, labels) => {
          const window = windowOf(capacity);
          for (const label of labels) window.pushAction(label, false);
          const recent = labels.slice(-capacity);
          expect(window.windowActions).toBe(recent.length);
          expect(window.entropyBits).toBeCloseTo(shannonBits(recent), 9);
        },
      ),
    );
  });

  it("matches the model after every action, runs of one label included (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 40 }),
        fc.array(
          fc.record({ label: fc.constantFrom("a", "b", "c", "d"), run: fc.integer({ min: 1, max: 6 }) }),
          {
            maxLength: 60,
          },
        ),
        (capacity, runs) => {
          const window = windowOf(capacity);
          const labels: string[] = [];
          for (const { label, run } of runs) {
            for (let i = 0; i < run; i++) {
              window.pushAction(label, false);
              labels.push(label);
              const recent = labels.slice(-capacity);
              expect(window.windowActions).toBe(recent.length);
              expect(window.distinctLabels).toBe(new Set(recent).size);
              expect(window.entropyBits).toBeCloseTo(shannonBits(recent), 9);
            }
          }
        },
      ),
    );
  });

  it("counts capability violations within the window only", () => {
    const window = windowOf(5);
    window.pushAction("shell", true);
    window.pushAction("search", false);
    expect(window.violationCount).toBe(1);
    for (let i = 0; i < 4; i++) window.pushAction("search", false);
    expect(window.violationCount).toBe(0);
  });

  it("keeps one slot per distinct label in the window: slots are reused as labels leave, never more than the capacity", () => {
    const window = windowOf(8);
    // 1,000 distinct labels through a window of 8: each evicts the oldest, whose slot the next one reuses.
    for (let i = 0; i < 1_000; i++) window.pushAction(`tool-${i}`, false);
    expect(window.distinctLabels).toBe(8);
    expect(window.labelSlots).toBe(8);
    expect(window.entropyBits).toBeCloseTo(3, 12);
    // The ring wraps many times with a mix of old and new labels; counts stay exact.
    for (let i = 0; i < 37; i++) window.pushAction(i % 3 === 0 ? "a" : "b", false);
    expect(window.distinctLabels).toBe(2);
    expect(window.labelSlots).toBe(8);
  });

  it("uses wider slot ids for windows above 255 actions (property: same entropy as a from-scratch count)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 250, max: 300 }),
        fc.array(fc.integer({ min: 0, max: 299 }), { minLength: 1, maxLength: 700 }),
        (capacity, picks) => {
          const window = windowOf(capacity);
          const labels = picks.map((pick) => `t${pick}`);
          for (const label of labels) window.pushAction(label, false);
          const recent = labels.slice(-capacity);
          expect(window.distinctLabels).toBe(new Set(recent).size);
          expect(window.labelSlots).toBeLessThanOrEqual(capacity);
          expect(window.entropyBits).toBeCloseTo(shannonBits(recent), 9);
        },
      ),
      { numRuns: 30 },
    );
  });

  it("grows its label slots while more distinct labels are in the window; the frequency history survives", () => {
    const window = windowOf(100);
    for (let w = 0; w < 3; w++) window.countInWindow(60_000 * w);
    window.advanceWindowTo(60_000 * 3);
    expect(window.meanWindowActions).toBe(1);
    // 8 slots at first, then 16, 32: the cells are copied each time.
    for (let i = 0; i < 30; i++) window.pushAction(`tool-${i}`, i === 3);
    expect(window.labelSlots).toBe(30);
    expect(window.distinctLabels).toBe(30);
    expect(window.violationCount).toBe(1);
    expect(window.entropyBits).toBeCloseTo(Math.log2(30), 12);
    expect(window.completedWindows).toBe(3);
    expect(window.meanWindowActions).toBe(1);
    window.countInWindow(60_000 * 3);
    window.advanceWindowTo(60_000 * 4);
    expect(window.meanWindowActions).toBe(1);
  });
});

describe("entropyScore", () => {
  it("normalises too-low and too-high entropy to [0, 1] and scores the middle band 0", () => {
    expect(entropyScore(0, 0.3, 3.5, 6)).toBe(1);
    expect(entropyScore(0.15, 0.3, 3.5, 6)).toBeCloseTo(0.5, 12);
    expect(entropyScore(0.3, 0.3, 3.5, 6)).toBe(0);
    expect(entropyScore(2, 0.3, 3.5, 6)).toBe(0);
    expect(entropyScore(3.5, 0.3, 3.5, 6)).toBe(0);
    expect(entropyScore(4.75, 0.3, 3.5, 6)).toBeCloseTo(0.5, 12);
    expect(entropyScore(6, 0.3, 3.5, 6)).toBe(1);
    // A low bound of 0 disables the low side.
    expect(entropyScore(0, 0, 3.5, 6)).toBe(0);
  });

  it("matches a from-scratch entropy as the window goes from a few labels (arrays) to many (a Map) and to few again", () => {
    const window = windowOf(50);
    const recent: string[] = [];
    let seed = 7;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let i = 0; i < 2_000; i++) {
      // Phases of 3, 40 and 5 distinct labels.
      const distinct = i < 500 ? 3 : i < 1_200 ? 40 : 5;
      const label = `tool-${Math.floor(random() * distinct)}`;
      window.pushAction(label, false);
      recent.push(label);
      if (recent.length > 50) recent.shift();
      const counts = new Map<string, number>();
      for (const l of recent) counts.set(l, (counts.get(l) ?? 0) + 1);
      let bits = 0;
      for (const c of counts.values()) bits -= (c / recent.length) * Math.log2(c / recent.length);
      expect(window.entropyBits).toBeCloseTo(bits, 9);
      expect(window.distinctLabels).toBe(counts.size);
    }
  });

  it("entropyQuiet holds only where the entropy signal scores 0 (property: random windows and bands)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 200 }),
        fc.integer({ min: 2, max: 60 }),
        fc.double({ min: 0, max: 2, noNaN: true }),
        fc.double({ min: 0.5, max: 5, noNaN: true }),
        fc.integer({ min: 1, max: 20 }),
        (labels, capacity, low, width, minActions) => {
          const high = low + width;
          const shape = new SignalShape({
            entropyWindowSize: capacity,
            frequencyWindowMs: 60_000,
            frequencyHistoryWindows: 60,
            loopRepeats: 3,
            loopWindowMs: 60_000,
            loopTableSize: 256,
            entropyLowBits: low,
            entropyHighBits: high,
            entropyMinActions: Math.min(minActions, capacity),
          });
          const window = new AgentSignals(shape);
          let quiet = 0;
          for (const label of labels) {
            window.pushAction(`l${label}`, false);
            if (!window.entropyQuiet) continue;
            quiet++;
            if (window.windowActions >= Math.min(minActions, capacity)) {
              expect(entropyScore(window.entropyBits, low, high, Math.log2(capacity))).toBe(0);
            }
          }
          // Without the band options a shape never calls a window quiet.
          if (labels.length > 0 && quiet === 0) expect(window.entropyQuiet).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
    const plain = windowOf(100);
    for (let i = 0; i < 50; i++) plain.pushAction(`t${i % 5}`, false);
    expect(plain.entropyQuiet).toBe(false);
  });

  it("entropyOneLabel holds only where entropyBits is 0 with enough actions, and for every window of one label (property)", () => {
    fc.assert(
      fc.property(
        // Runs of one label (the fleet's agents) and mixes, over windows short and long.
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 })), { maxLength: 700 }),
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 1, max: 30 }),
        (labels, capacity, minActions) => {
          const minimum = Math.min(minActions, capacity);
          const window = new AgentSignals(
            new SignalShape({
              entropyWindowSize: capacity,
              frequencyWindowMs: 60_000,
              frequencyHistoryWindows: 60,
              loopRepeats: 3,
              loopWindowMs: 60_000,
              loopTableSize: 256,
              entropyLowBits: 0.3,
              entropyHighBits: 3.5,
              entropyMinActions: minimum,
            }),
          );
          const recent: number[] = [];
          for (const label of labels) {
            window.pushAction(`l${label}`, false);
            recent.push(label);
            if (recent.length > capacity) recent.shift();
            const oneLabel = new Set(recent).size === 1 && recent.length >= minimum;
            if (window.entropyOneLabel) {
              expect(window.entropyBits).toBe(0);
              expect(window.windowActions).toBeGreaterThanOrEqual(minimum);
            }
            expect(window.entropyOneLabel).toBe(oneLabel);
          }
        },
      ),
      { numRuns: 300 },
    );
    // Without the band options no window takes the shortcut.
    const plain = windowOf(100);
    for (let i = 0; i < 50; i++) plain.pushAction("t", false);
    expect(plain.entropyOneLabel).toBe(false);
  });
});
