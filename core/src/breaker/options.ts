import { type Clock, systemClock } from "../clock.js";
import { type Duration, parseDuration } from "../duration.js";
import { ConfigError } from "../errors.js";
import { type BreakerTransition, type EventSink, silentSink } from "../events.js";
import {
  requireFunction,
  requireNonEmptyString,
  requireNonNegativeInteger,
  requirePositiveInteger,
  requireRatio,
} from "../validate.js";

/** Failure-rate rule over the last `size` calls. */
export interface CountWindowOptions {
  type: "count";
  /** How many of the most recent calls the window holds. */
  size: number;
  /** No rate rule trips before the window holds this many calls (at most `size`). */
  minimumCalls: number;
  /** Trip when failures / calls >= this (0..1]. */
  failureRateThreshold: number;
}

/** Failure-rate rule over the calls of the last `durationMs`. */
export interface TimeWindowOptions {
  type: "time";
  durationMs: Duration;
  /** Time buckets the window is split into (default 10); the window advances one bucket at a time. */
  buckets?: number;
  minimumCalls: number;
  failureRateThreshold: number;
}

export type SlidingWindowOptions = CountWindowOptions | TimeWindowOptions;

/** Grows the recovery timeout on each re-open that happens without a successful close in between. */
export interface BackoffOptions {
  /** Factor applied to the recovery timeout per consecutive trip (> 1). */
  multiplier: number;
  /** Ceiling of the grown timeout (>= recoveryTimeoutMs). */
  maxRecoveryTimeoutMs: Duration;
}

export interface CircuitBreakerOptions {
  /** Names the breaker in errors, events and snapshots. */
  id: string;
  /**
   * Consecutive failures that trip a CLOSED breaker (default 5). Ignored when `window` is set: the failure-rate
   * rule then replaces the consecutive rule.
   */
  failureThreshold?: number;
  /** How long the breaker stays OPEN before admitting probes (default 30 s). */
  recoveryTimeoutMs?: Duration;
  /** Probes admitted per HALF_OPEN period; all must succeed to close (default 1). */
  halfOpenMaxCalls?: number;
  /**
   * The `retryAfterMs` reported to calls refused in HALF_OPEN because every probe slot is taken: the probes'
   * outcome is unknown, so this is a polling hint (default min(1 s, recoveryTimeoutMs); always > 0).
   */
  halfOpenRetryAfterMs?: Duration;
  /** Failure-rate mode: replaces the consecutive rule with a rate over a sliding window. */
  window?: SlidingWindowOptions;
  /** A call that takes longer than this counts as slow, even when it succeeds. Enables the slow-call rule. */
  slowCallMs?: Duration;
  /**
   * Trip when slow calls / calls in the window >= this (0..1], after `minimumCalls` (default 1, i.e. every call
   * slow). Without `window`, the slow rule uses `DEFAULT_SLOW_CALL_WINDOW`.
   */
  slowCallRateThreshold?: number;
  backoff?: BackoffOptions;
  /** Which errors count as failures (default: all). An error it rejects counts as a success: the dependency answered. */
  isFailure?: (error: unknown) => boolean;
  /** Transitions kept by `history()` (default 20). */
  historySize?: number;
  /** Called synchronously on every transition, after the state changed and before `events` hears it. */
  onStateChange?: (transition: BreakerTransition) => void;
  clock?: Clock;
  events?: EventSink;
}

export const DEFAULT_FAILURE_THRESHOLD = 5;
export const DEFAULT_RECOVERY_TIMEOUT_MS = 30_000;
export const DEFAULT_HALF_OPEN_MAX_CALLS = 1;
export const DEFAULT_HALF_OPEN_RETRY_AFTER_MS = 1_000;
export const DEFAULT_TIME_WINDOW_BUCKETS = 10;
export const DEFAULT_HISTORY_SIZE = 20;
export const DEFAULT_SLOW_CALL_RATE_THRESHOLD = 1;
/**
 * The window the slow-call rule uses when no `window` is configured: the last 20 calls, judged once 10 are in.
 * Agent call rates are low (a few per minute), so a Resilience4j-sized window of 100 would react too slowly.
 */
export const DEFAULT_SLOW_CALL_WINDOW = { type: "count", size: 20, minimumCalls: 10 } as const;

export type ResolvedWindow =
  | { type: "count"; size: number; minimumCalls: number; failureRateThreshold: number | undefined }
  | {
      type: "time";
      durationMs: number;
      buckets: number;
      minimumCalls: number;
      failureRateThreshold: number | undefined;
    };

