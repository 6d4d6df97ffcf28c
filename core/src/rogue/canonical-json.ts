import { sortKeys } from "./sort-keys.js";

/**
 * Canonical JSON for hashing: object keys sorted (by UTF-16 code units), no whitespace, keys holding
 * `undefined` omitted, numbers in JavaScript's shortest round-trip form. Non-finite numbers and values JSON
 * cannot represent are rejected rather than silently turned into `null`, so two different entries can never
 * serialize alike.
 */
export function canonicalJson(value: unknown): string {
  return serialize(value);
}

/**
 * `canonicalJson` of `record` as if it did not have the own key `skippedKey` (only at the top level): what
 * `canonicalJson` of a copy without it gives, without making the copy. The assessment log hashes an entry
 * without its `hash` field this way.
 */
export function canonicalJsonWithout(record: object, skippedKey: string): string {
  return serializeObject(record as Record<string, unknown>, skippedKey);
}

// One string is built as the value is walked (no array of parts per object or array). What is written, and
// what is thrown for what, is what the `parts.join` version wrote and threw: canonical-json.test.ts keeps
// that version and compares.

function serialize(value: unknown): string {
  switch (typeof value) {
    case "string":
      return quoted(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number ${value}`);
      // Number-to-string is what JSON.stringify writes for a finite number (-0 → "0").
      return String(value);
    case "boolean":
      return value ? "true" : "false";
    case "object":
      if (value === null) return "null";
      if (Array.isArray(value)) return serializeArray(value);
      return serializeObject(value as Record<string, unknown>, undefined);
    default:
      throw new TypeError(`canonicalJson: cannot serialize a ${typeof value}`);
  }
}

function serializeArray(array: unknown[]): string {
  let out = "[";
  const length = array.length;
  for (let i = 0; i < length; i++) {
    if (i > 0) out += ",";
    const item = array[i];
    // A hole is written as nothing (`map` skips it, `join` writes ""); an `undefined` element is rejected.
    if (item === undefined && !(i in array)) continue;
    out += serialize(item);
  }
  return `${out}]`;
}

function serializeObject(record: Record<string, unknown>, skippedKey: string | undefined): string {
  const keys = Object.keys(record);
  sortKeys(keys);
  let out = "{";
  let first = true;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (key === skippedKey) continue;
    const child = record[key];
    if (child === undefined) continue;
    if (first) first = false;
    else out += ",";
    out += quotedKey(key);
    out += serialize(child);
  }
  return `${out}}`;
}

/** `JSON.stringify(text)`: quotes around a string that has nothing to escape, without calling it. */
function quoted(text: string): string {
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    // Control characters, '"' and '\\' are escaped; so is a lone surrogate (checked by JSON.stringify).
    if (code < 0x20 || code === 0x22 || code === 0x5c || (code >= 0xd800 && code <= 0xdfff)) {
      return JSON.stringify(text);
    }
  }
  return `"${text}"`;
}

/**
 * `JSON.stringify(key) + ":"`, remembered for short keys: an assessment's keys are the same two dozen every
 * time. At most `QUOTED_KEYS_LIMIT` are kept (all dropped when full).
 */
const quotedKeys = new Map<string, string>();
const QUOTED_KEYS_LIMIT = 1024;
const QUOTED_KEY_MAX_LENGTH = 64;

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = `${JSON.stringify(key)}:`;
    if (key.length <= QUOTED_KEY_MAX_LENGTH) {
      if (quotedKeys.size >= QUOTED_KEYS_LIMIT) quotedKeys.clear();
      quotedKeys.set(key, quoted);
    }
  }
  return quoted;
}
