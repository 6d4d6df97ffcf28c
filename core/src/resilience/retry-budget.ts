import type { Clock } from "../clock.js";
import { type Duration, parseDuration } from "../duration.js";
import { ConfigError, RefusalError } from "../errors.js";
import { requireFiniteNonNegative, requirePositiveInteger } from "../validate.js";

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

interface TargetWindow {
  firsts: Int32Array;
  retries: Int32Array;
  firstSum: number;
  retrySum: number;
  /** Absolute index (time / bucketMs) of the newest bucket. */
  head: number;
  readonly target: string;
  /** The by-name cache that also holds this window (`admitNamed`), and its key there. */
  byName: Map<string, TargetWindow> | undefined;
  name: string;
}

export interface RetryBudgetSnapshot {
  ratio: number;
  windowMs: number;
  minRetries: number;
  /** True while retries are shed fleet-wide (a cascade response). */
  shedding: boolean;
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
  readonly #bucketMs: number;
  readonly #maxTargets: number;
  readonly #clock: Clock;
  readonly #targets = new Map<string, TargetWindow>();
  // Windows of `tool:<name>` / `model:<name>` targets by bare name: the hot path builds no target string.
  readonly #tools = new Map<string, TargetWindow>();
  readonly #models = new Map<string, TargetWindow>();
  #shedReason: string | undefined;

  constructor(options: RetryBudgetOptions, clock: Clock) {
    this.ratio = requireFiniteNonNegative(options.ratio ?? 0.2, "retryBudget.ratio");
    if (this.ratio > 1) throw new ConfigError("retryBudget.ratio", options.ratio, "a fraction in [0, 1]");
    this.windowMs = parseDuration(options.windowMs ?? 10_000, "retryBudget.windowMs");
    this.minRetries = requireFiniteNonNegative(options.minRetries ?? 10, "retryBudget.minRetries");
    this.#maxTargets = requirePositiveInteger(options.maxTargets ?? 1_000, "retryBudget.maxTargets");
    this.#bucketMs = Math.max(1, this.windowMs / BUCKETS);
    this.#clock = clock;
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
      window = this.#window(`${kind}:${name}`, nowMs);
      window.byName = cache;
      window.name = name;
      cache.set(name, window);
    } else {
      this.#advance(window, nowMs);
    }
    return this.#admit(window, isRetry, agentId, nowMs);
  }

  #admit(
    window: TargetWindow,
    isRetry: boolean,
    agentId: string | undefined,
    nowMs: number,
  ): RetryBudgetExceededError | undefined {
    if (!isRetry) {
      const slot = window.head % BUCKETS;
      window.firsts[slot] = (window.firsts[slot] as number) + 1;
      window.firstSum++;
      return undefined;
    }
    const target = window.target;
    if (this.#shedReason !== undefined) {
      return new RetryBudgetExceededError(target, this.#bucketMs, this.#shedReason, agentId);
    }
    const allowed = this.#allowed(window);
    if (window.retrySum + 1 > allowed) {
      return new RetryBudgetExceededError(
        target,
        this.#retryAfterMs(window, nowMs),
        `${window.retrySum} retries in the last ${this.windowMs} ms already use its budget (${Math.floor(allowed)}: ${this.minRetries} + ${this.ratio} × ${window.firstSum} first attempts)`,
        agentId,
      );
    }
    const slot = window.head % BUCKETS;
    window.retries[slot] = (window.retries[slot] as number) + 1;
    window.retrySum++;
    return undefined;
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

  snapshot(): RetryBudgetSnapshot {
    const targets: RetryBudgetSnapshot["targets"] = {};
    const now = this.#clock.now();
    for (const [target] of this.#targets) {
      const window = this.#window(target, now);
      targets[target] = {
        firstAttempts: window.firstSum,
        retries: window.retrySum,
        retriesAllowed: Math.floor(this.#allowed(window)),
      };
    }
    return {
      ratio: this.ratio,
      windowMs: this.windowMs,
      minRetries: this.minRetries,
      shedding: this.shedding,
      targets,
    };
  }

  #allowed(window: TargetWindow): number {
    return this.minRetries + this.ratio * window.firstSum;
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
      }
      window = {
        firsts: new Int32Array(BUCKETS),
        retries: new Int32Array(BUCKETS),
        firstSum: 0,
        retrySum: 0,
        head: Math.floor(nowMs / this.#bucketMs),
        target,
        byName: undefined,
        name: "",
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
      const slot = (window.head + i) % BUCKETS;
      window.firstSum -= window.firsts[slot] as number;
      window.retrySum -= window.retries[slot] as number;
      window.firsts[slot] = 0;
      window.retries[slot] = 0;
    }
    window.head = head;
  }
}
