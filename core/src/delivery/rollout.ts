import { fmix32, hashString, toSeed } from "../chaos/rng.js";
import { type Clock, systemClock } from "../clock.js";
import { InvalidArgumentError } from "../errors.js";
import type { EventSink, RolloutHoldEvent, RolloutState, RolloutTransitionEvent } from "../events.js";
import { silentSink } from "../events.js";
import type { CallObservation } from "../types.js";
import {
  type ResolvedRolloutOptions,
  type ResolvedStep,
  type RolloutOptions,
  resolveRolloutOptions,
  type Variant,
} from "./config.js";
import { fisherExactGreater } from "./stats.js";
import { StickyTable } from "./sticky.js";
import { VariantStats, type VariantSummary } from "./variant-stats.js";

/** Assignment buckets: a key's bucket in [0, BUCKETS) gets the candidate when below the step's threshold. */
export const ROLLOUT_BUCKETS = 10_000;

/**
 * The stable bucket of `key` in rollout `rolloutId` under `seed`: a pure function (FNV-1a + murmur3
 * finaliser), so every process with the same seed assigns a task the same way without sharing a table.
 */
export function rolloutBucket(seed: number | string, rolloutId: string, key: string): number {
  const basis = fmix32(hashString(rolloutId, toSeed(seed)) ^ 0x9e3779b9);
  return hashString(key, basis) % ROLLOUT_BUCKETS;
}

export interface RolloutStatus {
  id: string;
  state: RolloutState;
  strategy: "canary" | "blueGreen";
  stepIndex: number;
  /** Candidate share of new tasks now (0 when rolled back or aborted). */
  percent: number;
  stepStartedAt: number | undefined;
  baseline: VariantSummary;
  candidate: VariantSummary;
  /** The last transition (start, promote, rollback, ...). */
  lastTransition: RolloutTransitionEvent | undefined;
}

/**
 * A progressive delivery of a candidate variant against a baseline: canary steps or blue-green.
 *
 * - `assign(key)` gives a task (or thread / session) its variant: sticky, deterministic from the seed,
 *   O(1). A key keeps its side across promotions (bounded table); a rollback or abort sends every key,
 *   new or in flight, to the baseline at once.
 * - `observe(call)` feeds the engine's `call.completed` observations (or `connect(sre)` does it);
 *   `observeMetric(key, name, value)` feeds user metrics such as an eval score.
 * - Each step is analysed candidate vs baseline: failures by Fisher's exact test, p99 latency and cost
 *   per task against tolerances, user metrics by mean; nothing is decided below the minimum sample.
 * - Promotion waits for the step's hold (duration and/or tasks) and is blocked while `isFrozen()`.
 */
export class Rollout {
  readonly #o: ResolvedRolloutOptions;
  readonly #clock: Clock;
  readonly #events: EventSink;
  readonly #sticky: StickyTable;
  readonly #seedNumber: number;
  #state: RolloutState = "pending";
  #stepIndex = 0;
  #stepStartedAt: number | undefined;
  #baseline: VariantStats;
  #candidate: VariantStats;
  #lastEvaluatedAt = Number.NEGATIVE_INFINITY;
  #lastHold: RolloutHoldEvent["reason"] | undefined;
  #lastTransition: RolloutTransitionEvent | undefined;

  constructor(options: RolloutOptions) {
    this.#o = resolveRolloutOptions(options);
    this.#clock = this.#o.clock ?? systemClock;
    this.#events = this.#o.events ?? silentSink;
    this.#sticky = new StickyTable(this.#o.maxStickyKeys, this.#o.stickyTtlMs);
    this.#seedNumber = toSeed(this.#o.seed);
    this.#baseline = this.#newStats(1);
    this.#candidate = this.#newStats(2);
  }

  get id(): string {
    return this.#o.id;
  }

  get baseline(): Variant {
    return this.#o.baseline;
  }

  get candidate(): Variant {
    return this.#o.candidate;
  }

