import { ConfigError } from "./errors.js";

/**
 * Strict configuration: unknown keys anywhere in an options tree are errors (a typo such as `costGuard` for
 * `budget` would otherwise silently switch enforcement off). `KeySchema` describes the keys an object may
 * have; `checkKeys` walks a value against it and reports every unknown key at once, each with its full path
 * and, when one is close, the key probably meant.
 */
export type KeySchema = {
  readonly [key: string]: KeyRule;
};

/** `true`: any value (checked by its owner); a schema: an object with those keys; `each`/`items`: maps and lists. */
export type KeyRule = true | KeySchema | { readonly each: KeySchema } | { readonly items: KeySchema };

/** Names people reach for that are not ours (from peers and the Python original). */
const KNOWN_MISTAKES: Readonly<Record<string, string>> = {
  costGuard: "budget",
  cost: "budget",
  budgets: "budget",
  costs: "budget",
  circuitBreaker: "breakers",
  circuitBreakers: "breakers",
  breaker: "breakers",
  slo: "slos",
  rateLimit: "rateLimits",
  rateLimiter: "rateLimits",
  timeout: "timeouts",
  rogueDetection: "rogue",
  rogueDetector: "rogue",
  detector: "rogue",
  agent: "agents",
  tool: "tools",
  pricing: "prices",
  model: "models",
};

/** Appends one `ConfigError` per unknown key in `value` (recursively) to `issues`. */
export function checkKeys(value: unknown, schema: KeySchema, path: string, issues: ConfigError[]): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return; // types: the owner's job
  const known = Object.keys(schema);
  for (const [key, child] of Object.entries(value)) {
    const childPath = joinPath(path, key);
    const rule = schema[key];
    if (rule === undefined) {
      const suggestion = suggestKey(key, known);
      issues.push(
        new ConfigError(
          childPath,
          child,
          `a known option${path === "" ? "" : ` of ${path}`} (${known.join(", ")})`,
          suggestion,
        ),
      );
      continue;
    }
    if (rule === true || child === undefined) continue;
    if ("each" in rule && isRecordRule(rule)) {
      if (typeof child === "object" && child !== null && !Array.isArray(child)) {
        for (const [name, entry] of Object.entries(child))
          checkKeys(entry, rule.each, joinPath(childPath, name), issues);
      }
    } else if ("items" in rule && isItemsRule(rule)) {
      if (Array.isArray(child)) {
        (child as unknown[]).forEach((entry: unknown, index: number) => {
          checkKeys(entry, rule.items, `${childPath}[${index}]`, issues);
        });
      }
    } else {
      checkKeys(child, rule as KeySchema, childPath, issues);
    }
  }
}

/** The known key closest to `key` (a known mistake, a case-insensitive match, or at most 2 edits away). */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const mistake = KNOWN_MISTAKES[key];
  if (mistake !== undefined && known.includes(mistake)) return mistake;
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    if (candidate.toLowerCase() === lower) return candidate;
  }
  // A missing unit suffix (`perTaskLimit` → `perTaskLimitUsd`, `model` → `modelMs`).
  for (const candidate of known) {
    const c = candidate.toLowerCase();
    if (
      c.startsWith(lower) &&
      c.length - lower.length <= 5 &&
      /^(usd|ms|s|tokens?|count)$/.test(c.slice(lower.length))
    )
      return candidate;
  }
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(1, Math.min(2, Math.floor(key.length / 3)));
  return bestDistance <= limit ? best : undefined;
}

function isRecordRule(rule: object): rule is { each: KeySchema } {
  return Object.keys(rule).length === 1 && typeof (rule as { each?: unknown }).each === "object";
}

function isItemsRule(rule: object): rule is { items: KeySchema } {
  return Object.keys(rule).length === 1 && typeof (rule as { items?: unknown }).items === "object";
}

function joinPath(path: string, key: string): string {
  const segment = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `[${JSON.stringify(key)}]`;
  if (path === "") return segment.startsWith("[") ? segment : segment;
  return segment.startsWith("[") ? `${path}${segment}` : `${path}.${segment}`;
}

/** Levenshtein distance (short option names only). */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Number.POSITIVE_INFINITY;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}
