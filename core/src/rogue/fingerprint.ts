/**
 * Cheap fingerprints of tool calls for loop detection.
 *
 * A call's fingerprint hashes the tool name and a walk of its arguments. Arrays are hashed in order; an
 * object is hashed as the sum of its entries' hashes (each entry — key and value — hashed on its own and
 * finished with an avalanche), so key order does not matter (`{a, b}` and `{b, a}` match) and no key list is
 * built or sorted. Keys holding `undefined` are skipped and only own enumerable string keys count, as in
 * `JSON.stringify`. Hashing happens during the walk, so no string is built. Two 32-bit lanes (FNV-1a and a
 * multiply-xor lane) are combined into a 53-bit integer: a safe `Map` key with a collision rate low enough
 * that two different calls are practically never mistaken for a loop. The lanes after a tool name, and an
 * entry's lanes after its key, depend on that string alone: both are cached for the last few names.
 *
 * Work is bounded by `budget`: every value visited costs one unit and every string character one more. When
 * the budget runs out the rest of the input is not read (string and container lengths are still mixed in,
 * so most inputs that differ only in their tail still differ). Deep or cyclic inputs therefore terminate.
 * Which part is read then depends on the order objects are walked in, so an input the budget cuts short is
 * walked again with every object's keys in sorted order: key order never changes a fingerprint.
 */

import { nameWay } from "./name-cache.js";
import { sortKeys } from "./sort-keys.js";

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
const LANE2_SEED = 0x9e3779b9 | 0;
const LANE2_PRIME = 0x5bd1e995;

// Tags separate value kinds so that, e.g., the string "1" and the number 1 hash differently. A tag takes the
// low 5 bits of a unit; a length, count or small integer shares its unit above them (one step for both).
const TAG_UNDEFINED = 1;
const TAG_NULL = 2;
const TAG_FALSE = 3;
const TAG_TRUE = 4;
const TAG_NUMBER = 5;
const TAG_STRING = 6;
const TAG_ARRAY = 7;
const TAG_OBJECT = 8;
const TAG_BIGINT = 9;
const TAG_DATE = 10;
const TAG_OTHER = 11;
const TAG_TRUNCATED = 12;
const TAG_TOOL = 13;
const TAG_KEY = 14;
const TAG_INT = 16;
/** Integers in [−2^26, 2^26) share their unit with the tag; others take a unit of their own after it. */
const SMALL_INT = 0x4000000;
/** Lengths below 2^26 share their unit with the tag; longer ones follow a unit with this bit set. */
const LONG_BIT = 0x80000000 | 0;

/** Default work budget (values + string characters) per fingerprint. */
export const DEFAULT_FINGERPRINT_BUDGET = 4096;

const floatView = new Float64Array(1);
const floatWords = new Uint32Array(floatView.buffer);
const hasOwn = Object.prototype.hasOwnProperty;

/** Tool names whose hasher state is kept (a direct-mapped cache: a power of two). */
const TOOL_CACHE_SETS_BITS = 4;
/** Entries: two ways per set. */
const TOOL_CACHE_SIZE = 2 << TOOL_CACHE_SETS_BITS;
const toolNames: Array<string | undefined> = new Array<string | undefined>(TOOL_CACHE_SIZE).fill(undefined);
/** Per cached name: both lanes after mixing it (Int32: `Math.imul` results). */
const toolLanes = new Int32Array(2 * TOOL_CACHE_SIZE);

/** Object keys whose lanes (an entry's, after its key) are kept: direct-mapped, a power of two. */
const KEY_CACHE_SIZE = 64;
const keyNames: Array<string | undefined> = new Array<string | undefined>(KEY_CACHE_SIZE).fill(undefined);
const keyLanes = new Int32Array(2 * KEY_CACHE_SIZE);

/** The keys the flat path (in `fingerprintLow`) saw last, by position, and each entry's lanes after its key. */
const FLAT_KEYS = 16;
const flatKeys: Array<string | undefined> = new Array<string | undefined>(FLAT_KEYS).fill(undefined);
const flatKeyLanes = new Int32Array(2 * FLAT_KEYS);

