import type { Clock } from "../clock.js";
import type { Duration } from "../duration.js";
import type { ChaosInjectedError } from "../errors.js";
import type { EventSink } from "../events.js";
import type { CallKind } from "../types.js";
import type { AbortCondition } from "./abort.js";
import type { Fault, PayloadPlacement } from "./faults.js";
import type { ResilienceSample } from "./resilience.js";

/** The types of `ChaosExperiment` (experiment.ts): its configuration, runtime, saved run and report. */

/**
 * How much of the system an experiment touches:
 * - a number: the share of calls (each in-scope call is drawn into the radius with this probability);
 * - `{ calls, agents }`: `agents` is the share of agents (matching `targetAgent`) chosen deterministically
 *   from the seed; `calls` the share of their calls. Both default to 1.
 */
export type BlastRadius = number | { calls?: number; agents?: number };

export type ExperimentState = "pending" | "running" | "completed" | "aborted";

/** What the agent's defences did with an adversarial injection. `detected` = flagged but not stopped. */
export type AdversarialOutcome = "blocked" | "detected" | "passed";
export const ADVERSARIAL_OUTCOMES: readonly AdversarialOutcome[] = ["blocked", "detected", "passed"];

/** The call the engine is about to make. */
export interface ChaosCall {
  agentId: string;
  kind: CallKind;
  /** Model id or tool name. */
  name: string;
}

/** One fault the engine executes for a call (see the engine contract in index.ts). */
export type FaultApplication =
  | { type: "latency"; faultId: string; delayMs: number }
  | { type: "error"; faultId: string; error: ChaosInjectedError }
  | { type: "timeout"; faultId: string; delayMs: number }
  | { type: "payload"; faultId: string; technique: string; payload: string; where: PayloadPlacement }
  | { type: "tool-abuse"; faultId: string; toolName: string };

/**
 * The faults one experiment applies to one call. At most one of them is terminal (`error` or `timeout`),
 * and it is last, so the engine can execute them in order.
 */
export interface InjectionPlan {
  experiment: string;
  faults: FaultApplication[];
}

export interface ChaosExperimentConfig {
  name: string;
  description?: string;
  /** Glob (only `*` is special) over agent ids; default `"*"`. */
  targetAgent?: string;
  faults: readonly Fault[];
  /** How long faults are injected; default 30 minutes. */
  durationMs?: Duration;
  abortConditions?: readonly AbortCondition[];
  /** Default 1 (every call of every targeted agent). */
  blastRadius?: BlastRadius;
  /** RNG seed; default derived from the name (and the controller's seed, if it has one). */
  seed?: number | string;
  /** Steady-state metrics measured without faults; when given, the report carries a resilience score. */
  baseline?: ResilienceSample;
  /**
   * Runs exactly once when the experiment ends, however it ends (completed, expired or aborted). Errors are
   * caught and shown as `rollbackError` in the report.
   */
  rollback?: (report: ChaosExperimentReport) => void | Promise<void>;
  /** Used when the experiment runs standalone; a `ChaosController` passes its own. */
  clock?: Clock;
  events?: EventSink;
}

/** What a `ChaosController` (or a standalone caller) hands to `start()`. */
export interface ChaosRuntime {
  clock?: Clock;
  events?: EventSink;
  /** Mixed with the experiment's name when the experiment has no seed of its own. */
  defaultSeed?: number;
  /**
   * A run of this experiment saved by a process that ended (`exportRun()`, through the engine's store): the
   * run resumes with its start, deadline and counts, or stays ended — an abort is not lost, a run not repeated.
   */
  resume?: SavedChaosRun;
}

/** `ChaosExperiment.exportRun()`: a started run as plain JSON (the engine's store keeps it, kind `chaos`). */
export interface SavedChaosRun {
  version: 1;
  state: "running" | "completed" | "aborted";
  startedAt: number;
  /** The deadline (start + duration); null for none. */
  endsAt: number | null;
  endedAt: number | null;
  abortReason: string | null;
  /** Injections per fault id. */
  injected: Record<string, number>;
  calls: number;
  failedCalls: number;
  costUsd: number;
  /** Per abort condition on p99: samples above / at-or-above its threshold (the exact p99 check). */
  p99Above: number[];
  p99AtOrAbove: number[];
  /** Adversarial outcomes reported, and how many were `passed` (the bypass rate). */
  outcomes: number;
  outcomesPassed: number;
}

export interface AdversarialReport {
  faultId: string;
  type: Fault["type"];
  technique: string | undefined;
  injected: number;
  blocked: number;
  detected: number;
  passed: number;
  /** The worst reported outcome (`passed` > `detected` > `blocked`), or `pending` with none yet. */
  outcome: AdversarialOutcome | "pending";
}

export interface ChaosExperimentReport {
  name: string;
  description: string | undefined;
  state: ExperimentState;
  targetAgent: string;
  seed: number;
  blastRadius: { calls: number; agents: number };
  durationMs: number;
  startedAt: number | null;
  endedAt: number | null;
  /** When injection stops by itself (start + duration). */
  endsAt: number | null;
  /** Injections per fault id. */
  injected: Record<string, number>;
  injectedTotal: number;
  /** Calls observed in scope while running (with or without a fault). */
  calls: number;
  failedCalls: number;
  successRate: number | null;
  errorRate: number | null;
  p99LatencyMs: number | null;
  costUsd: number;
  abortReason: string | null;
  adversarial: AdversarialReport[];
  /** Share of reported adversarial outcomes that were `passed`. */
  bypassRate: number | null;
  resilienceScore?: number;
  rollbackError?: string;
}

/**
 * @internal A run's counts of the calls in its scope, with what a `ChaosController` checks before counting an
 * untimed call into them directly (`ChaosExperiment.plainCounts`): still running, and before its end.
 */
export interface ChaosCounts {
  calls: number;
  failed: number;
  costUsd: number;
  running: boolean;
  endsAtMs: number;
}
