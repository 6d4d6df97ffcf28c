import { describe, expect, it } from "vitest";
import { canonicalJson, canonicalJsonWithout } from "./canonical-json.js";
import { previousCanonicalJson, random } from "./test-utils/reference.js";

/** What `fn(value)` returns, or the class and message of what it throws. */
function outcome(fn: (value: unknown) => string, value: unknown): string {
  try {
    return `returned ${fn(value)}`;
  } catch (error) {
    return `threw ${(error as Error).constructor.name}: ${(error as Error).message}`;
  }
}

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  7,
  0.1,
  -2.5,
  1 / 3,
  1e21,
  1e-7,
  5e-324,
  -5e-324,
  Number.MAX_VALUE,
  Number.MIN_SAFE_INTEGER,
  2 ** 31,
  -(2 ** 31) - 1,
  123456789.125,
  1.7976931348623157e308,
  4.35,
  0.30000000000000004,
];
const STRINGS = [
  "",
  "plain",
  'quote " inside',
  "back\\slash",
  "new\nline\ttab\r\b\f",
  "\u0000\u0001\u001f\u007f",
  "é ß ✓ € 🚀 𝄞",
  "\ud800 lone high",
  "lone low \udfff",
  "\u2028\u2029",
  "</script>",
];
// Keys that sort differently by code unit than by code point or locale, need escapes, or look like indices.
const KEYS = [
  "a",
  "B",
  "b",
  "_",
  "",
  "10",
  "2",
  "-1",
  "é",
  "z",
  "\uff61",
  "😀",
  "\ud83d",
  'q"uote',
  "back\\slash",
  "line\nbreak",
  "\u0000",
  "hash",
  "prevHash",
  "sequence",
  "constructor",
  "__proto__x",
];

function randomValue(next: () => number, depth: number): unknown {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const roll = next();
  if (depth <= 0 || roll < 0.45) {
    const leaf = next();
    if (leaf < 0.35) return pick(NUMBERS);
    if (leaf < 0.45) return next() * 2e6 - 1e6;
    if (leaf < 0.75) return pick(STRINGS);
    if (leaf < 0.85) return next() < 0.5;
    return null;
  }
  if (roll < 0.7) {
    return Array.from({ length: Math.floor(next() * 6) }, () => randomValue(next, depth - 1));
  }
  const record: Record<string, unknown> = {};
  const size = Math.floor(next() * 8);
  for (let i = 0; i < size; i++) {
    record[pick(KEYS)] = next() < 0.12 ? undefined : randomValue(next, depth - 1);
  }
  return record;
}