// The walk passes both lanes in arguments and locals (a value kept in module variables across every step
// costs a store and a load in the multiply chain: twice as slow); a function returns its lanes here.
// `var`, not `let`: a function reading or writing a module `let` checks on every access that it is past its
// declaration (V8's hole check); a `var` has no such state (the fingerprint of a 2-entry object: 120 → 95 ns).
var out1 = 0;
var out2 = 0;
var remaining = 0;
/** Set when the budget cut the walk short (the fast walk's result then depends on key order). */
var truncated = false;
/** Objects' keys are walked in sorted order (the second walk of a truncated input). */
var sortedWalk = false;
/** The high 21 bits of the last fingerprint (`fingerprintLow`'s second result). */
var high21 = 0;
/** Whether flat objects take the flat path (off only in tests that compare it with `walk`). */
var flatPath = true;

/** @internal Runs `fn` with every input read by the general walk (tests: the fast path must match it). */
export function withoutFlatPath<T>(fn: () => T): T {
  flatPath = false;
  try {
    return fn();
  } finally {
    flatPath = true;
  }
}

/** Mixes `unit` into the lanes (h1, h2) → (out1, out2). */
function mix2(h1: number, h2: number, unit: number): void {
  out1 = Math.imul(h1 ^ unit, FNV_PRIME);
  const b = Math.imul(h2 ^ unit, LANE2_PRIME);
  out2 = b ^ (b >>> 15);
}

/** A tag with a length or count, as one unit while it fits in 26 bits. → (out1, out2). */
function mixHeader(h1: number, h2: number, tag: number, length: number): void {
  if (length < SMALL_INT) {
    mix2(h1, h2, (length << 5) | tag);
  } else {
    mix2(h1, h2, LONG_BIT | tag);
    mix2(out1, out2, length | 0);
  }
}

/** The tag and length, then the characters within the budget, two UTF-16 units per step. → (out1, out2). */
function mixString(h1: number, h2: number, tag: number, text: string): void {
  const length = text.length;
  mixHeader(h1, h2, tag, length);
  let end = length;
  if (end > remaining) {
    end = remaining;
    truncated = true;
  }
  remaining -= end;
  mixChars(out1, out2, text, end);
}

/** The first `end` characters of `text`, two UTF-16 units per step, into the lanes (a, b) → (out1, out2). */
function mixChars(a: number, b: number, text: string, end: number): void {
  let i = 0;
  for (const pairs = end - 1; i < pairs; i += 2) {
    const pair = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16);
    a = Math.imul(a ^ pair, FNV_PRIME);
    b = Math.imul(b ^ pair, LANE2_PRIME);
    b ^= b >>> 15;
  }
  if (i < end) {
    const last = text.charCodeAt(i);
    a = Math.imul(a ^ last, FNV_PRIME);
    b = Math.imul(b ^ last, LANE2_PRIME);
    b ^= b >>> 15;
  }
  out1 = a;
  out2 = b;
}

/** The lanes of an entry after its key (out of line: a key not seen at its position last time). → (out1, out2). */
function flatKeyLanesOf(key: string, position: number): void {
  const unit = (key.length << 5) | TAG_KEY;
  const b = Math.imul(LANE2_SEED ^ unit, LANE2_PRIME);
  mixChars(Math.imul(FNV_OFFSET ^ unit, FNV_PRIME), b ^ (b >>> 15), key, key.length);
  if (position < FLAT_KEYS) {
    flatKeys[position] = key;
    flatKeyLanes[2 * position] = out1;
    flatKeyLanes[2 * position + 1] = out2;
  }
}

/**
 * Mixes a value into the lanes (h1, h2) → (out1, out2). One function for strings, small integers, arrays and
 * objects: the per-call cost of this walk is mostly fetching its machine code, so the common kinds share one
 * compact body (too large for V8 to inline, so it exists once) and the rest is in `walkOther`.
 */
