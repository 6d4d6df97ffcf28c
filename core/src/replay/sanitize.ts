import type { Redactor } from "./redact.js";

/** Bounds on one value written into a trace. */
export interface SanitizeLimits {
  /** Strings longer than this are cut, with a `…[truncated N chars]` marker. */
  maxStringChars: number;
  /** Deeper nesting is replaced by `"[Depth]"`. */
  maxDepth: number;
}

export const TRUNCATED_MARK = "…[truncated ";

/**
 * A JSON-safe copy of `value` with secrets redacted and strings bounded, in one walk: Dates become ISO
 * strings, errors `{ name, message, code, … }`, bytes `{ $bytes: length }`, Maps objects, Sets arrays;
 * functions, symbols, abort signals and `undefined` fields are dropped; cycles become `"[Circular]"`.
 * `path` is where the value sits in the call line (for `redact.paths`).
 */
export function sanitize(
  value: unknown,
  redactor: Redactor,
  limits: SanitizeLimits,
  path: string[] = [],
): unknown {
  return walk(value, redactor, limits, path, new Set(), 0);
}

function walk(
  value: unknown,
  redactor: Redactor,
  limits: SanitizeLimits,
  path: string[],
  seen: Set<object>,
  depth: number,
): unknown {
  switch (typeof value) {
    case "string":
      return boundString(redactor.enabled ? redactor.string(value) : value, limits.maxStringChars);
    case "number":
      return Number.isFinite(value) ? value : null;
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "object":
      break;
    default:
      return undefined; // functions, symbols, undefined
  }
  if (value === null) return null;
  if (depth >= limits.maxDepth) return "[Depth]";
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Error) return errorFields(value, redactor, limits, path, seen, depth);
  if (ArrayBuffer.isView(value)) return { $bytes: value.byteLength };
  if (value instanceof ArrayBuffer) return { $bytes: value.byteLength };
  if (isAbortSignal(value)) return undefined;
  if (value instanceof URL) return redactor.enabled ? redactor.string(value.href) : value.href;
  if (seen.has(value)) return "[Circular]";
  seen.add(value);
  try {
    if (Array.isArray(value) || value instanceof Set) {
      const out: unknown[] = [];
      let i = 0;
      for (const item of value) {
        path.push(String(i++));
        const child = redactor.hasPaths && redactor.matchesPath(path) ? redactor.replacement : undefined;
        const converted = child ?? walk(item, redactor, limits, path, seen, depth + 1);
        path.pop();
        out.push(converted === undefined ? null : converted);
      }
      return out;
    }
    let entries: Iterable<[unknown, unknown]>;
    if (value instanceof Map) entries = value.entries();
    else {
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === "function" && Object.getPrototypeOf(value) !== Object.prototype) {
        let json: unknown;
        try {
          json = toJSON.call(value);
        } catch {
          return "[Unserializable]";
        }
        if (json !== value) return walk(json, redactor, limits, path, seen, depth);
      }
      entries = Object.entries(value);
    }
    const out: Record<string, unknown> = {};
    for (const [rawKey, child] of entries) {
      const key = String(rawKey);
      if (redactor.isSecretKey(key) && child !== undefined && child !== null) {
        out[key] = redactor.replacement;
        continue;
      }
      path.push(key);
      const converted =
        redactor.hasPaths && redactor.matchesPath(path)
          ? redactor.replacement
          : walk(child, redactor, limits, path, seen, depth + 1);
      path.pop();
      if (converted !== undefined) out[key] = converted;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

function errorFields(
  error: Error,
  redactor: Redactor,
  limits: SanitizeLimits,
  path: string[],
  seen: Set<object>,
  depth: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: error.name,
    message: boundString(redactor.string(error.message), limits.maxStringChars),
  };
  for (const [key, child] of Object.entries(error)) {
    if (key === "stack" || key === "cause" || key in out) continue;
    if (redactor.isSecretKey(key)) {
      out[key] = redactor.replacement;
      continue;
    }
    path.push(key);
    const converted = walk(child, redactor, limits, path, seen, depth + 1);
    path.pop();
    if (converted !== undefined) out[key] = converted;
  }
  return out;
}

function boundString(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}${TRUNCATED_MARK}${text.length - max} chars]`;
}

function isAbortSignal(value: object): boolean {
  return (
    typeof (value as { aborted?: unknown }).aborted === "boolean" &&
    typeof (value as { addEventListener?: unknown }).addEventListener === "function" &&
    typeof (value as { throwIfAborted?: unknown }).throwIfAborted === "function"
  );
}

const NON_ASCII = /[^ -~\t\n\r]/; // anything but printable ASCII and common whitespace: take the slow path

/** UTF-8 length of a string without encoding it. */
export function utf8Length(text: string): number {
  if (!NON_ASCII.test(text)) return text.length;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
