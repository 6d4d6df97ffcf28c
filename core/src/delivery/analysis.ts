import type { ResolvedRolloutOptions } from "./config.js";
import { fisherExactGreater } from "./stats.js";
import type { VariantStats } from "./variant-stats.js";

/**
 * One step's analysis, candidate against baseline: the first gate the candidate fails, with the figures, or
 * undefined. Runs on analysis only (sorting latencies), never per call.
 */
export function regression(o: ResolvedRolloutOptions, b: VariantStats, c: VariantStats): string | undefined {
  const enoughCalls = b.calls >= o.minCalls && c.calls >= o.minCalls;
  if (enoughCalls && o.errorRate && c.failures >= o.errorRate.minFailures) {
    const p = fisherExactGreater(c.failures, c.calls - c.failures, b.failures, b.calls - b.failures);
    if (p < o.errorRate.alpha && c.errorRate - b.errorRate > o.errorRate.tolerance) {
      return `error rate ${pct(c.errorRate)} vs baseline ${pct(b.errorRate)} (Fisher p=${p.toPrecision(3)} < ${o.errorRate.alpha})`;
    }
  }
  // Behaviour: a candidate that loops, reaches for denied tools or blows its task budget is worse even when
  // every call it makes succeeds.
  if (
    o.refusals &&
    b.calls >= o.minCalls &&
    c.calls + c.refusals >= o.minCalls &&
    c.refusals >= o.refusals.minRefusals
  ) {
    const p = fisherExactGreater(c.refusals, c.calls, b.refusals, b.calls);
    if (p < o.refusals.alpha && rate(c.refusals, c.calls) > rate(b.refusals, b.calls)) {
      return `${c.refusals} behavioural refusals in ${c.calls} calls vs baseline ${b.refusals} in ${b.calls} (Fisher p=${p.toPrecision(3)} < ${o.refusals.alpha})`;
    }
  }
  if (o.rogue && c.rogueFlags >= o.rogue.minFlags) {
    if (rate(c.rogueFlags, c.calls) > rate(b.rogueFlags, b.calls)) {
      return `${c.rogueFlags} rogue assessment${c.rogueFlags === 1 ? "" : "s"} at ${o.rogue.minLevel} or above vs baseline ${b.rogueFlags} (in ${c.calls} vs ${b.calls} calls)`;
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
export function missingSamples(
  o: ResolvedRolloutOptions,
  baseline: VariantStats,
  candidate: VariantStats,
): string | undefined {
  for (const [side, stats] of [
    ["baseline", baseline],
    ["candidate", candidate],
  ] as const) {
    if (stats.calls < o.minCalls) return `${side} has ${stats.calls} of ${o.minCalls} calls`;
    if (o.costPerTask && stats.tasks < o.minTasks) return `${side} has ${stats.tasks} of ${o.minTasks} tasks`;
    for (const [name, gate] of o.metrics) {
      const count = stats.metric(name)?.count ?? 0;
      if (count < gate.minSamples)
        return `${side} has ${count} of ${gate.minSamples} samples of metric ${name}`;
    }
  }
  return undefined;
}

function rate(events: number, calls: number): number {
  return events / Math.max(calls, 1);
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}