function walk(h1: number, h2: number, value: unknown): void {
  if (remaining <= 0) {
    truncated = true;
    mix2(h1, h2, TAG_TRUNCATED);
    return;
  }
  remaining--;
  if (typeof value === "string") {
    mixString(h1, h2, TAG_STRING, value);
    return;
  }
  if (typeof value === "number" && (value | 0) === value && value >= -SMALL_INT && value < SMALL_INT) {
    // Ids, counts, pages: the integer shares its unit with the tag; −0 counts as 0, as in JSON.
    mix2(h1, h2, (value << 5) | TAG_INT);
    return;
  }
  if (typeof value !== "object" || value === null || value instanceof Date) {
    walkOther(h1, h2, value);
    return;
  }
  if (Array.isArray(value)) {
    const length = value.length;
    mixHeader(h1, h2, TAG_ARRAY, length);
    let i = 0;
    for (; i < length && remaining > 0; i++) walk(out1, out2, value[i]);
    if (i < length) truncated = true;
    return;
  }
  if (sortedWalk) {
    walkObjectSorted(h1, h2, value as Record<string, unknown>);
    return;
  }
  // An object: its defined entries' hashes added up (order-free), then their count and sums. for-in with an
  // own-property check: V8 walks its enum cache and loads each value by field index (Object.keys builds an
  // array and looks every key up again).
  const record = value as Record<string, unknown>;
  let sum1 = 0;
  let sum2 = 0;
  let definedKeys = 0;
  for (const key in record) {
    if (!hasOwn.call(record, key)) continue;
    const child = record[key];
    if (child === undefined) continue;
    if (remaining <= 0) {
      truncated = true;
      break;
    }
    definedKeys++;
    entryLanes(key);
    walk(out1, out2, child);
    sum1 = (sum1 + avalanche1(out1)) | 0;
    sum2 = (sum2 + avalanche2(out2)) | 0;
  }
  mixHeader(h1, h2, TAG_OBJECT, definedKeys);
  mix2(out1, out2, sum1);
  mix2(out1, out2, sum2);
}

/** The lanes of an entry after its key (from fixed lanes, so they depend on the key alone: cached). */
function entryLanes(key: string): void {
  const length = key.length;
  const slot = length === 0 ? 0 : (length * 7 + key.charCodeAt(length - 1)) & (KEY_CACHE_SIZE - 1);
  if (keyNames[slot] === key && length <= remaining) {
    remaining -= length;
    out1 = keyLanes[2 * slot] as number;
    out2 = keyLanes[2 * slot + 1] as number;
    return;
  }
  const wasTruncated = truncated;
  truncated = false;
  mixString(FNV_OFFSET, LANE2_SEED, TAG_KEY, key);
  if (!truncated) {
    keyNames[slot] = key;
    keyLanes[2 * slot] = out1;
    keyLanes[2 * slot + 1] = out2;
  }
  truncated ||= wasTruncated;
}

// An entry's lanes are avalanched before they are added up (FNV's low bits alone are weak).
function avalanche1(h: number): number {
  let a = h ^ (h >>> 16);
  a = Math.imul(a, 0x85ebca6b);
  return a ^ (a >>> 13);
}

function avalanche2(h: number): number {
  let b = h ^ (h >>> 16);
  b = Math.imul(b, 0xc2b2ae35);
  return b ^ (b >>> 16);
}

