import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  fingerprintHigh,
  fingerprintLow,
  fingerprintSalted,
  fingerprintToolCall,
  withoutFlatPath,
} from "./fingerprint.js";

describe("fingerprintToolCall", () => {
  it("ignores key order and undefined-valued keys, like a stable JSON stringify", () => {
    const a = fingerprintToolCall("search", { query: "x", limit: 5, filters: { lang: "en", site: "a" } });
    const b = fingerprintToolCall("search", { filters: { site: "a", lang: "en" }, limit: 5, query: "x" });
    const c = fingerprintToolCall("search", {
      query: "x",
      limit: 5,
      filters: { lang: "en", site: "a" },
      x: undefined,
    });
    expect(a).toBe(b);
    expect(a).toBe(c);
  });

  it("separates tools, values, types and array order", () => {
    const base = fingerprintToolCall("search", { q: "1" });
    expect(fingerprintToolCall("fetch", { q: "1" })).not.toBe(base);
    expect(fingerprintToolCall("search", { q: 1 })).not.toBe(base);
    expect(fingerprintToolCall("search", { q: "2" })).not.toBe(base);
    expect(fingerprintToolCall("search", { r: "1" })).not.toBe(base);
    expect(fingerprintToolCall("search", [1, 2])).not.toBe(fingerprintToolCall("search", [2, 1]));
    expect(fingerprintToolCall("search", null)).not.toBe(fingerprintToolCall("search", undefined));
    expect(fingerprintToolCall("search", "ab")).not.toBe(fingerprintToolCall("searcha", "b"));
    expect(fingerprintToolCall("t", { a: { b: 1 }, c: 2 })).not.toBe(
      fingerprintToolCall("t", { a: { b: 1, c: 2 } }),
    );
  });

  it("returns a safe integer", () => {
    fc.assert(
      fc.property(fc.string(), fc.jsonValue(), (tool, input) => {
        const fingerprint = fingerprintToolCall(tool, input);
        expect(Number.isSafeInteger(fingerprint)).toBe(true);
        expect(fingerprint).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it("is stable under key reordering (property)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (record) => {
        const reversed = Object.fromEntries(Object.entries(record).reverse());
        expect(fingerprintToolCall("t", reversed)).toBe(fingerprintToolCall("t", record));
      }),
    );
  });

  it("does not collide on 100k distinct small inputs", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 100_000; i++) seen.add(fingerprintToolCall("tool", { id: i, page: i % 7 }));
    expect(seen.size).toBe(100_000);
  });

  it("bounds work on huge, deep and cyclic inputs", () => {
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    cyclic.again = cyclic;
    expect(fingerprintToolCall("t", cyclic)).toBe(fingerprintToolCall("t", cyclic));

    // A huge string is sampled within the budget, not hashed whole (its cost is measured in bench/core.mjs,
    // not asserted here: unit tests never assert wall-clock time).
    const hugeString = "x".repeat(5_000_000);
    expect(fingerprintToolCall("t", { text: hugeString })).toBe(
      fingerprintToolCall("t", { text: hugeString }),
    );

    // Inputs that differ only past the budget share a fingerprint (the documented trade-off)...
    const tailA = `${"y".repeat(10_000)}A`;
    const tailB = `${"y".repeat(10_000)}B`;
    expect(fingerprintToolCall("t", tailA, 64)).toBe(fingerprintToolCall("t", tailB, 64));
    // ...unless their lengths differ.
    expect(fingerprintToolCall("t", tailA, 64)).not.toBe(fingerprintToolCall("t", `${tailA}!`, 64));
  });

  it("ignores key order also when the budget cuts the input short", () => {
    const record: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) record[`key-${i}`] = { text: "v".repeat(i * 3), n: i };
    const reversed = Object.fromEntries(Object.entries(record).reverse());
    for (const budget of [10, 64, 200, 1_000]) {
      expect(fingerprintToolCall("t", reversed, budget)).toBe(fingerprintToolCall("t", record, budget));
    }
    // Cut short, the part read still decides: a change in the first sorted key's value shows.
    const changed = { ...record, "key-0": { text: "w", n: 0 } };
    expect(fingerprintToolCall("t", changed, 64)).not.toBe(fingerprintToolCall("t", record, 64));
  });

  it("gives the same fingerprint whether an object key's hash comes from its cache or not", () => {
    const keys = ["orderId", "fields", "q", "", "x".repeat(70), "limit", "page"];
    const of = (names: string[]) =>
      fingerprintToolCall("t", Object.fromEntries(names.map((name, i) => [name, i])));
    const expected = of(keys);
    for (let round = 0; round < 3; round++) {
      expect(of(keys)).toBe(expected);
      // Keys built at run time are other string objects with the same characters.
      expect(of(keys.map((key) => key.split("").join("")))).toBe(expected);
    }
    // A key longer than what is left of the budget is cut, never served whole from the cache.
    expect(fingerprintToolCall("t", { ["k".repeat(20)]: 1 }, 8)).not.toBe(
      fingerprintToolCall("t", { ["k".repeat(20)]: 1 }),
    );
    expect(fingerprintToolCall("t", { ["k".repeat(20)]: 1 }, 8)).toBe(
      fingerprintToolCall("t", { ["k".repeat(20)]: 1 }, 8),
    );
  });

  it("gives the same fingerprint whether a string value's digest comes from its cache or not", () => {
    // Short values are cached (up to 24 characters), longer ones never; each is also hashed when it is new.
    const values = [
      "status",
      "eta",
      "",
      "a",
      "open",
      "x".repeat(24),
      "y".repeat(25),
      "how do I reset my password",
    ];
    const inputs = (text: string) => [text, [text, text], { v: text }, { v: [text, 1] }, { n: { v: text } }];
    const expected = values.map((text) => inputs(text).map((input) => fingerprintToolCall("t", input)));
    for (let round = 0; round < 3; round++) {
      values.forEach((text, i) => {
        // A value built at run time is another string object with the same characters.
        const copy = text.split("").join("");
        expect(inputs(text).map((input) => fingerprintToolCall("t", input))).toEqual(expected[i]);
        expect(inputs(copy).map((input) => fingerprintToolCall("t", input))).toEqual(expected[i]);
      });
    }
    // Values of the same cache slot (length and last character) in turn: each keeps its own digest.
    const same = ["ab", "bb", "cb"].map((text) => fingerprintToolCall("t", { v: text }));
    expect(new Set(same).size).toBe(3);
    expect(["ab", "bb", "cb"].map((text) => fingerprintToolCall("t", { v: text }))).toEqual(same);
    // A value longer than what is left of the budget is cut, never served whole from the cache.
    expect(fingerprintToolCall("t", { v: "status" }, 6)).toBe(fingerprintToolCall("t", { v: "statuX" }, 6));
    expect(fingerprintToolCall("t", { v: "status" }, 6)).not.toBe(fingerprintToolCall("t", { v: "status" }));
    // A string is still not a number, nor a key: "1" and 1, { a: "b" } and { b: "a" } differ.
    expect(fingerprintToolCall("t", ["1"])).not.toBe(fingerprintToolCall("t", [1]));
    expect(fingerprintToolCall("t", { a: "b" })).not.toBe(fingerprintToolCall("t", { b: "a" }));
  });

  it("only counts own enumerable keys, as JSON.stringify does", () => {
    const withInherited = Object.create({ inherited: 1 }) as Record<string, unknown>;
    withInherited.own = 2;
    Object.defineProperty(withInherited, "hidden", { value: 3, enumerable: false });
    expect(fingerprintToolCall("t", withInherited)).toBe(fingerprintToolCall("t", { own: 2 }));
  });

  it("hashes integers and other numbers apart from strings, and every character of odd- and even-length strings", () => {
    const of = (value: unknown) => fingerprintToolCall("t", value);
    expect(of(0)).toBe(of(-0)); // as in JSON
    expect(of(1)).not.toBe(of("1"));
    expect(of(1)).not.toBe(of(1.5));
    expect(of(2 ** 31)).not.toBe(of(-(2 ** 31)));
    expect(of(2 ** 31 - 1)).not.toBe(of(2 ** 31));
    // Integers share a unit with their tag below 2^26 and take one of their own above.
    expect(of(2 ** 26 - 1)).not.toBe(of(2 ** 26));
    expect(of(-(2 ** 26))).not.toBe(of(-(2 ** 26) - 1));
    expect(of(2 ** 26)).toBe(of(2 ** 26));
    expect(of(1e21)).toBe(of(1e21));
    for (const text of ["a", "ab", "abc", "abcd", "abcde"]) {
      const changedLast = `${text.slice(0, -1)}z`;
      expect(of(text)).not.toBe(of(changedLast));
      expect(of(text)).not.toBe(of(`${text}a`));
    }
    // Two UTF-16 units per step must not let a surrogate pair alias two other units.
    expect(of("\ud83d\ude00")).not.toBe(of("\ude00\ud83d"));
  });

  it("gives the same fingerprint whether the tool name's hash comes from its cache or not", () => {
    const names = [
      "search",
      "fetch_page",
      "send_email",
      "a",
      "",
      "x".repeat(100),
      "lookup_order",
      "summarise",
    ];
    const expected = names.map((name) => fingerprintToolCall(name, { id: 1 }));
    for (let round = 0; round < 3; round++) {
      names.forEach((name, i) => {
        // A name built at run time is another string object with the same characters.
        const copy = name.split("").join("");
        expect(fingerprintToolCall(name, { id: 1 })).toBe(expected[i]);
        expect(fingerprintToolCall(copy, { id: 1 })).toBe(expected[i]);
      });
    }
    // Names of one length in turn (the first look is by length, two ways, then by characters).
    const sameLength = ["get_user", "set_user", "del_user", "put_user"];
    const sameExpected = sameLength.map((name) => fingerprintToolCall(name, { id: 1 }));
    expect(new Set(sameExpected).size).toBe(4);
    for (let round = 0; round < 3; round++) {
      expect(sameLength.map((name) => fingerprintToolCall(name, { id: 1 }))).toEqual(sameExpected);
    }
    // A cached name is cut when the budget is shorter than it, never served whole from a cache.
    expect(fingerprintToolCall("get_user", 1, 4)).toBe(fingerprintToolCall("get_uXXX", 1, 4));
    expect(fingerprintToolCall("get_user", 1, 4)).not.toBe(fingerprintToolCall("get_user", 1));
    // A name longer than the budget is truncated, so it is never cached.
    const long = "y".repeat(50);
    expect(fingerprintToolCall(long, 1, 10)).toBe(fingerprintToolCall(long, 1, 10));
    expect(fingerprintToolCall(long, 1, 10)).not.toBe(fingerprintToolCall(long, 1));
  });

  it("salted (the detector's per-task keys): salt 0 is the plain fingerprint, salts separate, key order still ignored", () => {
    const input = { orderId: 7, fields: ["status", "eta"] };
    const reordered = { fields: ["status", "eta"], orderId: 7 };
    expect(fingerprintSalted("lookup", input, 4096, 0)).toBe(fingerprintToolCall("lookup", input));
    const keys = new Set<number>();
    for (const salt of [0, 1, 2, -1, 0x7fffffff, -0x80000000, 0x12345678]) {
      const key = fingerprintSalted("lookup", input, 4096, salt);
      expect(Number.isSafeInteger(key) && key >= 0).toBe(true);
      expect(fingerprintSalted("lookup", reordered, 4096, salt)).toBe(key);
      // Cut short by the budget: walked again with sorted keys, from the same salted start.
      expect(fingerprintSalted("lookup", reordered, 3, salt)).toBe(
        fingerprintSalted("lookup", input, 3, salt),
      );
      keys.add(key);
    }
    expect(keys.size).toBe(7);
  });

  it("the flat fast path gives exactly the general walk's fingerprint, at every budget (property)", () => {
    const leaf = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.integer({ min: -(2 ** 27), max: 2 ** 27 }),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.double({ noNaN: true }),
    );
    const value = fc.oneof(
      leaf,
      fc.array(leaf, { maxLength: 5 }),
      fc.dictionary(fc.string({ maxLength: 4 }), leaf),
    );
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.dictionary(fc.string({ maxLength: 8 }), value, { maxKeys: 6 }),
        fc.integer({ min: 0, max: 80 }),
        fc.integer(),
        (tool, input, budget, salt) => {
          const fast = fingerprintSalted(tool, input, budget, salt);
          expect(withoutFlatPath(() => fingerprintSalted(tool, input, budget, salt))).toBe(fast);
          const reversed = Object.fromEntries(Object.entries(input).reverse());
          expect(fingerprintSalted(tool, reversed, budget, salt)).toBe(fast);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("the flat fast path covers the usual arguments and leaves the rest to the general walk", () => {
    const inputs: unknown[] = [
      { orderId: 42, fields: ["status", "eta"] },
      { q: "weather in Paris", limit: 5, exact: false, cursor: null },
      { ids: [1, 2, 3], tags: [] },
      { tags: ["ab", "cde", "f"] },
      { zz: ["abcdef"], a: "xyz" },
      { tags: [], ids: [1, 2, 3] },
      { nested: { a: 1 } },
      { price: 9.99 },
      { when: new Date(0) },
      { big: 2 ** 40 },
      {},
      // Values the flat path hands to the general walk one by one (then goes on with the next key).
      { filter: { status: "open", tags: ["a", "b"] }, page: 2 },
      { items: [{ id: 1 }, 2.5, "x", [3]], after: "y" },
      { query: "how do I reset my password on the portal", limit: 10 },
    ];
    for (const input of inputs) {
      // Every budget from nothing to plenty: the fast path hands over exactly where the walk would be cut.
      for (let budget = 0; budget <= 40; budget++) {
        expect(fingerprintToolCall("t", input, budget)).toBe(
          withoutFlatPath(() => fingerprintToolCall("t", input, budget)),
        );
      }
      expect(fingerprintToolCall("t", input)).toBe(withoutFlatPath(() => fingerprintToolCall("t", input)));
    }
    expect(fingerprintToolCall("t", { a: 1 })).not.toBe(fingerprintToolCall("t", { a: "1" }));
    expect(fingerprintToolCall("t", { a: [1] })).not.toBe(fingerprintToolCall("t", { a: 1 }));
    expect(fingerprintToolCall("t", { a: null })).not.toBe(fingerprintToolCall("t", { a: false }));
  });

  it("fingerprintLow and fingerprintHigh are the salted fingerprint's low 32 and high 21 bits", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.jsonValue(), fc.integer(), (tool, input, salt) => {
        const whole = fingerprintSalted(tool, input, 4096, salt);
        const low = fingerprintLow(tool, input, 4096, salt);
        const high = fingerprintHigh();
        expect(low).toBe(whole | 0);
        expect(high).toBe(Math.floor(whole / 2 ** 32));
        expect(high).toBeLessThan(2 ** 21);
      }),
    );
  });
});
