import { type Clock, systemClock } from "../clock.js";
import type { Duration } from "../duration.js";
import { ConfigError, InvalidArgumentError } from "../errors.js";
import { requireOneOf } from "../validate.js";
import {
  type BurnRateRule,
  type BurnRateRuleInput,
  buildAlertPolicy,
  type FiringAlert,
  formatWindow,
  parseWindow,
  reaches,
} from "./burn-rate.js";
import { fieldOf } from "./fields.js";
import { BucketedPrefixSums, type PrefixSumsState, planTiers, type TierPlan } from "./prefix-sums.js";

/** What the engine does when an SLO's error budget runs out. */
export const ExhaustionAction = {
  /** Report only (`slo.exhausted` event and the hook). */
  ALERT: "ALERT",
  /** Slow the agent down. */
  THROTTLE: "THROTTLE",
  /** Open the agent's circuit breaker. */
  CIRCUIT_BREAK: "CIRCUIT_BREAK",
  /** Set the deployment-freeze flag. */
  FREEZE_DEPLOYMENTS: "FREEZE_DEPLOYMENTS",
} as const;
export type ExhaustionAction = (typeof ExhaustionAction)[keyof typeof ExhaustionAction];
export const EXHAUSTION_ACTIONS: readonly ExhaustionAction[] = Object.values(ExhaustionAction);

export interface ErrorBudgetOptions {
  /** The allowed error ratio, `1 − target`: 0.005 for a 99.5 % objective. In (0, 1). */
  total: number;
  /** The SLO window over which the budget is counted. Default `"30d"`. */
  windowMs?: Duration;
  /**
   * Threshold of the ticket rule (3 d / 6 h, default 1×) of the Workbook policy. Cannot be combined with
   * `alertPolicy`.
   */
  burnRateAlert?: number;
  /**
   * Threshold of the fast page rule (1 h / 5 m, default 14.4×) of the Workbook policy. Cannot be
   * combined with `alertPolicy`.
   */
  burnRateCritical?: number;
  /** Your own multi-window rules, replacing the Workbook policy. */
  alertPolicy?: readonly BurnRateRuleInput[];
  /** What happens when the budget is exhausted. Default `ALERT`. */
  exhaustionAction?: ExhaustionAction;
  /** Defaults to the owning SLO's clock, else the system clock. */
  clock?: Clock;
}

/** `ErrorBudget.exportState()`: plain JSON, versioned. */
export interface ErrorBudgetState {
  version: 1;
  windowMs: number;
  counts: PrefixSumsState;
}

/** Counts in one window. */
export interface WindowCounts {
  total: number;
  bad: number;
}

const DEFAULT_WINDOW_MS = 30 * 86_400_000;
const TOTAL_COLUMN = 0;
const BAD_COLUMN = 1;

/**
 * An occurrence-based error budget (SRE Workbook): with objective `t`, the allowed error ratio is
 * `total = 1 − t`; the budget consumed is `(bad / all events in the SLO window) / total`; the burn rate
 * over a window is `error ratio in that window / total`.
 *
 * Events go into minute/5-minute/hour/day buckets chosen from the SLO window and the alert windows
 * (see `prefix-sums.ts`), so memory is fixed by the configuration (≤ 64 KB) and every read is O(1).
 * A window of W covers the bucket holding "now" plus the ⌈W / bucket⌉ − 1 buckets before it.
 */
export class ErrorBudget {
  readonly total: number;
  /** The objective, `1 − total`. */
  readonly target: number;
  readonly windowMs: number;
  readonly exhaustionAction: ExhaustionAction;
  readonly alertPolicy: readonly BurnRateRule[];
  readonly burnRateAlert: number | undefined;
  readonly burnRateCritical: number | undefined;

  readonly #counts: BucketedPrefixSums;
  /** Distinct windows (the SLO window and every rule window), ascending. */
  readonly #windowsMs: number[];
  readonly #windowLabels: string[];
  readonly #windowTier: number[];
  readonly #windowBuckets: number[];
  readonly #sloWindowIndex: number;
  readonly #ruleLongIndex: number[];
  readonly #ruleShortIndex: number[];
  readonly #clock: Clock | undefined;
  /** Scratch for one windowed read of both columns. */
  readonly #window = new Float64Array(2);
  readonly #peerWindow = new Float64Array(2);
  /** Other processes' counts (a fleet on a shared store), by their key: read with ours, never recorded into. */
  readonly #peers = new Map<string, BucketedPrefixSums>();
  readonly #plan: TierPlan[];
  #owner: { readonly clock: Clock } | undefined;