/** The kinds `walk` leaves out: other numbers, booleans, null, undefined, bigints, dates, functions, symbols. */
function walkOther(h1: number, h2: number, value: unknown): void {
  if (typeof value === "number") {
    if ((value | 0) === value) {
      mix2(h1, h2, LONG_BIT | TAG_INT);
      mix2(out1, out2, value);
    } else {
      floatView[0] = value;
      mix2(h1, h2, TAG_NUMBER);
      mix2(out1, out2, floatWords[0] as number);
      mix2(out1, out2, floatWords[1] as number);
    }
  } else if (typeof value === "boolean") {
    mix2(h1, h2, value ? TAG_TRUE : TAG_FALSE);
  } else if (value === null) {
    mix2(h1, h2, TAG_NULL);
  } else if (value === undefined) {
    mix2(h1, h2, TAG_UNDEFINED);
  } else if (typeof value === "bigint") {
    mixString(h1, h2, TAG_BIGINT, value.toString());
  } else if (value instanceof Date) {
    floatView[0] = value.getTime();
    mix2(h1, h2, TAG_DATE);
    mix2(out1, out2, floatWords[0] as number);
    mix2(out1, out2, floatWords[1] as number);
  } else {
    // Functions and symbols carry no comparable data.
    mix2(h1, h2, TAG_OTHER);
  }
}

/** An object with its keys in sorted order, so the budget cuts it the same way whatever its key order. */
function walkObjectSorted(h1: number, h2: number, value: Record<string, unknown>): void {
  let sum1 = 0;
  let sum2 = 0;
  let definedKeys = 0;
  const keys = Object.keys(value);
  // Sorting a huge key set would defeat the budget; its size alone must do.
  if (keys.length > remaining) {
    remaining = 0;
    truncated = true;
    definedKeys = keys.length;
  } else {
    sortKeys(keys);
    for (const key of keys) {
      const child = value[key];
      if (child === undefined) continue;
      if (remaining <= 0) break;
      definedKeys++;
      entryLanes(key);
      walk(out1, out2, child);
      sum1 = (sum1 + avalanche1(out1)) | 0;
      sum2 = (sum2 + avalanche2(out2)) | 0;
    }
  }
  mixHeader(h1, h2, TAG_OBJECT, definedKeys);
  mix2(out1, out2, sum1);
  mix2(out1, out2, sum2);
}

/** Both lanes after the tool name, from the cache of the last few names when it holds this one. → (out1, out2). */
function startWithTool(toolName: string, budget: number): void {
  // The hasher's state after the tool name depends on the name alone: kept for the last few names (an agent
  // calls a handful of tools), so a call hashes only its arguments.
  const length = toolName.length;
  if (length <= budget) {
    const way = nameWay(toolName, TOOL_CACHE_SETS_BITS);
    const hit = toolNames[way] === toolName ? way : toolNames[way + 1] === toolName ? way + 1 : -1;
    if (hit >= 0) {
      out1 = toolLanes[2 * hit] as number;
      out2 = toolLanes[2 * hit + 1] as number;
      return;
    }
    remaining = budget;
    mixString(FNV_OFFSET, LANE2_SEED, TAG_TOOL, toolName);
    // The newest name in the first way, the one it displaces in the second.
    toolNames[way + 1] = toolNames[way];
    toolLanes[2 * way + 2] = toolLanes[2 * way] as number;
    toolLanes[2 * way + 3] = toolLanes[2 * way + 1] as number;
    toolNames[way] = toolName;
    toolLanes[2 * way] = out1;
    toolLanes[2 * way + 1] = out2;
    return;
  }
  remaining = budget;
  mixString(FNV_OFFSET, LANE2_SEED, TAG_TOOL, toolName);
}

/**
 * A 53-bit fingerprint of a tool call: same tool and deep-equal arguments (ignoring key order) give the same
 * number. `budget` bounds the work (see the module comment).
 */
export function fingerprintToolCall(
  toolName: string,
  input: unknown,
  budget: number = DEFAULT_FINGERPRINT_BUDGET,
): number {
  return fingerprintSalted(toolName, input, budget, 0);
}

/**
 * @internal `fingerprintToolCall` with a 32-bit `salt` mixed in after the tool name (the detector's task
 * hash: the same call in another task is another key), so no second pass over the result; salt 0 gives
 * `fingerprintToolCall`'s value.
 */
