import { CircuitOpenError, InvalidArgumentError } from "../errors.js";
import type { AgentSREEventName, BreakerTransition } from "../events.js";
import { type CircuitBreakerOptions, resolveBreakerOptions } from "./options.js";
import { type OutcomeWindow, type WindowStats, type WindowSummary, windowStats } from "./outcome-window.js";
import {
  type AdmittedPermit,
  type BreakerState,
  PERMIT_CLOSED,
  PERMIT_PROBE,
  PERMIT_REJECTED,
  type Permit,
} from "./permit.js";
import { BreakerPolicy, BreakerTrips } from "./policy.js";

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
type StateCode = typeof CLOSED | typeof OPEN | typeof HALF_OPEN;
const STATE_NAMES: readonly BreakerState[] = ["CLOSED", "OPEN", "HALF_OPEN"];
const EVENT_NAMES: readonly AgentSREEventName[] = ["breaker.close", "breaker.open", "breaker.half_open"];

// While the state reads OPEN, `retryAfterMs()` reports at least this: a caller refused a moment before the
// recovery timeout ends is never told 0.
const MIN_OPEN_RETRY_AFTER_MS = 1;

export interface BreakerCallOptions<T> {
  /**
   * Produces the result instead of an error: called with the `CircuitOpenError` when the breaker refuses, or with
   * the call's error after its outcome was recorded. An error it throws propagates.
   */
  fallback?: (error: unknown) => T | PromiseLike<T>;
}

/** What a store keeps of one breaker (see `CircuitBreaker.saveState`). JSON-serializable. */
export interface SavedBreakerState {
  state: BreakerState;
  openedAt: number | null;
  /** When an OPEN breaker admits a probe; null while forced open. */
  openUntilMs: number | null;
  forcedReason: string | null;
  recoveryTimeoutMs: number;
  tripCount: number;
  /** Consecutive failures (consecutive rule) when saved. */
  failureCount: number;
  /**
   * What the failure-rate window held when saved (CLOSED; `saveState({ window: true })`, e.g. on `sre.flush()`),
   * so a restarted breaker opens on the same next failures. Absent: the window restarts empty.
   */
  window?: WindowSummary;
  /** Probes that had succeeded (HALF_OPEN): the restarted breaker needs only the rest to close. */
  probeSuccesses?: number;
}

/** JSON-serializable state of one breaker. */
export interface BreakerSnapshot {
  id: string;
  state: BreakerState;
  /** True while held OPEN by `forceOpen()` (until `reset()`). */
  forced: boolean;
  forcedReason: string | null;
  /** Consecutive failures (consecutive rule) or failures in the window (rate rule). */
  failureCount: number;
  /** Number of `breaker.open` transitions so far (survives `reset()`). */
  tripCount: number;
  /** 0 when a call would be admitted now; null while forced open (only `reset()` admits again). */
  retryAfterMs: number | null;
  /** The recovery timeout now in force, grown by backoff after repeated trips. */
  recoveryTimeoutMs: number;
  /** When the breaker last opened (clock ms); null while CLOSED. */
  openedAt: number | null;
  /** Present when a rate or slow-call rule keeps a window. */
  window: WindowStats | null;
  halfOpen: { probesInFlight: number; probeSuccesses: number; maxCalls: number } | null;
}

/**
 * A circuit breaker: CLOSED admits calls and counts failures; at the threshold it trips OPEN and refuses calls
 * with `CircuitOpenError` (carrying a truthful `retryAfterMs`) until the recovery timeout has passed; then
 * HALF_OPEN admits exactly `halfOpenMaxCalls` probes; all succeed → CLOSED, any fails (or is slow) → OPEN again,
 * with the timeout grown by `backoff` if configured. OPEN → HALF_OPEN happens lazily when the breaker is used
 * or read, driven by the injected clock: there are no timers.
 *
 * Trip rules (CLOSED only):
 * - consecutive rule (default): `failureThreshold` failures in a row; a success resets the count;
 * - rate rule (`window` set, replaces the consecutive rule): failures / calls >= `failureRateThreshold` once the
 *   window holds `minimumCalls`;
 * - slow rule (`slowCallMs` set): slow calls / calls >= `slowCallRateThreshold` once the window holds
 *   `minimumCalls` (window: `window`, else `DEFAULT_SLOW_CALL_WINDOW`).
 *
 * Hot path for the engine: `tryAcquire()` → run → `onSuccess`/`onFailure`/`onError` or `cancel`. These never
 * throw and allocate nothing outside transitions.
 *
 * Permits carry no identity, so a permit reported after the state moved on ("stale") is handled by kind:
 * - a CLOSED permit (1) counts only if the breaker is CLOSED when it is reported; otherwise it is ignored;
 * - probe permits (2) still in flight when their HALF_OPEN period ends are remembered as stale and keep their
 *   slot until reported, so probes in flight never exceed `halfOpenMaxCalls`, across periods. While stale probes
 *   are out, a probe success is attributed to a stale probe and does not count toward closing, while a probe
 *   failure re-opens the breaker: conservative both ways. Outside HALF_OPEN a probe report only frees its slot.
 * - A permit settled twice or never issued is ignored once no probe is outstanding.
 */
