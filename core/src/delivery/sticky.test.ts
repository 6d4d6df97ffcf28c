import { describe, expect, it } from "vitest";
import { StickyTable } from "./sticky.js";

describe("StickyTable", () => {
  it("remembers keys, refreshes them on read, and expires idle ones", () => {
    const table = new StickyTable(100, 1000);
    table.set("a", true, 0);
    table.set("b", false, 0);
    expect(table.get("a", 900)).toBe(true);
    expect(table.peek("b", 900)).toBe(false);
    // "a" was refreshed at 900, "b" only peeked.
    expect(table.get("a", 1500)).toBe(true);
    expect(table.get("b", 1500)).toBeUndefined();
  });

  it("stays within its capacity and keeps the recently used keys", () => {
    const table = new StickyTable(10, 1_000_000);
    table.set("hot", true, 0);
    for (let i = 0; i < 1000; i++) {
      table.set(`k${i}`, false, i);
      expect(table.get("hot", i)).toBe(true);
      expect(table.size).toBeLessThanOrEqual(10);
    }
    expect(table.get("k0", 1000)).toBeUndefined();
    expect(table.get("k999", 1000)).toBe(false);
  });
});
