import { ConfigError, InvalidArgumentError } from "../errors.js";
import type { CallKind, CallObservation } from "../types.js";
import { requireOneOf, requirePositive, requireRatio } from "../validate.js";
import { fieldOf } from "./fields.js";
import { LATENCY_BIN_COUNT, latencyBinIndex, percentileFromBins } from "./latency-histogram.js";
import {
  HISTOGRAM_OFFSET,
  SLI,
  type SLIDirection,
  type SLIInit,
  type SLIOptions,
  type SLIType,
} from "./sli.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const CALL_KINDS: readonly CallKind[] = ["model", "tool"];

/** Options of indicators the engine can feed from finished calls. */
export interface ObservedSLIOptions extends SLIOptions {
  /**
   * Judge every finished call the SLO observes (default true). Set false to feed only `record()`, e.g.
   * when you record per-task figures yourself and calls would count twice.
   */
  autoObserve?: boolean;
}

/** Options of indicators that can be limited to one kind of call. */
export interface KindFilteredSLIOptions extends ObservedSLIOptions {
  /** Only calls of this kind apply; default: both models and tools. */
  kind?: CallKind;
}

/**
 * Base of indicators whose events are outcomes (value 1 or 0): a success rate (higher is better, 1 is
 * good) or a failure rate (lower is better, 1 is bad). The reading is the rate over the window; its
 * target is the indicator's own, else the owning SLO's objective.
 */
abstract class OutcomeRateSLI extends SLI {
  readonly #ownTarget: number | undefined;

  protected constructor(
    init: Omit<SLIInit, "threshold" | "direction"> & { direction: SLIDirection },
    ownTarget: number | undefined,
    targetField: string,
  ) {
    super({ ...init, threshold: init.direction === "higher_is_better" ? 1 : 0 });
    this.#ownTarget =
      ownTarget === undefined ? undefined : requireRatio(ownTarget, fieldOf(init.path ?? "", targetField));
  }

  protected override validateValue(value: number): void {
    if (value !== 0 && value !== 1) {
      throw new InvalidArgumentError("value", value, `1 or 0 for ${this.name}`);
    }
  }

  protected override valueTarget(): number | null {
    if (this.#ownTarget !== undefined) return this.#ownTarget;
    const budget = this.owner?.errorBudget;
    if (budget === undefined) return null;
    return this.direction === "higher_is_better" ? budget.target : budget.total;
  }
}

export interface TaskSuccessRateOptions extends SLIOptions {
  /** The success rate the reading is held to; default: the owning SLO's objective. */
  target?: number;
}

/**
 * Share of agent tasks that succeed (higher is better). The engine sees calls, not tasks, so you record
 * outcomes: `recordTask(true)` (or `record(1)`) for a success, `recordTask(false)` for a failure.
 */
export class TaskSuccessRate extends OutcomeRateSLI {
  constructor(options: TaskSuccessRateOptions = {}, path = "") {
    super(
      {
        type: "task_success",
        name: options.name ?? "task_success_rate",
        direction: "higher_is_better",
        windowMs: options.windowMs ?? 30 * DAY,
        clock: options.clock,
        path,
      },
      options.target,
      "target",
    );
  }

  recordTask(succeeded: boolean, atMs?: number): void {
    this.record(succeeded ? 1 : 0, atMs);
  }
}

export interface ErrorRateOptions extends KindFilteredSLIOptions {
  /** The error rate the reading is held to; default: the owning SLO's allowed error ratio. */
  maxErrorRate?: number;
}

/** Share of calls that fail (lower is better). Fed by the engine: a call is bad iff it did not succeed. */
export class ErrorRate extends OutcomeRateSLI {
  readonly kind: CallKind | undefined;
  readonly autoObserve: boolean;

  constructor(options: ErrorRateOptions = {}, path = "") {
    super(
      {
        type: "error_rate",
        name: options.name ?? (options.kind === undefined ? "error_rate" : `${options.kind}_error_rate`),
        direction: "lower_is_better",
        windowMs: options.windowMs ?? HOUR,
        clock: options.clock,
        path,
      },
      options.maxErrorRate,
      "maxErrorRate",
    );
    this.kind = optionalKind(options.kind, path);
    this.autoObserve = optionalBoolean(options.autoObserve, fieldOf(path, "autoObserve"));
  }

