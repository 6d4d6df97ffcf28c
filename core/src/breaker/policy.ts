import type { Clock } from "../clock.js";
import type { BreakerTransition, EventSink } from "../events.js";
import { CountWindow } from "./count-window.js";
import type { ResolvedBreakerOptions, ResolvedWindow } from "./options.js";
import type { OutcomeWindow } from "./outcome-window.js";
import { TimeWindow } from "./time-window.js";

/**
 * How many breakers sharing it are not CLOSED (a registry gives one to all its policies): while none is, a
 * caller may take every breaker of the registry as CLOSED without reading it (the engine's agent breakers:
 * with 10,000 agents, one cache line fewer per call).
 */
export class BreakerTally {
  notClosed = 0;
}

/**
 * What breakers built from the same options share (a registry builds one per defaults / override and gives it
 * to every breaker it creates): the thresholds, timeouts, hooks, clock and event sink. A breaker itself keeps
 * only its id, its state and its outcome window, so a fleet of agent breakers costs little each.
 */
export class BreakerPolicy {
  readonly clock: Clock;
  readonly events: EventSink;
  readonly onStateChange: ((transition: BreakerTransition) => void) | undefined;
  readonly isFailure: ((error: unknown) => boolean) | undefined;
  readonly consecutiveRule: boolean;
  readonly failureThreshold: number;
  readonly recoveryTimeoutMs: number;
  readonly maxRecoveryTimeoutMs: number;
  readonly backoffMultiplier: number;
  readonly halfOpenMaxCalls: number;
  readonly halfOpenRetryAfterMs: number;
  readonly window: ResolvedWindow | undefined;
  readonly minimumCalls: number;
  /** Infinity when the rule is off, so `rate >= threshold` is simply never true. */
  readonly failureRateThreshold: number;
  readonly slowCallMs: number;
  readonly slowCallRateThreshold: number;
  readonly historySize: number;
  /** The trips state of a breaker that never tripped, shared (frozen: a breaker copies it to write). */
  readonly cleanTrips: BreakerTrips;
  /** Counts the breakers (of this policy, or of every policy of a registry) that are not CLOSED. */
  readonly tally: BreakerTally;

  constructor(resolved: Omit<ResolvedBreakerOptions, "id">, tally: BreakerTally = new BreakerTally()) {
    this.tally = tally;
    this.clock = resolved.clock;
    this.events = resolved.events;
    this.onStateChange = resolved.onStateChange;
    this.isFailure = resolved.isFailure;
    this.consecutiveRule = resolved.consecutiveRule;
    this.failureThreshold = resolved.failureThreshold;
    this.recoveryTimeoutMs = resolved.recoveryTimeoutMs;
    this.backoffMultiplier = resolved.backoff?.multiplier ?? 1;
    this.maxRecoveryTimeoutMs = resolved.backoff?.maxRecoveryTimeoutMs ?? resolved.recoveryTimeoutMs;
    this.halfOpenMaxCalls = resolved.halfOpenMaxCalls;
    this.halfOpenRetryAfterMs = resolved.halfOpenRetryAfterMs;
    this.slowCallMs = resolved.slowCallMs ?? Number.POSITIVE_INFINITY;
    this.slowCallRateThreshold = resolved.slowCallRateThreshold ?? Number.POSITIVE_INFINITY;
    this.historySize = resolved.historySize;
    this.window = resolved.window;
    this.minimumCalls = resolved.window?.minimumCalls ?? 0;
    this.failureRateThreshold = resolved.window?.failureRateThreshold ?? Number.POSITIVE_INFINITY;
    this.cleanTrips = Object.freeze(new BreakerTrips(resolved.recoveryTimeoutMs));
  }

  /** A new breaker's own outcome window (none in the consecutive rule without a slow-call rule). */
  newWindow(): OutcomeWindow | undefined {
    const window = this.window;
    if (window === undefined) return undefined;
    if (window.type === "count") return new CountWindow(window.size);
    return new TimeWindow(window.durationMs, window.buckets, this.clock);
  }
}

/** What a breaker that has tripped (or probed, or was forced) keeps beyond its state and window. */
export class BreakerTrips {
  forcedReason: string | undefined = undefined;
  /** The recovery timeout now in force (grown by backoff after repeated trips). */
  recoveryTimeoutMs: number;
  openedAtMs: number | undefined = undefined;
  /** Infinity while forced open. */
  openUntilMs = 0;
  /** Probes of the current HALF_OPEN period admitted and not yet reported. */
  probesInFlight = 0;
  probeSuccesses = 0;
  /** Probes from ended HALF_OPEN periods, still out. */
  staleProbes = 0;
  tripCount = 0;
  /** The last `historySize` transitions (a ring), allocated at the first one. */
  history: BreakerTransition[] | undefined = undefined;
  historyNext = 0;

  constructor(recoveryTimeoutMs: number) {
    this.recoveryTimeoutMs = recoveryTimeoutMs;
  }
}
