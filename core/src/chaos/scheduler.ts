import { Cron } from "croner";
import type { SchedulingClock, TimerHandle } from "../clock.js";
import { type Duration, parseDuration } from "../duration.js";
import { ConfigError } from "../errors.js";
import type { ChaosExperiment } from "./experiment.js";

/** A recurring chaos experiment. */
export interface ChaosSchedule {
  /** Unique; runs are recorded under it. */
  name: string;
  /** Cron expression (5 fields, or 6 with seconds), e.g. `"0 10 * * 2"` (Tuesdays 10:00). */
  cron: string;
  /** IANA time zone the expression is read in (default UTC). */
  timezone?: string;
  /** Builds a fresh (unstarted) experiment for each run: faults, blast radius, duration, abort conditions. */
  experiment: () => ChaosExperiment;
  /**
   * A run missed while the scheduler was not running (downtime) is started late, once, if it was due no
   * longer ago than this. Default 0: missed runs are skipped, never run late.
   */
  catchUpWithinMs?: Duration;
  enabled?: boolean;
}

/**
 * A window in which no experiment starts and running ones are stopped: recurring (`cron` + `durationMs`,
 * e.g. weekdays 09:00–11:00 Europe/Berlin = `{ cron: "0 9 * * 1-5", durationMs: "2h", timezone:
 * "Europe/Berlin" }`) or one-off (`from`–`to`, ISO 8601 or epoch ms).
 */
export type BlackoutWindow =
  | { name?: string; cron: string; durationMs: Duration; timezone?: string }
  | { name?: string; from: string | number; to: string | number };

export type ChaosRunOutcome = "running" | "completed" | "aborted" | "skipped";

/** One run (or skipped run) of a schedule. */
export interface ChaosRunRecord {
  /** `<schedule>@<scheduled time ISO>`. */
  id: string;
  schedule: string;
  experiment: string;
  /** When it was due (ms). */
  scheduledAt: number;
  startedAt: number | null;
  endedAt: number | null;
  outcome: ChaosRunOutcome;
  /** Why it was aborted or skipped. */
  reason: string | null;
  resilienceScore: number | null;
  /** Started by hand (`run()`), not by the schedule. */
  manual: boolean;
}

/**
 * Where run history goes. Small on purpose so durable stores (SQLite, Redis) can implement it:
 * `put` inserts or replaces by `id`; `list` returns the newest first.
 */
export interface ChaosRunStore {
  put(record: ChaosRunRecord): void | Promise<void>;
  list(options?: { schedule?: string; limit?: number }): ChaosRunRecord[] | Promise<ChaosRunRecord[]>;
}

/** The default history: in memory, bounded (oldest dropped first). */
export class MemoryChaosRunStore implements ChaosRunStore {
  readonly #records = new Map<string, ChaosRunRecord>();
  readonly #limit: number;

  constructor(limit = 1_000) {
    this.#limit = limit;
  }

