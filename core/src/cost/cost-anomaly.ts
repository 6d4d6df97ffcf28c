import { type Duration, parseDuration } from "../duration.js";
import { ConfigError } from "../errors.js";

/**
 * What a detected anomaly does besides its `cost.anomaly` event: nothing more (`alert`), hold the agent's
 * next calls for an operator's confirmation (`hold`: refused with `ANOMALY_HELD` until
 * `budget.confirmAnomaly(agentId)`, or at most `holdMs`), lower the agent's per-task limit for `cooldownMs`
 * (`lower-task-limit`), throttle the agent to the budget throttle's task rate (`throttle`, until the day rolls
 * over or `unthrottle`), or kill it (`kill`, until the day rolls over or `revive`).
 */
export type CostAnomalyAction = "alert" | "hold" | "lower-task-limit" | "throttle" | "kill";

export const COST_ANOMALY_ACTIONS: readonly CostAnomalyAction[] = [
  "alert",
  "hold",
  "lower-task-limit",
  "throttle",
  "kill",
];

export interface CostAnomalyOptions {
  /**
   * Standard score of log(cost) above which a cost is anomalous. Default 4: about 0.3–0.5 false alarms per
   * 10,000 normal costs on lognormal workloads (σ 0.3–0.6), and ≥ 90 % of 10× spikes caught where the
   * costs' σ is ≤ 0.4 (a 10× spike is ln 10 / σ standard deviations: below 4 once σ passes 0.58).
   */
  zThreshold?: number;
  /** Costs seen before any is judged. Default 30. */
  minSamples?: number;
  /** EWMA smoothing factor in (0, 1). Default 0.02 (a memory of ~50 calls). */
  alpha?: number;
  /**
   * Floor of the standard deviation of log(cost), so an agent whose calls all cost the same is not flagged
   * for a few percent of noise. Default 0.1 (~10 %).
   */
  minLogStdDev?: number;
  /** What an anomaly does (see `CostAnomalyAction`). Default `alert`. */
  action?: CostAnomalyAction;
  /**
   * `hold`: the longest a hold lasts before it lapses by itself. Default: no limit (only a confirmation
   * lifts it).
   */
  holdMs?: Duration;
  /** `lower-task-limit`: how long the lowered limit holds. Default 1 h. */
  cooldownMs?: Duration;
  /** `lower-task-limit`: the lowered limit as a fraction of the agent's per-task limit, in (0, 1]. Default 0.25. */
  taskLimitFactor?: number;
}

export interface ResolvedCostAnomalyOptions {
  zThreshold: number;
  minSamples: number;
  alpha: number;
  minLogStdDev: number;
  action: CostAnomalyAction;
  /** `Infinity`: until confirmed. */
  holdMs: number;
  cooldownMs: number;
  taskLimitFactor: number;
}

const DEFAULTS: ResolvedCostAnomalyOptions = {
  zThreshold: 4,
  minSamples: 30,
  alpha: 0.02,
  minLogStdDev: 0.1,
  action: "alert",
  holdMs: Number.POSITIVE_INFINITY,
  cooldownMs: 3_600_000,
  taskLimitFactor: 0.25,
};
const KNOWN_KEYS = new Set(Object.keys(DEFAULTS));

