import type { Clock } from "../clock.js";
import { type Duration, parseDuration } from "../duration.js";
import { ConfigError } from "../errors.js";
import type { EventSink } from "../events.js";
import { RISK_LEVELS, type RiskLevel } from "../rogue/risk.js";
import type { StateStore } from "../store/state-store.js";

/** One side of a rollout: an opaque id the application maps to its own code, and optionally a model. */
export interface Variant {
  id: string;
  /** The model this variant calls; adapters route to it, and observations are attributed by it. */
  model?: string;
}

/** A canary step: the candidate's share of new tasks, held until its duration and/or task count pass. */
export interface CanaryStep {
  /** Candidate share of new tasks, in percent (0, 100]. The last step must be 100. */
  percent: number;
  /** Minimum time at this step before promotion. */
  holdMs?: Duration;
  /** Minimum number of candidate tasks seen at this step before promotion. */
  holdTasks?: number;
}

export interface CanaryStrategy {
  type: "canary";
  steps: CanaryStep[];
}

/** Blue-green: a validation phase on a sampled share of tasks, then all new tasks switch at once. */
export interface BlueGreenStrategy {
  type: "blueGreen";
  /** Share of tasks sampled onto the candidate while it is validated (percent, default 10). */
  validationPercent?: number;
  validateForMs?: Duration;
  validateForTasks?: number;
}

export type RolloutStrategy = CanaryStrategy | BlueGreenStrategy;

/** A user-supplied metric (e.g. an eval score) compared between variants by mean. */
export interface MetricGate {
  direction: "higherIsBetter" | "lowerIsBetter";
  /** Allowed relative regression of the candidate's mean against the baseline's (0.05 = 5 %). */
  tolerance: number;
  /** Samples per variant needed before the metric counts (default: analysis.minCalls). */
  minSamples?: number;
}

export interface RolloutAnalysisOptions {
  /** Calls per variant at a step before any decision (default 20). */
  minCalls?: number;
  /** Tasks per variant at a step before cost per task is judged (default 5). */
  minTasks?: number;
  /**
   * Fisher's exact test on failures (one-sided, candidate worse) at level `alpha` (default 0.05), rolled
   * back only when the candidate's error rate also exceeds the baseline's by more than `tolerance`
   * (absolute, default 0) and it failed at least `minFailures` times (default 3: one unlucky call against
   * a clean baseline is "significant" but not a reason to abort); `false` disables.
   */
  errorRate?: { alpha?: number; tolerance?: number; minFailures?: number } | false;
  /** Candidate p99 may exceed the baseline's by this ratio (default 0.2); `false` disables. */
  latencyP99?: { tolerance?: number } | false;
  /** Candidate mean cost per task may exceed the baseline's by this ratio (default 0.2); `false` disables. */
  costPerTask?: { tolerance?: number } | false;
  metrics?: Record<string, MetricGate>;
  /**
   * Behavioural refusals (`LOOP_DETECTED`, `TOOL_NOT_ALLOWED`, `BUDGET_EXCEEDED`, `TOKEN_LIMIT_EXCEEDED`) in
   * the variant's tasks, against its calls: Fisher's exact test at `alpha` (default 0.05), at least
   * `minRefusals` (default 3) on the candidate; `false` disables.
   */
  refusals?: { alpha?: number; minRefusals?: number } | false;
  /**
   * Rogue-risk assessments at `minLevel` or above (default `"HIGH"`) of agents running only the variant
   * since their previous assessment (with `stickyBy: "agent"`, every agent on it): rolled
   * back once the candidate has `minFlags` (default 1) and a higher rate per call than the baseline — a
   * rogue assessment is rare enough to be a signal on its own; `false` disables.
   */
  rogue?: { minLevel?: RiskLevel; minFlags?: number } | false;
}