  put(record: ChaosRunRecord): void {
    // An update keeps the run's place (runs are listed in the order they were due).
    this.#records.set(record.id, { ...record });
    if (this.#records.size > this.#limit) this.#records.delete(this.#records.keys().next().value as string);
  }

  list(options: { schedule?: string; limit?: number } = {}): ChaosRunRecord[] {
    const out: ChaosRunRecord[] = [];
    const all = [...this.#records.values()];
    for (let i = all.length - 1; i >= 0 && out.length < (options.limit ?? Number.POSITIVE_INFINITY); i--) {
      const record = all[i] as ChaosRunRecord;
      if (options.schedule === undefined || record.schedule === options.schedule) out.push({ ...record });
    }
    return out;
  }
}

/** What the scheduler needs from the engine (an `AgentSRE` fits). */
export interface ChaosSchedulerHost {
  readonly clock: SchedulingClock;
  readonly chaos: {
    start(experiment: ChaosExperiment): ChaosExperiment;
    abort(name: string, reason: string): boolean;
  };
  readonly deploymentsFrozen: boolean;
  isQuarantined(agentId: string): boolean;
  readonly budget: { isKilled(agentId: string): boolean };
  /** SLOs with their last evaluation (status). */
  readonly slos: Iterable<{
    name: string;
    agentId?: string | undefined;
    lastEvaluation?: { status: string } | undefined;
  }>;
}

export interface ChaosSchedulerOptions {
  schedules?: ChaosSchedule[];
  blackouts?: BlackoutWindow[];
  /** Run history (default: in memory). */
  store?: ChaosRunStore;
  /** How often a running scheduled experiment is checked (blackouts, gates, its end). Default 1 s. */
  checkIntervalMs?: Duration;
  /** Called when a store write or a history read fails (the scheduler carries on). */
  onError?: (error: unknown) => void;
}

interface CompiledSchedule {
  spec: ChaosSchedule;
  cron: Cron;
  catchUpWithinMs: number;
  timer: TimerHandle | undefined;
  /** The run under way, if any (overlap prevention). */
  running: { record: ChaosRunRecord; experiment: ChaosExperiment } | undefined;
}

interface CompiledBlackout {
  label: string;
  contains(nowMs: number): boolean;
}

/**
 * Runs chaos experiments on cron schedules against the live engine. An experiment does not start during a
 * blackout window, while deployments are frozen, while an SLO is CRITICAL or EXHAUSTED, while its target
 * agent is killed or quarantined, or while the previous run of its schedule is still going (overlap); such
 * a run is recorded as skipped with the reason. A running experiment is stopped when a blackout begins or
 * one of those gates closes. Every run (start, end, abort reason, resilience score) goes to the store.
 */
export class ChaosScheduler {
  readonly #host: ChaosSchedulerHost;
  readonly #schedules = new Map<string, CompiledSchedule>();
  readonly #blackouts: CompiledBlackout[];
  readonly store: ChaosRunStore;
  readonly #checkIntervalMs: number;
  readonly #onError: (error: unknown) => void;
  #started = false;
  #watch: TimerHandle | undefined;

  constructor(host: ChaosSchedulerHost, options: ChaosSchedulerOptions = {}) {
    this.#host = host;
    this.store = options.store ?? new MemoryChaosRunStore();
    this.#checkIntervalMs = parseDuration(options.checkIntervalMs ?? 1_000, "chaos.checkIntervalMs");
    this.#onError = options.onError ?? (() => {});
    (options.schedules ?? []).forEach((schedule, index) => {
      this.#add(schedule, `chaos.schedules[${index}]`);
    });
    this.#blackouts = (options.blackouts ?? []).map((window, index) =>
      compileBlackout(window, `chaos.blackouts[${index}]`),
    );
  }

  /** The schedules with their next due time (ms, or null when disabled or exhausted). */
  list(): Array<{
    name: string;
    cron: string;
    timezone: string;
    enabled: boolean;
    next: number | null;
    running: boolean;
  }> {
    const now = this.#host.clock.now();
    return [...this.#schedules.values()].map((s) => ({
      name: s.spec.name,
      cron: s.spec.cron,
      timezone: s.spec.timezone ?? "UTC",
      enabled: s.spec.enabled !== false,
      next: s.spec.enabled === false ? null : (s.cron.nextRun(new Date(now))?.getTime() ?? null),
      running: s.running !== undefined,
    }));
  }

  /**
   * Arms every schedule. With `catchUpWithinMs`, a run that fell due while the scheduler was down (after
   * the schedule's last recorded run) and no longer ago than that is started now, once.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const now = this.#host.clock.now();
    for (const schedule of this.#schedules.values()) {
      if (schedule.spec.enabled === false) continue;
      if (schedule.catchUpWithinMs > 0) {
        const missed = schedule.cron.previousRuns(1, new Date(now))[0]?.getTime();
        if (missed !== undefined && now - missed <= schedule.catchUpWithinMs) {
          const last = await this.#lastRun(schedule.spec.name);
          if (last === undefined || last.scheduledAt < missed) this.#fire(schedule, missed);
        }
      }
      this.#arm(schedule);
    }
  }

  /** Disarms every schedule and stops running scheduled experiments (recorded as aborted). */
  stop(reason = "scheduler stopped"): void {
    this.#started = false;
    for (const schedule of this.#schedules.values()) {
      if (schedule.timer !== undefined) this.#host.clock.clearTimeout(schedule.timer);
      schedule.timer = undefined;
      if (schedule.running !== undefined) this.#end(schedule, reason);
    }
    this.#stopWatch();
  }

  /** Starts a schedule's experiment now (the gates still apply); returns the run record. */
  run(name: string): ChaosRunRecord {
    const schedule = this.#schedules.get(name);
    if (schedule === undefined)
      throw new ConfigError("schedule", name, `one of ${[...this.#schedules.keys()].join(", ") || "(none)"}`);
    return this.#fire(schedule, this.#host.clock.now(), true);
  }

  /** Runs, newest first. */
  history(options?: { schedule?: string; limit?: number }): Promise<ChaosRunRecord[]> {
    return Promise.resolve(this.store.list(options));
  }

  /** The blackout window in force now, if any. */
  blackoutNow(): string | undefined {
    const now = this.#host.clock.now();
    return this.#blackouts.find((window) => window.contains(now))?.label;
  }

  #add(spec: ChaosSchedule, path: string): void {
    if (typeof spec.name !== "string" || spec.name === "")
      throw new ConfigError(`${path}.name`, spec.name, "a non-empty name");
    if (this.#schedules.has(spec.name)) throw new ConfigError(`${path}.name`, spec.name, "a unique name");
    if (typeof spec.experiment !== "function")
      throw new ConfigError(`${path}.experiment`, spec.experiment, "a function building the experiment");
    const cron = compileCron(spec.cron, spec.timezone, path);
    const catchUpWithinMs =
      spec.catchUpWithinMs === undefined
        ? 0
        : parseDuration(spec.catchUpWithinMs, `${path}.catchUpWithinMs`, { allowZero: true });
    this.#schedules.set(spec.name, { spec, cron, catchUpWithinMs, timer: undefined, running: undefined });
  }

  #arm(schedule: CompiledSchedule): void {
    if (!this.#started || schedule.spec.enabled === false) return;
    const clock = this.#host.clock;
    const now = clock.now();
    const next = schedule.cron.nextRun(new Date(now))?.getTime();
    if (next === undefined) return;
    schedule.timer = clock.setTimeout(() => {
      schedule.timer = undefined;
      this.#fire(schedule, next);
      this.#arm(schedule);
    }, next - now);
    (schedule.timer as { unref?: () => void } | undefined)?.unref?.();
  }

  #fire(schedule: CompiledSchedule, scheduledAt: number, manual = false): ChaosRunRecord {
    const now = this.#host.clock.now();
    const record: ChaosRunRecord = {
      id: `${schedule.spec.name}@${new Date(scheduledAt).toISOString()}${manual ? "#manual" : ""}`,
      schedule: schedule.spec.name,
      experiment: schedule.spec.name,
      scheduledAt,
      startedAt: null,
      endedAt: null,
      outcome: "skipped",
      reason: null,
      resilienceScore: null,
      manual,
    };
    let experiment: ChaosExperiment | undefined;
    let blocked: string | undefined;
    // A run that ended since the last check is recorded before the overlap test.
    if (schedule.running !== undefined && schedule.running.experiment.state !== "running") {
      this.#end(schedule, undefined);
    }
    if (schedule.running !== undefined) {
      blocked = `the previous run (${schedule.running.record.id}) is still running`;
    } else {
      try {
        experiment = schedule.spec.experiment();
        record.experiment = experiment.name;
        blocked = this.#gate(experiment.targetAgent);
      } catch (error) {
        blocked = `the experiment could not be built: ${(error as Error).message}`;
      }
    }
    if (blocked !== undefined || experiment === undefined) {
      record.reason = blocked ?? "no experiment";
      record.endedAt = now;
      this.#save(record);
      return record;
    }
    try {
      this.#host.chaos.start(experiment);
    } catch (error) {
      record.reason = `did not start: ${(error as Error).message}`;
      record.endedAt = now;
      this.#save(record);
      return record;
    }
    record.startedAt = now;
    record.outcome = "running";
    schedule.running = { record, experiment };
    this.#save(record);
    this.#startWatch();
    return record;
  }

  /** Why an experiment may not run now, or undefined. */
  #gate(targetAgent: string | undefined): string | undefined {
    const host = this.#host;
    const blackout = this.blackoutNow();
    if (blackout !== undefined) return `blackout window ${blackout}`;
    if (host.deploymentsFrozen) return "deployments are frozen";
    for (const slo of host.slos) {
      if (targetAgent !== undefined && slo.agentId !== undefined && slo.agentId !== targetAgent) continue;
      const status = slo.lastEvaluation?.status;
      if (status === "CRITICAL" || status === "EXHAUSTED") return `SLO "${slo.name}" is ${status}`;
    }
    if (targetAgent !== undefined) {
      if (host.budget.isKilled(targetAgent)) return `target agent "${targetAgent}" is killed`;
      if (host.isQuarantined(targetAgent)) return `target agent "${targetAgent}" is quarantined`;
    }
    return undefined;
  }

  #startWatch(): void {
    if (this.#watch !== undefined) return;
    const tick = () => {
      this.#watch = undefined;
      let running = 0;
      for (const schedule of this.#schedules.values()) {
        const run = schedule.running;
        if (run === undefined) continue;
        if (run.experiment.state !== "running") {
          this.#end(schedule, undefined);
          continue;
        }
        const blocked = this.#gate(run.experiment.targetAgent);
        if (blocked !== undefined) this.#end(schedule, blocked);
        else running++;
      }
      if (running > 0) this.#startWatch();
    };
    this.#watch = this.#host.clock.setTimeout(tick, this.#checkIntervalMs);
    (this.#watch as { unref?: () => void } | undefined)?.unref?.();
  }

  #stopWatch(): void {
    if (this.#watch !== undefined) this.#host.clock.clearTimeout(this.#watch);
    this.#watch = undefined;
  }

  /** Records the end of a schedule's run; `abortWith` stops it first. */
  #end(schedule: CompiledSchedule, abortWith: string | undefined): void {
    const run = schedule.running;
    if (run === undefined) return;
    schedule.running = undefined;
    if (abortWith !== undefined && run.experiment.state === "running") {
      this.#host.chaos.abort(run.experiment.name, abortWith);
    }
    const report = run.experiment.report();
    const record = run.record;
    record.endedAt = this.#host.clock.now();
    record.outcome = run.experiment.state === "aborted" ? "aborted" : "completed";
    record.reason = run.experiment.abortReason ?? null;
    record.resilienceScore = report.resilienceScore ?? null;
    this.#save(record);
  }

  async #lastRun(name: string): Promise<ChaosRunRecord | undefined> {
    try {
      return (await this.store.list({ schedule: name, limit: 1 }))[0];
    } catch (error) {
      this.#onError(error);
      return undefined;
    }
  }

  #save(record: ChaosRunRecord): void {
    try {
      const pending = this.store.put({ ...record });
      if (pending instanceof Promise) pending.catch(this.#onError);
    } catch (error) {
      this.#onError(error);
    }
  }
}

