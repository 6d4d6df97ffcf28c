import { type Clock, systemClock } from "../clock.js";
import type { Duration } from "../duration.js";
import { ConfigError, InvalidArgumentError } from "../errors.js";
import type { CallObservation } from "../types.js";
import { parseWindow, RATIO_TOLERANCE, reaches } from "./burn-rate.js";
import { fieldOf } from "./fields.js";
import { BucketedPrefixSums } from "./prefix-sums.js";

export type SLIType =
  | "task_success"
  | "error_rate"
  | "latency"
  | "cost_per_task"
  | "tokens_per_completion"
  | "tool_call_success"
  | "factual_accuracy"
  | "hallucination_rate"
  | "human_feedback";

/** Which way is good: a value is good when it is at least (`higher_is_better`) or at most the threshold. */
export type SLIDirection = "higher_is_better" | "lower_is_better";

/** An indicator's reading over its window (JSON-serializable; `null` = no data). */
export interface SLIValue {
  name: string;
  type: SLIType;
  direction: SLIDirection;
  /** Per-event threshold: an event whose value meets it (in `direction`) is good. */
  threshold: number;
  /** The current value over the window: a rate, a mean, or (latency) a percentile. */
  value: number | null;
  /** What `value` is compared with (for rates: the objective, the SLO's unless set on the SLI). */
  target: number | null;
  /** Whether `value` meets `target`; null without data or target. */
  met: boolean | null;
  events: number;
  goodEvents: number;
  /** `goodEvents / events`; null without data. */
  goodRatio: number | null;
  windowMs: number;
  at: number;
}

/** One time slot of an indicator's window (the SLI keeps counts per slot, not raw values). */
export interface SLIWindowSlice {
  startMs: number;
  endMs: number;
  events: number;
  goodEvents: number;
  /** Mean recorded value in the slot; null when the slot is empty. */
  mean: number | null;
}

export interface SLIOptions {
  /** Defaults to the type's metric name (e.g. `latency_p95`). Unique within an SLO. */
  name?: string;
  /** Window of the indicator's own reading (`collect()`); each type has a default. */
  windowMs?: Duration;
  /** Defaults to the owning SLO's clock, else the system clock. */
  clock?: Clock;
}

/** What an SLI reports to the SLO that owns it. */
export interface SLIOwner {
  readonly name: string;
  readonly clock: Clock;
  /** The SLO's budget: `total` is the allowed error ratio, `target` the objective `1 − total`. */
  readonly errorBudget: { readonly total: number; readonly target: number };
  /** Counts one event in the SLO (called by `SLI.record`). */
  recordEvent(good: boolean, atMs?: number): void;
}

/** Result codes of `observeCall` (numbers, so the hot path allocates nothing). */
export const NOT_APPLICABLE = 0;
export const GOOD = 1;
export const BAD = 2;
export type Judgement = typeof NOT_APPLICABLE | typeof GOOD | typeof BAD;

/** An SLI's window is kept in this many slots: reads are O(1), memory fixed. */
export const SLI_SLOTS = 24;

const COUNT = 0;
const GOOD_COUNT = 1;
const VALUE_SUM = 2;
const FIXED_COLUMNS = 3;
/** Where histogram bins start in the columns passed to `summarize`. */
export const HISTOGRAM_OFFSET = FIXED_COLUMNS;

/** What a built-in indicator passes to the base constructor. */
export interface SLIInit {
  type: SLIType;
  name: string;
  direction: SLIDirection;
  threshold: number;
  windowMs: Duration;
  clock: Clock | undefined;
  /** Extra per-slot columns (the latency histogram). */
  histogramBins?: number;
  /** Prefix for field names in configuration errors (default none). */
  path?: string;
}

/**
 * A service-level indicator: per-event values judged good or bad against a threshold in a direction.
 * `record(value)` takes a measured value (an evaluator's score, a thumbs up, a task outcome) and counts it
 * in the owning SLO; the engine feeds the indicators it can observe through the SLO's `observe()`.
 *
 * The indicator keeps windowed counts, sums and (latency) a histogram in `SLI_SLOTS` time slots, so its
 * reading is windowed, bounded in memory and O(1) to compute.
 */
