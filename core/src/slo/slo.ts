import { type Clock, systemClock } from "../clock.js";
import type { Duration } from "../duration.js";
import { ConfigError, InvalidArgumentError } from "../errors.js";
import { type EventSink, silentSink } from "../events.js";
import type { CallObservation } from "../types.js";
import type { AlertSeverity, FiringAlert } from "./burn-rate.js";
import { reaches } from "./burn-rate.js";
import {
  ErrorBudget,
  type ErrorBudgetOptions,
  type ExhaustionAction,
  remainingPercentOf,
  type WindowCounts,
} from "./error-budget.js";
import { BAD, NOT_APPLICABLE, type SLI, type SLIOwner, type SLIValue } from "./sli.js";

/** Status precedence: EXHAUSTED > CRITICAL > WARNING > UNKNOWN (no data) > HEALTHY. */
export const SLOStatus = {
  HEALTHY: "HEALTHY",
  UNKNOWN: "UNKNOWN",
  WARNING: "WARNING",
  CRITICAL: "CRITICAL",
  EXHAUSTED: "EXHAUSTED",
} as const;
export type SLOStatus = (typeof SLOStatus)[keyof typeof SLOStatus];

/** Called once per exhaustion episode (and once when it ends, for `onRecovered`). */
export type SLOBudgetHook = (slo: SLO, action: ExhaustionAction) => void;

export interface SLOOptions {
  name: string;
  /** At least one; each indicator belongs to this SLO only. */
  indicators: readonly SLI[];
  /** The budget (its `total` is the allowed error ratio `1 − target`), or the options to build one. */
  errorBudget: ErrorBudget | ErrorBudgetOptions;
  /** The agent this SLO watches; undefined = every agent. */
  agentId?: string;
  description?: string;
  clock?: Clock;
  events?: EventSink;
  /** Runs when the budget becomes exhausted (once per episode), after the `slo.exhausted` event. */
  onExhausted?: SLOBudgetHook;
  /** Runs when an exhausted budget is no longer exhausted. */
  onRecovered?: SLOBudgetHook;
}

/** What a registry (or the engine) supplies to SLOs it holds. */
export interface SLOContext {
  clock?: Clock;
  events?: EventSink;
  onExhausted?: SLOBudgetHook;
  onRecovered?: SLOBudgetHook;
}

/** One evaluation (JSON-serializable). */
export interface SLOEvaluation {
  name: string;
  agentId: string | undefined;
  at: number;
  status: SLOStatus;
  /** The objective, `1 − errorBudget.total`. */
  target: number;
  windowMs: number;
  /** Events and bad events in the SLO window. */
  events: number;
  badEvents: number;
  /** Budget consumed over the SLO window (1 = all of it; can exceed 1). */
  budgetConsumed: number;
  budgetRemainingPercent: number;
  /** Burn rate per tracked window, keyed by label (`"5m"`, `"1h"`, ..., the SLO window). */
  burnRates: Record<string, number>;
  firingAlerts: FiringAlert[];
  exhaustionAction: ExhaustionAction;
  indicators: SLIValue[];
}

/**
 * A service-level objective: indicators that judge events good or bad, and an error budget with
 * multi-window, multi-burn-rate alerting (Google SRE Workbook policy by default).
 *
 * `evaluate()` computes the status (EXHAUSTED > CRITICAL (a page rule fires) > WARNING (only a ticket
 * rule fires) > UNKNOWN (no events in the SLO window) > HEALTHY) and reports changes: `slo.status` on
 * a status change, `slo.alert` once per (SLO, severity) while that severity keeps firing (so an escalation
 * from ticket to page is always reported), `slo.exhausted` + `onExhausted` once per exhaustion episode,
 * `onRecovered` when it ends.
 */
export class SLO implements SLOOwnerView {
  readonly name: string;
  readonly agentId: string | undefined;
  readonly description: string | undefined;
  readonly indicators: readonly SLI[];
  readonly errorBudget: ErrorBudget;

  readonly #ownClock: Clock | undefined;
  readonly #ownEvents: EventSink | undefined;
  readonly #ownOnExhausted: SLOBudgetHook | undefined;
  readonly #ownOnRecovered: SLOBudgetHook | undefined;
  #context: SLOContext | undefined;