export class CircuitBreaker {
  // Fields a call reads come first (one cache line for an agent among thousands); the options are shared.
  readonly id: string;
  #state: StateCode = CLOSED;
  readonly #window: OutcomeWindow | undefined;
  #consecutiveFailures = 0;
  readonly #policy: BreakerPolicy;
  /** Trips, probes and history: the policy's shared clean state until the first write (most never trip). */
  #trips: BreakerTrips;

  /**
   * `policy` is internal: a `BreakerRegistry` passes the one its breakers share (then only `options.id` is
   * read, validated by the registry).
   */
  constructor(options: CircuitBreakerOptions, policy?: BreakerPolicy) {
    if (policy === undefined) {
      const resolved = resolveBreakerOptions(options);
      this.id = resolved.id;
      policy = new BreakerPolicy(resolved);
    } else {
      this.id = options.id;
    }
    this.#policy = policy;
    this.#trips = policy.cleanTrips;
    this.#window = policy.newWindow();
  }

  /** Every state change goes through here: the policy's tally counts the breakers not CLOSED. */
  #setState(next: StateCode): void {
    const previous = this.#state;
    this.#state = next;
    if (previous === CLOSED && next !== CLOSED) this.#policy.tally.notClosed++;
    else if (previous !== CLOSED && next === CLOSED) this.#policy.tally.notClosed--;
  }

  /** This breaker's own trips state (a copy of the clean one at the first write). */
  #own(): BreakerTrips {
    if (this.#trips === this.#policy.cleanTrips)
      this.#trips = new BreakerTrips(this.#policy.recoveryTimeoutMs);
    return this.#trips;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Engine hot path

  /**
   * Asks to run one call. 0 = refused (then read `retryAfterMs()`), 1 = admitted while CLOSED, 2 = admitted as a
   * HALF_OPEN probe. Every admitted permit must be settled once: `onSuccess`, `onFailure`, `onError` or `cancel`.
   */
  tryAcquire(): Permit {
    // Only the CLOSED case in here: the engine's pre-flight inlines this (V8 inlines within a bytecode budget).
    if (this.#state === CLOSED) return PERMIT_CLOSED;
    return this.#tryAcquireOpen();
  }

  #tryAcquireOpen(): Permit {
    if (this.#state === OPEN) {
      const now = this.#policy.clock.now();
      if (now < this.#trips.openUntilMs) return PERMIT_REJECTED;
      this.#enterHalfOpen(now);
    }
    if (!this.#probeSlotFree()) return PERMIT_REJECTED;
    this.#own().probesInFlight++;
    return PERMIT_PROBE;
  }

  /**
   * How long a refused caller should wait, in ms; 0 when a call would be admitted now. While the breaker rejects
   * it is always > 0: the time left until HALF_OPEN when OPEN (at least 1 ms), `halfOpenRetryAfterMs` when every
   * probe slot is taken, and Infinity while forced open. Never changes the state.
   */
  retryAfterMs(): number {
    const state = this.#state;
    if (state === CLOSED) return 0;
    if (state === OPEN) {
      const remaining = this.#trips.openUntilMs - this.#policy.clock.now();
      return Math.max(remaining, MIN_OPEN_RETRY_AFTER_MS);
    }
    return this.#probeSlotFree() ? 0 : this.#policy.halfOpenRetryAfterMs;
  }

  /**
   * The admitted call succeeded after `durationMs`. Slower than `slowCallMs` counts as slow; a slow probe fails.
   * A NaN or negative duration counts as not slow (never throws).
   */
  onSuccess(permit: AdmittedPermit, durationMs: number): void {
    // The usual success (a CLOSED breaker, consecutive rule) in here, the rest out of line (inlining budget).
    if (permit === PERMIT_CLOSED && this.#window === undefined) {
      if (this.#state === CLOSED) this.#consecutiveFailures = 0;
      return;
    }
    this.#onOtherSuccess(permit, durationMs);
  }

  #onOtherSuccess(permit: AdmittedPermit, durationMs: number): void {
    if (permit === PERMIT_CLOSED) {
      if (this.#state !== CLOSED) return;
      this.#recordClosed(false, durationMs > this.#policy.slowCallMs);
    } else if (permit === PERMIT_PROBE) {
      this.#settleProbe(!(durationMs > this.#policy.slowCallMs), durationMs, true);
    }
  }

  /** The admitted call failed after `durationMs` (the caller already decided it counts; see `onError`). */
  onFailure(permit: AdmittedPermit, durationMs: number): void {
    if (permit === PERMIT_CLOSED) {
      if (this.#state === CLOSED) this.#recordClosed(true, durationMs > this.#policy.slowCallMs);
    } else if (permit === PERMIT_PROBE) {
      this.#settleProbe(false, durationMs, true);
    }
  }

  /** The admitted call threw `error`: a failure if `isFailure(error)`, otherwise a success. */
  onError(permit: AdmittedPermit, durationMs: number, error: unknown): void {
    if (this.isFailure(error)) this.onFailure(permit, durationMs);
    else this.onSuccess(permit, durationMs);
  }

  /** The admitted call never ran: a probe gives its slot back; nothing is recorded. */
  cancel(permit: AdmittedPermit): void {
    if (permit !== PERMIT_PROBE) return;
    if (this.#state === HALF_OPEN && this.#trips.probesInFlight > 0) this.#own().probesInFlight--;
    else if (this.#trips.staleProbes > 0) this.#own().staleProbes--;
  }

  /** Whether `error` counts as a failure under `isFailure` (all errors by default; a predicate that throws: yes). */
  isFailure(error: unknown): boolean {
    const predicate = this.#policy.isFailure;
    if (predicate === undefined) return true;
    try {
      return Boolean(predicate(error));
    } catch {
      return true;
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Convenience API

  /**
   * Runs `fn` under the breaker. Refused → `CircuitOpenError` (or `fallback(error)`); otherwise the outcome is
   * recorded (errors through `isFailure`) and the result returned, or the error rethrown (or `fallback(error)`).
   */
  async call<T>(fn: () => T | PromiseLike<T>, options?: BreakerCallOptions<T>): Promise<T> {
    if (typeof fn !== "function") throw new InvalidArgumentError("fn", fn, "a function");
    const fallback = options?.fallback;
    const permit = this.tryAcquire();
    if (permit === PERMIT_REJECTED) {
      const refusal = new CircuitOpenError(this.id, this.retryAfterMs());
      if (fallback) return fallback(refusal);
      throw refusal;
    }
    // Durations only matter to the slow-call rule: without it, skip both clock reads.
    const timed = this.#policy.slowCallMs !== Number.POSITIVE_INFINITY;
    const startedAt = timed ? this.#policy.clock.now() : 0;
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      this.onError(permit, timed ? this.#policy.clock.now() - startedAt : 0, error);
      if (fallback) return fallback(error);
      throw error;
    }
    this.onSuccess(permit, timed ? this.#policy.clock.now() - startedAt : 0);
    return result;
  }

  /**
   * Records the outcome of a call made outside the breaker, as observed now: counted while CLOSED, settles the
   * HALF_OPEN period (a success counts toward closing, a failure re-opens), ignored while OPEN.
   */
  recordSuccess(durationMs?: number): void {
    this.#recordManual(true, durationMs);
  }

  recordFailure(durationMs?: number): void {
    this.#recordManual(false, durationMs);
  }

  /**
   * Back to CLOSED with the failure count, window and backoff cleared. Trip count and history are kept, and
   * probes still in flight keep their slot until they report (they are real calls against the dependency).
   */
  reset(): void {
    const now = this.#policy.clock.now();
    if (this.#state === CLOSED) {
      this.#clearCounters();
      return;
    }
    this.#close("reset", now);
  }

  /**
   * Holds the breaker OPEN until `reset()` (isolation): no timeout, no probes; refusals carry
   * `retryAfterMs = Infinity`. Emits `breaker.open` without `recoveryTimeoutMs`. A no-op if already forced.
   */
  forceOpen(reason = "forced open"): void {
    if (typeof reason !== "string") throw new InvalidArgumentError("reason", reason, "a string");
    if (this.#trips.forcedReason !== undefined) return;
    const now = this.#policy.clock.now();
    const from = this.#state;
    this.#setState(OPEN);
    const trips = this.#own();
    trips.forcedReason = reason;
    trips.openedAtMs = now;
    trips.openUntilMs = Number.POSITIVE_INFINITY;
    this.#retireProbes();
    trips.tripCount++;
    this.#transition(from, OPEN, `forced: ${reason}`, now, undefined);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Reading

  /** The state now; reading it moves an OPEN breaker whose recovery timeout has passed to HALF_OPEN. */
  get state(): BreakerState {
    if (this.#state === OPEN) {
      const now = this.#policy.clock.now();
      if (now >= this.#trips.openUntilMs) this.#enterHalfOpen(now);
    }
    return STATE_NAMES[this.#state] as BreakerState;
  }

  /** Consecutive failures (consecutive rule) or failures in the window (rate rule). */
  get failureCount(): number {
    if (this.#policy.consecutiveRule) return this.#consecutiveFailures;
    const window = this.#window as OutcomeWindow;
    window.sync();
    return window.failures;
  }

  get tripCount(): number {
    return this.#trips.tripCount;
  }

  /** The recovery timeout now in force (grown by backoff after repeated trips). */
  get recoveryTimeoutMs(): number {
    return this.#trips.recoveryTimeoutMs;
  }

  get isForcedOpen(): boolean {
    return this.#trips.forcedReason !== undefined;
  }

  /** The last `historySize` transitions, oldest first. */
  history(): BreakerTransition[] {
    const size = this.#policy.historySize;
    const history = this.#trips.history ?? [];
    if (history.length < size) return history.map((entry) => ({ ...entry }));
    const ordered = [...history.slice(this.#trips.historyNext), ...history.slice(0, this.#trips.historyNext)];
    return ordered.map((entry) => ({ ...entry }));
  }

  snapshot(): BreakerSnapshot {
    const state = this.state;
    const forced = this.#trips.forcedReason !== undefined;
    return {
      id: this.id,
      state,
      forced,
      forcedReason: this.#trips.forcedReason ?? null,
      failureCount: this.failureCount,
      tripCount: this.#trips.tripCount,
      retryAfterMs: forced ? null : this.retryAfterMs(),
      recoveryTimeoutMs: this.#trips.recoveryTimeoutMs,
      openedAt: this.#trips.openedAtMs ?? null,
      window: this.#window === undefined ? null : windowStats(this.#window),
      halfOpen:
        this.#state === HALF_OPEN
          ? {
              probesInFlight: this.#trips.probesInFlight,
              probeSuccesses: this.#trips.probeSuccesses,
              maxCalls: this.#policy.halfOpenMaxCalls,
            }
          : null,
    };
  }

  toJSON(): BreakerSnapshot {
    return this.snapshot();
  }

  /**
   * What a store keeps of this breaker so a restart (or another process) resumes it: the state, when it
   * opened and until when, the backoff reached, the trip count and the failure count. The outcome window's
   * individual calls are not kept: a CLOSED breaker restarts with its count but an empty window.
   */
  saveState(options: { window?: boolean } = {}): SavedBreakerState {
    const saved: SavedBreakerState = {
      state: STATE_NAMES[this.#state] as BreakerState,
      openedAt: this.#trips.openedAtMs ?? null,
      openUntilMs: this.#trips.openUntilMs === Number.POSITIVE_INFINITY ? null : this.#trips.openUntilMs,
      forcedReason: this.#trips.forcedReason ?? null,
      recoveryTimeoutMs: this.#trips.recoveryTimeoutMs,
      tripCount: this.#trips.tripCount,
      failureCount: this.#consecutiveFailures,
    };
    if (options.window === true) {
      if (this.#state === CLOSED && this.#window !== undefined) saved.window = this.#window.exportSummary();
      if (this.#state === HALF_OPEN && this.#trips.probeSuccesses > 0)
        saved.probeSuccesses = this.#trips.probeSuccesses;
    }
    return saved;
  }

  /**
   * Takes over a saved state (`saveState()` of this breaker before a restart, or of its twin in another
   * process). Emits nothing and calls no `onStateChange`: the transition was reported where it happened.
   * A HALF_OPEN breaker resumes with fresh probe slots (probes of the old process never report here).
   */
  restoreState(saved: SavedBreakerState): void {
    const code = STATE_NAMES.indexOf(saved.state);
    if (code < 0) throw new InvalidArgumentError("saved.state", saved.state, "CLOSED, OPEN or HALF_OPEN");
    this.#retireProbes();
    this.#setState(code as StateCode);
    const trips = this.#own();
    trips.openedAtMs = saved.openedAt ?? undefined;
    trips.forcedReason = saved.forcedReason ?? undefined;
    trips.openUntilMs =
      code === CLOSED ? 0 : saved.openUntilMs === null ? Number.POSITIVE_INFINITY : saved.openUntilMs;
    trips.recoveryTimeoutMs = saved.recoveryTimeoutMs;
    trips.tripCount = Math.max(trips.tripCount, saved.tripCount);
    this.#consecutiveFailures = code === CLOSED ? saved.failureCount : 0;
    if (code === CLOSED && !(saved.window !== undefined && this.#window?.importSummary(saved.window)))
      this.#window?.reset();
    const successes = saved.probeSuccesses;
    if (code === HALF_OPEN && typeof successes === "number" && Number.isInteger(successes) && successes > 0)
      trips.probeSuccesses = Math.min(successes, this.#policy.halfOpenMaxCalls - 1);
  }

  // ---------------------------------------------------------------------------------------------------------
  // State machine

  #probeSlotFree(): boolean {
    const max = this.#policy.halfOpenMaxCalls;
    return (
      this.#trips.probeSuccesses + this.#trips.probesInFlight < max &&
      this.#trips.probesInFlight + this.#trips.staleProbes < max
    );
  }

  #recordClosed(failed: boolean, slow: boolean): void {
    const window = this.#window;
    if (window !== undefined) window.record(failed, slow);
    if (this.#policy.consecutiveRule) {
      if (!failed) this.#consecutiveFailures = 0;
      else if (++this.#consecutiveFailures >= this.#policy.failureThreshold) {
        this.#open(`${this.#consecutiveFailures} consecutive failures`, this.#policy.clock.now());
        return;
      }
    }
    if (window === undefined) return;
    const calls = window.calls;
    if (calls < this.#policy.minimumCalls) return;
    const failureRate = window.failures / calls;
    if (failureRate >= this.#policy.failureRateThreshold) {
      this.#open(
        `failure rate ${formatRate(failureRate)} >= ${formatRate(this.#policy.failureRateThreshold)} over ${calls} calls`,
        this.#policy.clock.now(),
      );
      return;
    }
    const slowCallRate = window.slowCalls / calls;
    if (slowCallRate >= this.#policy.slowCallRateThreshold) {
      this.#open(
        `slow-call rate ${formatRate(slowCallRate)} >= ${formatRate(this.#policy.slowCallRateThreshold)} over ${calls} calls`,
        this.#policy.clock.now(),
      );
    }
  }

  /** `ownsSlot`: the report comes from a probe permit (false for `recordSuccess/recordFailure`). */
  #settleProbe(ok: boolean, durationMs: number, ownsSlot: boolean): void {
    if (this.#state !== HALF_OPEN) {
      if (ownsSlot && this.#trips.staleProbes > 0) this.#own().staleProbes--;
      return;
    }
    if (ownsSlot) {
      if (this.#trips.staleProbes > 0) {
        this.#own().staleProbes--;
        if (ok) return;
      } else if (this.#trips.probesInFlight > 0) {
        this.#own().probesInFlight--;
      } else {
        return;
      }
    }
    const now = this.#policy.clock.now();
    if (!ok) {
      const reason =
        durationMs > this.#policy.slowCallMs
          ? `slow probe (${durationMs} ms > ${this.#policy.slowCallMs} ms)`
          : "probe failed";
      this.#open(reason, now);
      return;
    }
    if (++this.#own().probeSuccesses >= this.#policy.halfOpenMaxCalls) {
      this.#close(`${this.#trips.probeSuccesses} of ${this.#policy.halfOpenMaxCalls} probes succeeded`, now);
    }
  }

  #recordManual(ok: boolean, durationMs: number | undefined): void {
    if (durationMs !== undefined && (typeof durationMs !== "number" || !(durationMs >= 0))) {
      throw new InvalidArgumentError("durationMs", durationMs, "a duration in ms >= 0");
    }
    const duration = durationMs ?? 0;
    const state = this.state;
    if (state === "CLOSED") this.#recordClosed(!ok, duration > this.#policy.slowCallMs);
    else if (state === "HALF_OPEN")
      this.#settleProbe(ok && !(duration > this.#policy.slowCallMs), duration, false);
  }

  #open(reason: string, now: number): void {
    const from = this.#state;
    const trips = this.#own();
    if (from === HALF_OPEN) {
      // Re-opening without a successful close in between: back off.
      trips.recoveryTimeoutMs = Math.min(
        trips.recoveryTimeoutMs * this.#policy.backoffMultiplier,
        this.#policy.maxRecoveryTimeoutMs,
      );
    }
    this.#setState(OPEN);
    trips.openedAtMs = now;
    trips.openUntilMs = now + trips.recoveryTimeoutMs;
    this.#retireProbes();
    trips.tripCount++;
    this.#transition(from, OPEN, reason, now, trips.recoveryTimeoutMs);
  }

  #enterHalfOpen(now: number): void {
    this.#setState(HALF_OPEN);
    const trips = this.#own();
    trips.probesInFlight = 0;
    trips.probeSuccesses = 0;
    this.#transition(OPEN, HALF_OPEN, "recovery timeout elapsed", now, undefined);
  }

  #close(reason: string, now: number): void {
    const from = this.#state;
    this.#setState(CLOSED);
    const trips = this.#own();
    trips.forcedReason = undefined;
    trips.openedAtMs = undefined;
    trips.openUntilMs = 0;
    this.#retireProbes();
    this.#clearCounters();
    this.#transition(from, CLOSED, reason, now, undefined);
  }

  #clearCounters(): void {
    this.#consecutiveFailures = 0;
    this.#window?.reset();
    if (this.#trips.recoveryTimeoutMs !== this.#policy.recoveryTimeoutMs)
      this.#own().recoveryTimeoutMs = this.#policy.recoveryTimeoutMs;
  }

  /** Probes still out when their HALF_OPEN period ends keep their slot until they report. */
  #retireProbes(): void {
    const trips = this.#trips;
    if (trips.probesInFlight === 0 && trips.probeSuccesses === 0) return;
    const own = this.#own();
    own.staleProbes += own.probesInFlight;
    own.probesInFlight = 0;
    own.probeSuccesses = 0;
  }

  #transition(
    from: StateCode,
    to: StateCode,
    reason: string,
    at: number,
    recoveryTimeoutMs: number | undefined,
  ): void {
    const transition: BreakerTransition = {
      at,
      breakerId: this.id,
      from: STATE_NAMES[from] as BreakerState,
      to: STATE_NAMES[to] as BreakerState,
      reason,
      failureCount: this.failureCount,
    };
    if (recoveryTimeoutMs !== undefined) transition.recoveryTimeoutMs = recoveryTimeoutMs;
    const policy = this.#policy;
    if (policy.historySize > 0) {
      const trips = this.#own();
      trips.history ??= [];
      trips.history[trips.historyNext] = transition;
      trips.historyNext = (trips.historyNext + 1) % policy.historySize;
    }
    policy.onStateChange?.(transition);
    const name = EVENT_NAMES[to] as "breaker.open";
    if (policy.events.has(name)) policy.events.emit(name, { ...transition });
  }
}

function formatRate(rate: number): string {
  return `${Math.round(rate * 1000) / 10}%`;
}