  /** Records one call outcome yourself (1 = error). */
  recordCall(ok: boolean, atMs?: number): void {
    this.record(ok ? 0 : 1, atMs);
  }

  protected override observedValue(observation: CallObservation): number {
    if (!this.autoObserve || (this.kind !== undefined && observation.kind !== this.kind)) return Number.NaN;
    return observation.ok ? 0 : 1;
  }
}

export interface ToolCallSuccessRateOptions extends ObservedSLIOptions {
  /** The success rate the reading is held to; default: the owning SLO's objective. */
  target?: number;
}

/** Share of tool calls that succeed (higher is better). Fed by the engine from calls of kind `"tool"` only. */
export class ToolCallSuccessRate extends OutcomeRateSLI {
  readonly autoObserve: boolean;

  constructor(options: ToolCallSuccessRateOptions = {}, path = "") {
    super(
      {
        type: "tool_call_success",
        name: options.name ?? "tool_call_success_rate",
        direction: "higher_is_better",
        windowMs: options.windowMs ?? 7 * DAY,
        clock: options.clock,
        path,
      },
      options.target,
      "target",
    );
    this.autoObserve = optionalBoolean(options.autoObserve, fieldOf(path, "autoObserve"));
  }

  recordCall(ok: boolean, atMs?: number): void {
    this.record(ok ? 1 : 0, atMs);
  }

  protected override observedValue(observation: CallObservation): number {
    if (!this.autoObserve || observation.kind !== "tool") return Number.NaN;
    return observation.ok ? 1 : 0;
  }
}

export interface HallucinationRateOptions extends SLIOptions {
  /** The hallucination rate the reading is held to; default: the owning SLO's allowed error ratio. */
  maxRate?: number;
}

/**
 * Share of responses an evaluator flags as hallucinated (lower is better):
 * `recordResponse(hallucinated)` (or `record(1)` for a hallucination, `record(0)` for a clean answer).
 */
export class HallucinationRate extends OutcomeRateSLI {
  constructor(options: HallucinationRateOptions = {}, path = "") {
    super(
      {
        type: "hallucination_rate",
        name: options.name ?? "hallucination_rate",
        direction: "lower_is_better",
        windowMs: options.windowMs ?? DAY,
        clock: options.clock,
        path,
      },
      options.maxRate,
      "maxRate",
    );
  }

  recordResponse(hallucinated: boolean, atMs?: number): void {
    this.record(hallucinated ? 1 : 0, atMs);
  }
}

export interface LatencyPercentileOptions extends KindFilteredSLIOptions {
  /** The percentile the reading reports, in (0, 1): 0.5, 0.95 (default), 0.99. */
  percentile?: number;
  /** A call is good iff it took at most this long. Default 5000 ms. */
  thresholdMs?: number;
}

/**
 * Call latency (lower is better). Each call is good iff `durationMs <= thresholdMs`, which is what the
 * SLO counts; the reading is the windowed percentile from a fixed log-scale histogram (never understated,
 * at most ~19 % high; see `latency-histogram.ts`), so memory stays fixed.
 */
export class LatencyPercentile extends SLI {
  readonly percentile: number;
  readonly thresholdMs: number;
  readonly kind: CallKind | undefined;
  readonly autoObserve: boolean;

  constructor(options: LatencyPercentileOptions = {}, path = "") {
    const percentile = options.percentile ?? 0.95;
    if (typeof percentile !== "number" || !(percentile > 0 && percentile < 1)) {
      throw new ConfigError(fieldOf(path, "percentile"), percentile, "a number in (0, 1) such as 0.95");
    }
    const thresholdMs = requirePositive(options.thresholdMs ?? 5000, fieldOf(path, "thresholdMs"));
    super({
      type: "latency",
      name: options.name ?? `latency_p${Number((percentile * 100).toFixed(4))}`,
      direction: "lower_is_better",
      threshold: thresholdMs,
      windowMs: options.windowMs ?? HOUR,
      clock: options.clock,
      histogramBins: LATENCY_BIN_COUNT,
      path,
    });
    this.percentile = percentile;
    this.thresholdMs = thresholdMs;
    this.kind = optionalKind(options.kind, path);
    this.autoObserve = optionalBoolean(options.autoObserve, fieldOf(path, "autoObserve"));
  }

