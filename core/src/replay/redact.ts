import { ConfigError } from "../errors.js";

/**
 * What a recorder removes before anything is written. Redaction runs on the way into the trace (one walk
 * that also makes the value JSON-safe and bounds its strings), so a secret never reaches a sink.
 */
export interface RedactOptions {
  /**
   * Field names whose values are replaced wherever they appear (case-insensitive; `-` and `_` ignored), on
   * top of the built-in ones (`apiKey`, `authorization`, `password`, `secret`, `token`, `cookie`, …).
   */
  keys?: string[];
  /**
   * Field paths whose values are replaced, relative to a call line: dot-separated segments, `*` matches one
   * segment (an array index too), `**` any number of them. E.g. `request.arguments.ssn`,
   * `request.prompt.*.content`, `**.customer.email`.
   */
  paths?: string[];
  /** Patterns replaced inside any string, on top of the built-in secret patterns. Use the `g` flag. */
  patterns?: RegExp[];
  /** Apply the built-in keys and patterns (bearer tokens, API keys, JWTs, private keys, URL credentials). Default true. */
  defaults?: boolean;
  /** What replaces a redacted value. Default `"[REDACTED]"`. */
  replacement?: string;
}

export const REDACTED = "[REDACTED]";

const DEFAULT_KEYS = [
  "apikey",
  "xapikey",
  "apitoken",
  "authorization",
  "proxyauthorization",
  "password",
  "passwd",
  "passphrase",
  "secret",
  "clientsecret",
  "token",
  "accesstoken",
  "refreshtoken",
  "idtoken",
  "authtoken",
  "sessiontoken",
  "bearer",
  "cookie",
  "setcookie",
  "privatekey",
  "credentials",
];

/** Built-in secret patterns: what a leaked credential looks like in free text. */
const DEFAULT_PATTERNS: Array<[RegExp, (replacement: string) => string]> = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]{8,}=*/gi, (r) => `$1 ${r}`],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, (r) => r],
  [/\bsk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_-]{16,}/g, (r) => r],
  [/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, (r) => r],
  [/\bgh[pousr]_[A-Za-z0-9]{30,}\b/g, (r) => r],
  [/\bgithub_pat_[A-Za-z0-9_]{30,}\b/g, (r) => r],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/g, (r) => r],
  [/\bAIza[0-9A-Za-z_-]{35}\b/g, (r) => r],
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, (r) => r],
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/:@]+:[^\s/@]+@/gi, (r) => `$1${r}@`],
];

const normalizeKey = (key: string) => key.toLowerCase().replace(/[-_]/g, "");

type PathMatcher = readonly string[];

/** A compiled redaction policy. `apply` is pure; `string` redacts free text. */
export class Redactor {
  readonly replacement: string;
  readonly #keys: ReadonlySet<string>;
  readonly #paths: readonly PathMatcher[];
  readonly #patterns: Array<[RegExp, string]>;
  readonly enabled: boolean;

  constructor(options: RedactOptions | false = {}) {
    if (options === false) {
      this.replacement = REDACTED;
      this.#keys = new Set();
      this.#paths = [];
      this.#patterns = [];
      this.enabled = false;
      return;
    }
    for (const key of Object.keys(options)) {
      if (!["keys", "paths", "patterns", "defaults", "replacement"].includes(key)) {
        throw new ConfigError(`redact.${key}`, key, "one of keys, paths, patterns, defaults, replacement");
      }
    }
    const replacement = options.replacement ?? REDACTED;
    if (typeof replacement !== "string") throw new ConfigError("redact.replacement", replacement, "a string");
    this.replacement = replacement;
    const defaults = options.defaults ?? true;
    const keys = new Set(defaults ? DEFAULT_KEYS : []);
    for (const [i, key] of (options.keys ?? []).entries()) {
      if (typeof key !== "string" || key === "")
        throw new ConfigError(`redact.keys[${i}]`, key, "a field name");
      keys.add(normalizeKey(key));
    }
    this.#keys = keys;
    this.#paths = (options.paths ?? []).map((path, i) => {
      if (typeof path !== "string" || path === "" || path.split(".").some((s) => s === "")) {
        throw new ConfigError(
          `redact.paths[${i}]`,
          path,
          'a dotted field path such as "request.arguments.ssn"',
        );
      }
      return path.split(".");
    });
    // Replacement strings use `$` groups: escape the user's replacement so it is inserted literally.
    const literal = replacement.replace(/\$/g, "$$$$");
    const patterns: Array<[RegExp, string]> = defaults
      ? DEFAULT_PATTERNS.map(([re, make]) => [re, make(literal)])
      : [];
    for (const [i, pattern] of (options.patterns ?? []).entries()) {
      if (!(pattern instanceof RegExp)) throw new ConfigError(`redact.patterns[${i}]`, pattern, "a RegExp");
      patterns.push([pattern.global ? pattern : new RegExp(pattern.source, `${pattern.flags}g`), literal]);
    }
    this.#patterns = patterns;
    this.enabled = keys.size > 0 || this.#paths.length > 0 || patterns.length > 0;
  }

  /** Whether a field of this name is a secret wherever it appears. */
  isSecretKey(key: string): boolean {
    return this.#keys.size > 0 && this.#keys.has(normalizeKey(key));
  }

  /** Whether the field at `path` (segments from the call line) is to be redacted. */
  matchesPath(path: readonly string[]): boolean {
    for (const matcher of this.#paths) if (matchPath(matcher, 0, path, 0)) return true;
    return false;
  }

  get hasPaths(): boolean {
    return this.#paths.length > 0;
  }

  /** Free text with every secret pattern replaced. */
  string(text: string): string {
    let out = text;
    for (const [pattern, replacement] of this.#patterns) {
      pattern.lastIndex = 0;
      if (pattern.test(out)) {
        pattern.lastIndex = 0;
        out = out.replace(pattern, replacement);
      }
    }
    return out;
  }
}

function matchPath(matcher: PathMatcher, m: number, path: readonly string[], p: number): boolean {
  if (m === matcher.length) return p === path.length;
  const segment = matcher[m] as string;
  if (segment === "**") {
    for (let skip = p; skip <= path.length; skip++) if (matchPath(matcher, m + 1, path, skip)) return true;
    return false;
  }
  if (p === path.length) return false;
  if (segment !== "*" && segment !== path[p]) return false;
  return matchPath(matcher, m + 1, path, p + 1);
}