export abstract class SLI {
  readonly type: SLIType;
  readonly name: string;
  readonly direction: SLIDirection;
  readonly threshold: number;
  readonly windowMs: number;
  /** Time slot length (`windowMs / SLI_SLOTS`, rounded up). */
  readonly slotMs: number;

  readonly #sums: BucketedPrefixSums;
  readonly #clock: Clock | undefined;
  readonly #histogramBins: number;
  /** Scratch for one windowed read of every column (count, good, sum, histogram bins). */
  readonly #window: Float64Array;
  #owner: SLIOwner | undefined;

  protected constructor(init: SLIInit) {
    const path = init.path ?? "";
    this.type = init.type;
    this.name = requireName(init.name, fieldOf(path, "name"));
    this.direction = init.direction;
    this.threshold = init.threshold;
    this.windowMs = parseWindow(init.windowMs, fieldOf(path, "windowMs"));
    this.slotMs = Math.ceil(this.windowMs / SLI_SLOTS);
    this.#clock = init.clock;
    this.#histogramBins = init.histogramBins ?? 0;
    this.#sums = new BucketedPrefixSums(FIXED_COLUMNS + this.#histogramBins, [
      { bucketMs: this.slotMs, slots: SLI_SLOTS },
    ]);
    this.#window = new Float64Array(FIXED_COLUMNS + this.#histogramBins);
  }

  /** Whether one event with this value is good. */
  isGood(value: number): boolean {
    return this.direction === "higher_is_better" ? value >= this.threshold : value <= this.threshold;
  }

  /**
   * Records a measured value (at `atMs`, default now) and counts it as one good or bad event in the
   * owning SLO. An invalid value or time throws and records nothing.
   */
  record(value: number, atMs?: number): void {
    this.validateValue(value);
    const at = atMs === undefined ? this.#now() : atMs;
    if (!(at >= 0) || at === Number.POSITIVE_INFINITY) {
      throw new InvalidArgumentError("atMs", atMs, "a finite time in ms >= 0");
    }
    const good = this.isGood(value);
    this.#add(value, good, at);
    this.#owner?.recordEvent(good, at);
  }

  /**
   * @internal Judges a finished call, records its value in this indicator and returns GOOD, BAD or
   * NOT_APPLICABLE. Does not count the SLO event: the SLO counts one event per call for all indicators.
   * The SLO validates the observation's numbers before calling.
   */
  observeCall(observation: CallObservation): Judgement {
    const value = this.observedValue(observation);
    if (Number.isNaN(value)) return NOT_APPLICABLE;
    const good = this.isGood(value);
    this.#add(value, good, observation.at);
    return good ? GOOD : BAD;
  }

  /**
   * @internal Whether `observeCall` can judge a call at all: false for an indicator whose `observedValue`
   * is the base one (it never reads calls: task success, hallucination, accuracy, feedback) or that has
   * `autoObserve: false`. Fixed once the indicator is built, so an SLO asks once.
   */
  get readsCalls(): boolean {
    if ((this as { autoObserve?: unknown }).autoObserve === false) return false;
    return (this as unknown as { observedValue: unknown }).observedValue !== SLI.prototype.observedValue;
  }

  /** The indicator's reading now (or at `nowMs`). */
  collect(nowMs: number = this.#now()): SLIValue {
    const window = this.#window;
    this.#sums.sumColumns(0, SLI_SLOTS, nowMs, 0, window.length, window);
    const events = window[COUNT] as number;
    const goodEvents = window[GOOD_COUNT] as number;
    const value = events === 0 ? null : this.summarize(events, window[VALUE_SUM] as number, window);
    const target = this.valueTarget();
    let met: boolean | null = null;
    if (value !== null && target !== null) {
      met =
        this.direction === "higher_is_better"
          ? reaches(value, target)
          : value <= target * (1 + RATIO_TOLERANCE);
    }
    return {
      name: this.name,
      type: this.type,
      direction: this.direction,
      threshold: this.threshold,
      value,
      target,
      met,
      events,
      goodEvents,
      goodRatio: events === 0 ? null : goodEvents / events,
      windowMs: this.windowMs,
      at: nowMs,
    };
  }

  /** The current value over the window (a rate, a mean or a percentile), or null without data. */
  currentValue(nowMs: number = this.#now()): number | null {
    return this.collect(nowMs).value;
  }

  /** Fraction of good events in the window, or null without data. */
  compliance(nowMs: number = this.#now()): number | null {
    return this.collect(nowMs).goodRatio;
  }

  /**
   * The window's slots, oldest first, with counts and mean values. Raw values are not kept (memory stays
   * bounded), so this is the windowed history at slot resolution.
   */
  valuesInWindow(nowMs: number = this.#now()): SLIWindowSlice[] {
    const counts = this.#sums.bucketValues(COUNT, 0, SLI_SLOTS, nowMs);
    const goods = this.#sums.bucketValues(GOOD_COUNT, 0, SLI_SLOTS, nowMs);
    const sums = this.#sums.bucketValues(VALUE_SUM, 0, SLI_SLOTS, nowMs);
    return counts.map((slot, i) => ({
      startMs: slot.startMs,
      endMs: slot.startMs + this.slotMs,
      events: slot.value,
      goodEvents: goods[i]?.value ?? 0,
      mean: slot.value === 0 ? null : (sums[i]?.value ?? 0) / slot.value,
    }));
  }

  /** Bytes held in typed arrays (fixed by the type, independent of traffic). */
  get byteLength(): number {
    return this.#sums.byteLength;
  }

  /** The SLO this indicator belongs to, if any. */
  get owner(): SLIOwner | undefined {
    return this.#owner;
  }

  /** @internal Binds the indicator to its SLO. An indicator belongs to one SLO only. */
  bindOwner(owner: SLIOwner, field: string): void {
    if (this.#owner !== undefined && this.#owner !== owner) {
      throw new ConfigError(field, this.name, `an indicator not already used by SLO "${this.#owner.name}"`);
    }
    this.#owner = owner;
  }

  /** The value this indicator reads from a finished call, or NaN when the call is not its concern. */
  protected observedValue(_observation: CallObservation): number {
    return Number.NaN;
  }

  /** Throws `InvalidArgumentError` for a value this indicator cannot record. Default: finite and >= 0. */
  protected validateValue(value: number): void {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new InvalidArgumentError("value", value, `a finite number >= 0 for ${this.name}`);
    }
  }

  /**
   * The reading over the window. Default: the mean value. `window` holds the windowed columns; the
   * histogram bins (if any) start at `HISTOGRAM_OFFSET`.
   */
  protected summarize(events: number, valueSum: number, _window: Float64Array): number {
    return valueSum / events;
  }

  /** What the reading is compared with. Default: the per-event threshold. */
  protected valueTarget(): number | null {
    return this.threshold;
  }

  /** Histogram bin for a value, or −1 (no histogram). */
  protected binIndex(_value: number): number {
    return -1;
  }

  #add(value: number, good: boolean, atMs: number): void {
    const sums = this.#sums;
    sums.touch(atMs);
    const totals = sums.totals;
    totals[COUNT] = (totals[COUNT] as number) + 1;
    if (good) totals[GOOD_COUNT] = (totals[GOOD_COUNT] as number) + 1;
    totals[VALUE_SUM] = (totals[VALUE_SUM] as number) + value;
    if (this.#histogramBins > 0) {
      const column = FIXED_COLUMNS + this.binIndex(value);
      totals[column] = (totals[column] as number) + 1;
    }
  }

  #now(): number {
    return (this.#clock ?? this.#owner?.clock ?? systemClock).now();
  }
}

function requireName(value: unknown, field: string): string {
  if (typeof value !== "string" || value.trim().length === 0) {
    throw new ConfigError(field, value, "a non-empty string");
  }
  return value;
}
