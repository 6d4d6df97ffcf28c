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
 * run, `end` once when it settles, `refused` when pre-flight refused it. Every hook is optional: the engine
 * reads which ones an observer defines once, at `sre.use(observer)`, and calls only those (an observer
 * without `end` gets no outcome object built for it; one without `start` gets `undefined` as `end`'s state).
 * Hooks assigned after `use()` are not seen: register the observer again. Calls are synchronous and on the
 * hot path: keep them cheap, and never throw (a throwing observer is reported and ignored). With none
 * registered the engine pays one field check per call.
 */
export interface CallObserver<S = unknown> {
  /**
   * Returns per-call state (e.g. a span) that `end` gets back. Runs synchronously inside `guard()` /
   * `begin()`, so the caller's async context (its active span) is still current.
   */
  start?(call: GuardCall<never>, startedAtMs: number, chaos: InjectionPlan | undefined): S;
  end?(state: S, call: GuardCall<never>, outcome: CallOutcome): void;
  refused?(call: GuardCall<never>, error: RefusalError): void;
  /**
   * Optional: `false` skips this call entirely (no `start`, `end` or `refused`, and no outcome built for it).
   * Asked once per call, so an observer with nothing to record (say, no tracing SDK registered yet) costs one
   * call instead of a start and an end.
   */
  enabled?(): boolean;
}

type RefusedHook = (call: GuardCall<never>, error: RefusalError) => void;

/** An observer's hooks, each known to be defined where the engine calls it. */
type Hooked = Required<CallObserver>;

/** The hook if the observer defines one (a function), else undefined. */
function defined<F>(value: F | undefined): F | undefined {
  return typeof value === "function" ? value : undefined;
}

/**
 * What the engine holds: an observer and the hooks it defines, read once at `use()` (undefined where it has
 * none: the engine's checks are pointer compares). The hooks are still called as the observer's methods
 * (`observer.end(...)`): a call site that sees one observer class keeps its target's feedback and V8 inlines
 * a small hook (a hook kept in a field and called with `.call()` was never inlined: +180 instructions a call
 * for an observer that does nothing; a boolean tested for truthiness costs ~10 instructions, a compare with a
 * constant one).
 */
export class ObserverHooks {
  readonly observer: Hooked;
  readonly enabled: (() => boolean) | undefined;
  readonly start: Hooked["start"] | undefined;
  /** When undefined, a started call carries no observer and no outcome is built when it settles. */
  readonly end: Hooked["end"] | undefined;
  readonly refused: Hooked["refused"] | undefined;
  /** Whether the observer wants started calls at all (a `start` or an `end`). */
  readonly perCall: boolean;
  /** The observers `use()` registered, in order (`observer` is the one, or a set of them). */
  readonly registered: readonly CallObserver[];

  constructor(observer: CallObserver, registered: readonly CallObserver[] = [observer]) {
    this.observer = observer as Hooked;
    this.registered = registered;
    this.enabled = defined(observer.enabled);
    this.start = defined(observer.start);
    this.end = defined(observer.end);
    this.refused = defined(observer.refused);
    this.perCall = this.start !== undefined || this.end !== undefined;
  }

  /** Whether the observer wants this call (observers without `enabled` always do). */
  wants(): boolean {
    return this.enabled === undefined || this.observer.enabled();
  }
}

/** The state of an observer of a set that did not want the call, or has no `end` (its `end` is not called). */
const SKIPPED: unique symbol = Symbol("skipped");

/**
 * Several observers behind one (the engine holds one field, so the disabled path stays one check). Each
 * member's hooks are read when the set is built; the set has a hook only where a member has one, and an
 * `enabled` only when every member has one.
 */
export class ObserverSet implements CallObserver<unknown[]> {
  readonly observers: CallObserver[];
  readonly #members: ObserverHooks[];
  declare enabled?: () => boolean;
  declare start?: (
    call: GuardCall<never>,
    startedAtMs: number,
    chaos: InjectionPlan | undefined,
  ) => unknown[];
  declare end?: (states: unknown[], call: GuardCall<never>, outcome: CallOutcome) => void;
  declare refused?: RefusedHook;

  constructor(observers: CallObserver[]) {
    this.observers = observers;
    const members = observers.map((observer) => new ObserverHooks(observer));
    this.#members = members;
    if (members.every((member) => member.enabled !== undefined)) this.enabled = this.#enabled;
    if (members.some((member) => member.perCall)) {
      this.start = this.#start;
      if (members.some((member) => member.end !== undefined)) this.end = this.#end;
    }
    if (members.some((member) => member.refused !== undefined)) this.refused = this.#refused;
  }

  #enabled(): boolean {
    for (const member of this.#members) if (member.wants()) return true;
    return false;
  }

  #start(call: GuardCall<never>, startedAtMs: number, chaos: InjectionPlan | undefined): unknown[] {
    const members = this.#members;
    const states: unknown[] = new Array(members.length);
    for (let i = 0; i < members.length; i++) {
      const member = members[i] as ObserverHooks;
      if (!member.perCall || !member.wants()) {
        states[i] = SKIPPED;
        continue;
      }
      const state = member.start === undefined ? undefined : member.observer.start(call, startedAtMs, chaos);
      states[i] = member.end === undefined ? SKIPPED : state;
    }
    return states;
  }

  #end(states: unknown[], call: GuardCall<never>, outcome: CallOutcome): void {
    const members = this.#members;
    for (let i = 0; i < members.length; i++) {
      const member = members[i] as ObserverHooks;
      if (states[i] !== SKIPPED) member.observer.end(states[i], call, outcome);
    }
  }

  #refused(call: GuardCall<never>, error: RefusalError): void {
    for (const member of this.#members) {
      if (member.refused !== undefined && member.wants()) member.observer.refused(call, error);
    }
  }
}