/** Options after validation: durations in ms, defaults applied. */
export interface ResolvedBreakerOptions {
  id: string;
  failureThreshold: number;
  recoveryTimeoutMs: number;
  halfOpenMaxCalls: number;
  halfOpenRetryAfterMs: number;
  /** Undefined when neither a rate rule nor a slow rule needs a window. */
  window: ResolvedWindow | undefined;
  /** True when failures trip by the consecutive rule (no `window` configured). */
  consecutiveRule: boolean;
  slowCallMs: number | undefined;
  slowCallRateThreshold: number | undefined;
  backoff: { multiplier: number; maxRecoveryTimeoutMs: number } | undefined;
  isFailure: ((error: unknown) => boolean) | undefined;
  historySize: number;
  onStateChange: ((transition: BreakerTransition) => void) | undefined;
  clock: Clock;
  events: EventSink;
}

const OPTION_KEYS: ReadonlySet<string> = new Set([
  "id",
  "failureThreshold",
  "recoveryTimeoutMs",
  "halfOpenMaxCalls",
  "halfOpenRetryAfterMs",
  "window",
  "slowCallMs",
  "slowCallRateThreshold",
  "backoff",
  "isFailure",
  "historySize",
  "onStateChange",
  "clock",
  "events",
]);
const COUNT_WINDOW_KEYS: ReadonlySet<string> = new Set([
  "type",
  "size",
  "minimumCalls",
  "failureRateThreshold",
]);
const TIME_WINDOW_KEYS: ReadonlySet<string> = new Set([
  "type",
  "durationMs",
  "buckets",
  "minimumCalls",
  "failureRateThreshold",
]);
const BACKOFF_KEYS: ReadonlySet<string> = new Set(["multiplier", "maxRecoveryTimeoutMs"]);

/**
 * Validates breaker options. `prefix` is prepended to every field name in errors, so a registry can report
 * `overrides["tool:search"].failureThreshold`.
 */
export function resolveBreakerOptions(options: unknown, prefix = ""): ResolvedBreakerOptions {
  const field = (name: string) => `${prefix}${name}`;
  const raw = requireRecord(options, prefix === "" ? "options" : prefix.replace(/\.$/, ""));
  rejectUnknownKeys(raw, OPTION_KEYS, prefix);

  const id = requireNonEmptyString(raw.id, field("id"));
  const failureThreshold =
    raw.failureThreshold === undefined
      ? DEFAULT_FAILURE_THRESHOLD
      : requirePositiveInteger(raw.failureThreshold, field("failureThreshold"));
  const recoveryTimeoutMs =
    raw.recoveryTimeoutMs === undefined
      ? DEFAULT_RECOVERY_TIMEOUT_MS
      : parseDuration(raw.recoveryTimeoutMs as Duration, field("recoveryTimeoutMs"));
  const halfOpenMaxCalls =
    raw.halfOpenMaxCalls === undefined
      ? DEFAULT_HALF_OPEN_MAX_CALLS
      : requirePositiveInteger(raw.halfOpenMaxCalls, field("halfOpenMaxCalls"));
  const halfOpenRetryAfterMs =
    raw.halfOpenRetryAfterMs === undefined
      ? Math.min(DEFAULT_HALF_OPEN_RETRY_AFTER_MS, recoveryTimeoutMs)
      : parseDuration(raw.halfOpenRetryAfterMs as Duration, field("halfOpenRetryAfterMs"));

  const slowCallMs =
    raw.slowCallMs === undefined ? undefined : parseDuration(raw.slowCallMs as Duration, field("slowCallMs"));
  let slowCallRateThreshold: number | undefined;
  if (raw.slowCallRateThreshold !== undefined) {
    if (slowCallMs === undefined) {
      throw new ConfigError(
        field("slowCallRateThreshold"),
        raw.slowCallRateThreshold,
        "to be set together with slowCallMs",
      );
    }
    slowCallRateThreshold = requireRatio(raw.slowCallRateThreshold, field("slowCallRateThreshold"), {
      exclusiveZero: true,
    });
  } else if (slowCallMs !== undefined) {
    slowCallRateThreshold = DEFAULT_SLOW_CALL_RATE_THRESHOLD;
  }

  let window: ResolvedWindow | undefined;
  if (raw.window !== undefined) {
    window = resolveWindow(raw.window, `${prefix}window`);
  } else if (slowCallMs !== undefined) {
    window = { ...DEFAULT_SLOW_CALL_WINDOW, failureRateThreshold: undefined };
  }

  let backoff: ResolvedBreakerOptions["backoff"];
  if (raw.backoff !== undefined) {
    const backoffRaw = requireRecord(raw.backoff, field("backoff"));
    rejectUnknownKeys(backoffRaw, BACKOFF_KEYS, `${prefix}backoff.`);
    const multiplier = backoffRaw.multiplier;
    if (typeof multiplier !== "number" || !Number.isFinite(multiplier) || multiplier <= 1) {
      throw new ConfigError(field("backoff.multiplier"), multiplier, "a finite number > 1");
    }
    const maxField = field("backoff.maxRecoveryTimeoutMs");
    const maxRecoveryTimeoutMs = parseDuration(backoffRaw.maxRecoveryTimeoutMs as Duration, maxField);
    if (maxRecoveryTimeoutMs < recoveryTimeoutMs) {
      throw new ConfigError(
        maxField,
        backoffRaw.maxRecoveryTimeoutMs,
        `a duration >= recoveryTimeoutMs (${recoveryTimeoutMs} ms)`,
      );
    }
    backoff = { multiplier, maxRecoveryTimeoutMs };
  }

  const isFailure =
    raw.isFailure === undefined
      ? undefined
      : requireFunction<(error: unknown) => boolean>(raw.isFailure, field("isFailure"));
  const onStateChange =
    raw.onStateChange === undefined
      ? undefined
      : requireFunction<(transition: BreakerTransition) => void>(raw.onStateChange, field("onStateChange"));
  const historySize =
    raw.historySize === undefined
      ? DEFAULT_HISTORY_SIZE
      : requireNonNegativeInteger(raw.historySize, field("historySize"));

  const clock = raw.clock === undefined ? systemClock : (raw.clock as Clock);
  if (typeof clock !== "object" || clock === null || typeof clock.now !== "function") {
    throw new ConfigError(field("clock"), raw.clock, "a Clock with now()");
  }
  const events = raw.events === undefined ? silentSink : (raw.events as EventSink);
  if (
    typeof events !== "object" ||
    events === null ||
    typeof events.emit !== "function" ||
    typeof events.has !== "function"
  ) {
    throw new ConfigError(field("events"), raw.events, "an EventSink with emit() and has()");
  }

  return {
    id,
    failureThreshold,
    recoveryTimeoutMs,
    halfOpenMaxCalls,
    halfOpenRetryAfterMs,
    window,
    consecutiveRule: raw.window === undefined,
    slowCallMs,
    slowCallRateThreshold,
    backoff,
    isFailure,
    historySize,
    onStateChange,
    clock,
    events,
  };
}