export function fingerprintSalted(toolName: string, input: unknown, budget: number, salt: number): number {
  const low = fingerprintLow(toolName, input, budget, salt);
  return high21 * 0x1_0000_0000 + (low >>> 0);
}

/**
 * @internal `fingerprintSalted` as two small integers, with no 53-bit number (a heap number per call once it
 * leaves a function): returns the low 32 bits (as an int32); `fingerprintHigh()` then gives the high 21.
 */
export function fingerprintLow(toolName: string, input: unknown, budget: number, salt: number): number {
  sortedWalk = false;
  startWithTool(toolName, budget);
  const tool1 = out1 ^ salt;
  const tool2 = out2 ^ Math.imul(salt, 0x9e3779b1);
  truncated = false;
  remaining = budget;
  // The fast path for the usual arguments: a plain object whose values are strings, small integers,
  // booleans, null or arrays of strings and small integers, read within the budget. It gives exactly
  // `walk`'s lanes (the same units in the same order, the same budget) in one loop, without recursion or
  // calls, here rather than in a function of its own: this body is then over V8's limit for inlining (460
  // bytes of bytecode), compiled once on its own, and the usual call makes one call to it and none from it.
  // Anything else (nested objects, other numbers, the budget running out) leaves the block having changed
  // nothing, and `walk` reads the input from the start. Whether it applies depends on the content only,
  // never on key order. (A loop that never repeats, only to be left by `break flat` from the inner loops.)
  flat: for (;;) {
    if (
      !flatPath ||
      input === null ||
      typeof input !== "object" ||
      Array.isArray(input) ||
      input instanceof Date
    )
      break;
    const record = input as Record<string, unknown>;
    // The object's own unit (walk's check and decrement); every length below then fits in its unit's 26 bits.
    let left = remaining - 1;
    if (left < 0 || left >= SMALL_INT) break;
    let sum1 = 0;
    let sum2 = 0;
    let definedKeys = 0;
    for (const key in record) {
      if (!hasOwn.call(record, key)) continue;
      const child = record[key];
      if (child === undefined) continue;
      // The key, as `entryLanes` hashes it (its tag and length from fixed lanes, then its characters).
      const keyLength = key.length;
      if (left <= 0 || keyLength >= left) break flat;
      left -= keyLength + 1; // the key's characters, and the value's unit
      // The lanes after the key depend on the key alone: kept per position, as an agent's arguments repeat
      // their keys in the same order (property keys are interned: a hit is one comparison of references).
      let a: number;
      let b: number;
      if (definedKeys < FLAT_KEYS && flatKeys[definedKeys] === key) {
        a = flatKeyLanes[2 * definedKeys] as number;
        b = flatKeyLanes[2 * definedKeys + 1] as number;
      } else {
        flatKeyLanesOf(key, definedKeys);
        a = out1;
        b = out2;
      }
      definedKeys++;
      let unit: number;
      if (typeof child === "string") {
        const length = child.length;
        if (length > left) break flat;
        left -= length;
        unit = (length << 5) | TAG_STRING;
        a = Math.imul(a ^ unit, FNV_PRIME);
        b = Math.imul(b ^ unit, LANE2_PRIME);
        b ^= b >>> 15;
        // mixChars, written out (a call per string and its lanes through module variables cost more).
        let i = 0;
        for (const pairs = length - 1; i < pairs; i += 2) {
          const pair = child.charCodeAt(i) | (child.charCodeAt(i + 1) << 16);
          a = Math.imul(a ^ pair, FNV_PRIME);
          b = Math.imul(b ^ pair, LANE2_PRIME);
          b ^= b >>> 15;
        }
        if (i < length) {
          const last = child.charCodeAt(i);
          a = Math.imul(a ^ last, FNV_PRIME);
          b = Math.imul(b ^ last, LANE2_PRIME);
          b ^= b >>> 15;
        }
      } else if (Array.isArray(child)) {
        const length = child.length;
        if (length > left) break flat;
        unit = (length << 5) | TAG_ARRAY;
        a = Math.imul(a ^ unit, FNV_PRIME);
        b = Math.imul(b ^ unit, LANE2_PRIME);
        b ^= b >>> 15;
        for (let i = 0; i < length; i++) {
          const element: unknown = child[i];
          if (left <= 0) break flat;
          left--;
          if (typeof element === "string") {
            const elementLength = element.length;
            if (elementLength > left) break flat;
            left -= elementLength;
            unit = (elementLength << 5) | TAG_STRING;
            a = Math.imul(a ^ unit, FNV_PRIME);
            b = Math.imul(b ^ unit, LANE2_PRIME);
            b ^= b >>> 15;
            let k = 0;
            for (const pairs = elementLength - 1; k < pairs; k += 2) {
              const pair = element.charCodeAt(k) | (element.charCodeAt(k + 1) << 16);
              a = Math.imul(a ^ pair, FNV_PRIME);
              b = Math.imul(b ^ pair, LANE2_PRIME);
              b ^= b >>> 15;
            }
            if (k < elementLength) {
              const last = element.charCodeAt(k);
              a = Math.imul(a ^ last, FNV_PRIME);
              b = Math.imul(b ^ last, LANE2_PRIME);
              b ^= b >>> 15;
            }
          } else if (
            typeof element === "number" &&
            (element | 0) === element &&
            element >= -SMALL_INT &&
            element < SMALL_INT
          ) {
            unit = (element << 5) | TAG_INT;
            a = Math.imul(a ^ unit, FNV_PRIME);
            b = Math.imul(b ^ unit, LANE2_PRIME);
            b ^= b >>> 15;
          } else {
            break flat;
          }
        }
      } else {
        if (typeof child === "number" && (child | 0) === child && child >= -SMALL_INT && child < SMALL_INT) {
          unit = (child << 5) | TAG_INT;
        } else if (typeof child === "boolean") {
          unit = child ? TAG_TRUE : TAG_FALSE;
        } else if (child === null) {
          unit = TAG_NULL;
        } else {
          break flat;
        }
        a = Math.imul(a ^ unit, FNV_PRIME);
        b = Math.imul(b ^ unit, LANE2_PRIME);
        b ^= b >>> 15;
      }
      sum1 = (sum1 + avalanche1(a)) | 0;
      sum2 = (sum2 + avalanche2(b)) | 0;
    }
    remaining = left;
    // mixHeader (the count fits its unit: every key took budget) and mix2 twice, written out.
    const unit = (definedKeys << 5) | TAG_OBJECT;
    let a = Math.imul(tool1 ^ unit, FNV_PRIME);
    let b = Math.imul(tool2 ^ unit, LANE2_PRIME);
    b ^= b >>> 15;
    a = Math.imul(a ^ sum1, FNV_PRIME);
    b = Math.imul(b ^ sum1, LANE2_PRIME);
    b ^= b >>> 15;
    a = Math.imul(a ^ sum2, FNV_PRIME);
    b = Math.imul(b ^ sum2, LANE2_PRIME);
    return finishLanes(a, b ^ (b >>> 15));
  }
  walk(tool1, tool2, input);
  if (truncated) {
    // Cut short: walk again with sorted keys, so the part read does not depend on key order.
    sortedWalk = true;
    remaining = budget;
    walk(tool1, tool2, input);
    sortedWalk = false;
  }
  return finishLanes(out1, out2);
}

/** The fingerprint's low word from the final lanes; its high 21 bits (lane 2, avalanched) in `high21`. */
function finishLanes(lane1: number, lane2: number): number {
  // Final avalanche of lane 2 so its top bits depend on every input unit.
  let high = lane2;
  high ^= high >>> 16;
  high = Math.imul(high, 0x85ebca6b);
  high ^= high >>> 13;
  high21 = high & 0x1fffff;
  return lane1;
}

/** @internal The high 21 bits of the fingerprint `fingerprintLow` returned last. */
export function fingerprintHigh(): number {
  return high21;
}
