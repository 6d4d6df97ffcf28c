import type { Clock } from "../clock.js";
import { type Duration, parseDuration } from "../duration.js";
import { ConfigError, RefusalError } from "../errors.js";
import type { StateStore } from "../store/state-store.js";
import { requireFiniteNonNegative, requirePositiveInteger } from "../validate.js";
import { FleetRetryCounts } from "./fleet-retry-counts.js";

export interface RetryBudgetOptions {
  /**
   * Retries allowed as a fraction of first attempts to the same target within the window (Finagle's
   * `percentCanRetry`, Envoy's `budget_percent`). Default 0.2: at most one retry per five calls.
   */
  ratio?: number;
  /** The sliding window the ratio is measured over (10 buckets). Default 10 s. */
  windowMs?: Duration;
  /** Retries always allowed per window, whatever the traffic (so a quiet target can still retry). Default 10. */
  minRetries?: number;
  /** Targets tracked; the first seen is forgotten first beyond it. Default 1,000. */
  maxTargets?: number;
  /**
   * On a shared state store (Redis), count with every engine on it: one budget per target for the fleet
   * (see `RetryBudget.share`). Default true; false keeps each engine's budget its own.
   */
  fleetWide?: boolean;
}

/** A retry over the target's retry budget: retrying now would feed a retry storm. Retryable later. */
export class RetryBudgetExceededError extends RefusalError {
  readonly code = "RETRY_BUDGET_EXCEEDED" as const;
  readonly target: string;
  readonly retryAfterMs: number;
  override readonly retryable = true;

  constructor(target: string, retryAfterMs: number, reason: string, agentId?: string) {
    super(
      `Retry of a call to "${target}" refused: ${reason}; retry after ${Math.ceil(retryAfterMs)} ms`,
      agentId,
    );
    this.target = target;
    this.retryAfterMs = retryAfterMs;
  }
}

const BUCKETS = 10;

/**
 * One target's window, as a handle a caller may keep (the engine keeps it in its per-target record, so a
 * call does one lookup): pass it to `admitTo`. Once `evicted` (pushed out by `maxTargets`), counting into
 * it would count into nothing: resolve a new one (`targetNamed`).
 */
export interface RetryTarget {
  readonly target: string;
  readonly evicted: boolean;
}

interface TargetWindow extends RetryTarget {
  firsts: Int32Array;
  retries: Int32Array;
  firstSum: number;
  retrySum: number;
  /** Absolute index (time / bucketMs) of the newest bucket. */
  head: number;
  /** `head % BUCKETS`, and when the newest bucket ends: a call in the same bucket divides nothing. */
  slot: number;
  headEndMs: number;
  readonly target: string;
  /** The by-name cache that also holds this window (`admitNamed`), and its key there. */
  byName: Map<string, TargetWindow> | undefined;
  name: string;
  /** Counted since this engine last published its counts to the fleet. */
  dirty: boolean;
  /** Dropped from the budget's tables (a handle holding it must resolve a new one). */
  evicted: boolean;
}

export interface RetryBudgetSnapshot {
  ratio: number;
  windowMs: number;
  minRetries: number;
  /** True while this engine sheds every retry (a cascade response). */
  shedding: boolean;
  /** Counted with the other engines on the same state store (`share()`); their number when shared. */
  fleet: { engines: number } | undefined;
  /** Per target, fleet-wide when shared: first attempts and retries in the window, retries allowed. */
  targets: Record<string, { firstAttempts: number; retries: number; retriesAllowed: number }>;
}

/**
 * Retry budgets (Finagle / Envoy style): per target (an upstream, a tool, a model), retries within the
 * window may not exceed `minRetries + ratio × first attempts`. First attempts are always admitted; a retry
 * over the budget is refused with `RETRY_BUDGET_EXCEEDED` and the time until the window has room. O(1) per
 * call: ten bucketed counters per target, rotated lazily.
 */
export class RetryBudget {
  readonly ratio: number;
  readonly windowMs: number;
  readonly minRetries: number;
  readonly fleetWide: boolean;
  readonly #bucketMs: number;
  readonly #maxTargets: number;
  readonly #clock: Clock;
  readonly #targets = new Map<string, TargetWindow>();
  // Windows of `tool:<name>` / `model:<name>` targets by bare name: the hot path builds no target string.
  readonly #tools = new Map<string, TargetWindow>();
  readonly #models = new Map<string, TargetWindow>();
  #shedReason: string | undefined;
  #fleet: FleetRetryCounts | undefined;
  readonly #dirty: TargetWindow[] = [];
  #nextPublishMs = 0;