function resolveWindow(value: unknown, name: string): ResolvedWindow {
  const raw = requireRecord(value, name);
  const minimumCalls = () => requirePositiveInteger(raw.minimumCalls, `${name}.minimumCalls`);
  const failureRateThreshold = () =>
    requireRatio(raw.failureRateThreshold, `${name}.failureRateThreshold`, { exclusiveZero: true });
  if (raw.type === "count") {
    rejectUnknownKeys(raw, COUNT_WINDOW_KEYS, `${name}.`);
    const size = requirePositiveInteger(raw.size, `${name}.size`);
    const minimum = minimumCalls();
    if (minimum > size) {
      throw new ConfigError(`${name}.minimumCalls`, raw.minimumCalls, `an integer <= ${name}.size (${size})`);
    }
    return { type: "count", size, minimumCalls: minimum, failureRateThreshold: failureRateThreshold() };
  }
  if (raw.type === "time") {
    rejectUnknownKeys(raw, TIME_WINDOW_KEYS, `${name}.`);
    const durationMs = parseDuration(raw.durationMs as Duration, `${name}.durationMs`);
    const buckets =
      raw.buckets === undefined
        ? DEFAULT_TIME_WINDOW_BUCKETS
        : requirePositiveInteger(raw.buckets, `${name}.buckets`);
    if (durationMs / buckets < 1) {
      throw new ConfigError(
        `${name}.buckets`,
        raw.buckets,
        `an integer <= ${name}.durationMs in ms (${durationMs}), so buckets are >= 1 ms`,
      );
    }
    return {
      type: "time",
      durationMs,
      buckets,
      minimumCalls: minimumCalls(),
      failureRateThreshold: failureRateThreshold(),
    };
  }
  throw new ConfigError(`${name}.type`, raw.type, '"count" or "time"');
}

function requireRecord(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(name, value, "an object");
  }
  return value as Record<string, unknown>;
}

/** A misspelt option would otherwise be ignored silently. */
function rejectUnknownKeys(raw: Record<string, unknown>, known: ReadonlySet<string>, prefix: string): void {
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) {
      throw new ConfigError(`${prefix}${key}`, raw[key], `a known option (${[...known].join(", ")})`);
    }
  }
}