  /** `path` prefixes field names in errors (`"errorBudget"`, or a spec path such as `"slos[2]"`). */
  constructor(options: ErrorBudgetOptions, path = "errorBudget") {
    if (typeof options !== "object" || options === null) {
      throw new ConfigError(
        path === "" ? "errorBudget" : path,
        options,
        "an object { total, windowMs?, ... }",
      );
    }
    const total = options.total;
    if (typeof total !== "number" || !Number.isFinite(total) || total <= 0 || total >= 1) {
      throw new ConfigError(
        fieldOf(path, "total"),
        total,
        "the allowed error ratio 1 − target in (0, 1), e.g. 0.005 for 99.5 %",
      );
    }
    this.total = total;
    this.target = 1 - total;
    this.windowMs = parseWindow(options.windowMs ?? DEFAULT_WINDOW_MS, fieldOf(path, "windowMs"));
    this.exhaustionAction = requireOneOf(
      options.exhaustionAction ?? ExhaustionAction.ALERT,
      EXHAUSTION_ACTIONS,
      fieldOf(path, "exhaustionAction"),
    );
    this.burnRateAlert = options.burnRateAlert;
    this.burnRateCritical = options.burnRateCritical;
    this.alertPolicy = Object.freeze(
      buildAlertPolicy(
        {
          alertPolicy: options.alertPolicy,
          burnRateAlert: options.burnRateAlert,
          burnRateCritical: options.burnRateCritical,
        },
        path,
      ).map((rule) => Object.freeze(rule)),
    );
    this.#clock = options.clock;

    const windows = new Set<number>([this.windowMs]);
    for (const rule of this.alertPolicy) {
      windows.add(rule.longWindowMs);
      windows.add(rule.shortWindowMs);
    }
    this.#windowsMs = [...windows].sort((a, b) => a - b);
    this.#windowLabels = this.#windowsMs.map(formatWindow);
    const plan = planTiers(this.#windowsMs);
    this.#counts = new BucketedPrefixSums(2, plan.tiers);
    this.#plan = plan.tiers;
    this.#windowTier = plan.windows.map((w) => w.tier);
    this.#windowBuckets = plan.windows.map((w) => w.buckets);
    this.#sloWindowIndex = this.#windowsMs.indexOf(this.windowMs);
    this.#ruleLongIndex = this.alertPolicy.map((rule) => this.#windowsMs.indexOf(rule.longWindowMs));
    this.#ruleShortIndex = this.alertPolicy.map((rule) => this.#windowsMs.indexOf(rule.shortWindowMs));
  }

  /** Records one event. `atMs` defaults to now; a non-finite or negative time throws and records nothing. */
  recordEvent(good: boolean, atMs?: number): void {
    const at = atMs === undefined ? this.#now() : atMs;
    if (!(at >= 0) || at === Number.POSITIVE_INFINITY) {
      throw new InvalidArgumentError("atMs", atMs, "a finite time in ms >= 0");
    }
    this.#counts.touch(at);
    const totals = this.#counts.totals;
    totals[TOTAL_COLUMN] = (totals[TOTAL_COLUMN] as number) + 1;
    if (!good) totals[BAD_COLUMN] = (totals[BAD_COLUMN] as number) + 1;
  }

  /**
   * Records `count` events of which `badCount` are bad, all at `atMs` (default now): for importing counts
   * (e.g. from a metrics backend) or replaying history. Invalid numbers throw and record nothing.
   */
  recordEvents(count: number, badCount: number, atMs?: number): void {
    if (!Number.isInteger(count) || count < 0) {
      throw new InvalidArgumentError("count", count, "an integer >= 0");
    }
    if (!Number.isInteger(badCount) || badCount < 0 || badCount > count) {
      throw new InvalidArgumentError("badCount", badCount, `an integer in [0, count] (count = ${count})`);
    }
    const at = atMs === undefined ? this.#now() : atMs;
    if (!(at >= 0) || at === Number.POSITIVE_INFINITY) {
      throw new InvalidArgumentError("atMs", atMs, "a finite time in ms >= 0");
    }
    this.#counts.touch(at);
    const totals = this.#counts.totals;
    totals[TOTAL_COLUMN] = (totals[TOTAL_COLUMN] as number) + count;
    totals[BAD_COLUMN] = (totals[BAD_COLUMN] as number) + badCount;
  }

  /** Events and bad events in a window ending now (default: the SLO window). */
  eventCounts(window: Duration = this.windowMs, nowMs: number = this.#now()): WindowCounts {
    const plan = this.#resolve(window);
    const sums = this.#window;
    this.#sum(plan.tier, plan.buckets, nowMs, sums);
    return { total: sums[TOTAL_COLUMN] as number, bad: sums[BAD_COLUMN] as number };
  }

  /** Error ratio over the window divided by the allowed ratio `total`; 0 when the window has no events. */
  burnRate(window: Duration, nowMs: number = this.#now()): number {
    const plan = this.#resolve(window);
    return this.#burn(plan.tier, plan.buckets, nowMs);
  }

  /** Fraction of the budget consumed over the SLO window (1 = all of it; may exceed 1). */
  consumedFraction(nowMs: number = this.#now()): number {
    const i = this.#sloWindowIndex;
    return this.#burn(this.#windowTier[i] as number, this.#windowBuckets[i] as number, nowMs);
  }

  /** Fraction consumed, now. */
  get consumed(): number {
    return this.consumedFraction();
  }

  /** What is left, in percent, clamped to [0, 100]. */
  get remainingPercent(): number {
    return remainingPercentOf(this.consumedFraction());
  }

  /** True when events were seen in the SLO window and the budget is used up (remaining ≤ 0). */
  get isExhausted(): boolean {
    return reaches(this.consumedFraction(), 1);
  }

  /** The rules of the alert policy that fire now (long AND short window at or above the threshold). */
  firingAlerts(nowMs: number = this.#now()): FiringAlert[] {
    const burns = this.measureBurnRates(nowMs);
    const out: FiringAlert[] = [];
    this.collectFiring(burns, out);
    return out;
  }

  /** Burn rate over each window, keyed by label (`"5m"`, `"1h"`, ..., the SLO window last). */
  burnRates(nowMs: number = this.#now()): Record<string, number> {
    const burns = this.measureBurnRates(nowMs);
    const out: Record<string, number> = {};
    for (let i = 0; i < burns.length; i++) out[this.#windowLabels[i] as string] = burns[i] as number;
    return out;
  }

  /** The distinct windows this budget tracks (SLO window and rule windows), ascending, in ms. */
  get windows(): readonly number[] {
    return this.#windowsMs;
  }

  /** Labels of `windows`, in the same order. */
  get windowLabels(): readonly string[] {
    return this.#windowLabels;
  }

  /** How the counters are laid out: fixed by configuration, independent of traffic. */
  /** Events recorded here since creation (or since the state it was restored from began): changes on every record. */
  get eventsRecorded(): number {
    return this.#counts.totals[TOTAL_COLUMN] as number;
  }

  /** The counts as plain JSON for a state store (the engine's `SLORegistry` saves them on a schedule). */
  exportState(): ErrorBudgetState {
    return { version: 1, windowMs: this.windowMs, counts: this.#counts.exportState() };
  }

  /**
   * Takes counts saved by `exportState()` (a restart). Returns false and keeps the current counts when the
   * saved state is from another shape: a changed SLO window or alert windows, or an unknown version.
   */
  restoreState(value: unknown): boolean {
    const state = value as Partial<ErrorBudgetState> | null;
    if (typeof state !== "object" || state === null || state.version !== 1) return false;
    if (state.windowMs !== this.windowMs) return false;
    return this.#counts.importState(state.counts);
  }

  /**
   * Sets (or, with `undefined`, removes) the counts another process of a fleet exported (`exportState()` of
   * its budget for the same SLO): every read — burn rates, consumption, exhaustion, counts — then covers this
   * process's events and every peer's, so each process decides on the fleet's error budget. Returns false,
   * keeping nothing, when the state is of another shape (a different SLO window or alert windows).
   */
  setPeerState(key: string, value: unknown): boolean {
    if (value === undefined) return this.#peers.delete(key);
    const state = value as Partial<ErrorBudgetState> | null;
    const counts = new BucketedPrefixSums(2, this.#plan);
    if (typeof state !== "object" || state === null || state.version !== 1) return false;
    if (state.windowMs !== this.windowMs || !counts.importState(state.counts)) return false;
    this.#peers.set(key, counts);
    return true;
  }

  /** How many other processes' counts are read with this one's. */
  get peerCount(): number {
    return this.#peers.size;
  }

  get storage(): { tiers: TierPlan[]; slots: number; bytes: number } {
    const tiers = this.#counts.tiers;
    return {
      tiers,
      slots: tiers.reduce((sum, tier) => sum + tier.slots, 0),
      bytes: this.#counts.byteLength,
    };
  }

  /**
   * Burn rates for every window of `windows`, in the same order. Used by the SLO's evaluation, which
   * reads each window once for all rules. Allocates one small array.
   */
  measureBurnRates(nowMs: number): number[] {
    const count = this.#windowsMs.length;
    const burns = new Array<number>(count);
    for (let i = 0; i < count; i++) {
      burns[i] = this.#burn(this.#windowTier[i] as number, this.#windowBuckets[i] as number, nowMs);
    }
    return burns;
  }

  /** Appends to `out` the firing rules, given burn rates from `measureBurnRates`. */
  collectFiring(burns: readonly number[], out: FiringAlert[]): void {
    for (let r = 0; r < this.alertPolicy.length; r++) {
      const rule = this.alertPolicy[r] as BurnRateRule;
      const longIndex = this.#ruleLongIndex[r] as number;
      const shortIndex = this.#ruleShortIndex[r] as number;
      const longBurnRate = burns[longIndex] as number;
      const shortBurnRate = burns[shortIndex] as number;
      if (reaches(longBurnRate, rule.burnRate) && reaches(shortBurnRate, rule.burnRate)) {
        out.push({
          severity: rule.severity,
          burnRateThreshold: rule.burnRate,
          longWindowMs: rule.longWindowMs,
          shortWindowMs: rule.shortWindowMs,
          longWindow: this.#windowLabels[longIndex] as string,
          shortWindow: this.#windowLabels[shortIndex] as string,
          longBurnRate,
          shortBurnRate,
        });
      }
    }
  }

  /** Index of the SLO window in `windows`. */
  get sloWindowIndex(): number {
    return this.#sloWindowIndex;
  }

  /** @internal Binds the budget to its SLO (whose clock it then uses if it has none). One owner only. */
  bindOwner(owner: { readonly clock: Clock }, field: string): void {
    if (this.#owner !== undefined && this.#owner !== owner) {
      throw new ConfigError(field, "ErrorBudget", "an ErrorBudget not already used by another SLO");
    }
    this.#owner = owner;
  }

  #burn(tier: number, buckets: number, nowMs: number): number {
    const window = this.#window;
    this.#sum(tier, buckets, nowMs, window);
    const total = window[TOTAL_COLUMN] as number;
    if (total === 0) return 0;
    return (window[BAD_COLUMN] as number) / total / this.total;
  }

  /** Both columns over a window: this process's counts plus every peer's. */
  #sum(tier: number, buckets: number, nowMs: number, out: Float64Array): void {
    this.#counts.sumColumns(tier, buckets, nowMs, 0, 2, out);
    if (this.#peers.size === 0) return;
    const peer = this.#peerWindow;
    for (const counts of this.#peers.values()) {
      counts.sumColumns(tier, buckets, nowMs, 0, 2, peer);
      out[TOTAL_COLUMN] = (out[TOTAL_COLUMN] as number) + (peer[TOTAL_COLUMN] as number);
      out[BAD_COLUMN] = (out[BAD_COLUMN] as number) + (peer[BAD_COLUMN] as number);
    }
  }

  #resolve(window: Duration): { tier: number; buckets: number } {
    const windowMs = typeof window === "number" && window > 0 ? window : parseWindow(window, "windowMs");
    const plan = this.#counts.resolve(windowMs);
    if (plan === undefined) {
      throw new InvalidArgumentError(
        "windowMs",
        window,
        `a window up to ${formatWindow(this.#counts.maxWindowMs)} (the longest window this budget keeps)`,
      );
    }
    return plan;
  }

  #now(): number {
    return (this.#clock ?? this.#owner?.clock ?? systemClock).now();
  }
}

/** `(1 − consumed) × 100`, clamped to [0, 100]. */
export function remainingPercentOf(consumedFraction: number): number {
  if (reaches(consumedFraction, 1)) return 0;
  return Math.max(0, Math.min(100, (1 - consumedFraction) * 100));
}
