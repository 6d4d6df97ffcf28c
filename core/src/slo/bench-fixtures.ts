import { ManualClock } from "../clock.js";
import type { CallObservation } from "../types.js";
import { ErrorRate, LatencyPercentile } from "./indicators.js";
import { SLO } from "./slo.js";

export interface SloBenchFixture {
  slo: SLO;
  /** The SLO's clock, set just after the last recorded event. */
  clock: ManualClock;
  /** Events the SLO counted. */
  recordedEvents: number;
  /** Bad events among them. */
  badEvents: number;
  /** A reusable observation (at the clock's time) for timing `slo.observe()`. */
  observation: CallObservation;
}

export interface SloBenchFixtureOptions {
  /** Events to record, spread evenly over the 30 days. Default 1,000,000. */
  events?: number;
  /** One event in this many is bad (a failed or slow call). Default 400 (half the 0.5 % budget). */
  badEvery?: number;
}

const DAY_MS = 86_400_000;

/**
 * Builds a 30-day, 99.5 % SLO (error rate + p95 latency ≤ 5 s, Workbook alert policy) and feeds it
 * 1 M calls spread evenly over 30 days through `observe()`, for the benchmark of `evaluate()` and
 * `observe()`/`recordEvent()` at volume. Deterministic; does no timing itself.
 */
export function buildThirtyDaySloFixture(options: SloBenchFixtureOptions = {}): SloBenchFixture {
  const events = options.events ?? 1_000_000;
  const badEvery = options.badEvery ?? 400;
  const startMs = Date.UTC(2026, 0, 1);
  const clock = new ManualClock(startMs);
  const slo = new SLO({
    name: "bench-30d",
    agentId: "bench-agent",
    indicators: [new ErrorRate(), new LatencyPercentile({ percentile: 0.95, thresholdMs: 5000 })],
    errorBudget: { total: 0.005, windowMs: "30d" },
    clock,
  });
  const spacingMs = (30 * DAY_MS) / events;
  // One observation object, mutated per event, so building the fixture does not churn memory.
  const observation: CallObservation = {
    at: startMs,
    agentId: "bench-agent",
    taskId: undefined,
    kind: "model",
    name: "gpt-4.1",
    ok: true,
    durationMs: 800,
    costUsd: 0.002,
    inputTokens: 1200,
    outputTokens: 300,
    errorCode: undefined,
  };
  let badEvents = 0;
  for (let i = 0; i < events; i++) {
    const bad = i % badEvery === badEvery - 1;
    observation.at = startMs + Math.floor(i * spacingMs);
    // Alternate the two failure modes: an error, or a call slower than the 5 s threshold.
    observation.ok = !(bad && badEvents % 2 === 0);
    observation.durationMs = bad ? 7_500 : 200 + (i % 1_000);
    slo.observe(observation);
    if (bad) badEvents++;
  }
  const endMs = startMs + 30 * DAY_MS - 1;
  clock.set(endMs);
  observation.at = endMs;
  observation.ok = true;
  observation.durationMs = 800;
  return { slo, clock, recordedEvents: events, badEvents, observation };
}
