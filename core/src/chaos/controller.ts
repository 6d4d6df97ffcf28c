import { type Clock, systemClock } from "../clock.js";
import { InvalidArgumentError } from "../errors.js";
import { type EventSink, silentSink } from "../events.js";
import { STATE_KINDS, type StateStore, type StateValue } from "../store/state-store.js";
import type { CallObservation } from "../types.js";
import { requirePositiveInteger } from "../validate.js";
import { ChaosExperiment, EXACT_LATENCY_CALLS } from "./experiment.js";
import type {
  AdversarialOutcome,
  ChaosCall,
  ChaosCounts,
  ChaosExperimentConfig,
  ChaosExperimentReport,
  InjectionPlan,
  SavedChaosRun,
} from "./experiment-types.js";
import { hashString, mulberry32, type Rng } from "./rng.js";

/**
 * Past their exact start (`ChaosExperiment.timesEveryCall`), runs that only report a p99 get the duration of
 * one call in this many (each call independently, at random), recorded as that many calls: reading the
 * clock at the end of every call would cost more than the rest of a running experiment together (a clock
 * read is ~80 ns on a VM).
 */
export const LATENCY_SAMPLE_EVERY = 16;
/**
 * After this many samples at one rate the rate halves (one call in 32, then 64, …, down to one in
 * `LATENCY_SAMPLE_EVERY_MAX`): every doubling of a run's calls still brings this many durations, so a long
 * run's p99 comes from thousands of samples while its clock reads fall to a few per thousand calls. Each
 * sample stands for the calls of its own rate (an unbiased weight: the rate a call was sampled at is known).
 */
export const LATENCY_SAMPLES_PER_RATE = 1_024;
export const LATENCY_SAMPLE_EVERY_MAX = 1_024;

/**
 * The `tally` while no run counts plainly: never running, so the engine calls `observeCall`. Not frozen, the
 * same fields in the same order as an experiment's counts: the engine's loads of either meet one shape.
 */
const NO_TALLY: ChaosCounts = {
  calls: 0,
  failed: 0,
  costUsd: 0,
  running: false,
  endsAtMs: Number.NEGATIVE_INFINITY,
};

export interface ChaosControllerOptions {
  clock?: Clock;
  events?: EventSink;
  /** Default seed for experiments without their own (mixed with each experiment's name). */
  seed?: number;
  /** Ended experiments kept for `get()` and late adversarial outcomes (default 100). */
  historyLimit?: number;
  /**
   * Where each run is kept (the engine's `store`, kind `chaos`): written when it starts and ends and by
   * `saveAll()` (`sre.flush()`), dropped at its deadline. Starting an experiment this process has not run yet
   * resumes a saved run of that name still within its deadline — same start, deadline and counts — or returns
   * it ended: a restart neither loses an abort nor re-runs an experiment. On a shared store an abort in one
   * process aborts the run in every process that runs it.
   */
  state?: StateStore;
}

/**
 * Holds the running experiments for the engine. With none running, `hasActive` is false and the engine
 * skips chaos entirely; with some, `plan()` and `observe()` cost O(experiments × faults).
 */
export class ChaosController {
  readonly #clock: Clock;
  readonly #events: EventSink;
  readonly #seed: number | undefined;
  readonly #historyLimit: number;
  /** Running experiments, in start order. Ended ones are dropped lazily. */
  #active: ChaosExperiment[] = [];
  #mayInject = false;
  /** Whether a running experiment needs every call's duration (`ChaosExperiment.timesEveryCall`). */
  #timesAll = false;
  /** Calls until the next sampled duration (when none needs them all), and the weight of the one pending. */
  #untilSample = 1;
  #sampleWeight = 1;
  /** The rate (one call in this many) the pending gap was drawn at: the weight of the sample it ends on. */
  #gapEvery = LATENCY_SAMPLE_EVERY;
  /** The rate of the next gaps, how many samples it has given, and its log for the geometric draw. */
  #every = LATENCY_SAMPLE_EVERY;
  #samplesAtEvery = 0;
  #logUnsampled = Math.log(1 - 1 / LATENCY_SAMPLE_EVERY);
  readonly #sampleRng: Rng;
  /** The only running experiment's counts while it counts plainly (`ChaosExperiment.plainCounts`). */
  #sole: ChaosCounts | undefined = undefined;
  /** The experiment `#sole` is the counts of. */
  #soleRun: ChaosExperiment | undefined = undefined;
  /** `#sole`, or counts that take no call (`tally`). */
  #tally: ChaosCounts = NO_TALLY;
  /** Every started experiment by name (running first, then the most recent ended ones). */
  readonly #byName = new Map<string, ChaosExperiment>();
  readonly #state: StateStore | undefined;
  /** The sink experiments get: the engine's, plus writing each run's end to the state store. */
  readonly #runEvents: EventSink;

