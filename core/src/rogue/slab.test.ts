import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AgentSignals, SignalShape } from "./agent-signals.js";
import { LoopShape, LoopTable } from "./loop-table.js";
import { type Slab, SlabPool } from "./slab.js";

const pool32 = (blockCells: number) =>
  new SlabPool<Uint32Array>(blockCells, 4, (length) => new Uint32Array(length));

describe("SlabPool", () => {
  it("hands out disjoint zeroed blocks, several to a slab, and a new slab once the others are full", () => {
    const pool = pool32(16); // 64 bytes a block: 16 blocks in the first 1 KB slab
    const blocks: Array<[Slab<Uint32Array>, number]> = [];
    for (let i = 0; i < 16; i++) {
      const slab = pool.take();
      blocks.push([slab, pool.taken]);
      expect([...slab.cells.subarray(pool.taken, pool.taken + 16)].every((cell) => cell === 0)).toBe(true);
      slab.cells.fill(i + 1, pool.taken, pool.taken + 16);
    }
    expect(pool.slabs).toBe(1);
    expect(new Set(blocks.map(([, at]) => at)).size).toBe(16);
    // Each block still holds what its owner wrote (no overlap).
    blocks.forEach(([slab, at], i) => {
      expect(slab.cells[at + 15]).toBe(i + 1);
    });
    const next = pool.take();
    expect(pool.slabs).toBe(2);
    expect(next).not.toBe(blocks[0]?.[0]);
    // The second slab is twice as large.
    expect(next.cells.length).toBe(2 * 16 * 16);
    expect(pool.blocksInUse).toBe(17);
  });

  it("reuses a given-back block, zeroed, before carving a new one", () => {
    const pool = pool32(8);
    const slab = pool.take();
    const first = pool.taken;
    slab.cells.fill(7, first, first + 8);
    pool.take();
    pool.give(slab, first);
    expect(pool.blocksInUse).toBe(1);
    const again = pool.take();
    expect(again).toBe(slab);
    expect(pool.taken).toBe(first);
    expect([...again.cells.subarray(first, first + 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("drops a slab whose blocks are all given back while another has room (one empty slab at most stays)", () => {
    const pool = pool32(64); // 256 bytes a block: 4 in the first slab, 8 in the second
    const taken: Array<[Slab<Uint32Array>, number]> = [];
    for (let i = 0; i < 12; i++) taken.push([pool.take(), pool.taken]);
    expect(pool.slabs).toBe(2);
    // The first slab empties while it is the only one with room: it stays (the next take needs no new slab).
    for (const [slab, at] of taken.slice(0, 4)) pool.give(slab, at);
    expect(pool.slabs).toBe(2);
    // The second slab empties while the first has room: it goes.
    for (const [slab, at] of taken.slice(4)) pool.give(slab, at);
    expect(pool.slabs).toBe(1);
    expect(pool.blocksInUse).toBe(0);
    // Blocks come from the slab kept.
    expect(pool.take()).toBe(taken[0]?.[0]);
    expect(pool.slabs).toBe(1);
  });

  it("finds a slab by its cells while the pool holds it", () => {
    const pool = pool32(256); // 1 KB blocks: one to a slab
    const first = pool.take();
    const second = pool.take();
    expect(second).not.toBe(first);
    expect(pool.slabOf(first.cells)).toBe(first);
    expect(pool.slabOf(second.cells)).toBe(second);
    expect(() => pool.slabOf(new Uint32Array(256))).toThrow(RangeError);
    // Both given back: the first is dropped (the second has room), so its cells name no slab any more.
    pool.give(first, 0);
    pool.give(second, 0);
    expect(pool.slabs).toBe(1);
    expect(() => pool.slabOf(first.cells)).toThrow(RangeError);
    expect(pool.slabOf(second.cells)).toBe(second);
  });

  it("never hands out a block twice, whatever the order of takes and gives (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { maxLength: 300 }),
        fc.integer({ min: 1, max: 300 }),
        (ops, cells) => {
          const pool = pool32(cells);
          const held: Array<[Slab<Uint32Array>, number, number]> = [];
          let mark = 0;
          for (const takeOne of ops) {
            if (takeOne || held.length === 0) {
              const slab = pool.take();
              const at = pool.taken;
              expect(slab.cells[at]).toBe(0);
              expect(slab.cells[at + cells - 1]).toBe(0);
              mark++;
              slab.cells.fill(mark, at, at + cells);
              held.push([slab, at, mark]);
            } else {
              const [slab, at] = held.splice(mark % held.length, 1)[0] as [Slab<Uint32Array>, number, number];
              pool.give(slab, at);
            }
            for (const [slab, at, owner] of held) {
              expect(slab.cells[at]).toBe(owner);
              expect(slab.cells[at + cells - 1]).toBe(owner);
            }
          }
          expect(pool.blocksInUse).toBe(held.length);
        },
      ),
    );
  });
});

describe("loop tables and agent records in slabs", () => {
  it("a table that grows moves to a larger block and gives the old one back; clear() gives back the last", () => {
    const shape = new LoopShape(3, 60_000, 256);
    const table = new LoopTable(shape);
    expect(shape.blocksInUse).toBe(0); // nothing until the first call
    for (let call = 0; call < 100; call++) table.record(1_000 + call, call);
    expect(table.capacity).toBe(128);
    expect(shape.blocksInUse).toBe(1);
    for (let call = 0; call < 100; call++) expect(table.count(1_000 + call, 100)).toBe(1);
    table.clear();
    expect(shape.blocksInUse).toBe(0);
    expect(table.record(1_050, 200)).toBe(1);
    expect(table.count(1_000, 200)).toBe(0);
  });

  it("tables sharing a shape keep their calls apart while blocks are given back and reused", () => {
    const shape = new LoopShape(3, 60_000, 64);
    const tables = Array.from({ length: 30 }, () => new LoopTable(shape));
    // Uneven growth: table t holds 2t distinct fingerprints, each called twice.
    for (let round = 0; round < 2; round++)
      tables.forEach((table, t) => {
        for (let k = 0; k < 2 * t; k++) table.record(t * 1_000 + k, round);
      });
    for (let t = 0; t < 30; t += 2) tables[t]?.clear();
    const fresh = Array.from({ length: 25 }, () => new LoopTable(shape));
    fresh.forEach((table, f) => {
      for (let k = 0; k < 40; k++) table.record(10_000_000 + f * 1_000 + k, 10);
    });
    tables.forEach((table, t) => {
      const expected = t % 2 === 0 ? 0 : 2;
      for (let k = 0; k < 2 * t; k++) expect(table.count(t * 1_000 + k, 20)).toBe(expected);
    });
    fresh.forEach((table, f) => {
      for (let k = 0; k < 40; k++) expect(table.count(10_000_000 + f * 1_000 + k, 20)).toBe(1);
    });
  });

  it("a released agent record gives both blocks back, and the next record reuses them from scratch", () => {
    const shape = new SignalShape({
      entropyWindowSize: 100,
      frequencyWindowMs: 60_000,
      frequencyHistoryWindows: 60,
      loopRepeats: 3,
      loopWindowMs: 60_000,
      loopTableSize: 256,
    });
    const first = new AgentSignals(shape);
    for (let i = 0; i < 40; i++) {
      first.countInWindow(i * 1_000);
      first.pushAction(`tool-${i % 20}`, i % 7 === 0); // 20 labels: the label slots grow 8 → 16 → 32
      first.record(i, i * 1_000);
    }
    expect(first.labelSlots).toBe(20);
    // The doubles live in the block too (the last action's time, the entropy sum): moved with it as it grew.
    first.lastAtMs = 39_000;
    expect(first.lastAtMs).toBe(39_000);
    expect(first.entropyBits).toBeCloseTo(Math.log2(20), 12);
    expect(shape.recordBlocksInUse).toBe(1);
    expect(shape.loops.blocksInUse).toBe(1);
    first.release();
    expect(shape.recordBlocksInUse).toBe(0);
    expect(shape.loops.blocksInUse).toBe(0);
    const next = new AgentSignals(shape);
    expect(next.lastAtMs).toBe(Number.NEGATIVE_INFINITY);
    expect(next.windowActions).toBe(0);
    expect(next.entropyBits).toBe(0);
    expect(next.distinctLabels).toBe(0);
    next.countInWindow(100_000);
    next.pushAction("only", false);
    next.pushAction("only", false);
    expect(next.entropyBits).toBe(0);
    expect(next.distinctLabels).toBe(1);
    expect(next.count(5, 100_000)).toBe(0);
    expect(next.record(5, 100_000)).toBe(1);
  });
});
