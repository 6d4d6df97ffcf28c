import { type Clock, systemClock } from "../clock.js";
import { parseDuration } from "../duration.js";
import { ConfigError, InvalidArgumentError } from "../errors.js";
import { type EventSink, silentSink } from "../events.js";
import type { CallObservation } from "../types.js";
import { requireNonEmptyString, requireOneOf } from "../validate.js";
import {
  type ChaosMetric,
  type ChaosMetrics,
  compareMetric,
  describeAbort,
  firstHolding,
  metricValue,
  p99Holds,
  type ResolvedAbortCondition,
  resolveAbortCondition,
} from "./abort.js";
import { applyFault } from "./apply.js";
import { resolveBlastRadius } from "./blast-radius.js";
import { resolveFaults, resolveSeed } from "./experiment-config.js";
import { chaosReport, liveChaosMetrics } from "./experiment-report.js";
import type {
  AdversarialOutcome,
  ChaosCall,
  ChaosCounts,
  ChaosExperimentConfig,
  ChaosExperimentReport,
  ChaosRuntime,
  ExperimentState,
  FaultApplication,
  InjectionPlan,
  SavedChaosRun,
} from "./experiment-types.js";
import { ADVERSARIAL_OUTCOMES } from "./experiment-types.js";
import { type Fault, isAdversarialFault } from "./faults.js";
import { LatencyHistogram } from "./histogram.js";
import { calculateResilience, type ResilienceSample } from "./resilience.js";
import { fmix32, hashString, mulberry32, type Rng, seededUnit } from "./rng.js";
import { compileGlob, type TargetMatcher } from "./target.js";

const DEFAULT_DURATION_MS = 30 * 60_000;
/** A run's first calls in scope whose every duration the engine reads (see `timesEveryCall`). */
export const EXACT_LATENCY_CALLS = 1_024;

/**
 * A chaos experiment whose faults are really applied: `plan()` decides (seeded, within the blast radius)
 * which faults hit a call, `observe()` measures the calls in scope and aborts the run as soon as an abort
 * condition holds, and the run completes by itself when its duration is over.
 */
export class ChaosExperiment {
  readonly name: string;
  readonly description: string | undefined;
  readonly targetAgent: string;
  readonly faults: readonly Fault[];
  readonly durationMs: number;
  readonly abortConditions: readonly ResolvedAbortCondition[];
  readonly blastRadius: Readonly<{ calls: number; agents: number }>;
  readonly baseline: Readonly<ResilienceSample> | undefined;

  readonly #explicitSeed: number | undefined;
  #seed: number;
  #rng: Rng = () => 1;
  readonly #matchers: TargetMatcher[];
  readonly #agentMatches: (agentId: string) => boolean;
  readonly #faultIndex: Map<string, number>;
  readonly #rollback: ChaosExperimentConfig["rollback"];
  #clock: Clock;
  #events: EventSink;

  #state: ExperimentState = "pending";
  #startedAtMs: number | undefined;
  #endsAtMs = Number.POSITIVE_INFINITY;
  #endedAtMs: number | undefined;
  #abortReason: string | undefined;
  #timer: { clock: Clock & { clearTimeout(handle: unknown): void }; handle: unknown } | undefined;
  #rollbackError: string | undefined;

  readonly #injected: number[];
  readonly #blocked: number[];
  readonly #detected: number[];
  readonly #passed: number[];
  #outcomes = 0;
  #outcomesPassed = 0;
  /** Calls in scope, failed ones, their cost; while running, `ChaosController` may count untimed calls here. */
  readonly #counts: ChaosCounts = { calls: 0, failed: 0, costUsd: 0, running: false, endsAtMs: 0 };
  readonly #latency = new LatencyHistogram();
  /** Per abort condition on p99: samples above / at-or-above its threshold, for an exact O(1) check. */
  readonly #aboveThreshold: number[];
  readonly #atOrAboveThreshold: number[];
  /** Whether any fault can ever fire (a rate above 0 within a non-empty blast radius). */
  readonly #canInject: boolean;
  /** A p99 abort condition or a baseline p99: every call's duration counts, not a sample (`timesEveryCall`). */
  readonly #needsEveryDuration: boolean;
  /** The agent last checked against the blast radius, and whether it was in it (agents come in runs). */
  #scopeAgent: string | undefined;
  #scopeResult = false;

