import type { ChaosMetrics } from "./abort.js";
import type { FaultCounts } from "./apply.js";
import { faultReport } from "./apply.js";
import type { ChaosCounts, ChaosExperimentReport } from "./experiment-types.js";
import type { Fault } from "./faults.js";

/** What a run's report is built from: the experiment's settings and what its run measured. */
export interface RunRecord {
  readonly name: string;
  readonly description: string | undefined;
  readonly targetAgent: string;
  readonly seed: number;
  readonly blastRadius: Readonly<{ calls: number; agents: number }>;
  readonly durationMs: number;
  readonly faults: readonly Fault[];
  readonly faultCounts: FaultCounts;
  readonly startedAtMs: number | undefined;
  readonly endedAtMs: number | undefined;
  readonly endsAtMs: number;
  readonly counts: ChaosCounts;
  readonly p99LatencyMs: number | undefined;
  readonly abortReason: string | undefined;
  /** Adversarial outcomes reported, and how many of them got past the agent. */
  readonly outcomes: number;
  readonly outcomesPassed: number;
  readonly resilienceScore: number | undefined;
  readonly rollbackError: string | undefined;
}

/** `ChaosExperiment.report()`: a JSON-serializable journal of the run in `state`. */
export function chaosReport(state: ChaosExperimentReport["state"], run: RunRecord): ChaosExperimentReport {
  const calls = run.counts.calls;
  const failed = run.counts.failed;
  const { injected, injectedTotal, adversarial } = faultReport(run.faults, run.faultCounts);
  const report: ChaosExperimentReport = {
    name: run.name,
    description: run.description,
    state,
    targetAgent: run.targetAgent,
    seed: run.seed,
    blastRadius: { ...run.blastRadius },
    durationMs: run.durationMs,
    startedAt: run.startedAtMs ?? null,
    endedAt: run.endedAtMs ?? null,
    endsAt: run.startedAtMs === undefined ? null : run.endsAtMs,
    injected,
    injectedTotal,
    calls,
    failedCalls: failed,
    successRate: calls === 0 ? null : (calls - failed) / calls,
    errorRate: calls === 0 ? null : failed / calls,
    p99LatencyMs: run.p99LatencyMs ?? null,
    costUsd: run.counts.costUsd,
    abortReason: run.abortReason ?? null,
    adversarial,
    bypassRate: run.outcomes === 0 ? null : run.outcomesPassed / run.outcomes,
  };
  if (run.resilienceScore !== undefined) report.resilienceScore = run.resilienceScore;
  if (run.rollbackError !== undefined) report.rollbackError = run.rollbackError;
  return report;
}

/** `ChaosExperiment.liveMetrics()`: the metrics measured so far (a metric without samples is absent). */
export function liveChaosMetrics(
  counts: ChaosCounts,
  p99LatencyMs: number | undefined,
  outcomes: number,
  outcomesPassed: number,
): ChaosMetrics {
  const metrics: ChaosMetrics = {};
  if (counts.calls > 0) {
    metrics.success_rate = (counts.calls - counts.failed) / counts.calls;
    metrics.error_rate = counts.failed / counts.calls;
    metrics.p99_latency_ms = p99LatencyMs as number;
    metrics.cost_usd = counts.costUsd;
  }
  if (outcomes > 0) metrics.bypass_rate = outcomesPassed / outcomes;
  return metrics;
}
