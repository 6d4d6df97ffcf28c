import { BreakerRegistry, type CircuitBreaker } from "../breaker/index.js";
import { ChaosController, type ChaosExperiment } from "../chaos/index.js";
import { type SchedulingClock, toSchedulingClock } from "../clock.js";
import {
  CostGuard,
  type CostGuardOptions,
  GenAIPriceCatalog,
  ModelTable,
  type PriceCatalog,
} from "../cost/index.js";
import type { Delivery } from "../delivery/delivery.js";
import {
  AgentQuarantinedError,
  AgentThrottledError,
  CircuitOpenError,
  ConfigError,
  ModelNotPricedError,
  type RefusalError,
} from "../errors.js";
import { type AgentSREEventName, EventBus, type Listener } from "../events.js";
import { RateLimiter } from "../ratelimit/index.js";
import { CascadeResponse, type CascadeResponseOptions } from "../resilience/cascade-response.js";
import { RetryBudget } from "../resilience/retry-budget.js";
import { RISK_LEVELS, type RiskLevel, RogueAgentDetector } from "../rogue/index.js";
import { SLORegistry } from "../slo/index.js";
import { MemoryStore } from "../store/memory-store.js";
import { isStateStore, STATE_KINDS, type StateChange, type Store } from "../store/state-store.js";
import { requireOneOf } from "../validate.js";
import { type AgentRef, EngineAgentRef } from "./agent-ref.js";
import { abortReason, chaosFirst, waitOrThrow } from "./begin.js";
import { EngineContext, savedQuarantine } from "./context.js";
import { type FailureClass, failedWith, type GuardRun, type OutcomeMapping } from "./failure-class.js";
import { budgetMemoryOf, resolveMemoryBounds } from "./generations.js";
import type { GuardedCall } from "./guarded-call.js";
import { addObserver, type CallObserver, removeObserver } from "./observer.js";
import { engineSettings, OptionIssues, requireSection } from "./option-issues.js";
import { preflight } from "./pipeline.js";
import { applySloExhausted, applySloRecovered } from "./slo-actions.js";
import { hasSlowCallRule } from "./stages/breaker.js";
import { estimateTokens, estimateUsage, outputTokenAllowance } from "./stages/budget.js";
import { execute } from "./stages/run.js";
import { recordExternal, settle } from "./stages/settle.js";
import type { CallEstimate, GuardCall, GuardOptions, UsageReport } from "./types.js";

export type { UnknownModelPolicy } from "./context.js";

export type { AgentSREOptions } from "./options.js";
export type { AgentSREStatus, AgentStatus } from "./status-types.js";

import type { AgentSREOptions } from "./options.js";
import type { AgentSREStatus, AgentStatus } from "./status-types.js";

/**
 * The engine: one interception pipeline for every adapter. This class validates the options, builds the
 * components and wires the stages (engine/pipeline.ts lists them in order, one file each under
 * engine/stages/); it owns the public API and `status()`.
 */
export class AgentSRE {
  readonly clock: SchedulingClock;
  readonly events: EventBus;
  readonly prices: PriceCatalog;
  readonly budget: CostGuard;
  readonly breakers: BreakerRegistry;
  readonly detector: RogueAgentDetector | undefined;
  readonly slos: SLORegistry;
  readonly chaos: ChaosController;
  readonly rateLimiter: RateLimiter | undefined;
  /** Where decisions and money are kept (see `AgentSREOptions.store`). */
  readonly store: Store;
  readonly retryBudget: RetryBudget | undefined;
  readonly cascade: CascadeResponse | undefined;
  /**
   * Progressive delivery (rollouts, budget downgrade): set by `new Delivery(sre, ...)`. Adapters route model
   * calls through it, and `status()` includes it.
   */
  delivery: Delivery | undefined;

  readonly #ctx: EngineContext;
  readonly #probe: (call: GuardCall<never>) => GuardedCall;