  constructor(options: RetryBudgetOptions, clock: Clock) {
    this.ratio = requireFiniteNonNegative(options.ratio ?? 0.2, "retryBudget.ratio");
    if (this.ratio > 1) throw new ConfigError("retryBudget.ratio", options.ratio, "a fraction in [0, 1]");
    this.windowMs = parseDuration(options.windowMs ?? 10_000, "retryBudget.windowMs");
    this.minRetries = requireFiniteNonNegative(options.minRetries ?? 10, "retryBudget.minRetries");
    this.#maxTargets = requirePositiveInteger(options.maxTargets ?? 1_000, "retryBudget.maxTargets");
    this.#bucketMs = Math.max(1, this.windowMs / BUCKETS);
    this.#clock = clock;
    if (options.fleetWide !== undefined && typeof options.fleetWide !== "boolean")
      throw new ConfigError("retryBudget.fleetWide", options.fleetWide, "true or false");
    this.fleetWide = options.fleetWide ?? true;
  }

  /**
   * Counts one attempt at `target`. A first attempt is always admitted (returns undefined); a retry is
   * admitted and counted while the budget has room, else the refusal is returned (nothing counted).
   */
  admit(
    target: string,
    isRetry: boolean,
    agentId?: string,
    nowMs = this.#clock.now(),
  ): RetryBudgetExceededError | undefined {
    return this.#admit(this.#window(target, nowMs), isRetry, agentId, nowMs);
  }

  /** `admit()` for the target `<kind>:<name>`, found by name (no target string built per call). */
  admitNamed(
    kind: "tool" | "model",
    name: string,
    isRetry: boolean,
    agentId: string | undefined,
    nowMs: number,
  ): RetryBudgetExceededError | undefined {
    const cache = kind === "tool" ? this.#tools : this.#models;
    let window = cache.get(name);
    if (window === undefined) {
      window = this.#windowNamed(cache, kind, name, nowMs);
    } else {
      this.#advance(window, nowMs);
    }
    return this.#admit(window, isRetry, agentId, nowMs);
  }

  /**
   * The window of `<kind>:<name>` as a handle to keep (created if new): `admitTo(handle, …)` then counts
   * without a lookup. Valid until `handle.evicted`.
   */
  targetNamed(kind: "tool" | "model", name: string, nowMs: number): RetryTarget {
    const cache = kind === "tool" ? this.#tools : this.#models;
    return cache.get(name) ?? this.#windowNamed(cache, kind, name, nowMs);
  }

  /** `admit()` through a handle from `targetNamed` (not evicted: the caller checks `handle.evicted`). */
  admitTo(
    handle: RetryTarget,
    isRetry: boolean,
    agentId: string | undefined,
    nowMs: number,
  ): RetryBudgetExceededError | undefined {
    const window = handle as TargetWindow;
    if (nowMs >= window.headEndMs) this.#advance(window, nowMs);
    return this.#admit(window, isRetry, agentId, nowMs);
  }