/** Where a throwing observer is reported (it never breaks the call). */
function observerFailed(error: unknown): void {
  console.error("agent-sre: a call observer threw", error);
}

/**
 * Starts observing a call that passed pre-flight: the observer's hooks ride on the call, with its state,
 * only when it has an `end` to call.
 */
export function observeStart(hooks: ObserverHooks, inFlight: GuardedCall): void {
  if (hooks.perCall === false) return; // `refused` only (a compare with a constant: no truthiness test)
  try {
    const observer = hooks.observer;
    if (hooks.enabled !== undefined && !observer.enabled()) return; // no `end` either
    if (hooks.start !== undefined)
      inFlight.observed = observer.start(inFlight.call, inFlight.startedAtMs, inFlight.plan);
    if (hooks.end !== undefined) inFlight.observer = hooks;
  } catch (error) {
    observerFailed(error);
  }
}

/** Ends observing a call (the observer has an `end`: `observeStart` put the hooks on the call only then). */
export function observeEnd(
  hooks: ObserverHooks,
  state: unknown,
  call: GuardCall<never>,
  outcome: CallOutcome,
): void {
  try {
    hooks.observer.end(state, call, outcome);
  } catch (error) {
    observerFailed(error);
  }
}

export function observeRefused(hooks: ObserverHooks, call: GuardCall<never>, error: RefusalError): void {
  if (hooks.refused === undefined) return;
  try {
    if (hooks.wants()) hooks.observer.refused(call, error);
  } catch (failure) {
    observerFailed(failure);
  }
}

/** A call that ran outside the pipeline (`record()`): a start and an end at once. */
export function observeRecorded(
  hooks: ObserverHooks,
  call: GuardCall<never>,
  startedAtMs: number,
  outcome: CallOutcome,
): void {
  if (!hooks.perCall) return;
  let state: unknown;
  try {
    if (!hooks.wants()) return;
    if (hooks.start !== undefined) state = hooks.observer.start(call, startedAtMs, undefined);
  } catch (error) {
    observerFailed(error);
  }
  if (hooks.end !== undefined) observeEnd(hooks, state, call, outcome);
}

/** Adds an observer to what is registered; the hooks of the result are read now. */
export function addObserver(current: ObserverHooks | undefined, added: CallObserver): ObserverHooks {
  return hooksOf([...(current?.registered ?? []), added]);
}

/** Removes an observer; undefined when none is left (the hot path's one check). */
export function removeObserver(
  current: ObserverHooks | undefined,
  removed: CallObserver,
): ObserverHooks | undefined {
  const rest = (current?.registered ?? []).filter((o) => o !== removed);
  return rest.length === 0 ? undefined : hooksOf(rest);
}

/** The hooks of the observers `use()` registered: the one, or a set of them. */
function hooksOf(registered: readonly CallObserver[]): ObserverHooks {
  const observer =
    registered.length === 1 ? (registered[0] as CallObserver) : new ObserverSet([...registered]);
  return new ObserverHooks(observer, registered);
}