export interface RolloutOptions {
  id: string;
  baseline: Variant;
  candidate: Variant;
  strategy: RolloutStrategy;
  analysis?: RolloutAnalysisOptions;
  /** Seed of the sticky assignment hash (default: the rollout id). */
  seed?: number | string;
  clock?: Clock;
  events?: EventSink;
  /** Blocks promotion while true: pass `() => sre.deploymentsFrozen`. */
  isFrozen?: () => boolean;
  /** Automatic analysis runs at most this often on assign/observe (default 1000 ms); `evaluate()` always runs. */
  evaluationIntervalMs?: Duration;
  /** How long an idle task keeps its variant across promotions (default 1 h). */
  stickyTtlMs?: Duration;
  /** Most task keys remembered for stickiness across promotions (default 10 000). */
  maxStickyKeys?: number;
  /** Latency samples kept per variant per step (reservoir, default 2048). */
  maxLatencySamples?: number;
  /** Distinct tasks tracked per variant per step for cost per task (default 10 000). */
  maxTasksPerStep?: number;
  /** Only these agents' calls are routed by a `Delivery` (default: every agent). */
  agents?: string[];
  /**
   * What keeps its variant: `"task"` (default: the call's task, or its agent when it names none) or
   * `"agent"` (every task of an agent on one side).
   */
  stickyBy?: "task" | "agent";
  /**
   * Shadow traffic: this share (percent, default 0) of the baseline's calls is also sent to the candidate by
   * the adapter; the mirrored result is discarded, its outcome feeds the candidate's analysis and its cost
   * is counted apart from the caller's budget.
   */
  mirrorPercent?: number;
  /**
   * Where the state, step, seed and decisions are kept so they survive a restart (a `Delivery` passes the
   * engine's store). Written on transitions only. A shared store (Redis) carries a rollback to every process.
   */
  store?: StateStore;
}

export interface ResolvedStep {
  percent: number;
  /** Bucket threshold in [0, 10000]: buckets below it get the candidate. */
  threshold: number;
  holdMs: number | undefined;
  holdTasks: number | undefined;
}

export interface ResolvedRolloutOptions {
  id: string;
  baseline: Variant;
  candidate: Variant;
  strategyType: "canary" | "blueGreen";
  steps: ResolvedStep[];
  minCalls: number;
  minTasks: number;
  errorRate: { alpha: number; tolerance: number; minFailures: number } | undefined;
  latencyP99: { tolerance: number } | undefined;
  costPerTask: { tolerance: number } | undefined;
  metrics: Map<string, { higherIsBetter: boolean; tolerance: number; minSamples: number }>;
  seed: number | string;
  clock: Clock | undefined;
  events: EventSink | undefined;
  isFrozen: () => boolean;
  evaluationIntervalMs: number;
  stickyTtlMs: number;
  maxStickyKeys: number;
  maxLatencySamples: number;
  maxTasksPerStep: number;
  refusals: { alpha: number; minRefusals: number } | undefined;
  rogue: { minLevel: RiskLevel; minFlags: number } | undefined;
  agents: ReadonlySet<string> | undefined;
  stickyBy: "task" | "agent";
  mirrorPercent: number;
  store: StateStore | undefined;
}

export interface ConfigProblem {
  path: string;
  value: unknown;
  expected: string;
}

/** Every problem of a rollout config at once; `field`/`value` name the first, `problems` lists them all. */
export class RolloutConfigError extends ConfigError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const first = problems[0] as ConfigProblem;
    super(first.path, first.value, first.expected);
    this.problems = problems;
    if (problems.length > 1) {
      this.message = `${problems.length} problems in rollout config:\n${problems
        .map((p) => `  - ${new ConfigError(p.path, p.value, p.expected).message}`)
        .join("\n")}`;
    }
  }
}

const OPTION_KEYS = new Set([
  "id",
  "baseline",
  "candidate",
  "strategy",
  "analysis",
  "seed",
  "clock",
  "events",
  "isFrozen",
  "evaluationIntervalMs",
  "stickyTtlMs",
  "maxStickyKeys",
  "maxLatencySamples",
  "maxTasksPerStep",
  "agents",
  "stickyBy",
  "mirrorPercent",
  "store",
]);
const VARIANT_KEYS = new Set(["id", "model"]);
const CANARY_KEYS = new Set(["type", "steps"]);
const STEP_KEYS = new Set(["percent", "holdMs", "holdTasks"]);
const BLUE_GREEN_KEYS = new Set(["type", "validationPercent", "validateForMs", "validateForTasks"]);
const ANALYSIS_KEYS = new Set([
  "minCalls",
  "minTasks",
  "errorRate",
  "latencyP99",
  "costPerTask",
  "metrics",
  "refusals",
  "rogue",
]);
const METRIC_KEYS = new Set(["direction", "tolerance", "minSamples"]);

