import { type Clock, systemClock } from "../clock.js";
import { ConfigError } from "../errors.js";
import type { EventSink } from "../events.js";
import { silentSink } from "../events.js";

/** Where the policy reads an agent's budget utilization: a `CostGuard` (`sre.budget`) fits. */
export interface UtilizationSource {
  agentStatus(agentId: string): { utilization: number };
  /** The same figure without a status object (a `CostGuard` has it): used when present. */
  utilization?(agentId: string): number;
}

export interface DowngradePolicyOptions {
  budget: UtilizationSource;
  /** Daily-budget utilization (0..1] from which calls are routed to the cheaper model. */
  threshold: number;
  /** Requested model → cheaper model, e.g. `{ "gpt-4o": "gpt-4o-mini" }`. Unlisted models pass through. */
  models: Record<string, string>;
  /** Only these agents are downgraded (default: every agent). */
  agents?: string[];
  clock?: Clock;
  events?: EventSink;
}

const KEYS = new Set(["budget", "threshold", "models", "agents", "clock", "events"]);

/** Bound on the remembered (agent, model) pairs used to emit `budget.downgrade` once per pair. */
const MAX_ANNOUNCED = 10_000;

/**
 * Budget-aware downgrade: instead of letting an agent run into its kill threshold on an expensive
 * model, route its remaining calls to a cheaper configured one once utilization reaches `threshold`.
 * Emits `budget.downgrade` the first time each (agent, model) pair is downgraded.
 */
export class DowngradePolicy {
  readonly #budget: UtilizationSource;
  readonly #threshold: number;
  readonly #models: ReadonlyMap<string, string>;
  readonly #agents: ReadonlySet<string> | undefined;
  readonly #clock: Clock;
  readonly #events: EventSink;
  readonly #announced = new Set<string>();

  constructor(options: DowngradePolicyOptions) {
    const problems: ConfigError[] = [];
    if (typeof options !== "object" || options === null)
      throw new ConfigError("downgrade", options, "an object");
    for (const key of Object.keys(options)) {
      if (!KEYS.has(key))
        problems.push(
          new ConfigError(
            key,
            (options as unknown as Record<string, unknown>)[key],
            `a known option (${[...KEYS].join(", ")})`,
          ),
        );
    }
    if (typeof options.budget?.agentStatus !== "function") {
      problems.push(new ConfigError("budget", options.budget, "a CostGuard (agentStatus(agentId))"));
    }
    const t = options.threshold;
    if (typeof t !== "number" || !Number.isFinite(t) || t <= 0 || t > 1) {
      problems.push(new ConfigError("threshold", t, "a number in (0, 1]"));
    }
    const models = new Map<string, string>();
    if (typeof options.models !== "object" || options.models === null || Array.isArray(options.models)) {
      problems.push(
        new ConfigError("models", options.models, "an object mapping model ids to cheaper model ids"),
      );
    } else {
      for (const [from, to] of Object.entries(options.models)) {
        if (typeof to !== "string" || to.length === 0 || to === from) {
          problems.push(new ConfigError(`models.${from}`, to, "a different, non-empty model id"));
        } else models.set(from, to);
      }
    }
    if (
      options.agents !== undefined &&
      (!Array.isArray(options.agents) || options.agents.some((a) => typeof a !== "string"))
    ) {
      problems.push(new ConfigError("agents", options.agents, "an array of agent ids"));
    }
    if (problems.length === 1) throw problems[0];
    if (problems.length > 1) {
      const error = problems[0] as ConfigError;
      error.message = `${problems.length} problems in downgrade policy:\n${problems.map((p) => `  - ${p.message}`).join("\n")}`;
      throw error;
    }
    this.#budget = options.budget;
    this.#threshold = t;
    this.#models = models;
    this.#agents = options.agents ? new Set(options.agents) : undefined;
    this.#clock = options.clock ?? systemClock;
    this.#events = options.events ?? silentSink;
  }

  /** The model to call for `agentId`: the cheaper one once its utilization reached the threshold. */
  modelFor(agentId: string, requestedModel: string): string {
    const cheaper = this.#models.get(requestedModel);
    if (cheaper === undefined || (this.#agents !== undefined && !this.#agents.has(agentId)))
      return requestedModel;
    const budget = this.#budget;
    const utilization =
      budget.utilization === undefined
        ? budget.agentStatus(agentId).utilization
        : budget.utilization(agentId);
    if (!(utilization >= this.#threshold)) {
      // Back under the threshold (a new day): the next downgrade is announced again.
      if (this.#announced.size > 0) this.#announced.delete(`${agentId}\u0000${requestedModel}`);
      return requestedModel;
    }
    const pair = `${agentId}\u0000${requestedModel}`;
    if (!this.#announced.has(pair)) {
      if (this.#announced.size >= MAX_ANNOUNCED) this.#announced.clear();
      this.#announced.add(pair);
      this.#events.emit("budget.downgrade", {
        at: this.#clock.now(),
        agentId,
        fromModel: requestedModel,
        toModel: cheaper,
        utilization,
        threshold: this.#threshold,
      });
    }
    return cheaper;
  }
}
