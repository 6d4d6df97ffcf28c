import { ConfigError, InvalidArgumentError } from "../errors.js";
import {
  requireFiniteNonNegative,
  requireNonNegativeInteger,
  requireOneOf,
  requireRatio,
} from "../validate.js";
import type { ChaosCounts } from "./experiment-types.js";
import type { LatencyHistogram } from "./histogram.js";

/**
 * Live metrics an abort condition can watch, all measured over the experiment's run so far:
 * - `success_rate` / `error_rate`: share of observed calls that succeeded / failed;
 * - `p99_latency_ms`: nearest-rank 99th percentile of observed call durations;
 * - `cost_usd`: money spent by observed calls;
 * - `bypass_rate`: share of adversarial outcomes reported as `passed` (the defences missed the attack).
 */
export const CHAOS_METRICS = [
  "success_rate",
  "error_rate",
  "p99_latency_ms",
  "cost_usd",
  "bypass_rate",
] as const;
export type ChaosMetric = (typeof CHAOS_METRICS)[number];

export const ABORT_COMPARATORS = ["lt", "lte", "gt", "gte"] as const;
export type AbortComparator = (typeof ABORT_COMPARATORS)[number];

/** Metric values by name, as `checkAbort()` takes them and `liveMetrics()` returns them. */
export type ChaosMetrics = Partial<Record<ChaosMetric, number>>;

export interface AbortCondition {
  metric: ChaosMetric;
  threshold: number;
  /** `metric <comparator> threshold` aborts the experiment; default `"lte"` (as the Python original). */
  comparator?: AbortComparator;
  /**
   * Samples needed before the automatic check trusts the metric (calls for rates and p99, adversarial
   * outcomes for `bypass_rate`), so one early failure does not abort a run. Default 10; unused for
   * `cost_usd` and by `checkAbort()`.
   */
  minSamples?: number;
}

export type ResolvedAbortCondition = Readonly<Required<AbortCondition>>;

export const DEFAULT_ABORT_MIN_SAMPLES = 10;

const RATIO_METRICS: readonly ChaosMetric[] = ["success_rate", "error_rate", "bypass_rate"];

/** Validates a condition and fills in defaults; `field` names it in errors (e.g. `"abortConditions[0]"`). */
export function resolveAbortCondition(condition: unknown, field: string): ResolvedAbortCondition {
  if (typeof condition !== "object" || condition === null) {
    throw new ConfigError(field, condition, "an object { metric, threshold, comparator }");
  }
  const raw = condition as Record<string, unknown>;
  const metric = requireOneOf(raw.metric, CHAOS_METRICS, `${field}.metric`);
  const comparator = requireOneOf(raw.comparator ?? "lte", ABORT_COMPARATORS, `${field}.comparator`);
  const threshold = RATIO_METRICS.includes(metric)
    ? requireRatio(raw.threshold, `${field}.threshold`)
    : requireFiniteNonNegative(raw.threshold, `${field}.threshold`);
  const minSamples = requireNonNegativeInteger(
    raw.minSamples ?? (metric === "cost_usd" ? 0 : DEFAULT_ABORT_MIN_SAMPLES),
    `${field}.minSamples`,
  );
  return Object.freeze({ metric, threshold, comparator, minSamples });
}

/** A metric's current value (call metrics need calls > 0, `bypass_rate` needs outcomes > 0: callers check). */
export function metricValue(
  metric: ChaosMetric,
  counts: ChaosCounts,
  latency: LatencyHistogram,
  outcomesPassed: number,
  outcomes: number,
): number {
  switch (metric) {
    case "success_rate":
      return (counts.calls - counts.failed) / counts.calls;
    case "error_rate":
      return counts.failed / counts.calls;
    case "cost_usd":
      return counts.costUsd;
    case "p99_latency_ms":
      return latency.quantile(0.99) ?? 0;
    case "bypass_rate":
      return outcomesPassed / outcomes;
  }
}

export function compareMetric(value: number, comparator: AbortComparator, threshold: number): boolean {
  switch (comparator) {
    case "lt":
      return value < threshold;
    case "lte":
      return value <= threshold;
    case "gt":
      return value > threshold;
    case "gte":
      return value >= threshold;
  }
}

const SYMBOLS: Record<AbortComparator, string> = { lt: "<", lte: "<=", gt: ">", gte: ">=" };

/** A readable abort reason, e.g. `"success_rate 0.42 < 0.5"`. */
export function describeAbort(condition: ResolvedAbortCondition, value: number): string {
  const shown = Number.isInteger(value) ? String(value) : value.toFixed(4).replace(/0+$/, "");
  return `${condition.metric} ${shown} ${SYMBOLS[condition.comparator]} ${condition.threshold}`;
}

/** The first condition that holds on `metrics` (missing metrics are skipped), described; else undefined. */
export function firstHolding(
  conditions: readonly ResolvedAbortCondition[],
  metrics: ChaosMetrics,
): string | undefined {
  for (const condition of conditions) {
    const value = metrics[condition.metric];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new InvalidArgumentError(`metrics.${condition.metric}`, value, "a finite number");
    }
    if (compareMetric(value, condition.comparator, condition.threshold))
      return describeAbort(condition, value);
  }
  return undefined;
}

/**
 * Exact nearest-rank p99 against a threshold, from counts alone: p99 > T ⇔ more than n − ⌈0.99 n⌉ of the
 * n samples are above T (likewise for ≥). O(1) per call, no sorting.
 */
export function p99Holds(
  comparator: AbortComparator,
  samples: number,
  aboveThreshold: number,
  atOrAboveThreshold: number,
): boolean {
  const allowed = samples - Math.ceil(0.99 * samples);
  const above = aboveThreshold > allowed;
  const atOrAbove = atOrAboveThreshold > allowed;
  switch (comparator) {
    case "gt":
      return above;
    case "gte":
      return atOrAbove;
    case "lt":
      return !atOrAbove;
    case "lte":
      return !above;
  }
}