/** Collects problems instead of throwing at the first, so a config is fixed in one pass. */
class Checker {
  readonly problems: ConfigProblem[] = [];

  fail(path: string, value: unknown, expected: string): undefined {
    this.problems.push({ path, value, expected });
    return undefined;
  }

  record(value: unknown, path: string, known: ReadonlySet<string>): Record<string, unknown> | undefined {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return this.fail(path, value, "an object");
    }
    const raw = value as Record<string, unknown>;
    for (const key of Object.keys(raw)) {
      if (!known.has(key)) this.fail(join(path, key), raw[key], `a known option (${[...known].join(", ")})`);
    }
    return raw;
  }

  string(value: unknown, path: string): string | undefined {
    if (typeof value === "string" && value.length > 0) return value;
    return this.fail(path, value, "a non-empty string");
  }

  number(value: unknown, path: string, test: (n: number) => boolean, expected: string): number | undefined {
    if (typeof value === "number" && Number.isFinite(value) && test(value)) return value;
    return this.fail(path, value, expected);
  }

  /** Ms, or a string such as `"30m"` (configs are often JSON). */
  duration(value: unknown, path: string, allowZero: boolean): number | undefined {
    try {
      return parseDuration(value as Duration, path, { allowZero });
    } catch {
      return this.fail(
        path,
        value,
        allowZero ? 'a duration >= 0 (ms, or "30s", "5m")' : 'a duration > 0 (ms, or "30s", "5m")',
      );
    }
  }

  optional<T>(value: unknown, fallback: T, read: (v: unknown) => T | undefined): T | undefined {
    return value === undefined ? fallback : read(value);
  }
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

const isPositiveInteger = (n: number) => Number.isInteger(n) && n > 0;
const isNonNegative = (n: number) => n >= 0;

