import { compileGlob } from "../chaos/target.js";
import { type Clock, systemClock } from "../clock.js";
import { type Duration, parseDuration } from "../duration.js";
import { ConfigError } from "../errors.js";
import { requireNonEmptyString, requireOneOf, requirePositive, requirePositiveInteger } from "../validate.js";

/** What one bucket of a rule counts. */
export type RateLimitScope = "agent+tool" | "agent" | "tool" | "global";

export const RATE_LIMIT_SCOPES: readonly RateLimitScope[] = ["agent+tool", "agent", "tool", "global"];

/**
 * A call-rate limit: at most `limit` calls per `per`, with bursts of up to `burst` calls back to back.
 *
 * - `tools` / `agents` select the calls the rule applies to (globs where only `*` is special; default all).
 * - `scope` says what one bucket counts: `"agent+tool"` (default) gives every agent its own bucket per tool;
 *   `"agent"` makes all matching tools of an agent share one bucket; `"tool"` makes all agents share one
 *   bucket per tool; `"global"` is one bucket for every matching call.
 */
export interface RateLimitRule {
  /** Names the rule in refusals and snapshots (default: derived from the selectors). */
  id?: string;
  tools?: string | readonly string[];
  agents?: string | readonly string[];
  /** Calls admitted per `per` (> 0; fractions allowed, e.g. 0.5 per minute). */
  limit: number;
  /** The window `limit` refers to (default 1 minute). */
  per?: Duration;
  /** Calls that may pass back to back after a quiet period (integer >= 1; default: max(1, floor(limit))). */
  burst?: number;
  scope?: RateLimitScope;
}

export interface RateLimiterOptions {
  rules: readonly RateLimitRule[];
  clock?: Clock;
  /**
   * Buckets kept before idle ones are swept (default 10 000). A bucket that has refilled completely is
   * equivalent to a fresh one, so sweeping never changes a decision.
   */
  maxBuckets?: number;
}

/** Why a call was refused: the rule, its rate and how long until the call would pass. */
export interface RateLimitRefusal {
  ruleId: string;
  limit: number;
  perMs: number;
  burst: number;
  scope: RateLimitScope;
  /** The bucket that refused (e.g. `"agent-1\u0000search"` for agent+tool). */
  key: string;
  /** ms until the call would be admitted (> 0). */
  retryAfterMs: number;
}

export interface RateLimitRuleSnapshot {
  ruleId: string;
  limit: number;
  perMs: number;
  burst: number;
  scope: RateLimitScope;
  tools: string[];
  agents: string[];
  /** Live buckets and the admissions each has left right now. */
  buckets: Array<{ key: string; available: number }>;
  refused: number;
}

export interface RateLimiterSnapshot {
  at: number;
  rules: RateLimitRuleSnapshot[];
}

interface CompiledRule {
  readonly id: string;
  readonly limit: number;
  readonly perMs: number;
  readonly burst: number;
  readonly scope: RateLimitScope;
  readonly tools: string[];
  readonly agents: string[];
  readonly matchTool: (name: string) => boolean;
  readonly matchAgent: (id: string) => boolean;
  /** ms between admissions. */
  readonly intervalMs: number;
  /** How far the theoretical arrival time may run ahead of now: (burst - 1) intervals. */
  readonly toleranceMs: number;
  /** Bucket key → theoretical arrival time of the next admission (GCRA). */
  readonly buckets: Map<string, number>;
  refused: number;
}

const RULE_KEYS: ReadonlySet<string> = new Set(["id", "tools", "agents", "limit", "per", "burst", "scope"]);
const DEFAULT_MAX_BUCKETS = 10_000;
const MATCH_CACHE_LIMIT = 4_096;
const EMPTY: readonly number[] = Object.freeze([]);
/** Sub-microsecond float residue must not refuse a due admission. */
const EPSILON_MS = 1e-6;

/**
 * Per-agent, per-tool call-rate limits (GCRA token buckets: one number of state per bucket, no timers).
 * `tryAcquire()` is all-or-nothing across the rules that match a call: when any of them refuses, none is
 * charged, and the refusal with the longest wait is returned.
 */
