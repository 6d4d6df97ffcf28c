/**
 * The general walk of the argument fingerprint (fingerprint.ts: the module comment there): any value within the
 * budget, as units mixed into two lanes, with the caches of object keys' and short string values' lanes. The
 * fingerprint's flat path (its usual arguments) hashes the same units in the same order and hands this walk
 * whatever else it meets; it takes what it needs of this module as local constants (see there).
 */

import { packed } from "./name-cache.js";
import { sortKeys } from "./sort-keys.js";

export const FNV_OFFSET = 0x811c9dc5 | 0;
export const FNV_PRIME = 0x01000193;
export const LANE2_SEED = 0x9e3779b9 | 0;
export const LANE2_PRIME = 0x5bd1e995;

// Tags separate value kinds so that, e.g., the string "1" and the number 1 hash differently. A tag takes the
// low 5 bits of a unit; a length, count or small integer shares its unit above them (one step for both).
export const TAG_UNDEFINED = 1;
export const TAG_NULL = 2;
export const TAG_FALSE = 3;
export const TAG_TRUE = 4;
export const TAG_NUMBER = 5;
export const TAG_STRING = 6;
export const TAG_ARRAY = 7;
export const TAG_OBJECT = 8;
export const TAG_BIGINT = 9;
export const TAG_DATE = 10;
export const TAG_OTHER = 11;
export const TAG_TRUNCATED = 12;
export const TAG_TOOL = 13;
export const TAG_KEY = 14;
export const TAG_INT = 16;
/** Integers in [−2^26, 2^26) share their unit with the tag; others take a unit of their own after it. */
export const SMALL_INT = 0x4000000;
/** Lengths below 2^26 share their unit with the tag; longer ones follow a unit with this bit set. */
export const LONG_BIT = 0x80000000 | 0;

const floatView = new Float64Array(1);
const floatWords = new Uint32Array(floatView.buffer);
const hasOwn = Object.prototype.hasOwnProperty;

/** Object keys whose lanes (an entry's, after its key) are kept: direct-mapped, a power of two. */
const KEY_CACHE_SIZE = 64;
const keyNames: Array<string | undefined> = new Array<string | undefined>(KEY_CACHE_SIZE).fill(undefined);
const keyLanes = new Int32Array(2 * KEY_CACHE_SIZE);

/**
 * String values up to `VALUE_CACHE_MAX_LENGTH` whose digests are kept (held alive: a bounded few hundred bytes,
 * none of a model's long free text): direct-mapped by length and last character. A slot starts as "" with the
 * digest of "" (every slot then holds a string, so the hit test compares strings only).
 */
const VALUE_CACHE_SIZE = 64;
const VALUE_CACHE_MAX_LENGTH = 24;
export const valueNames: string[] = packed(VALUE_CACHE_SIZE, "");
export const valueLanes: number[] = packed(2 * VALUE_CACHE_SIZE, 0);

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

// Every value slot starts as "" with the digest of "" (its tag and length 0 from the fixed lanes).
mixHeader(FNV_OFFSET, LANE2_SEED, TAG_STRING, 0);
for (let slot = 0; slot < VALUE_CACHE_SIZE; slot++) {
  valueLanes[2 * slot] = out1;
  valueLanes[2 * slot + 1] = out2;
}

/** The lanes a function of this module returned last (its callers elsewhere cannot read its variables). */
export function lane1(): number {
  return out1;
}