/** Validates rollout options; throws one `RolloutConfigError` (a `ConfigError`) listing every problem. */
export function resolveRolloutOptions(options: unknown): ResolvedRolloutOptions {
  const c = new Checker();
  const raw = c.record(options, "", OPTION_KEYS) ?? {};
  const id = c.string(raw.id, "id");
  const baseline = readVariant(c, raw.baseline, "baseline");
  const candidate = readVariant(c, raw.candidate, "candidate");
  if (baseline && candidate && baseline.id === candidate.id) {
    c.fail("candidate.id", candidate.id, "an id different from baseline.id");
  }
  const strategy = readStrategy(c, raw.strategy);
  const analysis = readAnalysis(c, raw.analysis);
  const seed =
    raw.seed === undefined
      ? (id ?? "")
      : typeof raw.seed === "string" || (typeof raw.seed === "number" && Number.isFinite(raw.seed))
        ? raw.seed
        : (c.fail("seed", raw.seed, "a string or a finite number") ?? "");
  const clock = raw.clock as Clock | undefined;
  if (clock !== undefined && typeof (clock as Partial<Clock>).now !== "function") {
    c.fail("clock", clock, "a Clock with now()");
  }
  const events = raw.events as EventSink | undefined;
  if (
    events !== undefined &&
    (typeof (events as Partial<EventSink>).emit !== "function" ||
      typeof (events as Partial<EventSink>).has !== "function")
  ) {
    c.fail("events", events, "an EventSink with emit() and has()");
  }
  if (raw.isFrozen !== undefined && typeof raw.isFrozen !== "function") {
    c.fail("isFrozen", raw.isFrozen, "a function returning boolean");
  }
  const evaluationIntervalMs = c.optional(raw.evaluationIntervalMs, 1000, (v) =>
    c.duration(v, "evaluationIntervalMs", true),
  );
  const stickyTtlMs = c.optional(raw.stickyTtlMs, 3_600_000, (v) => c.duration(v, "stickyTtlMs", false));
  const intOption = (key: string, fallback: number) =>
    c.optional(raw[key], fallback, (v) => c.number(v, key, isPositiveInteger, "an integer > 0"));
  const maxStickyKeys = intOption("maxStickyKeys", 10_000);
  const maxLatencySamples = intOption("maxLatencySamples", 2048);
  const maxTasksPerStep = intOption("maxTasksPerStep", 10_000);
  if (strategy && maxTasksPerStep !== undefined) {
    strategy.steps.forEach((step, index) => {
      if (step.holdTasks !== undefined && step.holdTasks > maxTasksPerStep) {
        c.fail(
          step.path ?? `strategy.steps.${index}.holdTasks`,
          step.holdTasks,
          `<= maxTasksPerStep (${maxTasksPerStep})`,
        );
      }
    });
  }

  let agents: Set<string> | undefined;
  if (raw.agents !== undefined) {
    if (!Array.isArray(raw.agents) || raw.agents.length === 0) {
      c.fail("agents", raw.agents, "a non-empty array of agent ids");
    } else {
      agents = new Set();
      raw.agents.forEach((agent: unknown, index: number) => {
        const id = c.string(agent, `agents.${index}`);
        if (id !== undefined) agents?.add(id);
      });
    }
  }
  const stickyBy = raw.stickyBy ?? "task";
  if (stickyBy !== "task" && stickyBy !== "agent") c.fail("stickyBy", raw.stickyBy, '"task" or "agent"');
  const mirrorPercent = c.optional(raw.mirrorPercent, 0, (v) =>
    c.number(v, "mirrorPercent", (n) => n >= 0 && n <= 100, "a number in [0, 100]"),
  );
  const store = raw.store as StateStore | undefined;
  if (
    store !== undefined &&
    (typeof (store as Partial<StateStore>).getState !== "function" ||
      typeof (store as Partial<StateStore>).putState !== "function")
  ) {
    c.fail("store", store, "a StateStore (getState, putState, subscribe)");
  }

  if (c.problems.length > 0) throw new RolloutConfigError(c.problems);
  return {
    id: id as string,
    baseline: baseline as Variant,
    candidate: candidate as Variant,
    strategyType: (strategy as ReadStrategy).type,
    steps: (strategy as ReadStrategy).steps.map(({ path: _path, ...step }) => step),
    ...(analysis as ReadAnalysis),
    seed,
    clock,
    events,
    isFrozen: (raw.isFrozen as (() => boolean) | undefined) ?? (() => false),
    evaluationIntervalMs: evaluationIntervalMs as number,
    stickyTtlMs: stickyTtlMs as number,
    maxStickyKeys: maxStickyKeys as number,
    maxLatencySamples: maxLatencySamples as number,
    maxTasksPerStep: maxTasksPerStep as number,
    agents,
    stickyBy: stickyBy as "task" | "agent",
    mirrorPercent: mirrorPercent as number,
    store,
  };
}

function readVariant(c: Checker, value: unknown, path: string): Variant | undefined {
  const raw = c.record(value, path, VARIANT_KEYS);
  if (!raw) return undefined;
  const id = c.string(raw.id, `${path}.id`);
  const model = raw.model === undefined ? undefined : c.string(raw.model, `${path}.model`);
  if (id === undefined) return undefined;
  return model === undefined ? { id } : { id, model };
}

interface ReadStrategy {
  type: "canary" | "blueGreen";
  steps: Array<ResolvedStep & { path?: string }>;
}

function toStep(percent: number, holdMs: number | undefined, holdTasks: number | undefined, path?: string) {
  const step: ResolvedStep & { path?: string } = {
    percent,
    threshold: Math.round(percent * 100),
    holdMs,
    holdTasks,
  };
  if (path !== undefined) step.path = path;
  return step;
}