  protected override observedValue(observation: CallObservation): number {
    if (!this.autoObserve || (this.kind !== undefined && observation.kind !== this.kind)) return Number.NaN;
    return observation.durationMs;
  }

  protected override summarize(events: number, _valueSum: number, window: Float64Array): number {
    return percentileFromBins(window, HISTOGRAM_OFFSET, events, this.percentile);
  }

  protected override binIndex(value: number): number {
    return latencyBinIndex(value);
  }
}

export interface CostPerTaskOptions extends KindFilteredSLIOptions {
  /** A task (or call) is good iff it cost at most this. Default $0.50. */
  maxCostUsd?: number;
}

/**
 * Cost (lower is better). Fed by the engine with each call's `costUsd` (a call over the limit means its
 * task is over it too); `record(taskCostUsd)` takes the exact per-task figure when you know it (then set
 * `autoObserve: false` so calls are not counted as well). The reading is the mean cost in the window.
 */
export class CostPerTask extends SLI {
  readonly maxCostUsd: number;
  readonly kind: CallKind | undefined;
  readonly autoObserve: boolean;

  constructor(options: CostPerTaskOptions = {}, path = "") {
    const maxCostUsd = requirePositive(options.maxCostUsd ?? 0.5, fieldOf(path, "maxCostUsd"));
    super({
      type: "cost_per_task",
      name: options.name ?? "cost_per_task",
      direction: "lower_is_better",
      threshold: maxCostUsd,
      windowMs: options.windowMs ?? DAY,
      clock: options.clock,
      path,
    });
    this.maxCostUsd = maxCostUsd;
    this.kind = optionalKind(options.kind, path);
    this.autoObserve = optionalBoolean(options.autoObserve, fieldOf(path, "autoObserve"));
  }

  protected override observedValue(observation: CallObservation): number {
    if (!this.autoObserve || (this.kind !== undefined && observation.kind !== this.kind)) return Number.NaN;
    return observation.costUsd;
  }
}

export interface TokensPerCompletionOptions extends ObservedSLIOptions {
  /** A completion is good iff it used at most this many tokens. Required. */
  maxTokens: number;
  /** What is counted: output tokens (default) or input + output. */
  count?: "output" | "total";
}

/** Tokens per model completion (lower is better). Fed by the engine from calls of kind `"model"` only. */
export class TokensPerCompletion extends SLI {
  readonly maxTokens: number;
  readonly count: "output" | "total";
  readonly autoObserve: boolean;

  constructor(options: TokensPerCompletionOptions, path = "") {
    const maxTokens = requirePositive(options?.maxTokens, fieldOf(path, "maxTokens"));
    super({
      type: "tokens_per_completion",
      name: options.name ?? "tokens_per_completion",
      direction: "lower_is_better",
      threshold: maxTokens,
      windowMs: options.windowMs ?? DAY,
      clock: options.clock,
      path,
    });
    this.maxTokens = maxTokens;
    this.count = requireOneOf(options.count ?? "output", ["output", "total"], fieldOf(path, "count"));
    this.autoObserve = optionalBoolean(options.autoObserve, fieldOf(path, "autoObserve"));
  }

  protected override observedValue(observation: CallObservation): number {
    if (!this.autoObserve || observation.kind !== "model") return Number.NaN;
    return this.count === "output"
      ? observation.outputTokens
      : observation.inputTokens + observation.outputTokens;
  }
}

export interface FactualAccuracyOptions extends SLIOptions {
  /** A response is good iff its accuracy score (in [0, 1]) is at least this. Default 0.9. */
  minScore?: number;
}

/** An evaluator's factual-accuracy score per response, in [0, 1] (higher is better); you record it. */
export class FactualAccuracy extends SLI {
  constructor(options: FactualAccuracyOptions = {}, path = "") {
    const minScore = requireRatio(options.minScore ?? 0.9, fieldOf(path, "minScore"));
    super({
      type: "factual_accuracy",
      name: options.name ?? "factual_accuracy",
      direction: "higher_is_better",
      threshold: minScore,
      windowMs: options.windowMs ?? DAY,
      clock: options.clock,
      path,
    });
  }