export function lane2(): number {
  return out2;
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

/** The slot of a string value in the value cache (from its length and last character, as `entryLanes`); −1: too long. */
export function valueSlot(text: string, length: number): number {
  if (length > VALUE_CACHE_MAX_LENGTH) return -1;
  return length === 0 ? 0 : (length * 7 + text.charCodeAt(length - 1)) & (VALUE_CACHE_SIZE - 1);
}

/**
 * A string value's digest (out of line: not in the cache) → (out1, out2): its tag, length and characters from
 * fixed lanes; kept in `slot` when short. The caller has charged the budget for all of it.
 */
export function valueDigestOf(text: string, slot: number): void {
  const length = text.length;
  if (length < SMALL_INT) {
    // mixHeader's usual case written out: inlined into the flat path, a call to `mix2` was left out of line.
    const unit = (length << 5) | TAG_STRING;
    const b = Math.imul(LANE2_SEED ^ unit, LANE2_PRIME);
    mixChars(Math.imul(FNV_OFFSET ^ unit, FNV_PRIME), b ^ (b >>> 15), text, length);
  } else {
    mixHeader(FNV_OFFSET, LANE2_SEED, TAG_STRING, length);
    mixChars(out1, out2, text, length);
  }
  if (slot >= 0) {
    valueNames[slot] = text;
    valueLanes[2 * slot] = out1;
    valueLanes[2 * slot + 1] = out2;
  }
}

/** A string value's digest within the budget (from the cache when it holds it) → (out1, out2). */
function stringDigest(text: string): void {
  const length = text.length;
  if (length > remaining) {
    // Cut by the budget: the digest of the characters read, never cached.
    mixString(FNV_OFFSET, LANE2_SEED, TAG_STRING, text);
    return;
  }
  remaining -= length;
  const slot = valueSlot(text, length);
  if (slot >= 0 && valueNames[slot] === text) {
    out1 = valueLanes[2 * slot] as number;
    out2 = valueLanes[2 * slot + 1] as number;
    return;
  }
  valueDigestOf(text, slot);
}

/** A key's lanes, all of it, from the fixed lanes (an entry's before its value) → (out1, out2). */
export function keyLanesOf(key: string): void {
  const unit = (key.length << 5) | TAG_KEY;
  const b = Math.imul(LANE2_SEED ^ unit, LANE2_PRIME);
  mixChars(Math.imul(FNV_OFFSET ^ unit, FNV_PRIME), b ^ (b >>> 15), key, key.length);
}

/** A tool name's lanes within `budget` (cut if longer) → (out1, out2). */
export function toolNameLanes(toolName: string, budget: number): void {
  remaining = budget;
  mixString(FNV_OFFSET, LANE2_SEED, TAG_TOOL, toolName);
}

/** The input from the lanes after the tool name, within the budget → (out1, out2). */
export function walkInput(tool1: number, tool2: number, input: unknown, budget: number): void {
  sortedWalk = false;
  truncated = false;
  remaining = budget;
  walk(tool1, tool2, input);
  if (truncated) {
    // Cut short: walk again with sorted keys, so the part read does not depend on key order.
    sortedWalk = true;
    remaining = budget;
    walk(tool1, tool2, input);
    sortedWalk = false;
  }
}

/** `walk` for one value of the flat path (it takes the value's unit itself) → (out1, out2); the budget left, −1 if cut. */
export function walkAlone(a: number, b: number, value: unknown, left: number): number {
  sortedWalk = false;
  truncated = false;
  remaining = left + 1;
  walk(a, b, value);
  return truncated ? -1 : remaining;
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
    // The digest as one step: its first word into lane 1, its second into lane 2.
    stringDigest(value);
    out1 = Math.imul(h1 ^ out1, FNV_PRIME);
    const b = Math.imul(h2 ^ out2, LANE2_PRIME);
    out2 = b ^ (b >>> 15);
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
  mixObject(h1, h2, definedKeys, sum1, sum2);
}

/** An object's header and its entries' sums (`mixHeader` and `mix2` twice, written out: one call) → (out1, out2). */
function mixObject(h1: number, h2: number, count: number, sum1: number, sum2: number): void {
  let a = h1;
  let b = h2;
  if (count < SMALL_INT) {
    const unit = (count << 5) | TAG_OBJECT;
    a = Math.imul(a ^ unit, FNV_PRIME);
    b = Math.imul(b ^ unit, LANE2_PRIME);
    b ^= b >>> 15;
  } else {
    mixHeader(a, b, TAG_OBJECT, count);
    a = out1;
    b = out2;
  }
  a = Math.imul(a ^ sum1, FNV_PRIME);
  b = Math.imul(b ^ sum1, LANE2_PRIME);
  b ^= b >>> 15;
  out1 = Math.imul(a ^ sum2, FNV_PRIME);
  b = Math.imul(b ^ sum2, LANE2_PRIME);
  out2 = b ^ (b >>> 15);
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
export function avalanche1(h: number): number {
  let a = h ^ (h >>> 16);
  a = Math.imul(a, 0x85ebca6b);
  return a ^ (a >>> 13);
}

export function avalanche2(h: number): number {
  let b = h ^ (h >>> 16);
  b = Math.imul(b, 0xc2b2ae35);
  return b ^ (b >>> 16);
}

/** The kinds `walk` leaves out: other numbers, booleans, null, undefined, bigints, dates, functions, symbols. */
function walkOther(h1: number, h2: number, value: unknown): void {
  if (typeof value === "number" && (value | 0) === value) {
    mix2(h1, h2, LONG_BIT | TAG_INT);
    mix2(out1, out2, value);
  } else if (typeof value === "number" || value instanceof Date) {
    // A float or a date: the tag, then the 64 bits of the number.
    floatView[0] = typeof value === "number" ? value : value.getTime();
    mix2(h1, h2, typeof value === "number" ? TAG_NUMBER : TAG_DATE);
    mix2(out1, out2, floatWords[0] as number);
    mix2(out1, out2, floatWords[1] as number);
  } else if (typeof value === "boolean") {
    mix2(h1, h2, value ? TAG_TRUE : TAG_FALSE);
  } else if (value === null) {
    mix2(h1, h2, TAG_NULL);
  } else if (value === undefined) {
    mix2(h1, h2, TAG_UNDEFINED);
  } else if (typeof value === "bigint") {
    mixString(h1, h2, TAG_BIGINT, value.toString());
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
  mixObject(h1, h2, definedKeys, sum1, sum2);
}