export class RateLimiter {
  readonly #clock: Clock;
  readonly #rules: CompiledRule[];
  readonly #maxBuckets: number;
  /** `agentId \0 toolName` → indexes of the rules that match (most pairs repeat, so matching runs once). */
  readonly #matches = new Map<string, readonly number[]>();
  #bucketCount = 0;

  constructor(options: RateLimiterOptions) {
    if (typeof options !== "object" || options === null)
      throw new ConfigError("options", options, "an object");
    if (!Array.isArray(options.rules)) throw new ConfigError("rules", options.rules, "an array of rules");
    this.#clock = options.clock ?? systemClock;
    this.#maxBuckets =
      options.maxBuckets === undefined
        ? DEFAULT_MAX_BUCKETS
        : requirePositiveInteger(options.maxBuckets, "maxBuckets");
    const ids = new Set<string>();
    this.#rules = options.rules.map((rule, index) => {
      const compiled = compileRule(rule, `rules[${index}]`);
      if (ids.has(compiled.id)) throw new ConfigError(`rules[${index}].id`, compiled.id, "a unique rule id");
      ids.add(compiled.id);
      return compiled;
    });
  }

  /** Whether any rule exists (adapters can skip the call entirely when not). */
  get hasRules(): boolean {
    return this.#rules.length > 0;
  }

  /** Takes one admission from every matching rule, or none and returns the refusal. */
  tryAcquire(agentId: string, toolName: string): RateLimitRefusal | undefined {
    const matching = this.#matching(agentId, toolName);
    if (matching.length === 0) return undefined;
    const now = this.#clock.now();
    const refusal = this.#refusal(matching, agentId, toolName, now);
    if (refusal !== undefined) {
      for (const index of matching) {
        const rule = this.#rules[index] as CompiledRule;
        if (rule.id === refusal.ruleId) rule.refused++;
      }
      return refusal;
    }
    for (const index of matching) {
      const rule = this.#rules[index] as CompiledRule;
      const key = bucketKey(rule.scope, agentId, toolName);
      const previous = rule.buckets.get(key);
      if (previous === undefined) this.#bucketCount++;
      rule.buckets.set(key, Math.max(previous ?? now, now) + rule.intervalMs);
    }
    if (this.#bucketCount > this.#maxBuckets) this.#sweep(now);
    return undefined;
  }

  /** What `tryAcquire()` would answer now, without taking anything. */
  check(agentId: string, toolName: string): RateLimitRefusal | undefined {
    return this.#refusal(this.#matching(agentId, toolName), agentId, toolName, this.#clock.now());
  }

  /** The longest wait over the matching rules, as a refusal; undefined when every rule admits now. */
  #refusal(
    matching: readonly number[],
    agentId: string,
    toolName: string,
    now: number,
  ): RateLimitRefusal | undefined {
    let refusal: RateLimitRefusal | undefined;
    for (const index of matching) {
      const rule = this.#rules[index] as CompiledRule;
      const key = bucketKey(rule.scope, agentId, toolName);
      const wait = waitMs(rule, rule.buckets.get(key), now);
      if (wait > 0 && (refusal === undefined || wait > refusal.retryAfterMs)) {
        refusal = {
          ruleId: rule.id,
          limit: rule.limit,
          perMs: rule.perMs,
          burst: rule.burst,
          scope: rule.scope,
          key,
          retryAfterMs: wait,
        };
      }
    }
    return refusal;
  }

  /** Refills every bucket (all rules, or those of one agent). */
  reset(agentId?: string): void {
    for (const rule of this.#rules) {
      if (agentId === undefined) {
        this.#bucketCount -= rule.buckets.size;
        rule.buckets.clear();
        continue;
      }
      for (const key of [...rule.buckets.keys()]) {
        if (key === agentId || key.startsWith(`${agentId}\u0000`)) {
          rule.buckets.delete(key);
          this.#bucketCount--;
        }
      }
    }
  }

  snapshot(): RateLimiterSnapshot {
    const now = this.#clock.now();
    return {
      at: now,
      rules: this.#rules.map((rule) => ({
        ruleId: rule.id,
        limit: rule.limit,
        perMs: rule.perMs,
        burst: rule.burst,
        scope: rule.scope,
        tools: [...rule.tools],
        agents: [...rule.agents],
        buckets: [...rule.buckets.entries()].map(([key, tat]) => ({
          key,
          available: available(rule, tat, now),
        })),
        refused: rule.refused,
      })),
    };
  }

  #matching(agentId: string, toolName: string): readonly number[] {
    if (this.#rules.length === 0) return EMPTY;
    const cacheKey = `${agentId}\u0000${toolName}`;
    let matching = this.#matches.get(cacheKey);
    if (matching === undefined) {
      const found: number[] = [];
      this.#rules.forEach((rule, index) => {
        if (rule.matchTool(toolName) && rule.matchAgent(agentId)) found.push(index);
      });
      matching = found.length === 0 ? EMPTY : found;
      if (this.#matches.size >= MATCH_CACHE_LIMIT) this.#matches.clear();
      this.#matches.set(cacheKey, matching);
    }
    return matching;
  }

  /** Drops buckets that have refilled completely: they are indistinguishable from fresh ones. */
  #sweep(now: number): void {
    for (const rule of this.#rules) {
      for (const [key, tat] of rule.buckets) {
        if (tat <= now) {
          rule.buckets.delete(key);
          this.#bucketCount--;
        }
      }
    }
  }
}

