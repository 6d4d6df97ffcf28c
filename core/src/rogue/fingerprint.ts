/**
 * Cheap fingerprints of tool calls for loop detection.
 *
 * A call's fingerprint hashes the tool name and a stable walk of its arguments: object keys are visited in
 * sorted order (so `{a, b}` and `{b, a}` match) and keys holding `undefined` are skipped, as in
 * `JSON.stringify`. Hashing happens during the walk, so no string is built. Two 32-bit lanes (FNV-1a and a
 * multiply-xor lane) are combined into a 53-bit integer: a safe `Map` key with a collision rate low enough
 * that two different calls are practically never mistaken for a loop.
 *
 * Work is bounded by `budget`: every value visited costs one unit and every string character one more. When
 * the budget runs out the rest of the input is not read (string and container lengths are still mixed in,
 * so most inputs that differ only in their tail still differ). Deep or cyclic inputs therefore terminate.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const LANE2_SEED = 0x9e3779b9;
const LANE2_PRIME = 0x5bd1e995;

// Tags separate value kinds so that, e.g., the string "1" and the number 1 hash differently.
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
const TAG_END = 15;
const TAG_INT = 16;

/** Default work budget (values + string characters) per fingerprint. */
export const DEFAULT_FINGERPRINT_BUDGET = 4096;

const floatView = new Float64Array(1);
const floatWords = new Uint32Array(floatView.buffer);

/** Tool names whose hasher state is kept (a direct-mapped cache: a power of two). */
const TOOL_CACHE_SIZE = 16;
const toolNames: Array<string | undefined> = new Array<string | undefined>(TOOL_CACHE_SIZE).fill(undefined);
/** Per cached name: both lanes after mixing it (Int32: `Math.imul` results). */
const toolLanes = new Int32Array(2 * TOOL_CACHE_SIZE);

/** Hasher state; module-level because fingerprinting is synchronous and never re-entered. */
let lane1 = FNV_OFFSET;
let lane2 = LANE2_SEED;
let remaining = 0;

function mix(unit: number): void {
  lane1 = Math.imul(lane1 ^ unit, FNV_PRIME);
  lane2 = Math.imul(lane2 ^ unit, LANE2_PRIME);
  lane2 ^= lane2 >>> 15;
}

function mixString(text: string): void {
  mix(text.length);
  const end = Math.min(text.length, remaining);
  remaining -= end;
  // The per-character loop is the hot spot: both lanes in locals, two UTF-16 units per step (the multiply
  // chain is what limits it, so half the steps is about half the time).
  let h1 = lane1;
  let h2 = lane2;
  let i = 0;
  for (const pairs = end - 1; i < pairs; i += 2) {
    const unit = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16);
    h1 = Math.imul(h1 ^ unit, FNV_PRIME);
    h2 = Math.imul(h2 ^ unit, LANE2_PRIME);
    h2 ^= h2 >>> 15;
  }
  if (i < end) {
    const unit = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ unit, FNV_PRIME);
    h2 = Math.imul(h2 ^ unit, LANE2_PRIME);
    h2 ^= h2 >>> 15;
  }
  lane1 = h1;
  lane2 = h2;
}

function mixValue(value: unknown): void {
  if (remaining <= 0) {
    mix(TAG_TRUNCATED);
    return;
  }
  remaining--;
  switch (typeof value) {
    case "string":
      mix(TAG_STRING);
      mixString(value);
      return;
    case "number":
      // Small integers (ids, counts, pages) without the float round trip; −0 counts as 0, as in JSON.
      if ((value | 0) === value) {
        mix(TAG_INT);
        mix(value);
        return;
      }
      mix(TAG_NUMBER);
      floatView[0] = value;
      mix(floatWords[0] as number);
      mix(floatWords[1] as number);
      return;
    case "boolean":
      mix(value ? TAG_TRUE : TAG_FALSE);
      return;
    case "undefined":
      mix(TAG_UNDEFINED);
      return;
    case "bigint":
      mix(TAG_BIGINT);
      mixString(value.toString());
      return;
    case "object":
      if (value === null) {
        mix(TAG_NULL);
      } else if (Array.isArray(value)) {
        mix(TAG_ARRAY);
        mix(value.length);
        for (let i = 0; i < value.length && remaining > 0; i++) mixValue(value[i]);
      } else if (value instanceof Date) {
        mix(TAG_DATE);
        floatView[0] = value.getTime();
        mix(floatWords[0] as number);
        mix(floatWords[1] as number);
      } else {
        mixObject(value as Record<string, unknown>);
      }
      return;
    default:
      // Functions and symbols carry no comparable data.
      mix(TAG_OTHER);
  }
}

function mixObject(value: Record<string, unknown>): void {
  mix(TAG_OBJECT);
  const keys = Object.keys(value);
  // Sorting a huge key set would defeat the budget; its size alone must do.
  if (keys.length > remaining) {
    mix(keys.length);
    remaining = 0;
    mix(TAG_TRUNCATED);
    return;
  }
  if (keys.length > 1) sortKeys(keys);
  let definedKeys = 0;
  for (const key of keys) {
    if (remaining <= 0) break;
    const child = value[key];
    if (child === undefined) continue;
    definedKeys++;
    mix(TAG_KEY);
    mixString(key);
    mixValue(child);
  }
  // Closes the object, so `{a: {b: 1}, c: 2}` and `{a: {b: 1, c: 2}}` differ.
  mix(TAG_END);
  mix(definedKeys);
}

/** Sorts by UTF-16 code units like `Array.prototype.sort()`; insertion sort is faster for the usual few keys. */
function sortKeys(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > key) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = key;
  }
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
  // The hasher's state after the tool name depends on the name alone: kept for the last few names (an agent
  // calls a handful of tools), so a call hashes only its arguments.
  const length = toolName.length;
  const slot = length === 0 ? 0 : (length + toolName.charCodeAt(length - 1)) & (TOOL_CACHE_SIZE - 1);
  if (toolNames[slot] === toolName && length <= budget) {
    lane1 = toolLanes[2 * slot] as number;
    lane2 = toolLanes[2 * slot + 1] as number;
  } else {
    lane1 = FNV_OFFSET;
    lane2 = LANE2_SEED;
    remaining = budget;
    mix(TAG_TOOL);
    mixString(toolName);
    if (length <= budget) {
      toolNames[slot] = toolName;
      toolLanes[2 * slot] = lane1;
      toolLanes[2 * slot + 1] = lane2;
    }
  }
  remaining = budget;
  mixValue(input);
  // Final avalanche of lane 2 so its top bits depend on every input unit.
  let high = lane2;
  high ^= high >>> 16;
  high = Math.imul(high, 0x85ebca6b);
  high ^= high >>> 13;
  return (high & 0x1fffff) * 0x1_0000_0000 + (lane1 >>> 0);
}
