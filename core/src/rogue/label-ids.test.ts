import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AgentSignals, SignalShape } from "./agent-signals.js";
import { RogueAgentDetector } from "./detector.js";
import { LabelIds, NO_LABEL } from "./label-ids.js";
import { nameWay } from "./name-cache.js";

function shapeOf(capacity = 10): SignalShape {
  return new SignalShape({
    entropyWindowSize: capacity,
    frequencyWindowMs: 60_000,
    frequencyHistoryWindows: 60,
    loopRepeats: 3,
    loopWindowMs: 60_000,
    loopTableSize: 256,
  });
}

describe("LabelIds", () => {
  it("gives a label one id while slots hold it, forgets it after the last release and reuses the number", () => {
    const ids = new LabelIds();
    expect(ids.idOf("search")).toBe(NO_LABEL);
    const search = ids.acquire("search");
    expect(search).not.toBe(NO_LABEL);
    expect(ids.acquire("search")).toBe(search);
    expect(ids.idOf("search")).toBe(search);
    const fetch = ids.acquire("fetch");
    expect(fetch).not.toBe(search);
    expect(ids.size).toBe(2);
    ids.release(search);
    expect(ids.idOf("search")).toBe(search); // one holder left
    ids.release(search);
    expect(ids.idOf("search")).toBe(NO_LABEL); // cached before, forgotten now
    expect(ids.size).toBe(1);
    const other = ids.acquire("other");
    expect(other).toBe(search); // the number is reused
    expect(ids.labelOf(other)).toBe("other");
    expect(ids.idOf("other")).toBe(other);
    expect(ids.hold(fetch)).toBe(fetch);
    ids.release(fetch);
    expect(ids.idOf("fetch")).toBe(fetch);
  });

  it("matches a model of held labels under random acquires and releases, cache collisions included (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ label: fc.integer({ min: 0, max: 60 }), acquire: fc.boolean() }), {
          maxLength: 400,
        }),
        (steps) => {
          const ids = new LabelIds();
          const holders = new Map<string, number>();
          const idOfLabel = new Map<string, number>();
          for (const step of steps) {
            const label = `tool-${step.label}`;
            const held = holders.get(label) ?? 0;
            if (step.acquire || held === 0) {
              const id = ids.acquire(label);
              if (held > 0) expect(id).toBe(idOfLabel.get(label));
              idOfLabel.set(label, id);
              holders.set(label, held + 1);
            } else {
              ids.release(idOfLabel.get(label) as number);
              holders.set(label, held - 1);
            }
            for (const [known, count] of holders) {
              expect(ids.idOf(known)).toBe(count > 0 ? idOfLabel.get(known) : NO_LABEL);
            }
          }
          expect(ids.size).toBe([...holders.values()].filter((count) => count > 0).length);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("label ids in agent records", () => {
  it("holds only the labels some window holds: labels that leave every window are forgotten", () => {
    const shape = shapeOf(10);
    const a = new AgentSignals(shape);
    const b = new AgentSignals(shape);
    for (let i = 0; i < 10; i++) a.pushAction(`a-${i % 5}`, false);
    for (let i = 0; i < 10; i++) b.pushAction(i % 2 === 0 ? "a-0" : "b-1", false);
    expect(shape.labels.size).toBe(6);
    // A window of 10: ten new labels push a's five out.
    for (let i = 0; i < 10; i++) a.pushAction(`fresh-${i}`, false);
    expect(a.distinctLabels).toBe(10);
    expect(shape.labels.size).toBe(12); // a-0 is still in b's window
    b.release();
    expect(shape.labels.size).toBe(10);
    a.release();
    expect(shape.labels.size).toBe(0);
  });

  it("untrusted labels cannot grow the table: 200,000 distinct labels keep it at the windows' size", () => {
    const shape = shapeOf(50);
    const records = [new AgentSignals(shape), new AgentSignals(shape), new AgentSignals(shape)];
    for (let i = 0; i < 200_000; i++) {
      (records[i % 3] as AgentSignals).pushAction(`label-${i}`, false);
      if (i % 9_973 === 0) expect(shape.labels.size).toBeLessThanOrEqual(150);
    }
    expect(shape.labels.size).toBe(150);
    for (const record of records) expect(record.distinctLabels).toBe(50);
    // Through the detector: its snapshot's sizes stay at the window too.
    const detector = new RogueAgentDetector({ entropyWindowSize: 50 });
    for (let i = 0; i < 20_000; i++) {
      detector.recordAction({ agentId: `agent-${i % 3}`, action: `label-${i}`, timestamp: i });
    }
    for (const agent of Object.values(detector.snapshot().agents))
      expect(agent.sizes.distinctActions).toBe(50);
  });

  it("grows the slots with their ids and keeps entropy exact when labels come back after leaving (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 300 }), (labels) => {
        const shape = shapeOf(32);
        const record = new AgentSignals(shape);
        const other = new AgentSignals(shape);
        const window: string[] = [];
        for (const [i, n] of labels.entries()) {
          const label = `l${n}`;
          record.pushAction(label, false);
          if (i % 3 === 0) other.pushAction(label, false);
          window.push(label);
          if (window.length > 32) window.shift();
          const counts = new Map<string, number>();
          for (const known of window) counts.set(known, (counts.get(known) ?? 0) + 1);
          let bits = 0;
          for (const count of counts.values())
            bits -= (count / window.length) * Math.log2(count / window.length);
          expect(record.entropyBits).toBeCloseTo(bits, 9);
          expect(record.distinctLabels).toBe(counts.size);
        }
        record.release();
        other.release();
        expect(shape.labels.size).toBe(0);
        expect(shape.recordBlocksInUse).toBe(0);
      }),
      { numRuns: 100 },
    );
  });
});

describe("nameWay (the two-way name caches' set)", () => {
  it("gives the first way of a set in range, the same for equal names", () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 8 }), (name, bits) => {
        const way = nameWay(name, bits);
        expect(way % 2).toBe(0);
        expect(way).toBeGreaterThanOrEqual(0);
        expect(way).toBeLessThan(2 << bits);
        expect(nameWay(name.split("").join(""), bits)).toBe(way);
      }),
    );
  });

  it("keeps two names of one set cached (ids stay right when they alternate)", () => {
    const ids = new LabelIds();
    // Find three labels in one set of 16.
    const bySet = new Map<number, string[]>();
    for (let i = 0; i < 200; i++) {
      const label = `tool_${i}`;
      const set = nameWay(label, 4);
      bySet.set(set, [...(bySet.get(set) ?? []), label]);
    }
    const [a, b, c] = [...bySet.values()].find((labels) => labels.length >= 3) as string[];
    const idA = ids.acquire(a as string);
    const idB = ids.acquire(b as string);
    const idC = ids.acquire(c as string);
    for (let round = 0; round < 3; round++) {
      expect(ids.idOf(a as string)).toBe(idA);
      expect(ids.idOf(b as string)).toBe(idB);
      expect(ids.idOf(c as string)).toBe(idC);
    }
    ids.release(idB);
    expect(ids.idOf(b as string)).toBe(NO_LABEL);
    expect(ids.idOf(a as string)).toBe(idA);
  });
});
