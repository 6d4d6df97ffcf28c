import type { InjectionPlan } from "../chaos/index.js";
import type { RefusalError } from "../errors.js";
import type { GuardedCall } from "./guarded-call.js";
import type { GuardCall, UsageReport } from "./types.js";

/**
 * How a call that ran ended, as the engine settled it. Handed to `CallObserver.end` once per call that
 * `start` saw.
 */
export interface CallOutcome {
  ok: boolean;
  /** The caller stopped the call (cancel, abort): not judged as a success or a failure of the target. */
  cancelled: boolean;
  /** Whether the failure counts against breakers and SLOs (timeouts, provider errors, injected faults). */
  failure: boolean;
  /** The error the call failed with (undefined on success). */
  error: unknown;
  durationMs: number;
  /** What the call cost (committed to the budget), USD. */
  costUsd: number;
  /** Usage as settled (zeros when none was reported); `usage.model` is the model the provider answered with. */
  usage: UsageReport;
  /** The state of the call's target breaker (`model:<name>` / `tool:<name>`) after this outcome. */
  breakerState: "CLOSED" | "OPEN" | "HALF_OPEN";
}

/**
 * A per-call hook for telemetry (spans, metrics): `start` when a call passed pre-flight and is about to
 * run, `end` once when it settles, `refused` when pre-flight refused it. Calls are synchronous and on the
 * hot path: keep them cheap, and never throw (a throwing observer is reported and ignored). Register with
 * `sre.use(observer)`; with none registered the engine pays one field check per call.
 */
export interface CallObserver<S = unknown> {
  /**
   * Returns per-call state (e.g. a span) that `end` gets back. Runs synchronously inside `guard()` /
   * `begin()`, so the caller's async context (its active span) is still current.
   */
  start(call: GuardCall<never>, startedAtMs: number, chaos: InjectionPlan | undefined): S;
  end(state: S, call: GuardCall<never>, outcome: CallOutcome): void;
  refused(call: GuardCall<never>, error: RefusalError): void;
  /**
   * Optional: `false` skips this call entirely (no `start`, `end` or `refused`, and no outcome built for it).
   * Asked once per call, so an observer with nothing to record (say, no tracing SDK registered yet) costs one
   * call instead of a start and an end.
   */
  enabled?(): boolean;
}

/** Whether an observer wants this call (observers without `enabled` always do). */
export function observing(observer: CallObserver): boolean {
  return observer.enabled === undefined || observer.enabled();
}

/** The state of an observer of a set that did not want the call (its `end` is not called). */
const SKIPPED: unique symbol = Symbol("skipped");

/** Several observers behind one (the engine holds one field, so the disabled path stays one check). */
export class ObserverSet implements CallObserver<unknown[]> {
  readonly observers: CallObserver[];

  constructor(observers: CallObserver[]) {
    this.observers = observers;
  }

  enabled(): boolean {
    for (const observer of this.observers) if (observing(observer)) return true;
    return false;
  }

  start(call: GuardCall<never>, startedAtMs: number, chaos: InjectionPlan | undefined): unknown[] {
    const states: unknown[] = [];
    for (const observer of this.observers) {
      states.push(observing(observer) ? observer.start(call, startedAtMs, chaos) : SKIPPED);
    }
    return states;
  }

  end(states: unknown[], call: GuardCall<never>, outcome: CallOutcome): void {
    for (let i = 0; i < this.observers.length; i++) {
      if (states[i] !== SKIPPED) (this.observers[i] as CallObserver).end(states[i], call, outcome);
    }
  }

  refused(call: GuardCall<never>, error: RefusalError): void {
    for (const observer of this.observers) if (observing(observer)) observer.refused(call, error);
  }
}

/** Where a throwing observer is reported (it never breaks the call). */
function observerFailed(error: unknown): void {
  console.error("agent-sre: a call observer threw", error);
}

/** Starts observing a call that passed pre-flight (the observer and its state ride on the call). */
export function observeStart(observer: CallObserver, inFlight: GuardedCall): void {
  try {
    if (!observing(observer)) return; // no `end` either: `inFlight.observer` stays unset
    inFlight.observed = observer.start(inFlight.call, inFlight.startedAtMs, inFlight.plan);
    inFlight.observer = observer;
  } catch (error) {
    observerFailed(error);
  }
}

export function observeEnd(
  observer: CallObserver,
  state: unknown,
  call: GuardCall<never>,
  outcome: CallOutcome,
): void {
  try {
    observer.end(state, call, outcome);
  } catch (error) {
    observerFailed(error);
  }
}

export function observeRefused(observer: CallObserver, call: GuardCall<never>, error: RefusalError): void {
  try {
    if (observing(observer)) observer.refused(call, error);
  } catch (failure) {
    observerFailed(failure);
  }
}

/** A call that ran outside the pipeline (`record()`): a start and an end at once. */
export function observeRecorded(
  observer: CallObserver,
  call: GuardCall<never>,
  startedAtMs: number,
  outcome: CallOutcome,
): void {
  let state: unknown;
  try {
    if (!observing(observer)) return;
    state = observer.start(call, startedAtMs, undefined);
  } catch (error) {
    observerFailed(error);
  }
  observeEnd(observer, state, call, outcome);
}

/** Adds an observer to what is registered (one, a set, or none). */
export function addObserver(current: CallObserver | undefined, added: CallObserver): CallObserver {
  if (current === undefined) return added;
  return new ObserverSet([...(current instanceof ObserverSet ? current.observers : [current]), added]);
}

/** Removes an observer; undefined when none is left (the hot path's one check). */
export function removeObserver(
  current: CallObserver | undefined,
  removed: CallObserver,
): CallObserver | undefined {
  const rest = (
    current instanceof ObserverSet ? current.observers : current === undefined ? [] : [current]
  ).filter((o) => o !== removed);
  return rest.length === 0 ? undefined : rest.length === 1 ? rest[0] : new ObserverSet(rest);
}