  /** The indicators that can judge a finished call (`readsCalls`), found once: `observe` asks only them. */
  readonly #observing: readonly SLI[];

  #status: SLOStatus = SLOStatus.UNKNOWN;
  #lastEvaluation: SLOEvaluation | undefined;
  #pageFiring = false;
  #ticketFiring = false;
  #exhausted = false;

  constructor(options: SLOOptions) {
    if (typeof options !== "object" || options === null) {
      throw new ConfigError("slo", options, "an object { name, indicators, errorBudget }");
    }
    if (typeof options.name !== "string" || options.name.trim().length === 0) {
      throw new ConfigError("name", options.name, "a non-empty string");
    }
    this.name = options.name;
    if (options.agentId !== undefined && (typeof options.agentId !== "string" || options.agentId === "")) {
      throw new ConfigError("agentId", options.agentId, "a non-empty string, or undefined for every agent");
    }
    this.agentId = options.agentId;
    this.description = options.description;
    this.#ownClock = options.clock;
    this.#ownEvents = options.events;
    this.#ownOnExhausted = checkHook(options.onExhausted, "onExhausted");
    this.#ownOnRecovered = checkHook(options.onRecovered, "onRecovered");

    if (!Array.isArray(options.indicators) || options.indicators.length === 0) {
      throw new ConfigError("indicators", options.indicators, "a non-empty array of SLIs");
    }
    const names = new Set<string>();
    options.indicators.forEach((indicator, i) => {
      if (typeof indicator?.observeCall !== "function") {
        throw new ConfigError(`indicators[${i}]`, indicator, "an SLI instance");
      }
      if (names.has(indicator.name)) {
        throw new ConfigError(`indicators[${i}].name`, indicator.name, "a name unique within the SLO");
      }
      names.add(indicator.name);
    });
    if (options.errorBudget === undefined) {
      throw new ConfigError("errorBudget", undefined, "an ErrorBudget or { total, windowMs?, ... }");
    }
    this.errorBudget =
      options.errorBudget instanceof ErrorBudget ? options.errorBudget : new ErrorBudget(options.errorBudget);
    this.errorBudget.bindOwner(this, "errorBudget");
    this.indicators = Object.freeze([...options.indicators]);
    this.indicators.forEach((indicator, i) => {
      indicator.bindOwner(this, `indicators[${i}]`);
    });
    this.#observing = this.indicators.filter((indicator) => indicator.readsCalls);
  }

  /** The clock: the SLO's own, else its registry's, else the system clock. */
  get clock(): Clock {
    return this.#ownClock ?? this.#context?.clock ?? systemClock;
  }

  /** The objective, `1 − errorBudget.total`. */
  get target(): number {
    return this.errorBudget.target;
  }

  /** The status found by the last `evaluate()` (UNKNOWN before the first). */
  get status(): SLOStatus {
    return this.#status;
  }

  get lastEvaluation(): SLOEvaluation | undefined {
    return this.#lastEvaluation;
  }

  /** Whether this SLO watches `agentId` (an SLO without agentId watches every agent). */
  appliesTo(agentId: string): boolean {
    return this.agentId === undefined || this.agentId === agentId;
  }

  getIndicator(name: string): SLI | undefined {
    return this.indicators.find((indicator) => indicator.name === name);
  }

  /**
   * Counts one finished call: each indicator that applies judges it, and the SLO counts one event, bad
   * if any applicable indicator says bad. Calls of other agents and calls no indicator applies to are
   * ignored. Invalid numbers throw before anything is recorded.
   */
  observe(observation: CallObservation): void {
    if (this.agentId !== undefined && observation.agentId !== this.agentId) return;
    validateObservation(observation);
    let applicable = false;
    let bad = false;
    const indicators = this.#observing;
    for (let i = 0; i < indicators.length; i++) {
      const judgement = (indicators[i] as SLI).observeCall(observation);
      if (judgement !== NOT_APPLICABLE) {
        applicable = true;
        if (judgement === BAD) bad = true;
      }
    }
    if (applicable) this.errorBudget.recordEvent(!bad, observation.at);
  }

