import { mulberry32, type Rng } from "../chaos/rng.js";
import { quantileInPlace } from "./stats.js";

/** A variant's measurements at one step, O(1) per observation and bounded in memory. */
export class VariantStats {
  calls = 0;
  failures = 0;
  /** Behavioural refusals in the variant's tasks (they never ran: not calls). */
  refusals = 0;
  /** Rogue assessments at the gate's level of agents on this variant. */
  rogueFlags = 0;
  /** Of `calls`, those that were shadow copies of baseline calls. */
  mirrored = 0;
  /** Latencies: the first `capacity` in full, then a uniform reservoir sample (Vitter's algorithm R). */
  readonly #latencies: Float64Array;
  #seen = 0;
  readonly #rng: Rng;
  /** Cost per task id; tasks beyond `maxTasks` are not tracked (their calls still count). */
  readonly #costByTask = new Map<string, number>();
  readonly #maxTasks: number;
  readonly #metrics = new Map<string, { sum: number; count: number }>();

  constructor(latencyCapacity: number, maxTasks: number, seed: number) {
    this.#latencies = new Float64Array(latencyCapacity);
    this.#maxTasks = maxTasks;
    this.#rng = mulberry32(seed);
  }

  record(ok: boolean, durationMs: number, costUsd: number, taskId: string | undefined): void {
    this.calls++;
    if (!ok) this.failures++;
    const capacity = this.#latencies.length;
    if (this.#seen < capacity) {
      this.#latencies[this.#seen] = durationMs;
    } else {
      const slot = Math.floor(this.#rng() * (this.#seen + 1));
      if (slot < capacity) this.#latencies[slot] = durationMs;
    }
    this.#seen++;
    if (taskId !== undefined) {
      const spent = this.#costByTask.get(taskId);
      if (spent !== undefined) this.#costByTask.set(taskId, spent + costUsd);
      else if (this.#costByTask.size < this.#maxTasks) this.#costByTask.set(taskId, costUsd);
    }
  }

  /** A call refused because the variant is unavailable (its breaker is open): a failure with no latency or cost. */
  recordUnavailable(): void {
    this.calls++;
    this.failures++;
  }

  recordMetric(name: string, value: number): void {
    const entry = this.#metrics.get(name);
    if (entry) {
      entry.sum += value;
      entry.count++;
    } else {
      this.#metrics.set(name, { sum: value, count: 1 });
    }
  }

  /** Distinct tasks seen (up to `maxTasks`). */
  get tasks(): number {
    return this.#costByTask.size;
  }

  get errorRate(): number {
    return this.calls === 0 ? 0 : this.failures / this.calls;
  }

  /** p99 of the kept latencies (sorts a copy: analysis only, never on the call path). */
  p99(): number | undefined {
    return quantileInPlace(this.#latencies.slice(0, Math.min(this.#seen, this.#latencies.length)), 0.99);
  }

  meanCostPerTask(): number | undefined {
    if (this.#costByTask.size === 0) return undefined;
    let sum = 0;
    for (const cost of this.#costByTask.values()) sum += cost;
    return sum / this.#costByTask.size;
  }

  metric(name: string): { mean: number; count: number } | undefined {
    const entry = this.#metrics.get(name);
    return entry ? { mean: entry.sum / entry.count, count: entry.count } : undefined;
  }

  summary(): VariantSummary {
    return {
      calls: this.calls,
      failures: this.failures,
      errorRate: this.errorRate,
      refusals: this.refusals,
      rogueFlags: this.rogueFlags,
      mirrored: this.mirrored,
      tasks: this.tasks,
      p99Ms: this.p99(),
      costPerTaskUsd: this.meanCostPerTask(),
      metrics: Object.fromEntries([...this.#metrics].map(([name, m]) => [name, m.sum / m.count])),
    };
  }
}

/** What a variant did at the current step. */
export interface VariantSummary {
  calls: number;
  failures: number;
  errorRate: number;
  refusals: number;
  rogueFlags: number;
  /** Of `calls`, shadow copies of baseline calls. */
  mirrored: number;
  tasks: number;
  p99Ms: number | undefined;
  costPerTaskUsd: number | undefined;
  /** Mean of each user-supplied metric. */
  metrics: Record<string, number>;
}
