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
 * entry's lanes after its key, depend on that string alone: both are cached for the last few names. A string
 * value is hashed from fixed lanes too (its digest: 64 bits, mixed in as one step, a word into each lane), so
 * short values ("status", "open") are cached as well: a string never changes, so neither does its digest.
 *
 * Work is bounded by `budget`: every value visited costs one unit and every string character one more. When
 * the budget runs out the rest of the input is not read (string and container lengths are still mixed in,
 * so most inputs that differ only in their tail still differ). Deep or cyclic inputs therefore terminate.
 * Which part is read then depends on the order objects are walked in, so an input the budget cuts short is
 * walked again with every object's keys in sorted order: key order never changes a fingerprint.
 */

import * as W from "./fingerprint-walk.js";
import { keepTool, keptTool, packed, toolLane } from "./name-cache.js";

// The walk's constants, caches and functions as local constants: folded into this module's code, where a read
// of an imported binding costs a load and a check at every use (imported constants: +170 instructions a call).
const { FNV_OFFSET, FNV_PRIME, LANE2_SEED, LANE2_PRIME, SMALL_INT } = W;
const { TAG_ARRAY, TAG_FALSE, TAG_INT, TAG_NULL, TAG_OBJECT, TAG_STRING, TAG_TRUE } = W;
const { avalanche1, avalanche2, keyLanesOf, lane1, lane2, toolNameLanes, valueDigestOf, valueSlot } = W;
const { valueLanes, valueNames, walkAlone, walkInput } = W;

/** Default work budget (values + string characters) per fingerprint. */
export const DEFAULT_FINGERPRINT_BUDGET = 4096;

const hasOwn = Object.prototype.hasOwnProperty;

/** Tool names by length (mod 16, two ways): looked up before `keptTool`'s cache, which reads characters. */
const QUICK_SETS = 16;
const quickNames: Array<string | undefined> = packed<string | undefined>(2 * QUICK_SETS, undefined);
const quickLanes: number[] = packed(4 * QUICK_SETS, 0);

/** The keys the flat path (in `fingerprintLow`) saw last, by position, and each entry's lanes after its key. */
const FLAT_KEYS = 16;
const flatKeys: Array<string | undefined> = packed<string | undefined>(FLAT_KEYS, undefined);
const flatKeyLanes: number[] = packed(2 * FLAT_KEYS, 0);

/** Lanes this module's functions return (`startWithTool`, `flatKeyLanesOf`). */
var out1 = 0;
var out2 = 0;
/** The high 21 bits of the last fingerprint (`fingerprintLow`'s second result). */
var high21 = 0;
/** The flat path applies below this budget (0: never, in tests comparing it with `walk`); a boolean flag took a
 * generic truth test of a module variable every call, this a comparison the path makes anyway. */
var flatBelow = SMALL_INT;

/** @internal Runs `fn` with every input read by the general walk (tests: the fast path must match it). */
export function withoutFlatPath<T>(fn: () => T): T {
  flatBelow = 0;
  try {
    return fn();
  } finally {
    flatBelow = SMALL_INT;
  }
}

/** The lanes of an entry after its key (out of line: a key not seen at its position last time). → (out1, out2). */
function flatKeyLanesOf(key: string, position: number): void {
  keyLanesOf(key);
  out1 = lane1();
  out2 = lane2();
  if (position < FLAT_KEYS) {
    flatKeys[position] = key;
    flatKeyLanes[2 * position] = out1;
    flatKeyLanes[2 * position + 1] = out2;
  }
}

/** Both lanes after the tool name, from the cache of the last few names when it holds this one. → (out1, out2). */
function startWithTool(toolName: string, budget: number): void {
  const length = toolName.length;
  if (length <= budget) {
    // First the last two names of this length (mod 16): no character read (an agent's tools mostly differ in
    // length; `nameWay` reads three characters).
    const quick = (length & (QUICK_SETS - 1)) << 1;
    const hit = quickNames[quick] === toolName ? quick : quickNames[quick + 1] === toolName ? quick + 1 : -1;
    if (hit >= 0) {
      out1 = quickLanes[2 * hit] as number;
      out2 = quickLanes[2 * hit + 1] as number;
      return;
    }
    toolLanesOf(toolName, budget, quick);
    return;
  }
  toolNameLanes(toolName, budget);
  out1 = lane1();
  out2 = lane2();
}

/**
 * The lanes after a tool name within the budget, not in its length's set (`quick`): they depend on the name
 * alone, kept for the last few names. Out of line, so that `startWithTool` stays small enough to inline.
 */