  constructor(config: ChaosExperimentConfig) {
    if (typeof config !== "object" || config === null)
      throw new ConfigError("experiment", config, "an object");
    this.name = requireNonEmptyString(config.name, "name");
    this.description = config.description;
    this.targetAgent = config.targetAgent ?? "*";
    requireNonEmptyString(this.targetAgent, "targetAgent");
    this.#agentMatches = compileGlob(this.targetAgent);

    const resolved = resolveFaults(config.faults);
    this.faults = resolved.faults;
    this.#faultIndex = resolved.indexById;
    this.#matchers = resolved.matchers;

    this.durationMs = parseDuration(config.durationMs ?? DEFAULT_DURATION_MS, "durationMs");
    const conditions = config.abortConditions ?? [];
    if (!Array.isArray(conditions)) {
      throw new ConfigError("abortConditions", conditions, "an array of abort conditions");
    }
    this.abortConditions = Object.freeze(
      conditions.map((condition, i) => resolveAbortCondition(condition, `abortConditions[${i}]`)),
    );
    this.blastRadius = Object.freeze(resolveBlastRadius(config.blastRadius ?? 1));

    this.#explicitSeed = resolveSeed(config.seed);
    this.#seed = this.#explicitSeed ?? hashString(this.name);

    if (config.baseline !== undefined) {
      // Validates the baseline now rather than at the end of the run.
      calculateResilience(config.baseline, config.baseline);
      this.baseline = Object.freeze({ ...config.baseline });
    }
    if (config.rollback !== undefined && typeof config.rollback !== "function") {
      throw new ConfigError("rollback", config.rollback, "a function");
    }
    this.#rollback = config.rollback;
    this.#clock = config.clock ?? systemClock;
    this.#events = config.events ?? silentSink;

    const n = this.faults.length;
    this.#injected = new Array<number>(n).fill(0);
    this.#blocked = new Array<number>(n).fill(0);
    this.#detected = new Array<number>(n).fill(0);
    this.#passed = new Array<number>(n).fill(0);
    this.#aboveThreshold = new Array<number>(this.abortConditions.length).fill(0);
    this.#atOrAboveThreshold = new Array<number>(this.abortConditions.length).fill(0);
    this.#canInject =
      this.blastRadius.calls > 0 &&
      this.blastRadius.agents > 0 &&
      this.faults.some((fault) => fault.rate > 0);
    this.#needsEveryDuration =
      this.abortConditions.some((condition) => condition.metric === "p99_latency_ms") ||
      (this.baseline?.p99LatencyMs !== undefined && this.baseline.p99LatencyMs !== null);
  }

  /** The resolved RNG seed (a controller's default seed applies at `start()`). */
  get seed(): number {
    return this.#seed;
  }

  /** The current state; a run whose duration is over completes here if nothing else noticed it yet. */
  get state(): ExperimentState {
    if (this.#state === "running") this.#expireIfDue(this.#clock.now());
    return this.#state;
  }

  /** Whether any of its faults can ever fire (a rate above 0 within a non-empty blast radius). */
  get canInject(): boolean {
    return this.#canInject;
  }

  /**
   * @internal Whether the engine times every call for this run: a p99 abort condition or baseline, or its first
   * `EXACT_LATENCY_CALLS` calls in scope; else only the report reads the p99, from a sample (`timesCall`). A run
   * that counts plainly (`plainCounts`) has its exact start timed by the controller's sampler instead (its first
   * `EXACT_LATENCY_CALLS` samples are every call), so that its calls take the plain path from the start.
   */
  get timesEveryCall(): boolean {
    return (
      this.#needsEveryDuration || (this.#counts.calls < EXACT_LATENCY_CALLS && !this.#countsAnyCallPlainly())
    );
  }

  /** Every agent in scope and nothing that reads each call (no abort condition, no p99 to check). */
  #countsAnyCallPlainly(): boolean {
    return (
      this.targetAgent === "*" &&
      this.blastRadius.agents >= 1 &&
      this.abortConditions.length === 0 &&
      !this.#needsEveryDuration
    );
  }