  /** Counts one event directly (at `atMs`, default now). */
  recordEvent(good: boolean, atMs?: number): void {
    this.errorBudget.recordEvent(good, atMs === undefined ? this.clock.now() : atMs);
  }

  /** Error ratio over `window` divided by the allowed ratio. */
  burnRate(window: Duration, nowMs: number = this.clock.now()): number {
    return this.errorBudget.burnRate(window, nowMs);
  }

  /** Events and bad events over a window (default the SLO window). */
  eventCounts(window?: Duration, nowMs: number = this.clock.now()): WindowCounts {
    return this.errorBudget.eventCounts(window ?? this.errorBudget.windowMs, nowMs);
  }

  /** Alert rules firing now. */
  firingAlerts(nowMs: number = this.clock.now()): FiringAlert[] {
    return this.errorBudget.firingAlerts(nowMs);
  }

  /**
   * Computes the status now, records it, and reports what changed (events and hooks). State is updated
   * before hooks run; if a hook throws, the other hook still runs and the first error is rethrown.
   */
  evaluate(): SLOEvaluation {
    const evaluation = this.#compute(this.clock.now());
    const previous = this.#status;
    this.#status = evaluation.status;
    this.#lastEvaluation = evaluation;
    const events = this.#events();

    if (previous !== evaluation.status && events.has("slo.status")) {
      events.emit("slo.status", {
        at: evaluation.at,
        slo: this.name,
        agentId: this.agentId,
        from: previous,
        to: evaluation.status,
        budgetRemainingPercent: evaluation.budgetRemainingPercent,
      });
    }

    const pageAlert = strongest(evaluation.firingAlerts, "page");
    const ticketAlert = strongest(evaluation.firingAlerts, "ticket");
    if (pageAlert !== undefined && !this.#pageFiring) this.#emitAlert(events, evaluation.at, pageAlert);
    if (ticketAlert !== undefined && !this.#ticketFiring) this.#emitAlert(events, evaluation.at, ticketAlert);
    this.#pageFiring = pageAlert !== undefined;
    this.#ticketFiring = ticketAlert !== undefined;

    const exhausted = evaluation.status === SLOStatus.EXHAUSTED;
    if (exhausted !== this.#exhausted) {
      this.#exhausted = exhausted;
      const action = this.errorBudget.exhaustionAction;
      if (exhausted) {
        if (events.has("slo.exhausted")) {
          events.emit("slo.exhausted", { at: evaluation.at, slo: this.name, agentId: this.agentId, action });
        }
        this.#runHooks(this.#ownOnExhausted, this.#context?.onExhausted, action);
      } else {
        this.#runHooks(this.#ownOnRecovered, this.#context?.onRecovered, action);
      }
    }
    return evaluation;
  }

  /** The evaluation now, without recording it or reporting anything. */
  peek(): SLOEvaluation {
    return this.#compute(this.clock.now());
  }

  /**
   * @internal Gives the SLO its registry's clock, events and hooks. The SLO's own clock and events win;
   * both the SLO's own hooks and the registry's run. An SLO joins one registry only.
   */
  attach(context: SLOContext): void {
    if (this.#context !== undefined && this.#context !== context) {
      throw new ConfigError("slo", this.name, "an SLO not already held by another registry");
    }
    this.#context = context;
  }

  /** @internal Releases the registry context (when the registry drops the SLO). */
  detach(context: SLOContext): void {
    if (this.#context === context) this.#context = undefined;
  }

  /** Bytes of the SLO's counters (budget buckets + indicator slots), fixed by configuration. */
  get byteLength(): number {
    let bytes = this.errorBudget.storage.bytes;
    for (const indicator of this.indicators) bytes += indicator.byteLength;
    return bytes;
  }

  #compute(nowMs: number): SLOEvaluation {
    const budget = this.errorBudget;
    const burns = budget.measureBurnRates(nowMs);
    const firingAlerts: FiringAlert[] = [];
    budget.collectFiring(burns, firingAlerts);
    const counts = budget.eventCounts(budget.windowMs, nowMs);
    const consumed = burns[budget.sloWindowIndex] as number;

    let status: SLOStatus;
    if (counts.total === 0) status = SLOStatus.UNKNOWN;
    else if (reaches(consumed, 1)) status = SLOStatus.EXHAUSTED;
    else if (firingAlerts.some((alert) => alert.severity === "page")) status = SLOStatus.CRITICAL;
    else if (firingAlerts.length > 0) status = SLOStatus.WARNING;
    else status = SLOStatus.HEALTHY;

    const labels = budget.windowLabels;
    const burnRates: Record<string, number> = {};
    for (let i = 0; i < burns.length; i++) burnRates[labels[i] as string] = burns[i] as number;

    const indicators: SLIValue[] = [];
    for (const indicator of this.indicators) indicators.push(indicator.collect(nowMs));

    return {
      name: this.name,
      agentId: this.agentId,
      at: nowMs,
      status,
      target: budget.target,
      windowMs: budget.windowMs,
      events: counts.total,
      badEvents: counts.bad,
      budgetConsumed: consumed,
      budgetRemainingPercent: remainingPercentOf(consumed),
      burnRates,
      firingAlerts,
      exhaustionAction: budget.exhaustionAction,
      indicators,
    };
  }

  #events(): EventSink {
    return this.#ownEvents ?? this.#context?.events ?? silentSink;
  }

  #emitAlert(events: EventSink, at: number, alert: FiringAlert): void {
    if (!events.has("slo.alert")) return;
    events.emit("slo.alert", {
      at,
      slo: this.name,
      agentId: this.agentId,
      severity: alert.severity,
      burnRateThreshold: alert.burnRateThreshold,
      longWindowMs: alert.longWindowMs,
      shortWindowMs: alert.shortWindowMs,
      longBurnRate: alert.longBurnRate,
      shortBurnRate: alert.shortBurnRate,
    });
  }