  constructor(options: ChaosControllerOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#events = options.events ?? silentSink;
    this.#state = options.state;
    this.#runEvents = this.#events;
    if (this.#state !== undefined) {
      const events = this.#events;
      this.#runEvents = {
        has: (name) => name === "chaos.abort" || name === "chaos.complete" || events.has(name),
        emit: (name, payload) => {
          if (name === "chaos.abort" || name === "chaos.complete") {
            const experiment = this.#byName.get((payload as { experiment: string }).experiment);
            if (experiment !== undefined) this.#save(experiment);
          }
          if (events.has(name)) events.emit(name, payload);
        },
      };
      this.#state.subscribe((change) => {
        if (change.kind !== STATE_KINDS.chaos || change.value?.state !== "aborted") return;
        // Aborted in another process of the fleet: stop injecting here too.
        const reason = change.value.abortReason;
        this.abort(change.id, typeof reason === "string" ? reason : "aborted in another process");
      });
    }
    if (options.seed !== undefined && !Number.isInteger(options.seed)) {
      throw new InvalidArgumentError("seed", options.seed, "an integer");
    }
    this.#seed = options.seed;
    this.#sampleRng = mulberry32(hashString("latency samples", options.seed ?? 0));
    this.#historyLimit = requirePositiveInteger(options.historyLimit ?? 100, "historyLimit");
  }

  /** Whether any experiment may be running (a fast check for the engine's hot path). */
  get hasActive(): boolean {
    return this.#active.length > 0;
  }

  /**
   * @internal Where the engine counts an untimed call (`observeCall` with a NaN duration) itself, without
   * calling `observeCall`, while `running` and the call started before `endsAtMs`: the only running
   * experiment's counts while it counts plainly (`ChaosExperiment.plainCounts`; the same additions as its
   * `observeCall`), else counts that never take a call. A getter small enough for V8 to inline anywhere.
   */
  get tally(): ChaosCounts {
    return this.#tally;
  }

  /**
   * @internal For the engine's plain settlement of a call (a free tool call that succeeded, which nothing else
   * times or observes; it started at `startedAtMs`): when the only running experiment counts plainly, the call
   * started before its end and is not the one to time (`timesCall`), counts it untimed, as `timesCall` and
   * `observeCall` would, and returns true; else counts nothing and returns false (the full settlement then
   * asks `timesCall` and counts it).
   */
  countsPlainly(startedAtMs: number): boolean {
    const tally = this.#tally;
    if (!tally.running || !(startedAtMs < tally.endsAtMs) || this.#timesAll) return false;
    if (this.#untilSample <= 1) return this.#timesPlainly(startedAtMs, tally);
    this.#untilSample--;
    tally.calls++;
    return true;
  }

  /**
   * `countsPlainly` for the sampled call: its end time read here, recorded as `observeCall` records a timed
   * call of a plain run (counted, its duration standing for the calls of its rate), so that it too
   * settles on the plain path instead of the full one (which cost the untimed calls ~10 ns each on average).
   * A call that ended past the run's end is left to the full settlement (which ends the run).
   */
  #timesPlainly(startedAtMs: number, tally: ChaosCounts): boolean {
    const endedAtMs = this.#clock.now();
    const run = this.#soleRun;
    if (!(endedAtMs < tally.endsAtMs) || run === undefined) return false;
    this.#sample();
    const weight = this.#sampleWeight;
    this.#sampleWeight = 1;
    run.recordPlainSample(endedAtMs - startedAtMs, weight);
    return true;
  }

  /** Whether a running experiment can inject anything (one at rate 0 only measures: nothing to plan). */
  get mayInject(): boolean {
    return this.#mayInject;
  }

  /**
   * @internal For the engine, on a call whose end time nothing else reads: whether to read it for the
   * running experiments (pass the duration to `observeCall`; NaN when not read). Every call while one of
   * them needs every duration, else a random one call in `LATENCY_SAMPLE_EVERY` on average (fewer as the
   * samples add up: `LATENCY_SAMPLES_PER_RATE`).
   */
  timesCall(): boolean {
    // Small enough for V8 to inline it into the engine's settle whatever its inlining budget has left.
    return this.#timesAll || (--this.#untilSample <= 0 && this.#sample());
  }

  /** A sampled call (`timesCall`): draws the gap to the next one. */
  #sample(): boolean {
    // Geometric gaps: each call is sampled with probability 1 / every, so no period in the calls lines up
    // with the samples, and a sampled call stands for the `every` calls of the gap that ends on it.
    this.#sampleWeight = this.#gapEvery;
    const every = this.#every;
    if (every === 1) {
      // A plain run's exact start (`ChaosExperiment.timesEveryCall`): every call, then one in 16.
      if (++this.#samplesAtEvery >= EXACT_LATENCY_CALLS) this.#setRate(LATENCY_SAMPLE_EVERY);
    } else if (++this.#samplesAtEvery >= LATENCY_SAMPLES_PER_RATE && every < LATENCY_SAMPLE_EVERY_MAX) {
      this.#setRate(every * 2);
    }
    this.#gapEvery = this.#every;
    this.#untilSample =
      this.#every === 1 ? 1 : 1 + Math.floor(Math.log(1 - this.#sampleRng()) / this.#logUnsampled);
    return true;
  }

  #setRate(every: number): void {
    this.#every = every;
    this.#samplesAtEvery = 0;
    this.#logUnsampled = Math.log(1 - 1 / every);
  }

  /**
   * A run starting: its durations begin at the highest rate (the gap under way keeps its own). A run that counts
   * plainly has its exact start timed here (every call for `EXACT_LATENCY_CALLS` samples); another run's
   * start does not cut one short.
   */
  #resetSampleRate(exactStart: boolean): void {
    if (exactStart) this.#setRate(1);
    else if (this.#every !== 1) this.#setRate(LATENCY_SAMPLE_EVERY);
  }

  /** Starts an experiment (or builds one from a config) with this controller's clock, events and seed. */
  start(experiment: ChaosExperiment | ChaosExperimentConfig): ChaosExperiment {
    const instance = experiment instanceof ChaosExperiment ? experiment : new ChaosExperiment(experiment);
    this.#sweep();
    if (this.#active.some((running) => running.name === instance.name)) {
      throw new InvalidArgumentError("name", instance.name, "a name no running experiment uses");
    }
    // A run this process has not made (an earlier life's, or another process's) resumes; a new start of one
    // it made itself is a new run.
    const resume = this.#byName.has(instance.name) ? undefined : this.#savedRun(instance.name);
    this.#byName.delete(instance.name);
    this.#byName.set(instance.name, instance);
    instance.start({
      clock: this.#clock,
      events: this.#runEvents,
      ...(this.#seed === undefined ? {} : { defaultSeed: this.#seed }),
      ...(resume === undefined ? {} : { resume }),
    });
    if (instance.state === "running") {
      this.#resetSampleRate(instance.plainCounts !== undefined);
      // An exact start times the next call (standing for itself), else the gap under way goes on.
      if (this.#every === 1) {
        this.#untilSample = 1;
        this.#gapEvery = 1;
      }
      this.#active.push(instance);
      this.#setSole(this.#active.length === 1 ? instance : undefined);
      if (instance.canInject) this.#mayInject = true;
      if (instance.timesEveryCall) this.#timesAll = true;
      if (resume === undefined) this.#save(instance);
    }
    this.#trimHistory();
    return instance;
  }

  /** Writes every running experiment's counts to the state store (e.g. before a planned shutdown). */
  saveAll(): void {
    for (const experiment of this.#active) if (experiment.live) this.#save(experiment);
  }

  #save(experiment: ChaosExperiment): void {
    const run = experiment.exportRun();
    if (this.#state === undefined || run === undefined) return;
    const expiresAtMs = run.endsAt ?? Number.POSITIVE_INFINITY;
    this.#state.putState(STATE_KINDS.chaos, experiment.name, run as unknown as StateValue, expiresAtMs);
  }

  /** A saved run of `name` still within its deadline, or undefined (none, malformed, or over). */
  #savedRun(name: string): SavedChaosRun | undefined {
    const saved = this.#state?.getState(STATE_KINDS.chaos, name) as Partial<SavedChaosRun> | undefined;
    if (saved === undefined || saved.version !== 1) return undefined;
    if (saved.state !== "running" && saved.state !== "completed" && saved.state !== "aborted")
      return undefined;
    const numbers = [
      saved.startedAt,
      saved.calls,
      saved.failedCalls,
      saved.costUsd,
      saved.outcomes,
      saved.outcomesPassed,
    ];
    if (!numbers.every((n) => typeof n === "number" && Number.isFinite(n) && n >= 0)) return undefined;
    if (typeof saved.injected !== "object" || saved.injected === null) return undefined;
    if (!Array.isArray(saved.p99Above) || !Array.isArray(saved.p99AtOrAbove)) return undefined;
    const endsAt = saved.endsAt;
    if (endsAt !== null && !(typeof endsAt === "number" && endsAt > this.#clock.now())) return undefined;
    return saved as SavedChaosRun;
  }

  /** Completes a running experiment now; returns its report, or undefined if no experiment has that name. */
  stop(name: string): ChaosExperimentReport | undefined {
    const experiment = this.#byName.get(name);
    if (experiment === undefined) return undefined;
    if (experiment.state === "running") experiment.complete();
    this.#sweep();
    return experiment.report();
  }

  /** Aborts a running experiment; returns whether one was aborted. */
  abort(name: string, reason: string): boolean {
    const aborted = this.#byName.get(name)?.abort(reason) ?? false;
    this.#sweep();
    return aborted;
  }

  /** The running experiments (expired ones complete here). */
  active(): ChaosExperiment[] {
    this.#sweep();
    return [...this.#active];
  }

  /** A running or recently ended experiment. */
  get(name: string): ChaosExperiment | undefined {
    return this.#byName.get(name);
  }

  /**
   * Which faults apply to this call. A call is injected by at most one experiment: the first (in start
   * order) that plans anything for it.
   */
  plan(call: ChaosCall): InjectionPlan | undefined {
    const active = this.#active;
    let ended = false;
    for (let i = 0; i < active.length; i++) {
      const experiment = active[i]!;
      const plan = experiment.plan(call);
      if (plan !== undefined) return plan;
      if (!experiment.live) ended = true;
    }
    if (ended) this.#sweep();
    return undefined;
  }

  /** Feeds a finished call to every running experiment that has it in scope; they check their abort conditions. */
  observe(observation: CallObservation): void {
    const active = this.#active;
    let ended = false;
    for (let i = 0; i < active.length; i++) {
      const experiment = active[i]!;
      experiment.observe(observation);
      if (experiment.state !== "running") ended = true;
    }
    if (ended) this.#sweep();
  }

  /**
   * @internal `observe()` for the engine: valid values, no observation object. `durationMs` is NaN for a
   * call it did not time (`timesCall`), and `nowMs` then the time the call started.
   */
  observeCall(agentId: string, ok: boolean, durationMs: number, costUsd: number, nowMs: number): void {
    // The usual call of a plain run: counted straight into its counts (what its `observeCall` would do).
    const sole = this.#sole;
    if (sole?.running && nowMs < sole.endsAtMs && Number.isNaN(durationMs)) {
      sole.calls++;
      if (!ok) sole.failed++;
      sole.costUsd += costUsd;
      return;
    }
    const active = this.#active;
    const weight = this.#sampleWeight;
    const timedAll = this.#timesAll;
    this.#sampleWeight = 1;
    let ended = false;
    let timesAll = false;
    for (let i = 0; i < active.length; i++) {
      const experiment = active[i]!;
      experiment.observeCall(agentId, ok, durationMs, costUsd, nowMs, weight);
      if (!experiment.live) ended = true;
      // Once no run times every call, none will until one starts (`start`): the getter is not read.
      else if (timedAll && experiment.timesEveryCall) timesAll = true;
    }
    this.#timesAll = timesAll;
    if (ended) this.#sweep();
    // Past its exact start, the only run may count plainly (`plainCounts`: nothing else changes that).
    else if (timedAll && !timesAll && active.length === 1) this.#setSole(active[0]!);
  }

  /**
   * Records what the defences did with an adversarial injection. Returns false if the experiment is
   * unknown (e.g. dropped from the history); throws for an unknown fault or outcome.
   */
  reportAdversarialOutcome(experiment: string, faultId: string, outcome: AdversarialOutcome): boolean {
    const instance = this.#byName.get(experiment);
    if (instance === undefined) return false;
    instance.reportAdversarialOutcome(faultId, outcome);
    if (instance.state !== "running") this.#sweep();
    return true;
  }

  /** Reports of the running and recently ended experiments. */
  reports(): ChaosExperimentReport[] {
    this.#sweep();
    return [...this.#byName.values()].map((experiment) => experiment.report());
  }

  #sweep(): void {
    if (this.#active.every((experiment) => experiment.state === "running")) return;
    this.#active = this.#active.filter((experiment) => experiment.state === "running");
    this.#setSole(this.#active.length === 1 ? this.#active[0]! : undefined);
    this.#mayInject = this.#active.some((experiment) => experiment.canInject);
    this.#timesAll = this.#active.some((experiment) => experiment.timesEveryCall);
  }

  /** The only running experiment (or none): its counts count plainly while it allows it (`plainCounts`). */
  #setSole(run: ChaosExperiment | undefined): void {
    const counts = run?.plainCounts;
    this.#sole = counts;
    this.#soleRun = counts === undefined ? undefined : run;
    this.#tally = counts ?? NO_TALLY;
  }

  #trimHistory(): void {
    if (this.#byName.size <= this.#historyLimit + this.#active.length) return;
    for (const [name, experiment] of this.#byName) {
      if (this.#byName.size <= this.#historyLimit + this.#active.length) break;
      if (experiment.state !== "running") this.#byName.delete(name);
    }
  }
}
