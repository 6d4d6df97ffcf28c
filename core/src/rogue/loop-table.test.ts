import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LoopShape, LoopTable, MAX_LOOP_TABLE_ENTRIES } from "./loop-table.js";

describe("LoopTable", () => {
  it("counts identical calls within the window", () => {
    const table = new LoopTable(3, 60_000, 16);
    expect(table.count(42, 0)).toBe(0);
    expect(table.record(42, 0)).toBe(1);
    expect(table.record(42, 1_000)).toBe(2);
    expect(table.count(42, 2_000)).toBe(2);
    expect(table.record(42, 2_000)).toBe(3);
    // Capped at `repeats`: only the last 3 timestamps are kept.
    expect(table.record(42, 3_000)).toBe(3);
    expect(table.count(7, 3_000)).toBe(0);
  });

  it("forgets calls once the window has passed (the window is half-open: now − t < windowMs)", () => {
    const table = new LoopTable(3, 60_000, 16);
    table.record(42, 0);
    table.record(42, 10_000);
    expect(table.count(42, 59_999)).toBe(2);
    expect(table.count(42, 60_000)).toBe(1);
    expect(table.count(42, 70_000)).toBe(0);
    expect(table.record(42, 70_000)).toBe(1);
  });

  it("holds at most maxEntries fingerprints, evicting the one first seen longest ago", () => {
    const table = new LoopTable(3, 60_000, 4);
    for (let fingerprint = 1; fingerprint <= 4; fingerprint++) table.record(fingerprint, 0);
    table.record(1, 1); // a hit does not change the eviction order
    table.record(5, 2); // evicts 1
    expect(table.size).toBe(4);
    expect(table.count(1, 3)).toBe(0);
    expect(table.count(2, 3)).toBe(1);
    expect(table.count(5, 3)).toBe(1);
    table.record(6, 3); // evicts 2
    expect(table.count(2, 3)).toBe(0);
    expect(table.count(3, 3)).toBe(1);
    for (let fingerprint = 100; fingerprint < 10_100; fingerprint++) table.record(fingerprint, 10);
    expect(table.size).toBe(4);
    expect(table.count(10_099, 11)).toBe(1);
    // A recycled entry starts from scratch.
    expect(table.record(1, 11)).toBe(1);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.record(10_099, 12)).toBe(1);
  });

  it("recycles an entry whose calls all left the window instead of growing: its size follows the calls per window", () => {
    const table = new LoopTable(3, 60_000, 256);
    // One distinct call per second for an hour: never more than ~60 within the window.
    for (let second = 0; second < 3_600; second++) table.record(1_000 + second, second * 1_000);
    expect(table.capacity).toBeLessThanOrEqual(64);
    expect(table.size).toBeLessThanOrEqual(64);
    // A call repeated within the window is still counted after all that churn.
    table.record(7, 3_600_000);
    table.record(7, 3_601_000);
    expect(table.count(7, 3_602_000)).toBe(2);
    // Bursts grow it, up to its bound.
    for (let i = 0; i < 1_000; i++) table.record(10_000 + i, 3_700_000);
    expect(table.size).toBe(256);
    expect(table.capacity).toBe(256);
  });

  it("keeps counts exact across growth (entries keep their first-seen order)", () => {
    const table = new LoopTable(2, 60_000, 64);
    for (let i = 0; i < 40; i++) table.record(i * 7919, 0);
    for (let i = 0; i < 40; i++) expect(table.count(i * 7919, 1)).toBe(1);
    for (let i = 0; i < 40; i++) expect(table.record(i * 7919, 2)).toBe(2);
    for (let i = 40; i < 64 + 40; i++) table.record(i * 7919, 3);
    // The 40 first seen earliest were recycled in that order; the later ones are all there.
    for (let i = 0; i < 40; i++) expect(table.count(i * 7919, 4)).toBe(0);
    for (let i = 40; i < 104; i++) expect(table.count(i * 7919, 4)).toBe(1);
  });

  it("reuses count()'s lookup in record() only while the table is unchanged (calls of one agent interleave)", () => {
    const table = new LoopTable(3, 60_000, 2);
    table.record(1, 0);
    table.record(2, 0);
    expect(table.count(1, 1)).toBe(1);
    table.record(3, 1); // recycles fingerprint 1's entry before its call is recorded
    expect(table.record(1, 2)).toBe(1); // a fresh entry (recycling 2's), not fingerprint 3's
    expect(table.count(3, 3)).toBe(1);
    expect(table.count(2, 3)).toBe(0);
    expect(table.count(9, 3)).toBe(0);
    table.record(2, 3); // recycles 3's entry after count(9) looked the table up
    expect(table.record(9, 4)).toBe(1);
    expect(table.count(2, 5)).toBe(1);
    expect(table.count(3, 5)).toBe(0);
  });

  it("keeps times to the ms in 32 bits: a call 60 days later still counts right (the base moves)", () => {
    const table = new LoopTable(3, 60_000, 16);
    const start = Date.UTC(2026, 0, 1);
    table.record(42, start);
    table.record(42, start + 1_000);
    expect(table.count(42, start + 2_000)).toBe(2);
    const later = start + 60 * 86_400_000; // past 2^32 ms from the first base
    expect(table.count(42, later)).toBe(0);
    expect(table.record(42, later)).toBe(1);
    expect(table.record(42, later + 59_999)).toBe(2);
    expect(table.count(42, later + 60_000)).toBe(1);
    // Far-apart calls of other fingerprints after the move are counted too.
    expect(table.record(7, later + 61_000)).toBe(1);
    expect(table.record(7, later + 62_000)).toBe(2);
  });

  it("floors fractional times to the ms (same counts for whole-ms times; a clock stepping back is tolerated)", () => {
    const table = new LoopTable(3, 1_000, 16);
    table.record(1, 100.75);
    expect(table.count(1, 1_100.5)).toBe(0); // floor(100.75) = 100 is not after 1,100.5 − 1,000
    expect(table.count(1, 1_099.9)).toBe(1);
    table.record(1, 50); // earlier than the last: still counted as a call
    expect(table.count(1, 1_000)).toBe(2);
  });

  it("holds up to 32,768 entries (an index slot keeps the entry in 16 bits)", () => {
    const table = new LoopTable(2, 60_000, 40_000);
    for (let i = 0; i < 40_000; i++) table.record(i * 2_654_435_761, 0);
    expect(table.capacity).toBe(MAX_LOOP_TABLE_ENTRIES);
    expect(table.size).toBe(MAX_LOOP_TABLE_ENTRIES);
    // The 7,232 first seen were recycled; the rest are all there.
    expect(table.count(0, 1)).toBe(0);
    for (let i = 40_000 - MAX_LOOP_TABLE_ENTRIES; i < 40_000; i += 997) {
      expect(table.count(i * 2_654_435_761, 1)).toBe(1);
    }
  });

  it("counts like a plain model of the last calls per fingerprint, also when fingerprints share their low bits (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 80 }),
        fc.array(
          fc.record({
            // Few distinct low words and high words: index collisions, equal tags, recycling; and low words
            // equal in their low 16 bits (a scanned table's key) but not above.
            low: fc.oneof(
              fc.integer({ min: 0, max: 6 }).map((n) => (n * 0x1_0001) >>> 0),
              fc.constantFrom(
                7,
                0x1_0007,
                0x2_0007,
                0xffff_0007,
                0x8000_0000,
                0xffff,
                0x1_ffff,
                0x8000,
                0x1_8000,
                0x1_0000,
              ),
            ),
            high: fc.integer({ min: 0, max: 3 }),
            gapMs: fc.integer({ min: 0, max: 40_000 }),
            record: fc.boolean(),
          }),
          { maxLength: 300 },
        ),
        (maxEntries, steps) => {
          const repeats = 3;
          const windowMs = 60_000;
          const table = new LoopTable(repeats, windowMs, maxEntries);
          // The model: per fingerprint its call times, and the order fingerprints were first seen.
          const times = new Map<number, number[]>();
          let order: number[] = [];
          let now = 1_000_000;
          for (const step of steps) {
            now += step.gapMs;
            const fingerprint = step.high * 0x1_0000_0000 + step.low;
            const recent = (at: number) =>
              (times.get(fingerprint) ?? []).slice(-repeats).filter((t) => t > at - windowMs).length;
            if (!step.record) {
              expect(table.count(fingerprint, now)).toBe(recent(now));
              continue;
            }
            if (!times.has(fingerprint)) {
              const alive = (f: number) =>
                (times.get(f) ?? []).slice(-repeats).some((t) => t > now - windowMs);
              // The table recycles the oldest entry when full or when it can no longer count.
              const capacity = table.capacity;
              const full = order.length === maxEntries;
              const oldest = order[0];
              const recycles =
                oldest !== undefined &&
                (full || (order.length === capacity && capacity > 0 && !alive(oldest)));
              if (recycles) {
                times.delete(oldest);
                order = order.slice(1);
              }
              times.set(fingerprint, []);
              order.push(fingerprint);
            }
            (times.get(fingerprint) as number[]).push(now);
            expect(table.record(fingerprint, now)).toBe(recent(now));
          }
          expect(table.size).toBe(order.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("record after a count that missed skips the lookup, and stays exact when another call came between", () => {
    const shape = new LoopShape(3, 60_000, 64);
    const a = new LoopTable(shape);
    const b = new LoopTable(shape);
    // count misses, record inserts; a second record of the same call finds it (the miss is used once).
    expect(a.count(42, 0)).toBe(0);
    expect(a.record(42, 0)).toBe(1);
    expect(a.record(42, 1)).toBe(2);
    // Another table of the shape records between the count and the record.
    expect(a.count(7, 2)).toBe(0);
    expect(b.record(7, 2)).toBe(1);
    expect(a.record(7, 3)).toBe(1);
    expect(a.count(7, 4)).toBe(1);
    expect(b.count(7, 4)).toBe(1);
    // The same table records the call between its count and its record (two calls of one agent in flight).
    expect(a.count(9, 5)).toBe(0);
    expect(a.record(9, 5)).toBe(1);
    expect(a.record(9, 6)).toBe(2);
    expect(a.size).toBe(3);
    // A count that missed, then a clear: the record starts the table afresh.
    expect(a.count(11, 7)).toBe(0);
    a.clear();
    expect(a.record(11, 8)).toBe(1);
    expect(a.count(42, 8)).toBe(0);
    expect(a.size).toBe(1);
  });

  it("countKey and recordKey (the fingerprint as low int32 and high bits) count as count and record do", () => {
    const byNumber = new LoopTable(3, 60_000, 8);
    const byKey = new LoopTable(3, 60_000, 8);
    const fingerprints = [0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 123_456_789_012_345, 0xffff_0000];
    for (let step = 0; step < 200; step++) {
      const fingerprint = fingerprints[(step * 7) % fingerprints.length] as number;
      const low = fingerprint | 0;
      const high = Math.floor(fingerprint / 2 ** 32);
      const at = step * 500;
      expect(byKey.countKey(low, high, at)).toBe(byNumber.count(fingerprint, at));
      expect(byKey.recordKey(low, high, at)).toBe(byNumber.record(fingerprint, at));
    }
    expect(byKey.size).toBe(byNumber.size);
  });

  it("scans a small table's key array (no chains up to 64 entries), then chains once it grows past them", () => {
    const table = new LoopTable(3, 60_000, 256);
    // Low word 0 and the zeroed key slots past the live entries must not be taken for one another.
    expect(table.count(5 * 2 ** 32, 0)).toBe(0);
    expect(table.record(5 * 2 ** 32, 0)).toBe(1);
    expect(table.count(0, 1)).toBe(0);
    expect(table.count(6 * 2 ** 32, 1)).toBe(0);
    expect(table.record(0, 1)).toBe(1);
    expect(table.count(0, 2)).toBe(1);
    // 80 fingerprints sharing their low words in pairs: 8 → 16 → 32 → 64 entries scanned, then 128 chained.
    const fingerprints = Array.from({ length: 80 }, (_, i) => (i % 2) * 2 ** 32 + ((i >> 1) * 0x1_0001 + 7));
    for (const [i, fingerprint] of fingerprints.entries()) {
      expect(table.record(fingerprint, 10 + i)).toBe(1);
      if (i === 29) expect(table.capacity).toBe(32); // 32 entries with the two above
      if (i === 61) expect(table.capacity).toBe(64); // the last scanned size
      for (const seen of fingerprints.slice(0, i + 1)) expect(table.count(seen, 10 + i)).toBe(1);
      expect(table.count(fingerprint + 2, 10 + i)).toBe(0);
    }
    expect(table.capacity).toBe(128);
    expect(table.count(0, 100)).toBe(1);
    expect(table.count(5 * 2 ** 32, 100)).toBe(1);
    expect(table.size).toBe(82);
  });

  it("keeps a scanned table's keys in a key block of the shape, given back when it chains or clears", () => {
    const shape = new LoopShape(3, 60_000, 256);
    const a = new LoopTable(shape);
    const b = new LoopTable(shape);
    expect(shape.keyPool.blocksInUse).toBe(0);
    a.record(1, 0);
    b.record(1, 0);
    expect(shape.keyPool.blocksInUse).toBe(2);
    // Low words equal in their low 16 bits: the key matches, the record tells them apart.
    expect(a.record(0x1_0001, 1)).toBe(1);
    expect(a.count(0x2_0001, 1)).toBe(0);
    expect(a.count(0x1_0001, 1)).toBe(1);
    for (let i = 0; i < 40; i++) a.record(100 + i, 2 + i);
    // 64 entries: still scanned, its keys moved to a wider block.
    expect(a.capacity).toBe(64);
    expect(shape.keyPool.blocksInUse).toBe(1);
    expect(shape.wideKeyPool.blocksInUse).toBe(1);
    expect(a.count(1, 45)).toBe(1);
    expect(a.count(0x1_0001, 45)).toBe(1);
    expect(a.count(139, 45)).toBe(1);
    for (let i = 40; i < 70; i++) a.record(100 + i, 2 + i);
    expect(a.capacity).toBe(128);
    expect(shape.keyPool.blocksInUse).toBe(1);
    expect(shape.wideKeyPool.blocksInUse).toBe(0);
    expect(a.count(1, 50)).toBe(1);
    expect(a.count(0x1_0001, 50)).toBe(1);
    b.clear();
    expect(shape.keyPool.blocksInUse).toBe(0);
    expect(b.count(1, 50)).toBe(0);
    expect(b.record(1, 50)).toBe(1);
    expect(shape.keyPool.blocksInUse).toBe(1);
  });

  it("counts fingerprints whose low word is 2^31 or more in scanned tables of every size (the scan takes it as an int32)", () => {
    for (const entries of [5, 8, 13, 16, 30, 60]) {
      const table = new LoopTable(3, 60_000, 256);
      const fingerprints = Array.from(
        { length: entries },
        (_, i) => (i % 3) * 2 ** 32 + 0x8000_0000 + i * 0x1_0003,
      );
      for (const fingerprint of fingerprints) expect(table.record(fingerprint, 0)).toBe(1);
      expect(table.capacity).toBeLessThanOrEqual(64);
      for (const fingerprint of fingerprints) {
        expect(table.count(fingerprint, 1)).toBe(1);
        expect(table.record(fingerprint, 2)).toBe(2);
        expect(table.count(fingerprint - 0x8000_0000, 2)).toBe(0);
      }
    }
  });

  it("a table of 8 entries ignores the stale keys in the rest of its key block (its scan reads 16 keys)", () => {
    const shape = new LoopShape(3, 60_000, 256);
    const wide = new LoopTable(shape);
    // 16 entries: keys in all 8 words of a key block, then the block is given back.
    const old = Array.from({ length: 16 }, (_, i) => 2 ** 32 + 0x1000 + i);
    for (const fingerprint of old) wide.record(fingerprint, 0);
    expect(wide.capacity).toBe(16);
    wide.clear();
    const small = new LoopTable(shape);
    for (let i = 0; i < 5; i++) small.record(0x5000 + i, 1);
    expect(small.capacity).toBe(8);
    expect(shape.keyPool.blocksInUse).toBe(1);
    // Same low 16 bits as the old keys 8–15 (and 0–4, now overwritten), other fingerprints: no count.
    for (const fingerprint of old) {
      expect(small.count(fingerprint, 2)).toBe(0);
      expect(small.count(fingerprint & 0xffff, 2)).toBe(0);
    }
    expect(small.record(old[12] as number, 3)).toBe(1);
    expect(small.count(old[12] as number, 3)).toBe(1);
    expect(small.count(0x5003, 3)).toBe(1);
    expect(small.size).toBe(6);
  });

  it("prefetchKeys reads the first word a scanned table's lookup scans (entries 0 and 1's keys); 0 when empty or chained", () => {
    const shape = new LoopShape(3, 60_000, 256);
    const a = new LoopTable(shape);
    const b = new LoopTable(shape);
    expect(a.prefetchKeys()).toBe(0);
    // Two tables side by side in the key pool: each reads its own block.
    a.record(0xabcd_1234, 0);
    b.record(0x0000_0042, 0);
    a.record(0x0001_5678, 1);
    const even = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    const word = (first: number, second: number) =>
      (even ? first | (second << 16) : second | (first << 16)) >>> 0;
    expect(a.prefetchKeys() >>> 0).toBe(word(0x1234, 0x5678));
    expect(b.prefetchKeys() >>> 0).toBe(word(0x0042, 0));
    for (let i = 0; i < 70; i++) a.record(100 + i, 2 + i);
    expect(a.capacity).toBe(128);
    expect(a.prefetchKeys()).toBe(0);
    b.clear();
    expect(b.prefetchKeys()).toBe(0);
  });

  it("finds every entry of the last maxEntries fingerprints through long recycling (chains never unlinked)", () => {
    for (const maxEntries of [5, 64, 256]) {
      const table = new LoopTable(3, 10 ** 12, maxEntries);
      // First-seen order of the fingerprints in the table (the model): the oldest is recycled when full.
      let order: number[] = [];
      const calls = new Map<number, number>();
      let seed = 12_345;
      for (let step = 0; step < 20_000; step++) {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        // 3 × maxEntries distinct fingerprints, many sharing their home slot and their 16 bits.
        const n = (seed >>> 0) % (3 * maxEntries);
        const fingerprint = (n % 7) * 2 ** 32 + ((n * 0x1_0001) >>> 0);
        const known = calls.get(fingerprint) ?? 0;
        expect(table.count(fingerprint, step)).toBe(Math.min(known, 3));
        if (known === 0) {
          if (order.length === maxEntries) {
            calls.delete(order[0] as number);
            order = order.slice(1);
          }
          order.push(fingerprint);
        }
        calls.set(fingerprint, known + 1);
        expect(table.record(fingerprint, step)).toBe(Math.min(known + 1, 3));
      }
      expect(order.length).toBe(maxEntries);
      expect(table.size).toBe(maxEntries);
    }
  });
});