function compileCron(expression: string, timezone: string | undefined, path: string): Cron {
  if (typeof expression !== "string" || expression.trim() === "")
    throw new ConfigError(`${path}.cron`, expression, "a cron expression");
  let cron: Cron;
  try {
    cron = new Cron(expression, { paused: true, ...(timezone === undefined ? {} : { timezone }) });
    cron.nextRun(new Date(0)); // a bad time zone only shows when a date is converted
  } catch (error) {
    const field = /timezone/i.test((error as Error).message) ? `${path}.timezone` : `${path}.cron`;
    throw new ConfigError(
      field,
      field.endsWith("timezone") ? timezone : expression,
      `valid: ${(error as Error).message}`,
    );
  }
  return cron;
}

function compileBlackout(window: BlackoutWindow, path: string): CompiledBlackout {
  if ("cron" in window) {
    const cron = compileCron(window.cron, window.timezone, path);
    const durationMs = parseDuration(window.durationMs, `${path}.durationMs`);
    const label =
      window.name ?? `${window.cron} for ${durationMs} ms${window.timezone ? ` (${window.timezone})` : ""}`;
    return {
      label,
      // In the window when the last start at or before now is less than `durationMs` ago.
      contains: (nowMs) => {
        const last = cron.previousRuns(1, new Date(nowMs + 1))[0]?.getTime();
        return last !== undefined && nowMs - last < durationMs;
      },
    };
  }
  const from = toMs(window.from, `${path}.from`);
  const to = toMs(window.to, `${path}.to`);
  if (to <= from) throw new ConfigError(`${path}.to`, window.to, "a time after `from`");
  const label = window.name ?? `${new Date(from).toISOString()}–${new Date(to).toISOString()}`;
  return { label, contains: (nowMs) => nowMs >= from && nowMs < to };
}

function toMs(value: string | number, path: string): number {
  const ms = typeof value === "number" ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new ConfigError(path, value, "an ISO 8601 date or epoch ms");
  return ms;
}