function waitMs(rule: CompiledRule, tat: number | undefined, now: number): number {
  if (tat === undefined) return 0;
  const wait = tat - rule.toleranceMs - now;
  return wait > EPSILON_MS ? wait : 0;
}

function available(rule: CompiledRule, tat: number, now: number): number {
  const ahead = Math.max(0, tat - now);
  return Math.max(
    0,
    Math.min(rule.burst, Math.floor((rule.burst * rule.intervalMs - ahead) / rule.intervalMs + EPSILON_MS)),
  );
}

function bucketKey(scope: RateLimitScope, agentId: string, toolName: string): string {
  switch (scope) {
    case "agent+tool":
      return `${agentId}\u0000${toolName}`;
    case "agent":
      return agentId;
    case "tool":
      return toolName;
    default:
      return "*";
  }
}

function globList(value: unknown, field: string): string[] {
  if (value === undefined) return ["*"];
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError(field, value, "a glob or a non-empty array of globs");
  }
  return list.map((item, index) => requireNonEmptyString(item, `${field}[${index}]`));
}

function compileRule(rule: RateLimitRule, field: string): CompiledRule {
  if (typeof rule !== "object" || rule === null)
    throw new ConfigError(field, rule, "a rate-limit rule object");
  for (const key of Object.keys(rule)) {
    if (!RULE_KEYS.has(key)) {
      throw new ConfigError(
        `${field}.${key}`,
        (rule as unknown as Record<string, unknown>)[key],
        "a known rule option",
      );
    }
  }
  const limit = requirePositive(rule.limit, `${field}.limit`);
  const perMs = parseDuration(rule.per ?? 60_000, `${field}.per`);
  const burst =
    rule.burst === undefined
      ? Math.max(1, Math.floor(limit))
      : requirePositiveInteger(rule.burst, `${field}.burst`);
  const scope = requireOneOf(rule.scope ?? "agent+tool", RATE_LIMIT_SCOPES, `${field}.scope`);
  const tools = globList(rule.tools, `${field}.tools`);
  const agents = globList(rule.agents, `${field}.agents`);
  const toolMatchers = tools.map(compileGlob);
  const agentMatchers = agents.map(compileGlob);
  const intervalMs = perMs / limit;
  const id =
    rule.id === undefined
      ? `${limit}/${perMs}ms ${scope} tools=${tools.join(",")}${agents.length === 1 && agents[0] === "*" ? "" : ` agents=${agents.join(",")}`}`
      : requireNonEmptyString(rule.id, `${field}.id`);
  return {
    id,
    limit,
    perMs,
    burst,
    scope,
    tools,
    agents,
    matchTool:
      toolMatchers.length === 1
        ? (toolMatchers[0] as (s: string) => boolean)
        : (n) => toolMatchers.some((m) => m(n)),
    matchAgent:
      agentMatchers.length === 1
        ? (agentMatchers[0] as (s: string) => boolean)
        : (n) => agentMatchers.some((m) => m(n)),
    intervalMs,
    toleranceMs: (burst - 1) * intervalMs,
    buckets: new Map(),
    refused: 0,
  };
}