export function resolveCostAnomalyOptions(
  value: boolean | CostAnomalyOptions | undefined,
  field = "anomalyDetection",
): ResolvedCostAnomalyOptions | undefined {
  if (value === undefined || value === true) return DEFAULTS;
  if (value === false) return undefined;
  if (typeof value !== "object" || value === null) {
    throw new ConfigError(
      field,
      value,
      "a boolean or { zThreshold, minSamples, alpha, minLogStdDev, action, holdMs, cooldownMs, taskLimitFactor }",
    );
  }
  for (const key of Object.keys(value)) {
    if (!KNOWN_KEYS.has(key)) {
      throw new ConfigError(`${field}.${key}`, (value as Record<string, unknown>)[key], "a known option");
    }
  }
  const options = { ...DEFAULTS, ...value } as CostAnomalyOptions & ResolvedCostAnomalyOptions;
  const { zThreshold, minSamples, alpha, minLogStdDev, action, taskLimitFactor } = options;
  if (typeof zThreshold !== "number" || !Number.isFinite(zThreshold) || zThreshold <= 0) {
    throw new ConfigError(`${field}.zThreshold`, zThreshold, "a finite number > 0");
  }
  if (!Number.isInteger(minSamples) || minSamples < 2) {
    throw new ConfigError(`${field}.minSamples`, minSamples, "an integer >= 2");
  }
  if (typeof alpha !== "number" || !(alpha > 0 && alpha < 1)) {
    throw new ConfigError(`${field}.alpha`, alpha, "a number in (0, 1)");
  }
  if (typeof minLogStdDev !== "number" || !Number.isFinite(minLogStdDev) || minLogStdDev < 0) {
    throw new ConfigError(`${field}.minLogStdDev`, minLogStdDev, "a finite number >= 0");
  }
  if (!COST_ANOMALY_ACTIONS.includes(action)) {
    throw new ConfigError(`${field}.action`, action, COST_ANOMALY_ACTIONS.map((a) => `"${a}"`).join(", "));
  }
  if (typeof taskLimitFactor !== "number" || !(taskLimitFactor > 0 && taskLimitFactor <= 1)) {
    throw new ConfigError(`${field}.taskLimitFactor`, taskLimitFactor, "a fraction in (0, 1]");
  }
  return {
    zThreshold,
    minSamples,
    alpha,
    minLogStdDev,
    action,
    holdMs:
      options.holdMs === Number.POSITIVE_INFINITY
        ? options.holdMs
        : parseDuration(options.holdMs, `${field}.holdMs`),
    cooldownMs: parseDuration(options.cooldownMs, `${field}.cooldownMs`),
    taskLimitFactor,
  };
}

/**
 * One agent's baseline of log(cost): an exponentially weighted mean and variance. Token costs are
 * multiplicative (lognormal), so z-scores on raw dollars over-fire; in log space a 10× spike is a fixed
 * distance whatever the agent's usual spend.
 *
 * Each cost is scored against the baseline BEFORE it is folded in, so a spike cannot hide itself by
 * inflating the variance it is judged against. Until 1/alpha samples the weight is 1/(n+1), which makes the
 * early mean and variance exact running figures instead of values biased towards zero. O(1) per cost.
 */
export class LogCostBaseline {
  #mean = 0;
  #variance = 0;
  #count = 0;
  #priorMean = Number.NaN;

  /** Samples folded in so far. */
  get count(): number {
    return this.#count;
  }

  /** The baseline's typical cost in USD (exp of the mean log cost), NaN before the first sample. */
  get expectedUsd(): number {
    return this.#count === 0 ? Number.NaN : Math.exp(this.#mean);
  }

  /** The typical cost the last observed cost was judged against (before it was folded in). */
  get priorExpectedUsd(): number {
    return Math.exp(this.#priorMean);
  }

  /**
   * Scores a positive cost against the prior baseline, then folds it in. Returns the standard score, or NaN
   * while fewer than `minSamples` costs have been seen.
   */
  observe(costUsd: number, options: ResolvedCostAnomalyOptions): number {
    const value = Math.log(costUsd);
    let score = Number.NaN;
    if (this.#count >= options.minSamples) {
      const stdDev = Math.sqrt(this.#variance);
      score = (value - this.#mean) / Math.max(stdDev, options.minLogStdDev);
    }
    this.#priorMean = this.#count === 0 ? Number.NaN : this.#mean;
    const weight = Math.max(1 / (this.#count + 1), options.alpha);
    const delta = value - this.#mean;
    this.#mean += weight * delta;
    this.#variance = (1 - weight) * (this.#variance + weight * delta * delta);
    this.#count++;
    return score;
  }
}
