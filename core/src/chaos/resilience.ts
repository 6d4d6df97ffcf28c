import { InvalidArgumentError } from "../errors.js";

/** What resilience compares: the steady state without faults (baseline) and the state under faults. */
export interface ResilienceSample {
  /** Share of calls (or tasks) that succeeded, in [0, 1]. */
  successRate: number;
  /** 99th-percentile latency; optional (`null`/`undefined` leaves latency out of the score). */
  p99LatencyMs?: number | null | undefined;
}

/** Weight of success-rate retention when latency is part of the score; latency gets the rest. */
export const RESILIENCE_SUCCESS_WEIGHT = 0.7;
export const RESILIENCE_LATENCY_WEIGHT = 0.3;

/**
 * Resilience score in [0, 100], rounded to one decimal:
 *
 *   successRetention = clamp(experiment.successRate / max(baseline.successRate, 0.001), 0, 1)
 *   latencyRetention = clamp(max(baseline.p99, 1) / max(experiment.p99, 1), 0, 1)
 *   score = 100 × (0.7 × successRetention + 0.3 × latencyRetention)   when both p99 values are given
 *   score = 100 × successRetention                                      otherwise (the Python `exp/base`)
 *
 * So an agent that keeps its success rate and its p99 under faults scores 100; one that keeps its success
 * rate but becomes twice as slow scores 85; one whose success rate halves (same latency) scores 65.
 */
export function calculateResilience(baseline: ResilienceSample, experiment: ResilienceSample): number {
  const baseSuccess = requireRate(baseline.successRate, "baseline.successRate");
  const expSuccess = requireRate(experiment.successRate, "experiment.successRate");
  const successRetention = clamp01(expSuccess / Math.max(baseSuccess, 0.001));
  const baseP99 = optionalLatency(baseline.p99LatencyMs, "baseline.p99LatencyMs");
  const expP99 = optionalLatency(experiment.p99LatencyMs, "experiment.p99LatencyMs");
  let score: number;
  if (baseP99 === undefined || expP99 === undefined) {
    score = successRetention;
  } else {
    const latencyRetention = clamp01(Math.max(baseP99, 1) / Math.max(expP99, 1));
    score = RESILIENCE_SUCCESS_WEIGHT * successRetention + RESILIENCE_LATENCY_WEIGHT * latencyRetention;
  }
  return Math.round(score * 1000) / 10;
}

function clamp01(value: number): number {
  return Math.min(1, Math.max(0, value));
}

function requireRate(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new InvalidArgumentError(field, value, "a rate in [0, 1]");
  }
  return value;
}

function optionalLatency(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(field, value, "a latency in ms >= 0");
  }
  return value;
}