  #runHooks(
    own: SLOBudgetHook | undefined,
    fromContext: SLOBudgetHook | undefined,
    action: ExhaustionAction,
  ) {
    let failed = false;
    let failure: unknown;
    for (const hook of [own, fromContext]) {
      if (hook === undefined) continue;
      try {
        hook(this, action);
      } catch (error) {
        if (!failed) {
          failed = true;
          failure = error;
        }
      }
    }
    if (failed) throw failure;
  }
}

/** The part of the SLO its indicators and budget see. */
type SLOOwnerView = SLIOwner & { readonly clock: Clock };

/** The firing rule of a severity with the highest threshold (the most urgent), if any fires. */
function strongest(alerts: readonly FiringAlert[], severity: AlertSeverity): FiringAlert | undefined {
  let best: FiringAlert | undefined;
  for (const alert of alerts) {
    if (
      alert.severity === severity &&
      (best === undefined || alert.burnRateThreshold > best.burnRateThreshold)
    ) {
      best = alert;
    }
  }
  return best;
}

function checkHook(hook: unknown, field: string): SLOBudgetHook | undefined {
  if (hook !== undefined && typeof hook !== "function") throw new ConfigError(field, hook, "a function");
  return hook as SLOBudgetHook | undefined;
}

function validateObservation(observation: CallObservation): void {
  const { at, durationMs, costUsd, inputTokens, outputTokens } = observation;
  // `!(x >= 0)` also rejects NaN and non-numbers.
  if (!(at >= 0) || at === Number.POSITIVE_INFINITY) {
    throw new InvalidArgumentError("observation.at", at, "a finite time in ms >= 0");
  }
  if (!(durationMs >= 0) || durationMs === Number.POSITIVE_INFINITY) {
    throw new InvalidArgumentError("observation.durationMs", durationMs, "a finite number >= 0");
  }
  if (!(costUsd >= 0) || costUsd === Number.POSITIVE_INFINITY) {
    throw new InvalidArgumentError("observation.costUsd", costUsd, "a finite number >= 0");
  }
  if (!(inputTokens >= 0) || inputTokens === Number.POSITIVE_INFINITY) {
    throw new InvalidArgumentError("observation.inputTokens", inputTokens, "a finite number >= 0");
  }
  if (!(outputTokens >= 0) || outputTokens === Number.POSITIVE_INFINITY) {
    throw new InvalidArgumentError("observation.outputTokens", outputTokens, "a finite number >= 0");
  }
}