  get state(): RolloutState {
    return this.#state;
  }

  get stepIndex(): number {
    return this.#stepIndex;
  }

  /** Candidate share of new tasks now, in percent. */
  get percent(): number {
    return this.#candidateThreshold() / 100;
  }

  /** Starts the first step. Until then every task gets the baseline. */
  start(): void {
    if (this.#state !== "pending")
      throw new InvalidArgumentError("rollout state", this.#state, '"pending" to start');
    this.#stepStartedAt = this.#clock.now();
    this.#transition("start", "progressing", "started", false);
  }

  /**
   * The variant for a task (or thread / session) key. Pure in the key while the split does not move; a
   * key seen before keeps its side across promotions; rollback and abort send everyone to the baseline.
   */
  assign(key: string): Variant {
    this.#maybeEvaluate();
    return this.#isCandidate(key) ? this.#o.candidate : this.#o.baseline;
  }

  /** The model for a task: the assigned variant's model, or `requestedModel` when the variant names none. */
  modelFor(key: string, requestedModel: string): string {
    return this.assign(key).model ?? requestedModel;
  }

  /**
   * Feeds one finished call. Attributed to a variant by `variantId` when given, else by the task's
   * sticky assignment, else by model name when the variants' models differ; otherwise ignored.
   */
  observe(call: CallObservation, variantId?: string): void {
    if (this.#state === "progressing" || this.#state === "paused") {
      const stats = this.#statsOf(call.taskId, call.name, variantId);
      stats?.record(call.ok, call.durationMs, call.costUsd, call.taskId);
    }
    this.#maybeEvaluate();
  }

  /** Feeds a user metric (e.g. an eval score) for the task `key`'s variant (or `variantId`). */
  observeMetric(key: string, name: string, value: number, variantId?: string): void {
    if (!Number.isFinite(value)) throw new InvalidArgumentError(`metric ${name}`, value, "a finite number");
    if (this.#state === "progressing" || this.#state === "paused") {
      this.#statsOf(key, undefined, variantId)?.recordMetric(name, value);
    }
    this.#maybeEvaluate();
  }

  /** Subscribes to an engine's (or any bus's) `call.completed`; returns the unsubscribe function. */
  connect(source: {
    on(name: "call.completed", listener: (call: CallObservation) => void): () => void;
  }): () => void {
    return source.on("call.completed", (call) => this.observe(call));
  }

  /** Runs the analysis now: rollback on a regression, else promote when the step is held and not frozen. */
  evaluate(): void {
    this.#lastEvaluatedAt = this.#clock.now();
    if (this.#state !== "progressing") return;
    const regression = this.#regression();
    if (regression !== undefined) {
      this.#rollback(regression, true);
      return;
    }
    const step = this.#step();
    const now = this.#clock.now();
    const heldMs = step.holdMs === undefined || now - (this.#stepStartedAt ?? now) >= step.holdMs;
    const heldTasks = step.holdTasks === undefined || this.#candidate.tasks >= step.holdTasks;
    if (!heldMs || !heldTasks) return;
    const missing = this.#missingSamples();
    if (missing !== undefined) {
      this.#hold("insufficient_samples", missing);
      return;
    }
    if (this.#o.isFrozen()) {
      this.#hold("frozen", "deployments are frozen");
      return;
    }
    this.#promote();
  }

  /** Operator: stop promotions and automatic decisions; the current split stays. */
  pause(reason = "paused by operator"): void {
    this.#require(["progressing"], "pause");
    this.#transition("pause", "paused", reason, false);
  }

  resume(reason = "resumed by operator"): void {
    this.#require(["paused"], "resume");
    this.#transition("resume", "progressing", reason, false);
  }

  /** Operator: send every task to the baseline now and end the rollout. */
  abort(reason = "aborted by operator"): void {
    this.#require(["pending", "progressing", "paused"], "abort");
    this.#sticky.clear();
    this.#transition("abort", "aborted", reason, false);
  }

  /** Operator: roll back now (as an automatic rollback does, but not automatic). */
  rollback(reason = "rolled back by operator"): void {
    this.#require(["progressing", "paused"], "rollback");
    this.#rollback(reason, false);
  }

  status(): RolloutStatus {
    return {
      id: this.#o.id,
      state: this.#state,
      strategy: this.#o.strategyType,
      stepIndex: this.#stepIndex,
      percent: this.percent,
      stepStartedAt: this.#stepStartedAt,
      baseline: this.#baseline.summary(),
      candidate: this.#candidate.summary(),
      lastTransition: this.#lastTransition,
    };
  }

  #candidateThreshold(): number {
    switch (this.#state) {
      case "progressing":
      case "paused":
        return this.#step().threshold;
      case "completed":
        return ROLLOUT_BUCKETS;
      default:
        return 0;
    }
  }

  #isCandidate(key: string): boolean {
    const threshold = this.#candidateThreshold();
    if (threshold === 0) return false;
    const now = this.#clock.now();
    const remembered = this.#sticky.get(key, now);
    if (remembered !== undefined) return remembered;
    const candidate = rolloutBucket(this.#o.seed, this.#o.id, key) < threshold;
    this.#sticky.set(key, candidate, now);
    return candidate;
  }

  #statsOf(
    key: string | undefined,
    model: string | undefined,
    variantId: string | undefined,
  ): VariantStats | undefined {
    if (variantId !== undefined) {
      if (variantId === this.#o.candidate.id) return this.#candidate;
      if (variantId === this.#o.baseline.id) return this.#baseline;
      throw new InvalidArgumentError(
        "variantId",
        variantId,
        `"${this.#o.baseline.id}" or "${this.#o.candidate.id}"`,
      );
    }
    if (key !== undefined) {
      const remembered = this.#sticky.peek(key, this.#clock.now());
      if (remembered !== undefined) return remembered ? this.#candidate : this.#baseline;
    }
    const { baseline, candidate } = this.#o;
    if (model !== undefined && baseline.model !== candidate.model) {
      if (model === candidate.model) return this.#candidate;
      if (model === baseline.model) return this.#baseline;
    }
    return undefined;
  }

  #maybeEvaluate(): void {
    if (this.#state !== "progressing") return;
    if (this.#clock.now() - this.#lastEvaluatedAt >= this.#o.evaluationIntervalMs) this.evaluate();
  }

  /** The first gate the candidate fails, with the figures, or undefined. */
  #regression(): string | undefined {
    const b = this.#baseline;
    const c = this.#candidate;
    const o = this.#o;
    const enoughCalls = b.calls >= o.minCalls && c.calls >= o.minCalls;
    if (enoughCalls && o.errorRate && c.failures >= o.errorRate.minFailures) {
      const p = fisherExactGreater(c.failures, c.calls - c.failures, b.failures, b.calls - b.failures);
      if (p < o.errorRate.alpha && c.errorRate - b.errorRate > o.errorRate.tolerance) {
        return `error rate ${pct(c.errorRate)} vs baseline ${pct(b.errorRate)} (Fisher p=${p.toPrecision(3)} < ${o.errorRate.alpha})`;
      }
    }
    if (enoughCalls && o.latencyP99) {
      const cp = c.p99() as number;
      const bp = b.p99() as number;
      if (cp > bp * (1 + o.latencyP99.tolerance)) {
        return `p99 latency ${cp} ms vs baseline ${bp} ms (tolerance +${pct(o.latencyP99.tolerance)})`;
      }
    }
    if (o.costPerTask && b.tasks >= o.minTasks && c.tasks >= o.minTasks) {
      const cc = c.meanCostPerTask() as number;
      const bc = b.meanCostPerTask() as number;
      if (cc > bc * (1 + o.costPerTask.tolerance)) {
        return `cost per task $${cc.toFixed(6)} vs baseline $${bc.toFixed(6)} (tolerance +${pct(o.costPerTask.tolerance)})`;
      }
    }
    for (const [name, gate] of o.metrics) {
      const cm = c.metric(name);
      const bm = b.metric(name);
      if (!cm || !bm || cm.count < gate.minSamples || bm.count < gate.minSamples) continue;
      const worse = gate.higherIsBetter
        ? cm.mean < bm.mean - Math.abs(bm.mean) * gate.tolerance
        : cm.mean > bm.mean + Math.abs(bm.mean) * gate.tolerance;
      if (worse)
        return `metric ${name} mean ${cm.mean} vs baseline ${bm.mean} (tolerance ${pct(gate.tolerance)})`;
    }
    return undefined;
  }

  /** What is still missing before the step may be promoted, or undefined. */
  #missingSamples(): string | undefined {
    const o = this.#o;
    for (const [side, stats] of [
      ["baseline", this.#baseline],
      ["candidate", this.#candidate],
    ] as const) {
      if (stats.calls < o.minCalls) return `${side} has ${stats.calls} of ${o.minCalls} calls`;
      if (o.costPerTask && stats.tasks < o.minTasks)
        return `${side} has ${stats.tasks} of ${o.minTasks} tasks`;
      for (const [name, gate] of o.metrics) {
        const count = stats.metric(name)?.count ?? 0;
        if (count < gate.minSamples)
          return `${side} has ${count} of ${gate.minSamples} samples of metric ${name}`;
      }
    }
    return undefined;
  }

  #promote(): void {
    const next = this.#stepIndex + 1;
    const last = next >= this.#o.steps.length - 1;
    this.#stepIndex = Math.min(next, this.#o.steps.length - 1);
    this.#stepStartedAt = this.#clock.now();
    this.#lastHold = undefined;
    // Each step is judged on its own traffic.
    this.#baseline = this.#newStats(2 * this.#stepIndex + 1);
    this.#candidate = this.#newStats(2 * this.#stepIndex + 2);
    if (last) this.#transition("complete", "completed", "every step passed", true);
    else this.#transition("promote", "progressing", `step ${next - 1} passed`, true);
  }

  #rollback(reason: string, automatic: boolean): void {
    // Rollback wins over stickiness: no task, new or in flight, reaches the candidate again.
    this.#sticky.clear();
    this.#transition("rollback", "rolled_back", reason, automatic);
  }

  #hold(reason: RolloutHoldEvent["reason"], detail: string): void {
    if (this.#lastHold === reason) return;
    this.#lastHold = reason;
    if (this.#events.has("rollout.hold")) {
      const step = this.#step();
      this.#events.emit("rollout.hold", {
        at: this.#clock.now(),
        rolloutId: this.#o.id,
        stepIndex: this.#stepIndex,
        percent: step.percent,
        reason,
        detail,
      });
    }
  }

  #transition(
    action: RolloutTransitionEvent["action"],
    to: RolloutState,
    reason: string,
    automatic: boolean,
  ): void {
    const from = this.#state;
    this.#state = to;
    const event: RolloutTransitionEvent = {
      at: this.#clock.now(),
      rolloutId: this.#o.id,
      action,
      from,
      to,
      stepIndex: this.#stepIndex,
      percent: this.percent,
      reason,
      automatic,
    };
    this.#lastTransition = event;
    this.#events.emit("rollout.transition", event);
  }

  #require(states: RolloutState[], action: string): void {
    if (!states.includes(this.#state)) {
      throw new InvalidArgumentError(
        "rollout state",
        this.#state,
        `one of ${states.join(", ")} to ${action}`,
      );
    }
  }

  #step(): ResolvedStep {
    return this.#o.steps[this.#stepIndex] as ResolvedStep;
  }

  #newStats(salt: number): VariantStats {
    return new VariantStats(
      this.#o.maxLatencySamples,
      this.#o.maxTasksPerStep,
      fmix32(this.#seedNumber + salt),
    );
  }
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}