  constructor(options: AgentSREOptions = {}) {
    if (typeof options !== "object" || options === null || Array.isArray(options)) {
      throw new ConfigError("options", options, "an options object");
    }
    // Strict configuration: every unknown key and every section's invalid values, reported at once.
    const check = new OptionIssues(options);
    const valid = check.valid.bind(check);
    this.clock = toSchedulingClock(options.clock);
    this.events = new EventBus(options.onListenerError ? { onListenerError: options.onListenerError } : {});
    const catalog = options.prices ?? new GenAIPriceCatalog();
    this.prices = valid(
      "models",
      () => (options.models === undefined ? catalog : new ModelTable(catalog, options.models)),
      () => catalog,
    );
    const settings = engineSettings(options, check);
    const budgetEnforced = options.budget !== undefined;
    this.store = valid(
      "",
      () => {
        if (options.store !== undefined && !isStateStore(options.store)) {
          throw new ConfigError("store", options.store, "a Store (ledger and state methods)");
        }
        return options.store ?? new MemoryStore();
      },
      () => new MemoryStore(),
    );
    const memory = valid(
      "",
      () => resolveMemoryBounds(options.memory),
      () => resolveMemoryBounds({}),
    );
    // The budget's per-agent records are bounded like the engine's agents (generations.ts).
    const wiring = { clock: this.clock, events: this.events, memory: budgetMemoryOf(memory) };
    const unlimited = () => new CostGuard({ store: this.store, ...UNLIMITED_BUDGET, ...wiring });
    this.budget = valid(
      "budget",
      () =>
        options.budget === undefined
          ? unlimited()
          : new CostGuard({
              store: this.store,
              ...requireSection(options.budget, "budget"),
              ...wiring,
            }),
      unlimited,
    );
    const { scope: _scope, ...breakerOptions } = (options.breakers ?? {}) as NonNullable<
      AgentSREOptions["breakers"]
    >;
    const defaultRegistry = () =>
      new BreakerRegistry({ clock: this.clock, events: this.events, state: this.store });
    this.breakers = valid(
      "breakers",
      () =>
        new BreakerRegistry({
          ...requireSection(breakerOptions, "breakers"),
          clock: this.clock,
          events: this.events,
          state: this.store,
        }),
      defaultRegistry,
    );

    let quarantineAt: RiskLevel | undefined;
    let refuseLoops = false;
    let loopRepeats = Number.POSITIVE_INFINITY;
    if (options.rogue === false) {
      this.detector = undefined;
    } else {
      const {
        quarantineAt: level = "CRITICAL",
        refuseLoops: refuse,
        ...detectorOptions
      } = options.rogue ?? {};
      this.detector = valid(
        "rogue",
        () => new RogueAgentDetector({ ...detectorOptions, clock: this.clock, events: this.events }),
        () => new RogueAgentDetector({ clock: this.clock, events: this.events }),
      );
      // Detection that never acts is a defect: CRITICAL risk quarantines by default ("never" opts out).
      quarantineAt = valid(
        "",
        () => (level === "never" ? undefined : requireOneOf(level, RISK_LEVELS, "rogue.quarantineAt")),
        () => undefined,
      );
      refuseLoops = refuse ?? true;
      loopRepeats = this.detector.loopRepeats;
    }

    const rateLimits = options.rateLimits;
    this.rateLimiter = valid(
      "rateLimits",
      () =>
        rateLimits === undefined || rateLimits.length === 0
          ? undefined
          : new RateLimiter({ rules: rateLimits, clock: this.clock }),
      () => undefined,
    );

    const sloRegistry = (evaluationIntervalMs?: number) =>
      new SLORegistry({
        clock: this.clock,
        events: this.events,
        // Only a store the application chose: the in-memory default would just hold copies of the counters.
        ...(options.store === undefined ? {} : { state: options.store }),
        ...(evaluationIntervalMs === undefined ? {} : { evaluationIntervalMs }),
        onExhausted: (slo, action) => applySloExhausted(this.#ctx, this.budget, slo, action),
        onRecovered: (slo, action) => applySloRecovered(this.#ctx, this.budget, slo, action),
      });
    this.slos = valid(
      "",
      () => sloRegistry(options.sloEvaluationIntervalMs),
      () => sloRegistry(),
    );

    this.chaos = new ChaosController({
      clock: this.clock,
      events: this.events,
      // Only a store the application chose (as for SLOs; `this.store`: validated): runs resume after a restart.
      ...(options.store === undefined ? {} : { state: this.store }),
      ...(options.chaosSeed === undefined ? {} : { seed: options.chaosSeed }),
    });

    this.retryBudget = valid(
      "",
      () =>
        options.retryBudget === false
          ? undefined
          : new RetryBudget(requireSection(options.retryBudget ?? {}, "retryBudget"), this.clock),
      () => undefined,
    );
    this.cascade = valid(
      "",
      () =>
        options.cascade === undefined
          ? undefined
          : this.#cascadeResponse(requireSection(options.cascade, "cascade")),
      () => undefined,
    );

    check.throwIfAny();

    const ctx = new EngineContext(
      this.clock,
      this.events,
      this.prices,
      this.budget,
      this.breakers,
      this.detector,
      this.slos,
      this.chaos,
      this.rateLimiter,
      {
        ...settings,
        budgetEnforced,
        quarantineAt,
        refuseLoops,
        loopRepeats,
        agentPolicies: new Map(Object.entries(options.agents ?? {})),
        classifyFailure: options.classifyFailure,
        fleetTools: options.tools ?? {},
        memory,
      },
      this.store,
    );
    ctx.settler = {
      settle: (call, ok, error, usage) => settle(ctx, call, ok, error, usage),
      outputTokenAllowance: (call) => outputTokenAllowance(ctx, call),
    };
    this.#ctx = ctx;
    ctx.retryBudget = this.retryBudget;
    if (this.retryBudget?.fleetWide === true && this.store.shared === true)
      this.retryBudget.share(this.store);
    ctx.cascade = this.cascade;
    ctx.timedBreakers = hasSlowCallRule(breakerOptions);
    this.#probe = (call) => preflight(ctx, call, undefined, false);
    for (const agentId of ctx.options.agentPolicies.keys()) ctx.addAgent(agentId);
    this.store.subscribe((change) => this.#onRemoteChange(change));
    for (const slo of options.slos ?? []) this.slos.add(slo);
  }

  #cascadeResponse(options: CascadeResponseOptions): CascadeResponse {
    const breakers = this.breakers;
    const response = new CascadeResponse(options, {
      clock: this.clock,
      retryBudget: this.retryBudget,
      openBreakers: () => breakers.openCircuits(),
      cascadeThreshold: () => breakers.cascadeThreshold,
      forceOpen: (id, reason) => breakers.get(id).forceOpen(reason),
      release: (id) => breakers.get(id).reset(),
      emit: (event: "cascade.response" | "cascade.lifted", payload: never) =>
        this.events.emit(event, payload),
    });
    this.events.on("breaker.cascade", (event) => response.onCascade(event.openBreakers));
    this.events.on("breaker.close", () => response.onBreakerRecovered());
    this.events.on("breaker.half_open", () => response.onBreakerRecovered());
    return response;
  }

  // ---------------------------------------------------------------------------------------------
  // Events

  /**
   * Registers a per-call observer (spans, metrics: see `@agent-sre/telemetry`). Returns a function that
   * removes it.
   */
  use<S>(observer: CallObserver<S>): () => void {
    const added = observer as unknown as CallObserver;
    this.#ctx.observer = addObserver(this.#ctx.observer, added);
    return () => {
      this.#ctx.observer = removeObserver(this.#ctx.observer, added);
    };
  }

  on<K extends AgentSREEventName>(name: K, listener: Listener<K>): () => void {
    return this.events.on(name, listener);
  }

  once<K extends AgentSREEventName>(name: K, listener: Listener<K>): () => void {
    return this.events.once(name, listener);
  }

  off<K extends AgentSREEventName>(name: K, listener: Listener<K>): void {
    this.events.off(name, listener);
  }

  // ---------------------------------------------------------------------------------------------
  // The pipeline

  /**
   * Runs `run` under the full pipeline and returns its result, or throws a typed refusal
   * (`RefusalError` with a stable `code`). `run` receives an abort signal (timeouts, the caller's signal)
   * and the in-flight call (for chaos input payloads). An adapter's `outcome` translates the settled call.
   */
  guard<T>(call: GuardCall<NoInfer<T>>, run: GuardRun<T>, options?: GuardOptions): Promise<T>;
  guard<T, R>(
    call: GuardCall<NoInfer<T>>,
    run: GuardRun<T>,
    options: GuardOptions | undefined,
    outcome: OutcomeMapping<NoInfer<T>, R>,
  ): Promise<R>;
  guard<T, R>(
    call: GuardCall<NoInfer<T>>,
    run: GuardRun<T>,
    options?: GuardOptions,
    outcome?: OutcomeMapping<NoInfer<T>, R>,
  ): Promise<T | R> {
    const signal = options?.signal;
    // Already aborted: never run, never charged, no permits taken.
    if (signal?.aborted === true) return failedWith(outcome, abortReason(signal));
    const ctx = this.#ctx;
    let inFlight: GuardedCall;
    try {
      inFlight = preflight(ctx, call as GuardCall<never>, signal, true, true);
    } catch (error) {
      // A throttled agent waits for its next admission (delay mode): the slow path goes through begin().
      if (error instanceof AgentThrottledError && ctx.options.throttleMode === "delay") {
        return this.begin(call, options).then(
          (begun) => execute(ctx, begun, call, run, signal, false, this.#probe, outcome),
          (refusal: unknown) => failedWith(outcome, refusal),
        );
      }
      return failedWith(outcome, error);
    }
    return execute(ctx, inFlight, call, run, signal, inFlight.plan !== undefined, this.#probe, outcome);
  }

  /**
   * Pre-flight only: returns a call that holds its permits and reservation until you settle it with
   * `succeed()` / `fail()`. For streams and other work whose end the adapter observes itself. Chaos
   * latency, error and timeout faults are applied before it resolves.
   */
  begin<T>(call: GuardCall<T>, options?: GuardOptions): Promise<GuardedCall> {
    try {
      const begun = this.beginNow(call, options);
      return begun instanceof Promise ? begun : Promise.resolve(begun);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * `begin()` without a promise when the call need not wait: the call in flight itself, at once, when no
   * chaos fault is planned before it and its agent is not throttled in delay mode (the usual call), else the
   * promise `begin()` gives. A refusal (and an aborted signal) throws here instead of rejecting. For adapters
   * that start many short calls (streams): no promise, no `await` (see engine/begin.ts).
   */
  beginNow<T>(call: GuardCall<T>, options?: GuardOptions): GuardedCall | Promise<GuardedCall> {
    const signal = options?.signal;
    if (signal?.aborted === true) throw abortReason(signal);
    let inFlight: GuardedCall;
    try {
      inFlight = preflight(this.#ctx, call as GuardCall<never>, signal, true);
    } catch (error) {
      return waitOrThrow(this.#ctx, this.clock, call as GuardCall<never>, signal, this.#probe, error);
    }
    return inFlight.plan === undefined ? inFlight : chaosFirst(this.#ctx, inFlight, signal, this.#probe);
  }

  /**
   * The refusal a new call of this agent (and task) would get right now — quarantine, an open agent
   * breaker, a kill or throttle, an exhausted budget — or `undefined`. Reserves nothing and takes no
   * admission: for stop conditions and for callbacks that can only veto. With `model` and `estimate`, the
   * budget check is for a call of that size (e.g. "would another step like the last one fit?").
   */
  admission(
    agentId: string,
    options: { taskId?: string; model?: string; provider?: string; estimate?: CallEstimate } = {},
  ): RefusalError | undefined {
    const agent = this.#ctx.agent(agentId);
    if (agent.quarantine !== undefined) return new AgentQuarantinedError(agentId, agent.quarantine.reason);
    const retryAfterMs = agent.breaker.retryAfterMs();
    if (retryAfterMs > 0) return new CircuitOpenError(agent.breaker.id, retryAfterMs, agentId);
    if (!this.#ctx.options.budgetEnforced) return undefined;
    const estimate = options.estimate;
    let estimatedCostUsd = estimate?.costUsd ?? 0;
    const model = options.model;
    if (model !== undefined && this.#ctx.options.unknownModel === "block") {
      if (this.prices.resolve(model, options.provider) === undefined)
        return new ModelNotPricedError(agentId, model);
    }
    if (estimate?.costUsd === undefined && model !== undefined && estimate !== undefined) {
      const usage = estimateUsage(estimate);
      const micros = this.prices.costMicros(model, usage, options.provider);
      estimatedCostUsd =
        micros !== undefined
          ? micros / 1_000_000
          : this.#ctx.options.unknownModel === "free"
            ? 0
            : this.#ctx.unknownModelUsd(usage.inputTokens, usage.outputTokens);
    }
    const request: { taskId?: string; estimatedCostUsd: number; estimatedTokens: number } = {
      estimatedCostUsd,
      estimatedTokens: estimateTokens(estimate),
    };
    if (options.taskId !== undefined) request.taskId = options.taskId;
    return this.budget.refusalFor(agentId, request);
  }

  /**
   * Records a call that ran outside the pipeline (observation-only integrations such as a callback handler
   * in observe mode): prices and records its spend, feeds the breakers (`recordSuccess`/`recordFailure`),
   * SLOs, the rogue detector, chaos metrics and events. Refuses nothing and injects nothing.
   */
  record(
    call: Omit<GuardCall<never>, "usage">,
    outcome: {
      ok: boolean;
      durationMs: number;
      usage?: UsageReport;
      error?: unknown;
      failureClass?: FailureClass;
    },
  ): void {
    recordExternal(this.#ctx, call, outcome);
  }

  // ---------------------------------------------------------------------------------------------
  // Agents, quarantine, freeze

  /**
   * Binds an agent once, for an adapter or a caller made for that agent: pass the ref with each of its calls
   * (`{ agentId, agentRef, ... }`) and the engine finds the agent's state through it instead of by id. With
   * thousands of agents the lookup by id is the call's costliest memory access (a line picked by the id's hash).
   */
  agentRef(agentId: string): AgentRef {
    return new EngineAgentRef(this.#ctx, agentId);
  }

  /** Whether the agent may call the tool under the allow/deny lists (e.g. to hide tools from a listing). */
  toolAllowed(agentId: string, toolName: string): boolean {
    return (this.#ctx.agent(agentId).capability?.check(toolName) ?? "allowed") === "allowed";
  }

  /** The agent's own breaker (`agent:<id>`): `forceOpen()` it to stop the agent, `reset()` to let it go. */
  agentBreaker(agentId: string): CircuitBreaker {
    return this.#ctx.agent(agentId).breaker;
  }

  /** Refuses every call of the agent with `AGENT_QUARANTINED` until `release()`. */
  quarantine(agentId: string, reason: string, riskLevel?: RiskLevel): void {
    this.#ctx.quarantine(agentId, reason, riskLevel);
  }

  /** Lifts a quarantine and clears the detector's signals for the agent (a fresh start). */
  release(agentId: string): void {
    const agent = this.#ctx.agents.get(agentId);
    if (agent?.quarantine === undefined) return;
    agent.quarantine = undefined;
    this.store.deleteState(STATE_KINDS.quarantine, agentId);
    this.detector?.reset(agentId);
    this.events.emit("agent.release", { at: this.clock.now(), agentId });
  }

  isQuarantined(agentId: string): boolean {
    const agent = this.#ctx.agents.get(agentId);
    // An agent this process has not seen yet: the store's record (a restart, another process).
    if (agent === undefined)
      return savedQuarantine(this.store.getState(STATE_KINDS.quarantine, agentId)) !== undefined;
    return agent.quarantine !== undefined;
  }

  /** A quarantine or release made by another process sharing the store. */
  #onRemoteChange(change: StateChange): void {
    if (change.kind !== STATE_KINDS.quarantine) return;
    const agent = this.#ctx.agents.get(change.id);
    if (agent !== undefined) agent.quarantine = savedQuarantine(change.value);
  }

  /**
   * Writes what the engine saves to its store on a schedule (each SLO's error-budget counts, at most once a
   * minute), and what it writes only here (breaker windows, HALF_OPEN probes, chaos runs' counts) now. Call it before a planned shutdown so a restart loses nothing; a crash loses at most a
   * minute of SLO events. Transitions (kills, quarantines, breakers) and spend are written as they happen.
   */
  flush(): void {
    this.slos.saveAll();
    this.chaos.saveAll();
    this.breakers.saveAll();
  }

  /** Refuses every call of the agent with `AGENT_KILLED` for the rest of its day, or until `revive()`. */
  kill(agentId: string, reason: string): void {
    this.budget.kill(agentId, reason);
  }

  /** Lifts a budget kill on the agent (spend is kept). */
  revive(agentId: string): void {
    this.budget.revive(agentId);
  }

  /** Whether an exhausted SLO with the `FREEZE_DEPLOYMENTS` action (or `freezeDeployments()`) holds deliveries. */
  get deploymentsFrozen(): boolean {
    return this.#ctx.frozenBy.size > 0;
  }

  freezeDeployments(key: string, reason: string): void {
    this.#ctx.frozenBy.set(key, { at: this.clock.now(), reason });
  }

  unfreezeDeployments(key: string): void {
    this.#ctx.frozenBy.delete(key);
  }

  // ---------------------------------------------------------------------------------------------
  // Chaos

  /** Starts a chaos experiment: its faults are injected into matching calls from now on. */
  startExperiment(experiment: ChaosExperiment): void {
    this.chaos.start(experiment);
  }

  // ---------------------------------------------------------------------------------------------
  // Status

  /** A JSON-serializable snapshot of every agent and every component. */
  status(): AgentSREStatus {
    const at = this.clock.now();
    const agents: Record<string, AgentStatus> = {};
    for (const agent of this.#ctx.agents.values()) {
      const budget = this.budget.agentStatus(agent.id);
      agents[agent.id] = {
        breaker: agent.breaker.state,
        quarantined: agent.quarantine ?? null,
        riskLevel: this.detector?.riskLevel(agent.id) ?? "LOW",
        calls: agent.calls,
        refused: agent.refused,
        failed: agent.failed,
        unpricedTokens: agent.unpricedTokens,
        openReservations: budget.openReservations,
        budget: budget as unknown as Record<string, unknown>,
      };
    }
    const status: AgentSREStatus = {
      at,
      budgetEnforced: this.#ctx.options.budgetEnforced,
      agents,
      breakers: this.breakers.snapshot() as unknown as Record<string, unknown>,
      openCircuits: this.breakers.openCircuits(),
      budget: this.budget.snapshot() as unknown as Record<string, unknown>,
      slos: this.slos.snapshot() as unknown as unknown[],
      chaos: this.chaos
        .active()
        .map((experiment) => experiment.report() as unknown as Record<string, unknown>),
      deploymentsFrozen: this.deploymentsFrozen,
      freezeReasons: [...this.#ctx.frozenBy.values()].map((entry) => entry.reason),
      tracked: this.#ctx.trackedEntries(),
    };
    if (this.delivery !== undefined) status.delivery = this.delivery.status();
    return status;
  }
}

const UNLIMITED_BUDGET: Omit<CostGuardOptions, "clock" | "events"> = {
  perTaskLimitUsd: Number.POSITIVE_INFINITY,
  perAgentDailyLimitUsd: Number.POSITIVE_INFINITY,
  orgMonthlyBudgetUsd: Number.POSITIVE_INFINITY,
  autoThrottle: false,
  anomalyDetection: false,
};