function readStrategy(c: Checker, value: unknown): ReadStrategy | undefined {
  if (typeof value !== "object" || value === null) return c.fail("strategy", value, "an object");
  const type = (value as { type?: unknown }).type;
  if (type === "canary") {
    const raw = c.record(value, "strategy", CANARY_KEYS);
    if (!raw) return undefined;
    if (!Array.isArray(raw.steps) || raw.steps.length === 0) {
      return c.fail("strategy.steps", raw.steps, "a non-empty array of steps");
    }
    const steps: ReadStrategy["steps"] = [];
    let previous = 0;
    let ok = true;
    raw.steps.forEach((entry: unknown, index: number) => {
      const path = `strategy.steps.${index}`;
      const step = c.record(entry, path, STEP_KEYS);
      if (!step) {
        ok = false;
        return;
      }
      const percent = c.number(
        step.percent,
        `${path}.percent`,
        (n) => n > 0 && n <= 100,
        "a number in (0, 100]",
      );
      if (percent !== undefined && percent <= previous) {
        c.fail(`${path}.percent`, percent, `greater than the previous step's (${previous})`);
      }
      const holdMs = c.optional(step.holdMs, undefined, (v) => c.duration(v, `${path}.holdMs`, true));
      const holdTasks = c.optional(step.holdTasks, undefined, (v) =>
        c.number(v, `${path}.holdTasks`, isPositiveInteger, "an integer > 0"),
      );
      const last = index === (raw.steps as unknown[]).length - 1;
      if (last && percent !== undefined && percent !== 100)
        c.fail(`${path}.percent`, percent, "100 on the last step");
      if (!last && step.holdMs === undefined && step.holdTasks === undefined) {
        c.fail(path, entry, "a step with holdMs and/or holdTasks");
      }
      if (percent === undefined) {
        ok = false;
        return;
      }
      previous = percent;
      steps.push(
        toStep(percent, holdMs, holdTasks, step.holdTasks === undefined ? undefined : `${path}.holdTasks`),
      );
    });
    return ok ? { type, steps } : undefined;
  }
  if (type === "blueGreen") {
    const raw = c.record(value, "strategy", BLUE_GREEN_KEYS);
    if (!raw) return undefined;
    const percent = c.optional(raw.validationPercent, 10, (v) =>
      c.number(v, "strategy.validationPercent", (n) => n > 0 && n < 100, "a number in (0, 100)"),
    );
    const holdMs = c.optional(raw.validateForMs, undefined, (v) =>
      c.duration(v, "strategy.validateForMs", true),
    );
    const holdTasks = c.optional(raw.validateForTasks, undefined, (v) =>
      c.number(v, "strategy.validateForTasks", isPositiveInteger, "an integer > 0"),
    );
    if (raw.validateForMs === undefined && raw.validateForTasks === undefined) {
      c.fail("strategy.validateForMs", undefined, "validateForMs and/or validateForTasks");
    }
    if (percent === undefined) return undefined;
    return {
      type,
      steps: [
        toStep(
          percent,
          holdMs,
          holdTasks,
          raw.validateForTasks === undefined ? undefined : "strategy.validateForTasks",
        ),
        toStep(100, undefined, undefined),
      ],
    };
  }
  return c.fail("strategy.type", type, '"canary" or "blueGreen"');
}

type ReadAnalysis = Pick<
  ResolvedRolloutOptions,
  "minCalls" | "minTasks" | "errorRate" | "latencyP99" | "costPerTask" | "metrics" | "refusals" | "rogue"
>;

