import type {
  AgentSRE,
  BreakerTransition,
  CallObserver,
  CallOutcome,
  GuardCall,
  RefusalError,
} from "@agent-sre/core";
import {
  type Attributes,
  type BatchObservableResult,
  type Counter,
  createNoopMeter,
  type Histogram,
  type Meter,
  metrics,
  type ObservableGauge,
} from "@opentelemetry/api";
import {
  ATTR_AGENT,
  ATTR_BREAKER_ID,
  ATTR_BREAKER_TO,
  ATTR_BUDGET_SCOPE,
  ATTR_DECISION,
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_TOKEN_TYPE,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_REFUSAL_CODE,
  ATTR_SLO,
  ATTR_SLO_WINDOW,
  breakerStateValue,
  DURATION_BUCKETS_S,
  errorType,
  METRIC_BREAKER_STATE,
  METRIC_BREAKER_TRANSITIONS,
  METRIC_BUDGET_UTILIZATION,
  METRIC_COST,
  METRIC_OPERATION_DURATION,
  METRIC_REFUSALS,
  METRIC_SLO_BUDGET_REMAINING,
  METRIC_SLO_BURN_RATE,
  METRIC_TOKEN_USAGE,
  OPERATION_CHAT,
  OPERATION_EXECUTE_TOOL,
  TOKEN_BUCKETS,
} from "./attributes.js";
import { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from "./tracing.js";

/** The class of the API's no-op meter (what `metrics.getMeter()` returns while no SDK is registered). */
const NOOP_METER_CLASS = createNoopMeter().constructor;

export interface MetricsObserverOptions {
  /** Default: `metrics.getMeter("@agent-sre/telemetry")` from the global provider (a no-op without an SDK). */
  meter?: Meter;
  /** `gen_ai.operation.name` of model calls (default `chat`). */
  modelOperation?: string;
}

/**
 * OpenTelemetry metrics for an engine: per call `gen_ai.client.token.usage`,
 * `gen_ai.client.operation.duration`, `agent_sre.cost` and `agent_sre.refusals`; per event
 * `agent_sre.breaker.transitions`; and, read from the engine at each collection, breaker states, budget
 * utilisation, SLO burn rates per window and error budget remaining. Attribute sets are bounded by what the
 * engine bounds (agents, models, tools, breakers, SLOs).
 */
export class MetricsObserver implements CallObserver<undefined> {
  readonly #modelOperation: string;
  readonly #tokens: Histogram;
  readonly #duration: Histogram;
  readonly #cost: Counter;
  readonly #refusals: Counter;
  readonly #transitions: Counter;
  readonly #gauges: ObservableGauge[];
  readonly #meter: Meter;
  /**
   * The meter is the API's no-op (no SDK was registered when it was taken, and the metrics API has no proxy
   * that would pick one up later): every record would be dropped, so calls skip building attributes.
   */
  readonly disabled: boolean;
  readonly #unsubscribe: Array<() => void> = [];
  readonly #collect: (result: BatchObservableResult) => void;

  constructor(sre: AgentSRE, options: MetricsObserverOptions = {}) {
    const meter = options.meter ?? metrics.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
    this.#meter = meter;
    this.disabled = meter.constructor === NOOP_METER_CLASS;
    this.#modelOperation = options.modelOperation ?? OPERATION_CHAT;
    this.#tokens = meter.createHistogram(METRIC_TOKEN_USAGE, {
      description: "Number of input and output tokens used per model call",
      unit: "{token}",
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
    });
    this.#duration = meter.createHistogram(METRIC_OPERATION_DURATION, {
      description: "Duration of guarded model and tool calls",
      unit: "s",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS_S },
    });
    this.#cost = meter.createCounter(METRIC_COST, {
      description: "Spend committed by guarded calls",
      unit: "USD",
    });
    this.#refusals = meter.createCounter(METRIC_REFUSALS, {
      description: "Calls refused by the engine, by refusal code",
      unit: "{call}",
    });
    this.#transitions = meter.createCounter(METRIC_BREAKER_TRANSITIONS, {
      description: "Circuit breaker state transitions, by breaker and new state",
      unit: "{transition}",
    });
    const breakerState = meter.createObservableGauge(METRIC_BREAKER_STATE, {
      description: "Circuit breaker state: 0 closed, 1 half-open, 2 open",
    });
    const utilization = meter.createObservableGauge(METRIC_BUDGET_UTILIZATION, {
      description: "Spend over the limit: per agent (today / daily limit) and org (month / monthly budget)",
      unit: "1",
    });
    const burnRate = meter.createObservableGauge(METRIC_SLO_BURN_RATE, {
      description:
        "SLO error budget burn rate per window (1 = spending the budget exactly over the SLO window)",
      unit: "1",
    });
    const remaining = meter.createObservableGauge(METRIC_SLO_BUDGET_REMAINING, {
      description: "SLO error budget remaining, as a fraction of the budget (0 when exhausted)",
      unit: "1",
    });
    this.#gauges = [breakerState, utilization, burnRate, remaining];
    this.#collect = (result) => {
      for (const breaker of sre.breakers.snapshot().breakers) {
        result.observe(breakerState, breakerStateValue(breaker.state), { [ATTR_BREAKER_ID]: breaker.id });
      }
      const budget = sre.budget.snapshot();
      for (const agent of budget.agents) {
        if (agent.limits.dailyLimitUsd === null) continue;
        result.observe(utilization, agent.utilization, {
          [ATTR_AGENT]: agent.agentId,
          [ATTR_BUDGET_SCOPE]: "agent",
        });
      }
      if (budget.org.monthlyBudgetUsd !== null) {
        result.observe(utilization, budget.org.utilization, { [ATTR_BUDGET_SCOPE]: "org" });
      }
      for (const slo of sre.slos.snapshot()) {
        const attributes: Attributes = { [ATTR_SLO]: slo.name };
        if (slo.agentId !== undefined) attributes[ATTR_AGENT] = slo.agentId;
        result.observe(remaining, slo.budgetRemainingPercent / 100, attributes);
        for (const [window, rate] of Object.entries(slo.burnRates)) {
          if (Number.isFinite(rate))
            result.observe(burnRate, rate, { ...attributes, [ATTR_SLO_WINDOW]: window });
        }
      }
    };
    meter.addBatchObservableCallback(this.#collect, this.#gauges);
    const onTransition = (event: BreakerTransition) => {
      this.#transitions.add(1, { [ATTR_BREAKER_ID]: event.breakerId, [ATTR_BREAKER_TO]: event.to });
    };
    for (const name of ["breaker.open", "breaker.half_open", "breaker.close"] as const) {
      this.#unsubscribe.push(sre.on(name, onTransition));
    }
  }

  /** The engine skips calls while the meter is the API's no-op. */
  enabled(): boolean {
    return !this.disabled;
  }

  end(_state: undefined, call: GuardCall<never>, outcome: CallOutcome): void {
    const isTool = call.kind === "tool";
    const attributes: Attributes = {
      [ATTR_GEN_AI_OPERATION_NAME]: isTool ? OPERATION_EXECUTE_TOOL : this.#modelOperation,
      [ATTR_AGENT]: call.agentId,
    };
    if (isTool) attributes[ATTR_GEN_AI_TOOL_NAME] = call.name;
    else attributes[ATTR_GEN_AI_REQUEST_MODEL] = call.name;
    if (call.provider !== undefined) attributes[ATTR_GEN_AI_PROVIDER_NAME] = call.provider;
    if (outcome.costUsd > 0) this.#cost.add(outcome.costUsd, attributes);
    if (!isTool) {
      const usage = outcome.usage;
      const tokenAttributes = { ...attributes, [ATTR_GEN_AI_RESPONSE_MODEL]: usage.model ?? call.name };
      this.#tokens.record(usage.inputTokens, { ...tokenAttributes, [ATTR_GEN_AI_TOKEN_TYPE]: "input" });
      this.#tokens.record(usage.outputTokens, { ...tokenAttributes, [ATTR_GEN_AI_TOKEN_TYPE]: "output" });
    }
    if (!outcome.ok) attributes[ATTR_ERROR_TYPE] = errorType(outcome.error);
    this.#duration.record(outcome.durationMs / 1000, attributes);
  }

  refused(call: GuardCall<never>, error: RefusalError): void {
    this.#refusals.add(1, {
      [ATTR_REFUSAL_CODE]: error.code,
      [ATTR_AGENT]: call.agentId,
      [ATTR_GEN_AI_OPERATION_NAME]: call.kind === "tool" ? OPERATION_EXECUTE_TOOL : this.#modelOperation,
      [ATTR_DECISION]: "refused",
    });
  }

  /** Stops listening to the engine's events and detaches the gauges' callback. */
  dispose(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#meter.removeBatchObservableCallback(this.#collect, this.#gauges);
  }
}