function toolLanesOf(toolName: string, budget: number, quick: number): void {
  const way = keptTool(toolName);
  if (way >= 0) {
    out1 = toolLane(2 * way);
    out2 = toolLane(2 * way + 1);
  } else {
    toolNameLanes(toolName, budget);
    out1 = lane1();
    out2 = lane2();
    keepTool(toolName, out1, out2);
  }
  // The newest name first in its length's set, the one it displaces second.
  quickNames[quick + 1] = quickNames[quick];
  quickLanes[2 * quick + 2] = quickLanes[2 * quick] as number;
  quickLanes[2 * quick + 3] = quickLanes[2 * quick + 1] as number;
  quickNames[quick] = toolName;
  quickLanes[2 * quick] = out1;
  quickLanes[2 * quick + 1] = out2;
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
  startWithTool(toolName, budget);
  const tool1 = out1 ^ salt;
  const tool2 = out2 ^ Math.imul(salt, 0x9e3779b1);
  // The fast path for a plain object: its strings, small integers, booleans, null and arrays of them hashed
  // here, any other value (a nested object, another number) by `walk` alone from the lanes after its key. It
  // gives exactly `walk`'s lanes (the same units, order and budget), here rather than in a function of its own:
  // this body is then over V8's limit for inlining, compiled once, and the usual call makes one call to it and
  // none from it. When the budget runs out, `walk` reads the input from the start (what the budget cuts
  // depends on key order). (A loop that never repeats, left by `break flat` from inner loops.)
  flat: for (;;) {
    if (input === null || typeof input !== "object" || Array.isArray(input) || input instanceof Date) break;
    const record = input as Record<string, unknown>;
    // The object's own unit (walk's check and decrement); every length below then fits in its unit's 26 bits.
    let left = budget - 1;
    if (left < 0 || left >= flatBelow) break;
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
        // stringDigest, written out (a call and lanes through module variables cost more), its characters
        // too: a long value (a query, a message) is usually new, and a call to `mixChars` is not inlined here.
        const slot = valueSlot(child, length);
        let d1: number;
        let d2: number;
        if (slot >= 0 && valueNames[slot] === child) {
          d1 = valueLanes[2 * slot] as number;
          d2 = valueLanes[2 * slot + 1] as number;
        } else {
          unit = (length << 5) | TAG_STRING;
          d1 = Math.imul(FNV_OFFSET ^ unit, FNV_PRIME);
          d2 = Math.imul(LANE2_SEED ^ unit, LANE2_PRIME);
          d2 ^= d2 >>> 15;
          let i = 0;
          for (const pairs = length - 1; i < pairs; i += 2) {
            const pair = child.charCodeAt(i) | (child.charCodeAt(i + 1) << 16);
            d1 = Math.imul(d1 ^ pair, FNV_PRIME);
            d2 = Math.imul(d2 ^ pair, LANE2_PRIME);
            d2 ^= d2 >>> 15;
          }
          if (i < length) {
            const last = child.charCodeAt(i);
            d1 = Math.imul(d1 ^ last, FNV_PRIME);
            d2 = Math.imul(d2 ^ last, LANE2_PRIME);
            d2 ^= d2 >>> 15;
          }
          if (slot >= 0) {
            valueNames[slot] = child;
            valueLanes[2 * slot] = d1;
            valueLanes[2 * slot + 1] = d2;
          }
        }
        a = Math.imul(a ^ d1, FNV_PRIME);
        b = Math.imul(b ^ d2, LANE2_PRIME);
        b ^= b >>> 15;
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
            const slot = valueSlot(element, elementLength);
            let d1: number;
            let d2: number;
            if (slot >= 0 && valueNames[slot] === element) {
              d1 = valueLanes[2 * slot] as number;
              d2 = valueLanes[2 * slot + 1] as number;
            } else {
              valueDigestOf(element, slot);
              d1 = lane1();
              d2 = lane2();
            }
            a = Math.imul(a ^ d1, FNV_PRIME);
            b = Math.imul(b ^ d2, LANE2_PRIME);
            b ^= b >>> 15;
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
            left = walkAlone(a, b, element, left);
            if (left < 0) break flat;
            a = lane1();
            b = lane2();
          }
        }
      } else {
        if (typeof child === "number" && (child | 0) === child && child >= -SMALL_INT && child < SMALL_INT) {
          unit = (child << 5) | TAG_INT;
        } else if (typeof child === "boolean") {
          unit = child ? TAG_TRUE : TAG_FALSE;
        } else {
          unit = child === null ? TAG_NULL : 0;
        }
        if (unit !== 0) {
          a = Math.imul(a ^ unit, FNV_PRIME);
          b = Math.imul(b ^ unit, LANE2_PRIME);
          b ^= b >>> 15;
        } else {
          left = walkAlone(a, b, child, left);
          if (left < 0) break flat;
          a = lane1();
          b = lane2();
        }
      }
      sum1 = (sum1 + avalanche1(a)) | 0;
      sum2 = (sum2 + avalanche2(b)) | 0;
    }
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
  // Not flat, or the budget ran out (the flat path may have walked a value): from the start.
  walkInput(tool1, tool2, input, budget);
  return finishLanes(lane1(), lane2());
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
