import type {
  AgentSRE,
  AgentSREStatus,
  BreakerRegistrySnapshot,
  CallObserver,
  CallOutcome,
  CostGuardSnapshot,
  GuardCall,
  RefusalError,
  SLOEvaluation,
} from "@agent-sre/core";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { breakerStateValue } from "./attributes.js";

export interface EnginePrometheusOptions {
  /** Register into this registry (e.g. a server's own). Default: a new one (never the global default). */
  registry?: Registry;
}

/** Seconds buckets for guarded calls: model calls take seconds, tool calls milliseconds. */
const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const SLO_STATUSES = ["HEALTHY", "WARNING", "CRITICAL", "EXHAUSTED", "UNKNOWN"] as const;

interface View {
  status: AgentSREStatus;
  budget: CostGuardSnapshot;
  breakers: BreakerRegistrySnapshot;
  slos: SLOEvaluation[];
}

/**
 * Prometheus metrics for one engine, in a prom-client registry: call counters and durations fed per call
 * (through `sre.use`), and gauges read from the engine at each scrape — breaker states, spend against limits
 * per agent and for the org, kills, throttles and quarantines, SLO error budget remaining and burn rate per
 * window. Names are stable (`agent_sre_*`); label sets are bounded by the engine's own caps (agents,
 * models and tools, breakers, SLOs, refusal codes).
 *
 * ```ts
 * const prom = prometheusMetrics(sre);
 * http.createServer(metricsHandler(prom.registry)).listen(9464);
 * ```
 */
export class EnginePrometheus implements CallObserver<undefined> {
  readonly registry: Registry;
  readonly #calls: Counter<"agent" | "kind" | "outcome">;
  readonly #duration: Histogram<"kind" | "target">;
  readonly #tokens: Counter<"agent" | "model" | "type">;
  readonly #cost: Counter<"agent">;
  readonly #refusals: Counter<"agent" | "code">;
  readonly #transitions: Counter<"breaker" | "to">;
  readonly #unsubscribe: Array<() => void> = [];
  /** Children cached per label set: `labels()` hashes its arguments on every call otherwise. */
  readonly #children = new Map<string, { inc(value?: number): void; observe?(value: number): void }>();
  /** The engine's state read once per scrape by the first gauge, shared by the others. */
  #view: View | undefined;