function readAnalysis(c: Checker, value: unknown): ReadAnalysis | undefined {
  const raw = value === undefined ? {} : c.record(value, "analysis", ANALYSIS_KEYS);
  if (!raw) return undefined;
  const minCalls = c.optional(raw.minCalls, 20, (v) =>
    c.number(v, "analysis.minCalls", isPositiveInteger, "an integer > 0"),
  );
  const minTasks = c.optional(raw.minTasks, 5, (v) =>
    c.number(v, "analysis.minTasks", isPositiveInteger, "an integer > 0"),
  );
  const ratio = (v: unknown, path: string) => c.number(v, path, isNonNegative, "a finite number >= 0");
  const gate = <T>(
    v: unknown,
    path: string,
    keys: ReadonlySet<string>,
    read: (r: Record<string, unknown>) => T,
  ) => {
    if (v === false) return undefined;
    const r = v === undefined ? {} : c.record(v, path, keys);
    return r ? read(r) : undefined;
  };
  const errorRate = gate(
    raw.errorRate,
    "analysis.errorRate",
    new Set(["alpha", "tolerance", "minFailures"]),
    (r) => ({
      minFailures:
        c.optional(r.minFailures, 3, (v) =>
          c.number(v, "analysis.errorRate.minFailures", isPositiveInteger, "an integer > 0"),
        ) ?? 3,
      alpha:
        c.optional(r.alpha, 0.05, (v) =>
          c.number(v, "analysis.errorRate.alpha", (n) => n > 0 && n < 1, "a number in (0, 1)"),
        ) ?? 0.05,
      tolerance:
        c.optional(r.tolerance, 0, (v) =>
          c.number(v, "analysis.errorRate.tolerance", (n) => n >= 0 && n < 1, "a number in [0, 1)"),
        ) ?? 0,
    }),
  );
  const latencyP99 = gate(raw.latencyP99, "analysis.latencyP99", new Set(["tolerance"]), (r) => ({
    tolerance: c.optional(r.tolerance, 0.2, (v) => ratio(v, "analysis.latencyP99.tolerance")) ?? 0.2,
  }));
  const costPerTask = gate(raw.costPerTask, "analysis.costPerTask", new Set(["tolerance"]), (r) => ({
    tolerance: c.optional(r.tolerance, 0.2, (v) => ratio(v, "analysis.costPerTask.tolerance")) ?? 0.2,
  }));
  const refusals = gate(raw.refusals, "analysis.refusals", new Set(["alpha", "minRefusals"]), (r) => ({
    alpha:
      c.optional(r.alpha, 0.05, (v) =>
        c.number(v, "analysis.refusals.alpha", (n) => n > 0 && n < 1, "a number in (0, 1)"),
      ) ?? 0.05,
    minRefusals:
      c.optional(r.minRefusals, 3, (v) =>
        c.number(v, "analysis.refusals.minRefusals", isPositiveInteger, "an integer > 0"),
      ) ?? 3,
  }));
  const rogue = gate(raw.rogue, "analysis.rogue", new Set(["minLevel", "minFlags"]), (r) => {
    const minLevel = r.minLevel ?? "HIGH";
    if (minLevel === "LOW" || !RISK_LEVELS.includes(minLevel as RiskLevel)) {
      c.fail("analysis.rogue.minLevel", r.minLevel, '"MEDIUM", "HIGH" or "CRITICAL"');
    }
    return {
      minLevel: minLevel as RiskLevel,
      minFlags:
        c.optional(r.minFlags, 1, (v) =>
          c.number(v, "analysis.rogue.minFlags", isPositiveInteger, "an integer > 0"),
        ) ?? 1,
    };
  });
  const metrics: ReadAnalysis["metrics"] = new Map();
  if (raw.metrics !== undefined) {
    const all = c.record(raw.metrics, "analysis.metrics", new Set(Object.keys(raw.metrics ?? {})));
    for (const [name, entry] of Object.entries(all ?? {})) {
      const path = `analysis.metrics.${name}`;
      const m = c.record(entry, path, METRIC_KEYS);
      if (!m) continue;
      const direction = m.direction;
      if (direction !== "higherIsBetter" && direction !== "lowerIsBetter") {
        c.fail(`${path}.direction`, direction, '"higherIsBetter" or "lowerIsBetter"');
      }
      const tolerance = ratio(m.tolerance, `${path}.tolerance`);
      const minSamples = c.optional(m.minSamples, minCalls ?? 20, (v) =>
        c.number(v, `${path}.minSamples`, isPositiveInteger, "an integer > 0"),
      );
      if (tolerance !== undefined && minSamples !== undefined) {
        metrics.set(name, { higherIsBetter: direction === "higherIsBetter", tolerance, minSamples });
      }
    }
  }
  if (minCalls === undefined || minTasks === undefined) return undefined;
  return { minCalls, minTasks, errorRate, latencyP99, costPerTask, metrics, refusals, rogue };
}
