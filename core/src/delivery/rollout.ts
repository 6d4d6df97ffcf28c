import { fmix32, hashString, toSeed } from "../chaos/rng.js";
import { type Clock, systemClock } from "../clock.js";
import { InvalidArgumentError } from "../errors.js";
import type { EventSink, RolloutHoldEvent, RolloutState, RolloutTransitionEvent } from "../events.js";
import { silentSink } from "../events.js";
import { compareRisk, type RiskLevel } from "../rogue/risk.js";
import type { StateStore } from "../store/state-store.js";
import type { CallObservation } from "../types.js";
import { missingSamples, regression } from "./analysis.js";
import {
  type ResolvedRolloutOptions,
  type ResolvedStep,
  type RolloutOptions,
  resolveRolloutOptions,
  type Variant,
} from "./config.js";
import { MAX_DECISIONS, ROLLOUT_STATE_KIND, type RolloutRecord, readRecord } from "./rollout-record.js";
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
  /** The latest decisions, oldest first (bounded); kept in the store with the state. */
  decisions: RolloutTransitionEvent[];
  /** Whether the state came from the store (a restart) rather than from this process's `start()`. */
  restored: boolean;
}

/** A signal from the variant's tasks other than a finished call. */
export type RolloutSignal = "refusal" | "rogue";

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
  readonly #store: StateStore | undefined;
  #seed: number | string;
  #seedNumber: number;
  #state: RolloutState = "pending";
  #stepIndex = 0;
  #stepStartedAt: number | undefined;
  #baseline: VariantStats;
  #candidate: VariantStats;
  #lastEvaluatedAt = Number.NEGATIVE_INFINITY;
  #lastHold: RolloutHoldEvent["reason"] | undefined;
  #lastTransition: RolloutTransitionEvent | undefined;
  #decisions: RolloutTransitionEvent[] = [];
  #restored = false;

  constructor(options: RolloutOptions) {
    this.#o = resolveRolloutOptions(options);
    this.#clock = this.#o.clock ?? systemClock;
    this.#events = this.#o.events ?? silentSink;
    this.#sticky = new StickyTable(this.#o.maxStickyKeys, this.#o.stickyTtlMs);
    this.#seed = this.#o.seed;
    this.#seedNumber = toSeed(this.#seed);
    this.#store = this.#o.store;
    this.#baseline = this.#newStats(1);
    this.#candidate = this.#newStats(2);
    this.reload();
  }

  /**
   * Re-reads the state from the store (done at construction; a `Delivery` calls it when another process
   * sharing the store changed the rollout). A rollback or abort read this way sends every task to the
   * baseline, as a local one does. Returns whether a record of this rollout was found.
   */
  reload(): boolean {
    const record = readRecord(this.#store?.getState(ROLLOUT_STATE_KIND, this.#o.id), this.#o);
    if (record === undefined) return false;
    const stepChanged = record.stepIndex !== this.#stepIndex || record.state !== this.#state;
    this.#restored = true;
    this.#seed = record.seed;
    this.#seedNumber = toSeed(record.seed);
    this.#state = record.state;
    this.#stepIndex = record.stepIndex;
    this.#stepStartedAt = record.stepStartedAt ?? undefined;
    this.#decisions = record.decisions;
    this.#lastTransition = record.decisions[record.decisions.length - 1];
    if (stepChanged) {
      this.#lastHold = undefined;
      this.#baseline = this.#newStats(2 * this.#stepIndex + 1);
      this.#candidate = this.#newStats(2 * this.#stepIndex + 2);
    }
    if (this.#state === "rolled_back" || this.#state === "aborted") this.#sticky.clear();
    return true;
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

  /** The assignment seed in force (the configured one, or the one restored from the store). */
  get seed(): number | string {
    return this.#seed;
  }

  /** Whether the state came from the store (a restart): such a rollout is not started again. */
  get restored(): boolean {
    return this.#restored;
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
  observe(call: CallObservation, variantId?: string, mirrored = false): void {
    if (this.#state === "progressing" || this.#state === "paused") {
      const stats = this.#statsOf(call.taskId, call.name, variantId);
      stats?.record(call.ok, call.durationMs, call.costUsd, call.taskId);
      if (mirrored && stats !== undefined) stats.mirrored++;
    }
    this.#maybeEvaluate();
  }

  /**
   * Feeds a call to `variantId` refused because the variant is unavailable (its model's breaker is open):
   * a failure of the variant (a broken candidate trips its breaker long before it has enough calls).
   */
  observeUnavailable(variantId: string): void {
    if (this.#state === "progressing" || this.#state === "paused") {
      this.#statsOf(undefined, undefined, variantId)?.recordUnavailable();
    }
    this.#maybeEvaluate();
  }

  /**
   * Feeds a behavioural signal from a task (a `LOOP_DETECTED` or `TOOL_NOT_ALLOWED` refusal, a rogue
   * assessment of its agent), attributed by `variantId` or the key's sticky assignment; ignored for a key
   * this rollout never assigned.
   */
  observeSignal(key: string, signal: RolloutSignal, variantId?: string): void {
    if (this.#state === "progressing" || this.#state === "paused") {
      const stats = this.#statsOf(key, undefined, variantId);
      if (stats !== undefined) {
        if (signal === "refusal") stats.refusals++;
        else stats.rogueFlags++;
      }
    }
    this.#maybeEvaluate();
  }

  /**
   * Feeds a rogue assessment of an agent running `variantId`: counted when `level` reaches the rogue gate's
   * `minLevel`.
   */
  observeRisk(level: RiskLevel, variantId: string): void {
    const gate = this.#o.rogue;
    if (gate !== undefined && compareRisk(level, gate.minLevel) >= 0)
      this.observeSignal("", "rogue", variantId);
  }

  /** The variant `key` was assigned (without assigning it or refreshing its stickiness), or undefined. */
  variantOf(key: string): Variant | undefined {
    const remembered = this.#sticky.peek(key, this.#clock.now());
    if (remembered === undefined) return undefined;
    return remembered ? this.#o.candidate : this.#o.baseline;
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
    const failed = regression(this.#o, this.#baseline, this.#candidate);
    if (failed !== undefined) {
      this.#rollback(failed, true);
      return;
    }
    const step = this.#step();
    const now = this.#clock.now();
    const heldMs = step.holdMs === undefined || now - (this.#stepStartedAt ?? now) >= step.holdMs;
    const heldTasks = step.holdTasks === undefined || this.#candidate.tasks >= step.holdTasks;
    if (!heldMs || !heldTasks) return;
    const missing = missingSamples(this.#o, this.#baseline, this.#candidate);
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
      decisions: this.#decisions.slice(),
      restored: this.#restored,
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
    const candidate = rolloutBucket(this.#seed, this.#o.id, key) < threshold;
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
    this.#decisions.push(event);
    if (this.#decisions.length > MAX_DECISIONS) this.#decisions.shift();
    this.#save();
    this.#events.emit("rollout.transition", event);
  }

  /** Transitions only, never per call: the state, step, seed and decisions. */
  #save(): void {
    if (this.#store === undefined) return;
    const record: RolloutRecord = {
      version: 1,
      baseline: this.#o.baseline.id,
      candidate: this.#o.candidate.id,
      strategy: this.#o.strategyType,
      steps: this.#o.steps.length,
      seed: this.#seed,
      state: this.#state,
      stepIndex: this.#stepIndex,
      stepStartedAt: this.#stepStartedAt ?? null,
      decisions: this.#decisions,
    };
    this.#store.putState(
      ROLLOUT_STATE_KIND,
      this.#o.id,
      record as unknown as Record<string, unknown>,
      Number.POSITIVE_INFINITY,
    );
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