describe("canonicalJson", () => {
  it("writes what the previous implementation wrote, for 3,000 generated nested values", () => {
    const next = random(18);
    let objects = 0;
    for (let i = 0; i < 3_000; i++) {
      const value = randomValue(next, 4);
      if (value !== null && typeof value === "object" && !Array.isArray(value)) objects++;
      expect(canonicalJson(value), `value ${i}`).toBe(previousCanonicalJson(value));
    }
    expect(objects).toBeGreaterThan(500);
  });

  it("writes numbers, strings and keys as before, one by one", () => {
    for (const value of [...NUMBERS, ...STRINGS, true, false, null]) {
      expect(canonicalJson(value)).toBe(previousCanonicalJson(value));
      expect(canonicalJson([value])).toBe(previousCanonicalJson([value]));
    }
    expect(canonicalJson(-0)).toBe("0");
    expect(canonicalJson(1e21)).toBe("1e+21");
    expect(canonicalJson(5e-324)).toBe("5e-324");
    const record = Object.fromEntries(KEYS.map((key, i) => [key, i]));
    expect(canonicalJson(record)).toBe(previousCanonicalJson(record));
    // Sorted by UTF-16 code units: "😀" (U+D83D U+DE00) before "｡" (U+FF61), digits as strings.
    expect(canonicalJson({ "\uff61": 1, "😀": 2, 10: 3, 2: 4 })).toBe('{"10":3,"2":4,"😀":2,"｡":1}');
  });

  it("sorts objects with many keys as before (the built-in sort beyond the insertion sort)", () => {
    const next = random(5);
    for (const size of [23, 24, 25, 26, 100, 1_000]) {
      const record: Record<string, number> = {};
      for (let i = 0; i < size; i++) record[`${KEYS[i % KEYS.length]}${Math.floor(next() * 1e6)}`] = i;
      expect(canonicalJson(record), `${size} keys`).toBe(previousCanonicalJson(record));
    }
  });

  it("writes holes, odd objects and array-likes as before", () => {
    // biome-ignore lint/suspicious/noSparseArray: holes are what is tested
    const holes = [1, , 3, , ,];
    const cases: unknown[] = [
      holes,
      new Array(3),
      [[], {}, [{}], { a: [] }],
      Object.assign([1, 2], { extra: "ignored" }),
      new Date(0),
      /regex/,
      new Map([["a", 1]]),
      new Uint8Array([3, 1, 2]),
      Object.create({ inherited: 1 }),
      Object.assign(Object.create(null), { b: 1, a: 2 }),
      { [Symbol("s")]: 1, a: 1 },
      Object.defineProperty({ a: 1 }, "hidden", { value: 2, enumerable: false }),
      { a: undefined, b: undefined },
      new String("boxed"),
      new Number(4),
      { toJSON: () => "not called" }, // a function value: rejected, toJSON or not
    ];
    for (const value of cases)
      expect(outcome(canonicalJson, value)).toBe(outcome(previousCanonicalJson, value));
    expect(canonicalJson(holes)).toBe("[1,,3,,]");
  });

  it("rejects what the previous implementation rejected, with the same error", () => {
    const rejected: unknown[] = [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      undefined,
      () => 1,
      Symbol("s"),
      10n,
      { a: Number.NaN },
      { a: 1, b: { c: [1, Number.NEGATIVE_INFINITY] } },
      [undefined],
      [1, undefined, 2],
      { f: () => 1 },
      { s: Symbol("x") },
      { n: 1n },
      [1n],
      // The first offender in sorted key order decides the message.
      { z: Number.NaN, a: Symbol("first") },
      { b: [Number.POSITIVE_INFINITY], a: { x: 2n } },
    ];
    for (const value of rejected) {
      const expected = outcome(previousCanonicalJson, value);
      expect(expected).toMatch(/^threw TypeError: canonicalJson: /);
      expect(outcome(canonicalJson, value)).toBe(expected);
    }
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(RangeError);
  });

  it("reads each property once, in sorted key order, as before", () => {
    const reads = (fn: (value: unknown) => string): string[] => {
      const log: string[] = [];
      const value = {};
      for (const key of ["c", "a", "b"]) {
        Object.defineProperty(value, key, {
          enumerable: true,
          get: () => {
            log.push(key);
            return key === "b" ? undefined : [key];
          },
        });
      }
      fn(value);
      return log;
    };
    expect(reads(canonicalJson)).toEqual(reads(previousCanonicalJson));
    expect(reads(canonicalJson)).toEqual(["a", "b", "c"]);
  });
});

describe("canonicalJsonWithout", () => {
  it("equals canonicalJson of a copy without the key, at the top level only", () => {
    const next = random(99);
    for (let i = 0; i < 1_000; i++) {
      const value = randomValue(next, 3);
      if (value === null || typeof value !== "object" || Array.isArray(value)) continue;
      for (const skipped of ["hash", "a", "é", "missing"]) {
        const { [skipped]: _removed, ...copy } = value as Record<string, unknown>;
        expect(outcome((v) => canonicalJsonWithout(v as object, skipped), value)).toBe(
          outcome(previousCanonicalJson, copy),
        );
      }
    }
    expect(canonicalJsonWithout({ hash: "h", a: { hash: 1 }, b: 2 }, "hash")).toBe('{"a":{"hash":1},"b":2}');
    expect(() => canonicalJsonWithout({ hash: Number.NaN, a: Number.NaN }, "hash")).toThrow(
      "canonicalJson: non-finite number NaN",
    );
    expect(canonicalJsonWithout({ hash: Number.NaN, a: 1 }, "hash")).toBe('{"a":1}');
  });
});