  #windowNamed(
    cache: Map<string, TargetWindow>,
    kind: "tool" | "model",
    name: string,
    nowMs: number,
  ): TargetWindow {
    const window = this.#window(`${kind}:${name}`, nowMs);
    window.byName = cache;
    window.name = name;
    cache.set(name, window);
    return window;
  }

  #admit(
    window: TargetWindow,
    isRetry: boolean,
    agentId: string | undefined,
    nowMs: number,
  ): RetryBudgetExceededError | undefined {
    const fleet = this.#fleet;
    if (!isRetry) {
      const slot = window.slot;
      window.firsts[slot] = (window.firsts[slot] as number) + 1;
      window.firstSum++;
      if (fleet !== undefined) this.#counted(window, nowMs);
      return undefined;
    }
    const target = window.target;
    if (this.#shedReason !== undefined) {
      return new RetryBudgetExceededError(target, this.#bucketMs, this.#shedReason, agentId);
    }
    let firsts = window.firstSum;
    let retries = window.retrySum;
    if (fleet !== undefined) {
      const peers = fleet.sum(target, window.head);
      firsts += peers.firsts;
      retries += peers.retries;
    }
    const allowed = this.minRetries + this.ratio * firsts;
    if (retries + 1 > allowed) {
      const scope = fleet === undefined ? "" : " fleet-wide";
      return new RetryBudgetExceededError(
        target,
        this.#retryAfterMs(window, nowMs),
        `${retries} retries${scope} in the last ${this.windowMs} ms already use its budget (${Math.floor(allowed)}: ${this.minRetries} + ${this.ratio} × ${firsts} first attempts)`,
        agentId,
      );
    }
    const slot = window.slot;
    window.retries[slot] = (window.retries[slot] as number) + 1;
    window.retrySum++;
    if (fleet !== undefined) this.#counted(window, nowMs);
    return undefined;
  }

  /** Marks a window for the next publication, and publishes when a bucket has passed since the last. */
  #counted(window: TargetWindow, nowMs: number): void {
    if (!window.dirty) {
      window.dirty = true;
      this.#dirty.push(window);
    }
    if (nowMs >= this.#nextPublishMs) this.#publish(nowMs);
  }

  #publish(nowMs: number): void {
    const fleet = this.#fleet as FleetRetryCounts;
    this.#nextPublishMs = (Math.floor(nowMs / this.#bucketMs) + 1) * this.#bucketMs;
    for (const window of this.#dirty) {
      window.dirty = false;
      if (this.#targets.get(window.target) !== window) continue; // evicted meanwhile
      this.#advance(window, nowMs);
      fleet.publish(window.target, window);
    }
    this.#dirty.length = 0;
  }

  /** Targets tracked (at most `maxTargets`). */
  get size(): number {
    return this.#targets.size;
  }

  /** Refuses every retry until `resume()` (the cascade response "shed retries"). */
  shed(reason: string): void {
    this.#shedReason = reason;
  }

  resume(): void {
    this.#shedReason = undefined;
  }

  get shedding(): boolean {
    return this.#shedReason !== undefined;
  }

  /**
   * Counts against one budget with every engine on `store` (a fleet on Redis): this engine publishes its
   * per-target counts through the store at most once per bucket (`windowMs / 10`), from its own calls, and
   * adds the others' (from the store's broadcasts) to every retry decision. `minRetries` is then fleet-wide.
   * A peer's counts arrive within about a bucket plus the store's broadcast delay.
   */
  share(store: StateStore): void {
    if (this.#fleet !== undefined) return;
    this.#fleet = new FleetRetryCounts(store, {
      buckets: BUCKETS,
      bucketMs: this.#bucketMs,
      maxTargets: this.#maxTargets,
    });
  }

  /** Whether counts are shared through a state store (`share()`). */
  get shared(): boolean {
    return this.#fleet !== undefined;
  }

  /** Publishes this engine's counts now instead of at the next bucket (shutdown, tests). */
  flush(nowMs = this.#clock.now()): void {
    if (this.#fleet !== undefined) this.#publish(nowMs);
  }

  snapshot(): RetryBudgetSnapshot {
    const targets: RetryBudgetSnapshot["targets"] = {};
    const now = this.#clock.now();
    const fleet = this.#fleet;
    for (const [target] of this.#targets) {
      const window = this.#window(target, now);
      const peers = fleet?.sum(target, window.head) ?? { firsts: 0, retries: 0 };
      const firsts = window.firstSum + peers.firsts;
      targets[target] = {
        firstAttempts: firsts,
        retries: window.retrySum + peers.retries,
        retriesAllowed: Math.floor(this.minRetries + this.ratio * firsts),
      };
    }
    return {
      ratio: this.ratio,
      windowMs: this.windowMs,
      minRetries: this.minRetries,
      shedding: this.shedding,
      fleet: fleet === undefined ? undefined : { engines: fleet.peerEngines + 1 },
      targets,
    };
  }

  /** When the oldest bucket holding retries leaves the window (at least one bucket from now). */
  #retryAfterMs(window: TargetWindow, now: number): number {
    for (let age = BUCKETS - 1; age >= 0; age--) {
      const index = window.head - age;
      if (window.retries[((index % BUCKETS) + BUCKETS) % BUCKETS] !== 0) {
        return Math.max(1, (index + BUCKETS) * this.#bucketMs - now);
      }
    }
    return this.#bucketMs;
  }

  #window(target: string, nowMs: number): TargetWindow {
    let window = this.#targets.get(target);
    if (window === undefined) {
      if (this.#targets.size >= this.#maxTargets) {
        const oldest = this.#targets.keys().next().value as string;
        const evicted = this.#targets.get(oldest) as TargetWindow;
        this.#targets.delete(oldest);
        evicted.byName?.delete(evicted.name);
        evicted.evicted = true;
      }
      const head = Math.floor(nowMs / this.#bucketMs);
      window = {
        firsts: new Int32Array(BUCKETS),
        retries: new Int32Array(BUCKETS),
        firstSum: 0,
        retrySum: 0,
        head,
        slot: ((head % BUCKETS) + BUCKETS) % BUCKETS,
        headEndMs: (head + 1) * this.#bucketMs,
        target,
        byName: undefined,
        name: "",
        dirty: false,
        evicted: false,
      };
      this.#targets.set(target, window);
    } else {
      this.#advance(window, nowMs);
    }
    return window;
  }

  /** Rotates the window's buckets up to `nowMs` (lazily: only when a call comes). */
  #advance(window: TargetWindow, nowMs: number): void {
    const head = Math.floor(nowMs / this.#bucketMs);
    if (head <= window.head) return;
    const steps = Math.min(BUCKETS, head - window.head);
    for (let i = 1; i <= steps; i++) {
      const slot = (((window.head + i) % BUCKETS) + BUCKETS) % BUCKETS;
      window.firstSum -= window.firsts[slot] as number;
      window.retrySum -= window.retries[slot] as number;
      window.firsts[slot] = 0;
      window.retries[slot] = 0;
    }
    window.head = head;
    window.slot = ((head % BUCKETS) + BUCKETS) % BUCKETS;
    window.headEndMs = (head + 1) * this.#bucketMs;
  }
}