  /** @internal Running, as last noticed (no clock read: `plan` / `observeCall` just checked the expiry). */
  get live(): boolean {
    return this.#state === "running";
  }

  /**
   * @internal The counts a `ChaosController` may count an untimed call of any agent into without calling
   * `observeCall` (same arithmetic, same order): while every agent is in scope and no abort condition or p99
   * check reads each call. Undefined otherwise.
   */
  get plainCounts(): ChaosCounts | undefined {
    return this.#state === "running" && this.#countsAnyCallPlainly() ? this.#counts : undefined;
  }

  get isRunning(): boolean {
    return this.state === "running";
  }

  get startedAt(): number | undefined {
    return this.#startedAtMs;
  }

  get endedAt(): number | undefined {
    return this.#endedAtMs;
  }

  get abortReason(): string | undefined {
    return this.#abortReason;
  }

  /** Starts injecting. A `ChaosController` passes its clock, events and default seed. */
  start(runtime: ChaosRuntime = {}): void {
    if (this.#state !== "pending") {
      throw new InvalidArgumentError("state", this.#state, `"pending" to start experiment "${this.name}"`);
    }
    if (runtime.clock !== undefined) this.#clock = runtime.clock;
    if (runtime.events !== undefined) this.#events = runtime.events;
    if (this.#explicitSeed === undefined && runtime.defaultSeed !== undefined) {
      this.#seed = hashString(this.name, fmix32(runtime.defaultSeed >>> 0));
    }
    this.#rng = mulberry32(this.#seed);
    const now = this.#clock.now();
    const resume = runtime.resume;
    this.#state = resume?.state ?? "running";
    this.#startedAtMs = resume?.startedAt ?? now;
    this.#endsAtMs =
      resume === undefined ? now + this.durationMs : (resume.endsAt ?? Number.POSITIVE_INFINITY);
    if (resume !== undefined) {
      // It ended in an earlier life: its events and rollback happened there.
      this.#endedAtMs = resume.endedAt ?? undefined;
      this.#abortReason = resume.abortReason ?? undefined;
      this.faults.forEach((fault, i) => {
        this.#injected[i] = resume.injected[fault.id] ?? 0;
      });
      this.#counts.calls = resume.calls;
      this.#counts.failed = resume.failedCalls;
      this.#counts.costUsd = resume.costUsd;
      this.abortConditions.forEach((_, i) => {
        this.#aboveThreshold[i] = resume.p99Above[i] ?? 0;
        this.#atOrAboveThreshold[i] = resume.p99AtOrAbove[i] ?? 0;
      });
      this.#outcomes = resume.outcomes;
      this.#outcomesPassed = resume.outcomesPassed;
    }
    this.#counts.endsAtMs = this.#endsAtMs;
    this.#counts.running = this.#state === "running";
    if (this.#state === "running") this.#scheduleExpiry();
  }

  /** The run as plain JSON for a state store; undefined before `start()`. */
  exportRun(): SavedChaosRun | undefined {
    const startedAt = this.#startedAtMs;
    if (startedAt === undefined) return undefined;
    const injected: Record<string, number> = {};
    this.faults.forEach((fault, i) => {
      injected[fault.id] = this.#injected[i]!;
    });
    return {
      version: 1,
      state: this.state as SavedChaosRun["state"],
      startedAt,
      endsAt: this.#endsAtMs === Number.POSITIVE_INFINITY ? null : this.#endsAtMs,
      endedAt: this.#endedAtMs ?? null,
      abortReason: this.#abortReason ?? null,
      injected,
      calls: this.#counts.calls,
      failedCalls: this.#counts.failed,
      costUsd: this.#counts.costUsd,
      p99Above: [...this.#aboveThreshold],
      p99AtOrAbove: [...this.#atOrAboveThreshold],
      outcomes: this.#outcomes,
      outcomesPassed: this.#outcomesPassed,
    };
  }

  /** Ends a running experiment as completed. Returns false if it had already ended. */
  complete(): boolean {
    if (this.#state === "pending") {
      throw new InvalidArgumentError("state", this.#state, `a started experiment to complete "${this.name}"`);
    }
    if (this.#state !== "running") return false;
    const now = this.#clock.now();
    if (this.#expireIfDue(now)) return false;
    this.#end("completed", undefined, now);
    return true;
  }

  /** Stops injecting at once (a pending experiment never starts). Returns false if it had already ended. */
  abort(reason: string): boolean {
    if (this.#state !== "running" && this.#state !== "pending") return false;
    const now = this.#clock.now();
    if (this.#state === "running" && this.#expireIfDue(now)) return false;
    this.#end("aborted", String(reason), now);
    return true;
  }

  /**
   * Decides which faults hit `call` (seeded; rate × blast radius). Returns `undefined` when none do,
   * without allocating. Emits `chaos.fault` per injected fault.
   */
  plan(call: ChaosCall): InjectionPlan | undefined {
    // An experiment whose faults never fire (rate 0: a control run) plans nothing; it still measures.
    if (this.#state !== "running" || !this.#canInject) return undefined;
    const now = this.#clock.now();
    if (this.#expireIfDue(now)) return undefined;
    if (!this.#inScope(call.agentId)) return undefined;
    const callShare = this.blastRadius.calls;
    if (callShare < 1 && this.#rng() >= callShare) return undefined;

    let applications: FaultApplication[] | undefined;
    let terminal: FaultApplication | undefined;
    const faults = this.faults;
    for (let i = 0; i < faults.length; i++) {
      const fault = faults[i]!;
      if (!this.#matchers[i]!.matches(call)) continue;
      const isTerminal = fault.type === "error" || fault.type === "timeout";
      // A call fails at most once: a later error/timeout fault is not drawn once one applies.
      if (isTerminal && terminal !== undefined) continue;
      if (fault.rate < 1 && this.#rng() >= fault.rate) continue;
      const application = applyFault(fault, call, this.name, this.#rng);
      this.#injected[i]!++;
      if (isTerminal) terminal = application;
      else if (applications === undefined) applications = [application];
      else applications.push(application);
      if (this.#events.has("chaos.fault")) {
        this.#events.emit("chaos.fault", {
          at: now,
          experiment: this.name,
          faultId: fault.id,
          faultType: fault.type,
          agentId: call.agentId,
          target: `${call.kind}:${call.name}`,
        });
      }
    }
    if (terminal !== undefined) {
      if (applications === undefined) applications = [terminal];
      else applications.push(terminal);
    }
    return applications === undefined ? undefined : { experiment: this.name, faults: applications };
  }

  /**
   * @internal `observeCall` of a successful free call ended in time, for a run that counts plainly
   * (`plainCounts`): counted, its duration standing for `weight` calls (the controller's latency sample).
   */
  recordPlainSample(durationMs: number, weight: number): void {
    this.#counts.calls++;
    this.#latency.record(durationMs, weight);
  }

  /** Feeds a finished call into the live metrics (if it is in scope) and checks the abort conditions. O(1). */
  observe(observation: CallObservation): void {
    if (this.#state !== "running") return;
    const { durationMs, costUsd } = observation;
    if (typeof durationMs !== "number" || !Number.isFinite(durationMs) || durationMs < 0) {
      throw new InvalidArgumentError("observation.durationMs", durationMs, "a finite number >= 0");
    }
    if (typeof costUsd !== "number" || !Number.isFinite(costUsd) || costUsd < 0) {
      throw new InvalidArgumentError("observation.costUsd", costUsd, "a finite number >= 0");
    }
    this.observeCall(observation.agentId, observation.ok, durationMs, costUsd, this.#clock.now());
  }

  /**
   * @internal `observe()` for the engine (valid values, no observation object). `durationMs` NaN: not timed
   * (`nowMs` is its start); a timed call stands for `weight` calls (a sample for the ones not timed).
   */
  observeCall(
    agentId: string,
    ok: boolean,
    durationMs: number,
    costUsd: number,
    nowMs: number,
    weight = 1,
  ): void {
    if (this.#state !== "running") return;
    if (this.#expireIfDue(nowMs)) return;
    if (agentId !== this.#scopeAgent) {
      this.#scopeAgent = agentId;
      this.#scopeResult = this.#inScope(agentId);
    }
    if (!this.#scopeResult) return;
    const counts = this.#counts;
    counts.calls++;
    if (!ok) counts.failed++;
    counts.costUsd += costUsd;
    const conditions = this.abortConditions;
    // Not timed (NaN): a sampled run, which has no p99 condition to count it for (`timesEveryCall`).
    if (Number.isNaN(durationMs)) {
      if (conditions.length > 0) this.#checkLive();
      return;
    }
    this.#latency.record(durationMs, weight);
    if (conditions.length === 0) return;
    for (let i = 0; i < conditions.length; i++) {
      const condition = conditions[i]!;
      if (condition.metric !== "p99_latency_ms") continue;
      if (durationMs > condition.threshold) this.#aboveThreshold[i]!++;
      if (durationMs >= condition.threshold) this.#atOrAboveThreshold[i]!++;
    }
    this.#checkLive();
  }

  /**
   * Records what the agent's defences did with an injection of adversarial fault `faultId`. Outcomes of
   * calls injected before the run ended still count; `bypass_rate` abort conditions are checked.
   */
  reportAdversarialOutcome(faultId: string, outcome: AdversarialOutcome): void {
    requireOneOf(outcome, ADVERSARIAL_OUTCOMES, "outcome");
    const index = this.#faultIndex.get(faultId);
    if (index === undefined) {
      throw new InvalidArgumentError("faultId", faultId, `a fault of experiment "${this.name}"`);
    }
    if (!isAdversarialFault(this.faults[index]!)) {
      throw new InvalidArgumentError(
        "faultId",
        faultId,
        "an adversarial fault (prompt-injection, privilege-escalation, tool-abuse)",
      );
    }
    if (this.#state === "pending") {
      throw new InvalidArgumentError("state", this.#state, `a started experiment "${this.name}"`);
    }
    if (outcome === "blocked") this.#blocked[index]!++;
    else if (outcome === "detected") this.#detected[index]!++;
    else {
      this.#passed[index]!++;
      this.#outcomesPassed++;
    }
    this.#outcomes++;
    if (this.#state === "running" && !this.#expireIfDue(this.#clock.now())) this.#checkLive();
  }

  /**
   * Checks the abort conditions against metrics measured elsewhere (missing metrics are skipped) and
   * aborts on the first that holds. Returns whether it aborted.
   */
  checkAbort(metrics: ChaosMetrics): boolean {
    if (this.state !== "running") return false;
    const reason = firstHolding(this.abortConditions, metrics);
    return reason !== undefined && this.abort(`abort condition met: ${reason}`);
  }

  /** The metrics measured so far (a metric without samples is absent). */
  liveMetrics(): ChaosMetrics {
    return liveChaosMetrics(this.#counts, this.#latency.quantile(0.99), this.#outcomes, this.#outcomesPassed);
  }

  /** Resilience of the observed run against `baseline` (default: the configured one); undefined without data. */
  resilienceScore(baseline: ResilienceSample | undefined = this.baseline): number | undefined {
    if (baseline === undefined || this.#counts.calls === 0) return undefined;
    return calculateResilience(baseline, {
      successRate: (this.#counts.calls - this.#counts.failed) / this.#counts.calls,
      p99LatencyMs: this.#latency.quantile(0.99),
    });
  }

  /** A JSON-serializable journal of the run. */
  report(): ChaosExperimentReport {
    return chaosReport(this.state, {
      name: this.name,
      description: this.description,
      targetAgent: this.targetAgent,
      seed: this.#seed,
      blastRadius: this.blastRadius,
      durationMs: this.durationMs,
      faults: this.faults,
      faultCounts: {
        injected: this.#injected,
        blocked: this.#blocked,
        detected: this.#detected,
        passed: this.#passed,
      },
      startedAtMs: this.#startedAtMs,
      endedAtMs: this.#endedAtMs,
      endsAtMs: this.#endsAtMs,
      counts: this.#counts,
      p99LatencyMs: this.#latency.quantile(0.99),
      abortReason: this.#abortReason,
      outcomes: this.#outcomes,
      outcomesPassed: this.#outcomesPassed,
      resilienceScore: this.resilienceScore(),
      rollbackError: this.#rollbackError,
    });
  }

  /** Whether calls of `agentId` are in the experiment: it matches `targetAgent` and is in the agent share. */
  inScope(agentId: string): boolean {
    return this.#inScope(agentId);
  }

  #inScope(agentId: string): boolean {
    if (!this.#agentMatches(agentId)) return false;
    const agentShare = this.blastRadius.agents;
    return agentShare >= 1 || seededUnit(this.#seed, agentId) < agentShare;
  }

  /** Evaluates the abort conditions against the live metrics (each needs its `minSamples`). */
  #checkLive(): void {
    const conditions = this.abortConditions;
    for (let i = 0; i < conditions.length; i++) {
      const condition = conditions[i]!;
      const samples = condition.metric === "bypass_rate" ? this.#outcomes : this.#counts.calls;
      if (samples === 0 || samples < condition.minSamples) continue;
      if (!this.#holds(condition, i)) continue;
      this.abort(`abort condition met: ${describeAbort(condition, this.#metricValue(condition.metric))}`);
      return;
    }
  }

  #holds(condition: ResolvedAbortCondition, index: number): boolean {
    if (condition.metric !== "p99_latency_ms") {
      return compareMetric(this.#metricValue(condition.metric), condition.comparator, condition.threshold);
    }
    return p99Holds(
      condition.comparator,
      this.#counts.calls,
      this.#aboveThreshold[index]!,
      this.#atOrAboveThreshold[index]!,
    );
  }

  #metricValue(metric: ChaosMetric): number {
    return metricValue(metric, this.#counts, this.#latency, this.#outcomesPassed, this.#outcomes);
  }

  /** Completes the run if its duration is over; returns whether it has (now or before) ended that way. */
  #expireIfDue(now: number): boolean {
    if (this.#state !== "running" || now < this.#endsAtMs) return false;
    this.#end("completed", undefined, this.#endsAtMs);
    return true;
  }

  #scheduleExpiry(): void {
    const clock = this.#clock as Partial<Clock & { setTimeout: Function; clearTimeout: Function }>;
    if (typeof clock.setTimeout !== "function" || typeof clock.clearTimeout !== "function") return;
    if (this.#endsAtMs === Number.POSITIVE_INFINITY) return;
    const handle: unknown = clock.setTimeout(
      () => {
        this.#timer = undefined;
        if (this.#state === "running") this.#end("completed", undefined, this.#endsAtMs);
      },
      Math.max(0, this.#endsAtMs - this.#clock.now()),
    );
    // One timer per experiment (not per call); it must not keep a Node process alive.
    const unref = (handle as { unref?: unknown } | null)?.unref;
    if (typeof unref === "function") unref.call(handle);
    this.#timer = { clock: clock as Clock & { clearTimeout(handle: unknown): void }, handle };
  }

  #end(state: "completed" | "aborted", reason: string | undefined, at: number): void {
    this.#state = state;
    this.#counts.running = false;
    this.#endedAtMs = at;
    this.#abortReason = reason;
    if (this.#timer !== undefined) {
      this.#timer.clock.clearTimeout(this.#timer.handle);
      this.#timer = undefined;
    }
    if (state === "aborted") {
      if (this.#events.has("chaos.abort")) {
        this.#events.emit("chaos.abort", { at, experiment: this.name, reason: reason ?? "aborted" });
      }
    } else if (this.#events.has("chaos.complete")) {
      this.#events.emit("chaos.complete", {
        at,
        experiment: this.name,
        resilienceScore: this.resilienceScore(),
      });
    }
    this.#runRollback();
  }

  #runRollback(): void {
    const rollback = this.#rollback;
    if (rollback === undefined) return;
    const record = (error: unknown) => {
      this.#rollbackError = error instanceof Error ? error.message : String(error);
    };
    try {
      const result = rollback(this.report());
      if (result !== undefined && typeof (result as Promise<void>).then === "function") {
        (result as Promise<void>).then(undefined, record);
      }
    } catch (error) {
      record(error);
    }
  }
}