  constructor(sre: AgentSRE, options: EnginePrometheusOptions = {}) {
    const registry = options.registry ?? new Registry();
    this.registry = registry;
    const registers = [registry];
    const refresh = (): View => {
      this.#view = {
        status: sre.status(),
        budget: sre.budget.snapshot(),
        breakers: sre.breakers.snapshot(),
        slos: sre.slos.snapshot(),
      };
      return this.#view;
    };
    const read = (): View => this.#view ?? refresh();
    // Registered first: prom-client starts collecting in registration order, so this reads the engine
    // once per scrape and the gauges below share that view.
    new Gauge({
      name: "agent_sre_scrape_timestamp_seconds",
      help: "Engine clock at the scrape (seconds)",
      registers,
      collect() {
        this.set(refresh().status.at / 1000);
      },
    });
    this.#calls = new Counter({
      name: "agent_sre_calls_total",
      help: "Guarded calls that ran, by agent, kind (model|tool) and outcome (ok|error|cancelled)",
      labelNames: ["agent", "kind", "outcome"],
      registers,
    });
    this.#duration = new Histogram({
      name: "agent_sre_call_duration_seconds",
      help: "Duration of guarded calls that ran, by kind and target (model or tool)",
      labelNames: ["kind", "target"],
      buckets: DURATION_BUCKETS_S,
      registers,
    });
    this.#tokens = new Counter({
      name: "agent_sre_tokens_total",
      help: "Tokens used by model calls, by agent, model and type (input|output)",
      labelNames: ["agent", "model", "type"],
      registers,
    });
    this.#cost = new Counter({
      name: "agent_sre_cost_usd_total",
      help: "Spend committed by guarded calls, USD",
      labelNames: ["agent"],
      registers,
    });
    this.#refusals = new Counter({
      name: "agent_sre_refusals_total",
      help: "Calls refused by the engine, by agent and refusal code",
      labelNames: ["agent", "code"],
      registers,
    });
    this.#transitions = new Counter({
      name: "agent_sre_breaker_transitions_total",
      help: "Circuit breaker transitions, by breaker and new state",
      labelNames: ["breaker", "to"],
      registers,
    });
    new Gauge({
      name: "agent_sre_breaker_state",
      help: "Circuit breaker state: 0 closed, 1 half-open, 2 open",
      labelNames: ["breaker"],
      registers,
      collect() {
        this.reset();
        for (const breaker of read().breakers.breakers)
          this.set({ breaker: breaker.id }, breakerStateValue(breaker.state));
      },
    });
    new Gauge({
      name: "agent_sre_breakers_open",
      help: "Circuit breakers that are open",
      registers,
      collect() {
        this.set(read().breakers.openCircuits.length);
      },
    });
    new Gauge({
      name: "agent_sre_cascading",
      help: "1 while open breakers reach the cascade threshold",
      registers,
      collect() {
        this.set(read().breakers.cascading ? 1 : 0);
      },
    });
    new Gauge({
      name: "agent_sre_agent_spend_usd",
      help: "Spend per agent in the current day, USD",
      labelNames: ["agent"],
      registers,
      collect() {
        this.reset();
        for (const agent of read().budget.agents) this.set({ agent: agent.agentId }, agent.spentTodayUsd);
      },
    });
    new Gauge({
      name: "agent_sre_agent_budget_limit_usd",
      help: "Daily budget per agent, USD (absent when unlimited)",
      labelNames: ["agent"],
      registers,
      collect() {
        this.reset();
        for (const agent of read().budget.agents) {
          if (agent.limits.dailyLimitUsd !== null)
            this.set({ agent: agent.agentId }, agent.limits.dailyLimitUsd);
        }
      },
    });
    new Gauge({
      name: "agent_sre_agent_budget_utilization_ratio",
      help: "Spend today over the daily limit, per agent (absent when unlimited)",
      labelNames: ["agent"],
      registers,
      collect() {
        this.reset();
        for (const agent of read().budget.agents) {
          if (agent.limits.dailyLimitUsd !== null) this.set({ agent: agent.agentId }, agent.utilization);
        }
      },
    });
    new Gauge({
      name: "agent_sre_org_spend_usd",
      help: "Org spend in the current month, USD",
      registers,
      collect() {
        this.set(read().budget.org.spentThisMonthUsd);
      },
    });
    new Gauge({
      name: "agent_sre_org_budget_limit_usd",
      help: "Org monthly budget, USD (absent when unlimited)",
      registers,
      collect() {
        this.reset();
        const limit = read().budget.org.monthlyBudgetUsd;
        if (limit !== null) this.set(limit);
      },
    });
    new Gauge({
      name: "agent_sre_agent_state",
      help: "1 for each agent that is killed (budget), throttled or quarantined",
      labelNames: ["agent", "state"],
      registers,
      collect() {
        this.reset();
        const { status, budget } = read();
        for (const agent of budget.agents) {
          this.set({ agent: agent.agentId, state: "killed" }, agent.killed ? 1 : 0);
          this.set({ agent: agent.agentId, state: "throttled" }, agent.throttled ? 1 : 0);
        }
        for (const [agent, state] of Object.entries(status.agents))
          this.set({ agent, state: "quarantined" }, state.quarantined === null ? 0 : 1);
      },
    });
    new Gauge({
      name: "agent_sre_slo_error_budget_remaining_ratio",
      help: "SLO error budget remaining, as a fraction of the budget (0 when exhausted)",
      labelNames: ["slo"],
      registers,
      collect() {
        this.reset();
        for (const slo of read().slos) this.set({ slo: slo.name }, slo.budgetRemainingPercent / 100);
      },
    });
    new Gauge({
      name: "agent_sre_slo_burn_rate",
      help: "SLO error budget burn rate per window (1 = the budget lasts exactly the SLO window)",
      labelNames: ["slo", "window"],
      registers,
      collect() {
        this.reset();
        for (const slo of read().slos) {
          for (const [window, rate] of Object.entries(slo.burnRates))
            if (Number.isFinite(rate)) this.set({ slo: slo.name, window }, rate);
        }
      },
    });
    new Gauge({
      name: "agent_sre_slo_status",
      help: "1 for the SLO's current status (HEALTHY, WARNING, CRITICAL, EXHAUSTED, UNKNOWN), 0 for the others",
      labelNames: ["slo", "status"],
      registers,
      collect() {
        this.reset();
        for (const slo of read().slos)
          for (const status of SLO_STATUSES)
            this.set({ slo: slo.name, status }, slo.status === status ? 1 : 0);
      },
    });
    new Gauge({
      name: "agent_sre_chaos_experiments_running",
      help: "Chaos experiments injecting faults now",
      registers,
      collect() {
        this.set(read().status.chaos.length);
      },
    });

    for (const name of ["breaker.open", "breaker.half_open", "breaker.close"] as const) {
      this.#unsubscribe.push(
        sre.on(name, (event) => this.#child("t", this.#transitions, event.breakerId, event.to).inc()),
      );
    }
    this.#unsubscribe.push(sre.use(this));
  }

  end(_state: undefined, call: GuardCall<never>, outcome: CallOutcome): void {
    const agent = call.agentId;
    const kind = call.kind;
    const result = outcome.ok ? "ok" : outcome.cancelled ? "cancelled" : "error";
    this.#child("c", this.#calls, agent, kind, result).inc();
    (this.#child("d", this.#duration, kind, call.name) as { observe(v: number): void }).observe(
      outcome.durationMs / 1000,
    );
    if (outcome.costUsd > 0) this.#child("$", this.#cost, agent).inc(outcome.costUsd);
    if (kind === "model") {
      const model = outcome.usage.model ?? call.name;
      const usage = outcome.usage;
      if (usage.inputTokens > 0) this.#child("i", this.#tokens, agent, model, "input").inc(usage.inputTokens);
      if (usage.outputTokens > 0)
        this.#child("o", this.#tokens, agent, model, "output").inc(usage.outputTokens);
    }
  }

  refused(call: GuardCall<never>, error: RefusalError): void {
    this.#child("r", this.#refusals, call.agentId, error.code).inc();
  }

  /** The Prometheus text exposition. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Detaches from the engine (the registry keeps its metrics). */
  dispose(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
  }

  #child(
    tag: string,
    metric: Counter<string> | Histogram<string>,
    ...values: string[]
  ): { inc(value?: number): void; observe?(value: number): void } {
    const key = `${tag}\u0000${values.join("\u0000")}`;
    let child = this.#children.get(key);
    if (child === undefined) {
      child = (metric as Counter<string>).labels(...values) as unknown as { inc(value?: number): void };
      this.#children.set(key, child);
    }
    return child;
  }
}

/** Prometheus metrics for the engine (see `EnginePrometheus`). */
export function prometheusMetrics(sre: AgentSRE, options: EnginePrometheusOptions = {}): EnginePrometheus {
  return new EnginePrometheus(sre, options);
}