  protected override validateValue(value: number): void {
    if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
      throw new InvalidArgumentError("value", value, `a score in [0, 1] for ${this.name}`);
    }
  }
}

export interface HumanFeedbackScoreOptions extends SLIOptions {
  /** A rating is good iff it is at least this. Default 4. */
  minScore?: number;
  /** Lowest rating on the scale. Default 1. */
  scaleMin?: number;
  /** Highest rating on the scale. Default 5. */
  scaleMax?: number;
}

/**
 * Human ratings (higher is better), e.g. 1–5 stars with ≥ 4 good. For thumbs up/down use
 * `{ scaleMin: 0, scaleMax: 1, minScore: 1 }` and `recordThumb(up)`.
 */
export class HumanFeedbackScore extends SLI {
  readonly scaleMin: number;
  readonly scaleMax: number;

  constructor(options: HumanFeedbackScoreOptions = {}, path = "") {
    const scaleMin = finite(options.scaleMin ?? 1, fieldOf(path, "scaleMin"));
    const scaleMax = finite(options.scaleMax ?? 5, fieldOf(path, "scaleMax"));
    if (scaleMax <= scaleMin) {
      throw new ConfigError(fieldOf(path, "scaleMax"), scaleMax, `a number > scaleMin (${scaleMin})`);
    }
    const minScore = finite(options.minScore ?? 4, fieldOf(path, "minScore"));
    if (minScore < scaleMin || minScore > scaleMax) {
      throw new ConfigError(fieldOf(path, "minScore"), minScore, `a score in [${scaleMin}, ${scaleMax}]`);
    }
    super({
      type: "human_feedback",
      name: options.name ?? "human_feedback_score",
      direction: "higher_is_better",
      threshold: minScore,
      windowMs: options.windowMs ?? 7 * DAY,
      clock: options.clock,
      path,
    });
    this.scaleMin = scaleMin;
    this.scaleMax = scaleMax;
  }

  /** Records a thumbs up (the top of the scale) or down (the bottom). */
  recordThumb(up: boolean, atMs?: number): void {
    this.record(up ? this.scaleMax : this.scaleMin, atMs);
  }

  protected override validateValue(value: number): void {
    if (typeof value !== "number" || !(value >= this.scaleMin && value <= this.scaleMax)) {
      throw new InvalidArgumentError(
        "value",
        value,
        `a rating in [${this.scaleMin}, ${this.scaleMax}] for ${this.name}`,
      );
    }
  }
}

/** The built-in indicator classes by type. */
export const SLI_TYPES: readonly SLIType[] = [
  "task_success",
  "error_rate",
  "latency",
  "cost_per_task",
  "tokens_per_completion",
  "tool_call_success",
  "factual_accuracy",
  "hallucination_rate",
  "human_feedback",
];

/**
 * The built-in indicator classes themselves (not subclasses): their `observeCall` reads the observation's
 * fields and keeps no reference to it, so the engine may pass them a reused object.
 */
const BORROWING_CLASSES: ReadonlySet<unknown> = new Set<unknown>([
  TaskSuccessRate,
  ErrorRate,
  ToolCallSuccessRate,
  HallucinationRate,
  LatencyPercentile,
  CostPerTask,
  TokensPerCompletion,
  FactualAccuracy,
  HumanFeedbackScore,
]);

/** @internal Whether `indicator` is an instance of a built-in class (not of a subclass of one). */
export function isBuiltInIndicator(indicator: SLI): boolean {
  return BORROWING_CLASSES.has(indicator.constructor);
}

function optionalKind(value: unknown, path: string): CallKind | undefined {
  return value === undefined ? undefined : requireOneOf(value, CALL_KINDS, fieldOf(path, "kind"));
}

function optionalBoolean(value: unknown, field: string): boolean {
  if (value === undefined) return true;
  if (typeof value !== "boolean") throw new ConfigError(field, value, "true or false");
  return value;
}

function finite(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ConfigError(field, value, "a finite number");
  }
  return value;
}
