import {
  BreakerRegistry,
  type BreakerRegistryOptions,
  type CircuitBreaker,
  PERMIT_PROBE,
  PERMIT_REJECTED,
} from "../breaker/index.js";
import {
  ChaosController,
  type ChaosExperiment,
  containsCanary,
  type FaultApplication,
  injectPayload,
} from "../chaos/index.js";
import { type Clock, type SchedulingClock, sleep, toSchedulingClock } from "../clock.js";
import {
  CostGuard,
  type CostGuardOptions,
  GenAIPriceCatalog,
  type PriceCatalog,
  type Reservation,
} from "../cost/index.js";
import { parseDuration } from "../duration.js";
import {
  AgentQuarantinedError,
  AgentThrottledError,
  BudgetExceededError,
  CircuitOpenError,
  ConfigError,
  InvalidArgumentError,
  LoopDetectedError,
  ModelNotPricedError,
  RateLimitedError,
  RefusalError,
  TimeoutError,
  TokenLimitExceededError,
  ToolNotAllowedError,
} from "../errors.js";
import { type AgentSREEventName, EventBus, type Listener } from "../events.js";
import { RateLimiter, type RateLimitRule } from "../ratelimit/index.js";
import { CompiledCapabilityProfile } from "../rogue/capability.js";
import {
  RISK_LEVELS,
  type RiskLevel,
  RogueAgentDetector,
  type RogueDetectorOptions,
  riskAtLeast,
} from "../rogue/index.js";
import { type SLO, SLORegistry } from "../slo/index.js";
import type { CallObservation, TokenUsage } from "../types.js";
import { requireOneOf } from "../validate.js";
import { DeadlineQueue, unlinkDeadline } from "./deadlines.js";
import { type CallSettler, GuardedCall } from "./guarded-call.js";
import type {
  AgentPolicy,
  CallEstimate,
  GuardCall,
  GuardOptions,
  ThrottleOptions,
  TimeoutOptions,
  UsageReport,
} from "./types.js";

export type UnknownModelPolicy = "warn" | "block" | "free";

export interface AgentSREOptions {
  /** Time source (and timers, if it has them). Default: the system clock. */
  clock?: Clock;
  /** Price data. Default: `@pydantic/genai-prices` behind a memoized catalog. */
  prices?: PriceCatalog;
  /**
   * What to do with a model that has no price: `"warn"` (default) counts it as $0, emits `price.unknown`
   * once per model and shows the unpriced tokens in the status (token limits still apply); `"block"`
   * refuses the call with `MODEL_NOT_PRICED`; `"free"` counts it as $0 silently.
   */
  unknownModel?: UnknownModelPolicy;
  /** Budgets. Without it the engine still prices and records spend, and enforces nothing. */
  budget?: Omit<CostGuardOptions, "clock" | "events">;
  /**
   * Circuit breakers: one per model (`model:<name>`), one per tool (`tool:<name>`), and one per agent
   * (`agent:<id>`). `scope` says which of them record call outcomes: `"target"` (default) trips the model or
   * tool that fails; `"both"` also trips the agent after its own run of failures. The agent breaker is
   * always checked, so `forceOpen` and the SLO action `CIRCUIT_BREAK` stop an agent.
   */
  breakers?: Omit<BreakerRegistryOptions, "clock" | "events"> & { scope?: "target" | "both" };
  /** Fleet-wide tool lists (globs with `*`), merged into each agent's capability profile. */
  tools?: { allow?: string[]; deny?: string[] };
  /** Per-agent policy, keyed by agent id. */
  agents?: Record<string, AgentPolicy>;
  /**
   * Call-rate rules for tool calls (token buckets per agent, tool, agent+tool or fleet). A call over a
   * limit is refused with `RATE_LIMITED` and `retryAfterMs`; a refused attempt still spends its admission.
   */
  rateLimits?: RateLimitRule[];
  timeouts?: TimeoutOptions;
  /** How a throttled agent is slowed down. */
  throttle?: ThrottleOptions;
  /**
   * Rogue-agent detection (on by default). `quarantineAt` quarantines an agent whose risk reaches that
   * level (default: never, detection only); `refuseLoops` refuses the K-th identical tool call with
   * `LOOP_DETECTED` (default true).
   */
  rogue?:
    | false
    | (Omit<RogueDetectorOptions, "clock" | "events"> & {
        quarantineAt?: RiskLevel | "never";
        refuseLoops?: boolean;
      });
  /** SLOs to feed from the pipeline and to act on when their budget is exhausted. */
  slos?: SLO[];
  /** How often (at most) SLOs are evaluated from the hot path. Default 1 s. */
  sloEvaluationIntervalMs?: number;
  /** Seed of the chaos RNG (reproducible experiments). */
  chaosSeed?: number;
  /** Where listener errors go. Default: `console.error`. */
  onListenerError?: (error: unknown, event: AgentSREEventName) => void;
}

interface AgentState {
  readonly id: string;
  readonly breaker: CircuitBreaker;
  /** Allow/deny lists (fleet + agent); undefined = every tool allowed. */
  readonly capability: CompiledCapabilityProfile | undefined;
  quarantine: { reason: string; at: number } | undefined;
  unpricedTokens: number;
  calls: number;
  refused: number;
  failed: number;
}

const NO_USAGE: UsageReport = { inputTokens: 0, outputTokens: 0 };

/**
 * The engine: one interception pipeline for every adapter.
 *
 * ```
 * guard(call, run)
 *   pre-flight   quarantine → tool allow/deny → loop check → budget reservation → breaker permits
 *   execution    chaos (latency | error | timeout | payload) → run(signal) with timeout
 *   post-flight  usage → cost → commit/release → breaker outcome → SLOs → rogue detector → chaos metrics → events
 * ```
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

  readonly #unknownModel: UnknownModelPolicy;
  readonly #budgetEnforced: boolean;
  readonly #recordAgentOutcomes: boolean;
  readonly #agents = new Map<string, AgentState>();
  readonly #modelBreakers = new Map<string, CircuitBreaker>();
  readonly #toolBreakers = new Map<string, CircuitBreaker>();
  readonly #agentPolicies: Record<string, AgentPolicy>;
  readonly #fleetTools: { allow?: string[]; deny?: string[] };
  readonly #modelTimeoutMs: number;
  readonly #toolTimeoutMs: number;
  readonly #deadlineQueues = new Map<number, DeadlineQueue>();
  readonly #throttleMode: "delay" | "reject";
  readonly #throttleMaxDelayMs: number;
  readonly #quarantineAt: RiskLevel | undefined;
  readonly #refuseLoops: boolean;
  readonly #loopRepeats: number;
  readonly #warnedModels = new Set<string>();
  readonly #frozenBy = new Map<string, { at: number; reason: string }>();
  /** Adversarial payloads delivered to an agent whose outcome (blocked, detected, passed) is not known yet. */
  readonly #pendingAdversarial = new Map<string, Array<{ experiment: string; faultId: string }>>();
  readonly #settler: CallSettler;

  constructor(options: AgentSREOptions = {}) {
    this.clock = toSchedulingClock(options.clock);
    this.events = new EventBus(options.onListenerError ? { onListenerError: options.onListenerError } : {});
    this.prices = options.prices ?? new GenAIPriceCatalog();
    this.#unknownModel = requireOneOf(
      options.unknownModel ?? "warn",
      ["warn", "block", "free"],
      "unknownModel",
    );
    this.#budgetEnforced = options.budget !== undefined;
    this.budget = new CostGuard({
      ...(options.budget ?? UNLIMITED_BUDGET),
      clock: this.clock,
      events: this.events,
    });
    const { scope, ...breakerOptions } = options.breakers ?? {};
    this.#recordAgentOutcomes =
      requireOneOf(scope ?? "target", ["target", "both"], "breakers.scope") === "both";
    this.breakers = new BreakerRegistry({ ...breakerOptions, clock: this.clock, events: this.events });
    this.#fleetTools = options.tools ?? {};
    this.#agentPolicies = options.agents ?? {};
    this.#modelTimeoutMs =
      options.timeouts?.modelMs === undefined
        ? 0
        : parseDuration(options.timeouts.modelMs, "timeouts.modelMs", { allowZero: true });
    this.#toolTimeoutMs =
      options.timeouts?.toolMs === undefined
        ? 0
        : parseDuration(options.timeouts.toolMs, "timeouts.toolMs", { allowZero: true });
    this.#throttleMode = requireOneOf(
      options.throttle?.mode ?? "delay",
      ["delay", "reject"],
      "throttle.mode",
    );
    this.#throttleMaxDelayMs = parseDuration(options.throttle?.maxDelayMs ?? 60_000, "throttle.maxDelayMs", {
      allowZero: true,
    });

    if (options.rogue === false) {
      this.detector = undefined;
      this.#quarantineAt = undefined;
      this.#refuseLoops = false;
      this.#loopRepeats = Number.POSITIVE_INFINITY;
    } else {
      const { quarantineAt, refuseLoops, ...detectorOptions } = options.rogue ?? {};
      this.detector = new RogueAgentDetector({ ...detectorOptions, clock: this.clock, events: this.events });
      this.#quarantineAt =
        quarantineAt === undefined || quarantineAt === "never"
          ? undefined
          : requireOneOf(quarantineAt, RISK_LEVELS, "rogue.quarantineAt");
      this.#refuseLoops = refuseLoops ?? true;
      this.#loopRepeats = this.detector.loopRepeats;
    }
    for (const agentId of Object.keys(this.#agentPolicies)) this.#addAgent(agentId);

    this.rateLimiter =
      options.rateLimits === undefined || options.rateLimits.length === 0
        ? undefined
        : new RateLimiter({ rules: options.rateLimits, clock: this.clock });

    this.slos = new SLORegistry({
      clock: this.clock,
      events: this.events,
      ...(options.sloEvaluationIntervalMs === undefined
        ? {}
        : { evaluationIntervalMs: options.sloEvaluationIntervalMs }),
      onExhausted: (slo, action) => this.#onSloExhausted(slo, action),
      onRecovered: (slo, action) => this.#onSloRecovered(slo, action),
    });
    for (const slo of options.slos ?? []) this.slos.add(slo);

    this.chaos = new ChaosController({
      clock: this.clock,
      events: this.events,
      ...(options.chaosSeed === undefined ? {} : { seed: options.chaosSeed }),
    });

    this.#settler = {
      settle: (call, ok, error, usage) => this.#postflight(call, ok, error, usage),
      outputTokenAllowance: (call) => this.#outputTokenAllowance(call),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Events

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
   * and the in-flight call (for chaos input payloads).
   */
  guard<T>(
    call: GuardCall<NoInfer<T>>,
    run: (signal: AbortSignal | undefined, inFlight: GuardedCall) => T | Promise<T>,
    options?: GuardOptions,
  ): Promise<T> {
    const signal = options?.signal;
    let inFlight: GuardedCall;
    try {
      inFlight = this.#preflight(call as GuardCall<never>, signal, true, true);
    } catch (error) {
      // A throttled agent waits for its next admission (delay mode): the slow path goes through begin().
      if (error instanceof AgentThrottledError && this.#throttleMode === "delay") {
        return this.begin(call, options).then((begun) => this.#execute(begun, call, run, signal, false));
      }
      return Promise.reject(error);
    }
    return this.#execute(inFlight, call, run, signal, inFlight.plan !== undefined);
  }

  async #execute<T>(
    inFlight: GuardedCall,
    call: GuardCall<T>,
    run: (signal: AbortSignal | undefined, inFlight: GuardedCall) => T | Promise<T>,
    signal: AbortSignal | undefined,
    chaosPending: boolean,
  ): Promise<T> {
    if (chaosPending) await this.#applyChaosBefore(inFlight, signal);
    let result: T;
    try {
      result =
        inFlight.timeoutMs > 0
          ? await this.#runWithDeadline(inFlight, run)
          : await run(inFlight.signal, inFlight);
    } catch (error) {
      inFlight.fail(error);
      throw error;
    }
    if (inFlight.resultPayload !== undefined) result = injectPayload(result, inFlight.resultPayload) as T;
    const extract = call.usage;
    inFlight.succeed(extract === undefined ? undefined : extractSafely(extract, result));
    return result;
  }

  /**
   * Pre-flight only: returns a call that holds its permits and reservation until you settle it with
   * `succeed()` / `fail()`. For streams and other work whose end the adapter observes itself. Chaos
   * latency, error and timeout faults are applied before it resolves.
   */
  async begin<T>(call: GuardCall<T>, options?: GuardOptions): Promise<GuardedCall> {
    const signal = options?.signal;
    let waitedMs = 0;
    for (;;) {
      try {
        const inFlight = this.#preflight(call as GuardCall<never>, signal, true);
        if (inFlight.plan !== undefined) await this.#applyChaosBefore(inFlight, signal);
        return inFlight;
      } catch (error) {
        if (!(error instanceof AgentThrottledError) || this.#throttleMode !== "delay") throw error;
        if (waitedMs + error.retryAfterMs > this.#throttleMaxDelayMs) {
          throw this.#refused(call as GuardCall<never>, this.#agent(call.agentId), error);
        }
        // THROTTLE shapes: wait for the next admission instead of failing the agent's task.
        waitedMs += error.retryAfterMs;
        await sleep(this.clock, error.retryAfterMs, signal);
      }
    }
  }

  #preflight(
    call: GuardCall<never>,
    callerSignal: AbortSignal | undefined,
    withChaos: boolean,
    sharedSignal = false,
    adversarialChecked = false,
  ): GuardedCall {
    const agentId = call.agentId;
    const agent = this.#agents.get(agentId) ?? this.#addAgent(agentId);
    const isTool = call.kind === "tool";
    if (!isTool && call.kind !== "model") throw new ConfigError("call.kind", call.kind, '"model" or "tool"');

    if (agent.quarantine !== undefined) {
      throw this.#refused(call, agent, new AgentQuarantinedError(agentId, agent.quarantine.reason));
    }
    // Chaos only: a call that carries the canary of an injected payload shows the agent obeyed it.
    const obeyed =
      isTool &&
      !adversarialChecked &&
      this.#pendingAdversarial.size > 0 &&
      this.#carriesCanary(agentId, call.input);
    if (obeyed) {
      try {
        const admitted = this.#preflight(call, callerSignal, withChaos, sharedSignal, true);
        this.#settleAdversarial(agentId, "passed");
        return admitted;
      } catch (error) {
        this.#settleAdversarial(agentId, error instanceof RefusalError ? "blocked" : "passed");
        throw error;
      }
    }

    if (isTool) {
      const capability = agent.capability?.check(call.name) ?? "allowed";
      if (capability !== "allowed") {
        this.#recordToolAction(call, "refused:TOOL_NOT_ALLOWED");
        throw this.#refused(call, agent, new ToolNotAllowedError(agentId, call.name, capability));
      }
      const detector = this.detector;
      if (this.#refuseLoops && detector !== undefined) {
        const repeats = detector.checkLoop(agentId, call.name, call.input);
        if (repeats + 1 >= this.#loopRepeats) {
          this.#recordToolAction(call, "refused:LOOP_DETECTED");
          throw this.#refused(call, agent, new LoopDetectedError(agentId, call.name, repeats + 1));
        }
      }
    }

    let estimateUsd = this.#estimateUsd(call, agent);
    const now = this.clock.now();
    let reservation: Reservation | undefined;
    if (this.#budgetEnforced) {
      try {
        reservation = this.budget.reserve({
          agentId,
          taskId: call.taskId,
          estimatedCostUsd: estimateUsd,
          estimatedTokens: estimateTokens(call.estimate),
          atMs: now,
        });
      } catch (error) {
        // In delay mode a throttled call waits for its next admission (begin() retries): not a refusal yet.
        if (error instanceof AgentThrottledError && this.#throttleMode === "delay") throw error;
        const shrunk = this.#reserveWhatFits(call, error, now);
        if (shrunk === undefined)
          throw error instanceof RefusalError ? this.#refused(call, agent, error) : error;
        reservation = shrunk.reservation;
        estimateUsd = shrunk.estimateUsd;
      }
    }

    // Rate limits come after the budget, so a throttled call waiting for admission spends no rate token.
    if (isTool && this.rateLimiter !== undefined) {
      const limited = this.rateLimiter.tryAcquire(agentId, call.name);
      if (limited !== undefined) {
        reservation?.release({ atMs: now });
        throw this.#refused(
          call,
          agent,
          new RateLimitedError({
            agentId,
            toolName: call.name,
            ruleId: limited.ruleId,
            retryAfterMs: limited.retryAfterMs,
            limit: limited.limit,
            perMs: limited.perMs,
          }),
        );
      }
    }

    const targetBreaker = this.#targetBreaker(isTool, call.name);
    const targetPermit = targetBreaker.tryAcquire();
    if (targetPermit === PERMIT_REJECTED) {
      reservation?.release();
      throw this.#refused(
        call,
        agent,
        new CircuitOpenError(targetBreaker.id, targetBreaker.retryAfterMs(), agentId),
      );
    }
    const agentPermit = agent.breaker.tryAcquire();
    if (agentPermit === PERMIT_REJECTED) {
      targetBreaker.cancel(targetPermit);
      reservation?.release();
      throw this.#refused(
        call,
        agent,
        new CircuitOpenError(agent.breaker.id, agent.breaker.retryAfterMs(), agentId),
      );
    }
    let extraBreakers: CircuitBreaker[] | undefined;
    let extraPermits: Array<1 | 2> | undefined;
    if (call.breakers !== undefined && call.breakers.length > 0) {
      extraBreakers = [];
      extraPermits = [];
      for (const id of call.breakers) {
        const breaker = this.breakers.get(id);
        const permit = breaker.tryAcquire();
        if (permit === PERMIT_REJECTED) {
          for (let i = 0; i < extraBreakers.length; i++) {
            (extraBreakers[i] as CircuitBreaker).cancel(extraPermits[i] as 1 | 2);
          }
          agent.breaker.cancel(agentPermit);
          targetBreaker.cancel(targetPermit);
          reservation?.release();
          throw this.#refused(call, agent, new CircuitOpenError(breaker.id, breaker.retryAfterMs(), agentId));
        }
        extraBreakers.push(breaker);
        extraPermits.push(permit);
      }
    }

    const inFlight = new GuardedCall(this.#settler, call, now);
    inFlight.targetBreaker = targetBreaker;
    inFlight.targetPermit = targetPermit;
    inFlight.agentBreaker = agent.breaker;
    inFlight.agentPermit = agentPermit;
    inFlight.reservation = reservation;
    inFlight.reservedUsd = estimateUsd;
    inFlight.extraBreakers = extraBreakers;
    inFlight.extraPermits = extraPermits;
    agent.calls++;

    const timeoutMs = call.timeoutMs ?? (isTool ? this.#toolTimeoutMs : this.#modelTimeoutMs);
    inFlight.callerSignal = callerSignal;
    if (timeoutMs > 0) {
      inFlight.timeoutMs = timeoutMs;
      inFlight.onDeadlineHook = onDeadline;
      const slot = this.#deadlineQueue(timeoutMs).add(inFlight, now);
      if (callerSignal === undefined && sharedSignal) {
        inFlight.signal = slot.signal;
      } else {
        // Streams and calls with a signal of their own get their own controller (~2.4 µs on Node 20).
        const controller = new AbortController();
        inFlight.controller = controller;
        inFlight.signal = controller.signal;
        if (callerSignal !== undefined) linkSignal(inFlight, callerSignal, controller);
      }
    } else {
      inFlight.signal = callerSignal;
    }

    if (withChaos && this.chaos.hasActive) {
      const plan = this.chaos.plan(call);
      if (plan !== undefined) {
        inFlight.plan = plan;
        for (const fault of plan.faults) {
          if (fault.type === "payload") {
            if (fault.where === "input") inFlight.inputPayload = fault.payload;
            else inFlight.resultPayload = fault.payload;
            this.#trackAdversarial(agentId, plan.experiment, fault.faultId);
          }
        }
      }
    }
    return inFlight;
  }

  /**
   * A model call that allows fewer output tokens (`estimate.minOutputTokens`) reserves as many as still fit
   * instead of being refused. Returns undefined when even the minimum does not fit.
   */
  #reserveWhatFits(
    call: GuardCall<never>,
    error: unknown,
    now: number,
  ): { reservation: Reservation; estimateUsd: number } | undefined {
    const estimate = call.estimate;
    const minOutputTokens = estimate?.minOutputTokens;
    if (
      minOutputTokens === undefined ||
      call.kind !== "model" ||
      estimate?.costUsd !== undefined ||
      !(error instanceof BudgetExceededError || error instanceof TokenLimitExceededError)
    ) {
      return undefined;
    }
    const inputTokens = estimate?.inputTokens ?? 0;
    const headroom = this.budget.headroom(call.agentId, call.taskId);
    let fits = Math.min(headroom.tokens, headroom.callLimitTokens) - inputTokens;
    const usd = Math.min(headroom.usd, headroom.callLimitUsd);
    const pricing = this.prices.resolve(call.name, call.provider);
    if (pricing !== undefined && pricing.outputPerMTokUsd > 0 && usd !== Number.POSITIVE_INFINITY) {
      const inputUsd = (inputTokens * pricing.inputPerMTokUsd) / 1_000_000;
      fits = Math.min(fits, ((usd - inputUsd) * 1_000_000) / pricing.outputPerMTokUsd);
    }
    // Leave a token of slack for rounding to whole micro-dollars.
    const outputTokens = Math.min(estimate?.outputTokens ?? Number.POSITIVE_INFINITY, Math.floor(fits) - 1);
    if (!(outputTokens >= minOutputTokens)) return undefined;
    const micros = this.prices.costMicros(call.name, { inputTokens, outputTokens }, call.provider) ?? 0;
    const estimateUsd = micros / 1_000_000;
    try {
      const reservation = this.budget.reserve({
        agentId: call.agentId,
        taskId: call.taskId,
        estimatedCostUsd: estimateUsd,
        estimatedTokens: inputTokens + outputTokens,
        atMs: now,
      });
      return { reservation, estimateUsd };
    } catch {
      return undefined;
    }
  }

  #outputTokenAllowance(inFlight: GuardedCall): number {
    if (!this.#budgetEnforced) return Number.POSITIVE_INFINITY;
    const call = inFlight.call;
    const headroom = this.budget.headroom(call.agentId, call.taskId);
    const inputTokens = call.estimate?.inputTokens ?? 0;
    // The call's own reservation is already counted as used in the shared scopes: add it back there.
    let allowance =
      Math.min(headroom.tokens + (inFlight.reservation?.reservedTokens ?? 0), headroom.callLimitTokens) -
      inputTokens;
    const usd = Math.min(headroom.usd + inFlight.reservedUsd, headroom.callLimitUsd);
    if (call.kind === "model" && usd !== Number.POSITIVE_INFINITY) {
      const pricing = this.prices.resolve(call.name, call.provider);
      if (pricing !== undefined && pricing.outputPerMTokUsd > 0) {
        const inputUsd = (inputTokens * pricing.inputPerMTokUsd) / 1_000_000;
        allowance = Math.min(allowance, ((usd - inputUsd) * 1_000_000) / pricing.outputPerMTokUsd);
      }
    }
    return allowance === Number.POSITIVE_INFINITY ? allowance : Math.max(0, Math.floor(allowance));
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
    const agent = this.#agent(agentId);
    if (agent.quarantine !== undefined) return new AgentQuarantinedError(agentId, agent.quarantine.reason);
    const retryAfterMs = agent.breaker.retryAfterMs();
    if (retryAfterMs > 0) return new CircuitOpenError(agent.breaker.id, retryAfterMs, agentId);
    if (!this.#budgetEnforced) return undefined;
    const estimate = options.estimate;
    let estimatedCostUsd = estimate?.costUsd ?? 0;
    if (estimate?.costUsd === undefined && options.model !== undefined && estimate !== undefined) {
      estimatedCostUsd =
        (this.prices.costMicros(options.model, estimateUsage(estimate), options.provider) ?? 0) / 1_000_000;
    }
    const request: { taskId?: string; estimatedCostUsd: number; estimatedTokens: number } = {
      estimatedCostUsd,
      estimatedTokens: estimateTokens(estimate),
    };
    if (options.taskId !== undefined) request.taskId = options.taskId;
    return this.budget.refusalFor(agentId, request);
  }

  #estimateUsd(call: GuardCall<never>, agent: AgentState): number {
    const estimate = call.estimate;
    if (estimate?.costUsd !== undefined) return estimate.costUsd;
    if (call.kind !== "model") return 0;
    const micros = this.prices.costMicros(call.name, estimateUsage(estimate), call.provider);
    if (micros === undefined) {
      this.#unpricedModel(call, agent, call.name);
      return 0;
    }
    return micros / 1_000_000;
  }

  #unpricedModel(call: GuardCall<never>, agent: AgentState, model: string): void {
    const policy = this.#unknownModel;
    if (policy === "block") throw this.#refused(call, agent, new ModelNotPricedError(call.agentId, model));
    if (policy === "warn" && !this.#warnedModels.has(model)) {
      this.#warnedModels.add(model);
      this.events.emit("price.unknown", { at: this.clock.now(), model, provider: call.provider, policy });
    }
  }

  async #applyChaosBefore(inFlight: GuardedCall, callerSignal: AbortSignal | undefined): Promise<void> {
    const plan = inFlight.plan;
    if (plan === undefined) return;
    // Injected waits end early when the call's own deadline passes or the caller aborts.
    const waitSignal = inFlight.signal ?? callerSignal;
    try {
      for (const fault of plan.faults) await this.#applyFault(inFlight, plan.experiment, fault, waitSignal);
    } catch (error) {
      // An injected error or timeout is the call failing, exactly as a real provider error would.
      inFlight.fail(error);
      throw error;
    }
  }

  async #applyFault(
    inFlight: GuardedCall,
    experiment: string,
    fault: FaultApplication,
    callerSignal: AbortSignal | undefined,
  ): Promise<void> {
    const call = inFlight.call;
    switch (fault.type) {
      case "latency":
        await sleep(this.clock, fault.delayMs, callerSignal);
        return;
      case "error":
        throw fault.error;
      case "timeout":
        await sleep(this.clock, fault.delayMs, callerSignal);
        throw new TimeoutError(call.agentId, call.name, fault.delayMs);
      case "tool-abuse": {
        // The model "calls" a forbidden tool: run the real pre-flight checks for it and report what happened.
        const outcome = this.#probeToolAbuse(call.agentId, call.taskId, fault.toolName);
        this.chaos.reportAdversarialOutcome(experiment, fault.faultId, outcome);
        return;
      }
      case "payload":
        // Applied to the input/result by the caller of begin() and by guard().
        return;
    }
  }

  #probeToolAbuse(agentId: string, taskId: string | undefined, toolName: string): "blocked" | "passed" {
    const probe: GuardCall<never> = { kind: "tool", agentId, name: toolName, input: { chaos: "tool-abuse" } };
    if (taskId !== undefined) probe.taskId = taskId;
    try {
      const inFlight = this.#preflight(probe, undefined, false);
      // It would have run: give everything back without recording an outcome.
      inFlight.targetBreaker?.cancel(inFlight.targetPermit as 1 | 2);
      inFlight.agentBreaker?.cancel(inFlight.agentPermit as 1 | 2);
      const extras = inFlight.extraBreakers;
      if (extras !== undefined) {
        for (let i = 0; i < extras.length; i++)
          (extras[i] as CircuitBreaker).cancel(inFlight.extraPermits?.[i] as 1 | 2);
      }
      inFlight.reservation?.release();
      inFlight.finished = true;
      if (inFlight.deadlineSlot !== undefined) unlinkDeadline(inFlight);
      return "passed";
    } catch (error) {
      if (error instanceof RefusalError) return "blocked";
      throw error;
    }
  }

  #runWithDeadline<T>(
    inFlight: GuardedCall,
    run: (signal: AbortSignal | undefined, inFlight: GuardedCall) => T | Promise<T>,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      inFlight.rejectOnDeadline = reject;
      if (inFlight.settled) {
        // The deadline already passed (e.g. during injected latency).
        reject(new TimeoutError(inFlight.call.agentId, inFlight.call.name, inFlight.timeoutMs));
        return;
      }
      try {
        Promise.resolve(run(inFlight.signal, inFlight)).then(resolve, reject);
      } catch (error) {
        reject(error);
      }
    });
  }

  #deadlineQueue(timeoutMs: number): DeadlineQueue {
    let queue = this.#deadlineQueues.get(timeoutMs);
    if (queue === undefined) {
      queue = new DeadlineQueue(
        this.clock,
        timeoutMs,
        () => new TimeoutError(undefined, "deadline", timeoutMs),
      );
      this.#deadlineQueues.set(timeoutMs, queue);
    }
    return queue;
  }

  #postflight(inFlight: GuardedCall, ok: boolean, error: unknown, usage: UsageReport | undefined): void {
    const call = inFlight.call;
    const now = this.clock.now();
    const durationMs = now - inFlight.startedAtMs;
    inFlight.unlinkCallerSignal?.();
    const agent = this.#agents.get(call.agentId) as AgentState;

    // Usage → cost → settle the reservation once. Money is never dropped: a model call that ran without
    // reported usage is charged its estimate; a failure charges what was reported before it failed.
    let costUsd = 0;
    const used = usage ?? NO_USAGE;
    if (usage !== undefined) {
      costUsd = this.#price(call, agent, usage);
    } else if (ok && call.kind === "model") {
      costUsd = inFlight.reservedUsd;
      if (this.events.has("usage.missing")) {
        this.events.emit("usage.missing", {
          at: now,
          agentId: call.agentId,
          name: call.name,
          committedUsd: costUsd,
        });
      }
    } else if (call.kind === "tool") {
      costUsd = ok ? inFlight.reservedUsd : 0;
    }
    const reservation = inFlight.reservation;
    const tokens = used.inputTokens + used.outputTokens;
    if (reservation !== undefined) {
      if (costUsd > 0 || tokens > 0) reservation.commit(costUsd, { tokens, atMs: now });
      else reservation.release({ atMs: now });
    } else if (costUsd > 0 || tokens > 0) {
      this.budget.recordCost({ agentId: call.agentId, taskId: call.taskId, costUsd, tokens });
    }

    // Breaker outcome. A caller's own abort is not the target failing; refusals raised inside `run`
    // (a nested guard said no) are not either.
    const failure = !ok && countsAsFailure(error, inFlight);
    const targetBreaker = inFlight.targetBreaker as CircuitBreaker;
    const agentBreaker = inFlight.agentBreaker as CircuitBreaker;
    const targetPermit = inFlight.targetPermit as 1 | 2;
    const agentPermit = inFlight.agentPermit as 1 | 2;
    if (ok) {
      targetBreaker.onSuccess(targetPermit, durationMs);
      if (this.#recordAgentOutcomes || agentPermit === PERMIT_PROBE)
        agentBreaker.onSuccess(agentPermit, durationMs);
      else agentBreaker.cancel(agentPermit);
    } else if (failure) {
      targetBreaker.onFailure(targetPermit, durationMs);
      if (this.#recordAgentOutcomes) agentBreaker.onFailure(agentPermit, durationMs);
      else agentBreaker.cancel(agentPermit);
    } else {
      targetBreaker.cancel(targetPermit);
      agentBreaker.cancel(agentPermit);
    }
    const extraBreakers = inFlight.extraBreakers;
    if (extraBreakers !== undefined) {
      const extraPermits = inFlight.extraPermits as Array<1 | 2>;
      // false: a success there; true: a failure there; undefined: nothing (the permit goes back).
      let verdict: boolean | undefined;
      if (ok) verdict = false;
      else if (failure) verdict = call.breakerFailure === undefined ? true : call.breakerFailure(error);
      for (let i = 0; i < extraBreakers.length; i++) {
        const breaker = extraBreakers[i] as CircuitBreaker;
        const permit = extraPermits[i] as 1 | 2;
        if (verdict === false) breaker.onSuccess(permit, durationMs);
        else if (verdict === true) breaker.onFailure(permit, durationMs);
        else breaker.cancel(permit);
      }
    }
    if (failure) agent.failed++;

    if (!ok && !failure) return; // cancelled by the caller: not an observation of the agent's behaviour
    this.#observe(call, now, ok, durationMs, costUsd, used, error);
  }

  /** The observing half of post-flight: SLOs, the rogue detector, chaos metrics, events. */
  #observe(
    call: GuardCall<never>,
    now: number,
    ok: boolean,
    durationMs: number,
    costUsd: number,
    used: UsageReport,
    error: unknown,
  ): void {
    // A failed tool call is not a completed repeat: retrying it with the same arguments is not a loop.
    if (call.kind === "tool") this.#recordToolAction(call, call.name, now, !ok);
    const chaosActive = this.chaos.hasActive;
    const completed = this.events.has("call.completed");
    // The observation is built only when someone reads it.
    if (this.slos.size === 0 && !chaosActive && !completed) return;
    const observation: CallObservation = {
      at: now,
      agentId: call.agentId,
      taskId: call.taskId,
      kind: call.kind,
      name: call.name,
      ok,
      durationMs,
      costUsd,
      inputTokens: used.inputTokens,
      outputTokens: used.outputTokens,
      errorCode: error instanceof RefusalError ? error.code : undefined,
    };
    if (this.slos.size > 0) {
      this.slos.observe(observation);
      this.slos.evaluateDue(now);
    }
    if (chaosActive) this.chaos.observe(observation);
    if (completed) this.events.emit("call.completed", observation);
  }

  /**
   * Records a call that ran outside the pipeline (observation-only integrations such as a callback handler
   * in observe mode): prices and records its spend, feeds the breakers (`recordSuccess`/`recordFailure`),
   * SLOs, the rogue detector, chaos metrics and events. Refuses nothing and injects nothing.
   */
  record(
    call: Omit<GuardCall<never>, "usage">,
    outcome: { ok: boolean; durationMs: number; usage?: UsageReport; error?: unknown },
  ): void {
    const agent = this.#agent(call.agentId);
    const now = this.clock.now();
    const durationMs = outcome.durationMs;
    if (!(durationMs >= 0))
      throw new InvalidArgumentError("outcome.durationMs", durationMs, "a duration in ms >= 0");
    const recorded = call as GuardCall<never>;
    const usage = outcome.usage;
    const used = usage ?? NO_USAGE;
    // As in the pipeline: without usage, a successful paid tool costs its price, a failed one nothing.
    const costUsd =
      usage !== undefined
        ? this.#price(recorded, agent, usage)
        : outcome.ok
          ? (call.estimate?.costUsd ?? 0)
          : 0;
    const tokens = used.inputTokens + used.outputTokens;
    if (costUsd > 0 || tokens > 0) {
      this.budget.recordCost({ agentId: call.agentId, taskId: call.taskId, costUsd, tokens });
    }
    agent.calls++;
    const failure =
      !outcome.ok && !(outcome.error instanceof RefusalError && outcome.error.code !== "CHAOS_INJECTED");
    const target = this.#targetBreaker(call.kind === "tool", call.name);
    if (outcome.ok) target.recordSuccess(durationMs);
    else if (failure) target.recordFailure(durationMs);
    if (this.#recordAgentOutcomes) {
      if (outcome.ok) agent.breaker.recordSuccess(durationMs);
      else if (failure) agent.breaker.recordFailure(durationMs);
    }
    if (failure) agent.failed++;
    if (!outcome.ok && !failure) return;
    this.#observe(recorded, now, outcome.ok, durationMs, costUsd, used, outcome.error);
  }

  #price(call: GuardCall<never>, agent: AgentState, usage: UsageReport): number {
    if (usage.costUsd !== undefined) return usage.costUsd;
    if (call.kind !== "model") return 0;
    const model = usage.model ?? call.name;
    const micros = this.prices.costMicros(model, usage, call.provider);
    if (micros !== undefined) return micros / 1_000_000;
    const tokens = usage.inputTokens + usage.outputTokens;
    agent.unpricedTokens += tokens;
    this.budget.noteUnpricedTokens(call.agentId, model, tokens);
    if (this.#unknownModel === "warn" && !this.#warnedModels.has(model)) {
      this.#warnedModels.add(model);
      this.events.emit("price.unknown", {
        at: this.clock.now(),
        model,
        provider: call.provider,
        policy: "warn",
      });
    }
    return 0;
  }

  #recordToolAction(call: GuardCall<never>, action: string, now = this.clock.now(), failed = false): void {
    const detector = this.detector;
    if (detector === undefined) return;
    const level = detector.recordAction({
      agentId: call.agentId,
      action,
      toolName: call.name,
      input: call.input,
      timestamp: now,
      failed,
    });
    const quarantineAt = this.#quarantineAt;
    if (quarantineAt !== undefined && riskAtLeast(level, quarantineAt)) {
      const agent = this.#agents.get(call.agentId);
      if (agent !== undefined && agent.quarantine === undefined) {
        const assessment = detector.assess(call.agentId);
        this.quarantine(
          call.agentId,
          `risk ${assessment.riskLevel}: ${assessment.reasons.join("; ")}`,
          level,
        );
      }
    }
  }

  #refused<E extends RefusalError>(call: GuardCall<never>, agent: AgentState, error: E): E {
    agent.refused++;
    if (this.events.has("call.refused")) {
      this.events.emit("call.refused", {
        at: this.clock.now(),
        agentId: call.agentId,
        taskId: call.taskId,
        kind: call.kind,
        name: call.name,
        code: error.code,
        message: error.message,
      });
    }
    return error;
  }

  // ---------------------------------------------------------------------------------------------
  // Agents, quarantine, freeze

  #addAgent(agentId: string): AgentState {
    if (typeof agentId !== "string" || agentId.length === 0) {
      throw new ConfigError("call.agentId", agentId, "a non-empty string");
    }
    const state: AgentState = {
      id: agentId,
      breaker: this.breakers.get(`agent:${agentId}`),
      capability: this.#capabilityOf(agentId),
      quarantine: undefined,
      unpricedTokens: 0,
      calls: 0,
      refused: 0,
      failed: 0,
    };
    this.#agents.set(agentId, state);
    return state;
  }

  /** The agent's allow/deny lists (fleet + its own), also given to the detector as its capability profile. */
  #capabilityOf(agentId: string): CompiledCapabilityProfile | undefined {
    const policy = this.#agentPolicies[agentId];
    const allow = mergeLists(this.#fleetTools.allow, policy?.allowedTools);
    const deny = mergeLists(this.#fleetTools.deny, policy?.deniedTools);
    if (allow === undefined && deny === undefined) return undefined;
    const profile = {
      ...(allow === undefined ? {} : { allowedTools: allow }),
      ...(deny === undefined ? {} : { deniedTools: deny }),
    };
    this.detector?.registerCapabilityProfile(agentId, profile);
    return new CompiledCapabilityProfile(profile);
  }

  /** Whether the agent may call the tool under the allow/deny lists (e.g. to hide tools from a listing). */
  toolAllowed(agentId: string, toolName: string): boolean {
    return (this.#agent(agentId).capability?.check(toolName) ?? "allowed") === "allowed";
  }

  /** The target's breaker, cached by bare name so the hot path builds no id string. */
  #targetBreaker(isTool: boolean, name: string): CircuitBreaker {
    const cache = isTool ? this.#toolBreakers : this.#modelBreakers;
    let breaker = cache.get(name);
    if (breaker === undefined) {
      breaker = this.breakers.get(`${isTool ? "tool" : "model"}:${name}`);
      cache.set(name, breaker);
    }
    return breaker;
  }

  #agent(agentId: string): AgentState {
    return this.#agents.get(agentId) ?? this.#addAgent(agentId);
  }

  /** The agent's own breaker (`agent:<id>`): `forceOpen()` it to stop the agent, `reset()` to let it go. */
  agentBreaker(agentId: string): CircuitBreaker {
    return this.#agent(agentId).breaker;
  }

  /** Refuses every call of the agent with `AGENT_QUARANTINED` until `release()`. */
  quarantine(agentId: string, reason: string, riskLevel?: RiskLevel): void {
    const agent = this.#agent(agentId);
    if (agent.quarantine !== undefined) return;
    const at = this.clock.now();
    agent.quarantine = { reason, at };
    if (this.#pendingAdversarial.size > 0) this.#settleAdversarial(agentId, "detected");
    this.events.emit("agent.quarantine", {
      at,
      agentId,
      reason,
      ...(riskLevel === undefined ? {} : { riskLevel }),
    });
  }

  /** Lifts a quarantine and clears the detector's signals for the agent (a fresh start). */
  release(agentId: string): void {
    const agent = this.#agents.get(agentId);
    if (agent?.quarantine === undefined) return;
    agent.quarantine = undefined;
    this.detector?.reset(agentId);
    this.events.emit("agent.release", { at: this.clock.now(), agentId });
  }

  isQuarantined(agentId: string): boolean {
    return this.#agents.get(agentId)?.quarantine !== undefined;
  }

  /** Lifts a budget kill on the agent (spend is kept). */
  revive(agentId: string): void {
    this.budget.revive(agentId);
  }

  /** Whether an exhausted SLO with the `FREEZE_DEPLOYMENTS` action (or `freezeDeployments()`) holds deliveries. */
  get deploymentsFrozen(): boolean {
    return this.#frozenBy.size > 0;
  }

  freezeDeployments(key: string, reason: string): void {
    this.#frozenBy.set(key, { at: this.clock.now(), reason });
  }

  unfreezeDeployments(key: string): void {
    this.#frozenBy.delete(key);
  }

  #sloTargets(slo: SLO): string[] {
    return slo.agentId === undefined ? [...this.#agents.keys()] : [slo.agentId];
  }

  #onSloExhausted(slo: SLO, action: string): void {
    const reason = `SLO "${slo.name}" error budget exhausted`;
    switch (action) {
      case "THROTTLE":
        for (const agentId of this.#sloTargets(slo)) this.budget.throttle(agentId, reason);
        return;
      case "CIRCUIT_BREAK":
        for (const agentId of this.#sloTargets(slo)) this.#agent(agentId).breaker.forceOpen(reason);
        return;
      case "FREEZE_DEPLOYMENTS":
        this.freezeDeployments(`slo:${slo.name}`, reason);
        return;
      default:
        return; // ALERT: the SLO already emitted `slo.exhausted`.
    }
  }

  #onSloRecovered(slo: SLO, action: string): void {
    switch (action) {
      case "THROTTLE":
        for (const agentId of this.#sloTargets(slo)) this.budget.unthrottle(agentId);
        return;
      case "CIRCUIT_BREAK":
        for (const agentId of this.#sloTargets(slo)) this.#agent(agentId).breaker.reset();
        return;
      case "FREEZE_DEPLOYMENTS":
        this.unfreezeDeployments(`slo:${slo.name}`);
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Chaos

  #trackAdversarial(agentId: string, experiment: string, faultId: string): void {
    const pending = this.#pendingAdversarial.get(agentId);
    if (pending === undefined) this.#pendingAdversarial.set(agentId, [{ experiment, faultId }]);
    else if (!pending.some((entry) => entry.faultId === faultId && entry.experiment === experiment)) {
      pending.push({ experiment, faultId });
    }
  }

  #carriesCanary(agentId: string, input: unknown): boolean {
    if (!this.#pendingAdversarial.has(agentId) || input === undefined) return false;
    try {
      return containsCanary(typeof input === "string" ? input : JSON.stringify(input));
    } catch {
      return false;
    }
  }

  /** Reports how the agent's defences handled the payloads it was sent, once each. */
  #settleAdversarial(agentId: string, outcome: "blocked" | "detected" | "passed"): void {
    const pending = this.#pendingAdversarial.get(agentId);
    if (pending === undefined) return;
    this.#pendingAdversarial.delete(agentId);
    for (const entry of pending)
      this.chaos.reportAdversarialOutcome(entry.experiment, entry.faultId, outcome);
  }

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
    for (const agent of this.#agents.values()) {
      agents[agent.id] = {
        breaker: agent.breaker.state,
        quarantined: agent.quarantine ?? null,
        riskLevel: this.detector?.riskLevel(agent.id) ?? "LOW",
        calls: agent.calls,
        refused: agent.refused,
        failed: agent.failed,
        unpricedTokens: agent.unpricedTokens,
        budget: this.budget.agentStatus(agent.id) as unknown as Record<string, unknown>,
      };
    }
    return {
      at,
      budgetEnforced: this.#budgetEnforced,
      agents,
      breakers: this.breakers.snapshot() as unknown as Record<string, unknown>,
      openCircuits: this.breakers.openCircuits(),
      budget: this.budget.snapshot() as unknown as Record<string, unknown>,
      slos: this.slos.snapshot() as unknown as unknown[],
      chaos: this.chaos
        .active()
        .map((experiment) => experiment.report() as unknown as Record<string, unknown>),
      deploymentsFrozen: this.deploymentsFrozen,
      freezeReasons: [...this.#frozenBy.values()].map((entry) => entry.reason),
    };
  }
}

export interface AgentStatus {
  breaker: string;
  quarantined: { reason: string; at: number } | null;
  riskLevel: RiskLevel;
  calls: number;
  refused: number;
  failed: number;
  unpricedTokens: number;
  budget: Record<string, unknown>;
}

export interface AgentSREStatus {
  at: number;
  budgetEnforced: boolean;
  agents: Record<string, AgentStatus>;
  breakers: Record<string, unknown>;
  openCircuits: string[];
  budget: Record<string, unknown>;
  slos: unknown[];
  chaos: Array<Record<string, unknown>>;
  deploymentsFrozen: boolean;
  freezeReasons: string[];
}

const UNLIMITED_BUDGET: Omit<CostGuardOptions, "clock" | "events"> = {
  perTaskLimitUsd: Number.POSITIVE_INFINITY,
  perAgentDailyLimitUsd: Number.POSITIVE_INFINITY,
  orgMonthlyBudgetUsd: Number.POSITIVE_INFINITY,
  autoThrottle: false,
  anomalyDetection: false,
};

/** The estimate as a usage to price (no allocation when both counts are given). */
function estimateUsage(estimate: CallEstimate | undefined): TokenUsage {
  if (estimate === undefined) return NO_USAGE;
  if (estimate.inputTokens !== undefined && estimate.outputTokens !== undefined)
    return estimate as TokenUsage;
  return { inputTokens: estimate.inputTokens ?? 0, outputTokens: estimate.outputTokens ?? 0 };
}

function estimateTokens(estimate: CallEstimate | undefined): number {
  if (estimate === undefined) return 0;
  return (estimate.inputTokens ?? 0) + (estimate.outputTokens ?? 0);
}

function mergeLists(a: string[] | undefined, b: string[] | undefined): string[] | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return [...a, ...b];
}

function extractSafely<T>(
  extract: (result: T) => UsageReport | undefined,
  result: T,
): UsageReport | undefined {
  try {
    return extract(result);
  } catch {
    // A broken extractor must not turn a successful call into a failure; the estimate is charged instead.
    return undefined;
  }
}

/**
 * Whether a failed call counts against the breaker, SLOs and chaos metrics. Timeouts and injected faults
 * do; a refusal raised inside `run` (a nested guard said no) does not; a call the caller aborted does not.
 */
function countsAsFailure(error: unknown, inFlight: GuardedCall): boolean {
  if (inFlight.cancelled) return false;
  if (error instanceof TimeoutError) return true;
  if (error instanceof RefusalError) return error.code === "CHAOS_INJECTED";
  return inFlight.callerSignal?.aborted !== true;
}

function linkSignal(inFlight: GuardedCall, callerSignal: AbortSignal, controller: AbortController): void {
  if (callerSignal.aborted) {
    controller.abort(callerSignal.reason);
    return;
  }
  const onAbort = () => controller.abort(callerSignal.reason);
  callerSignal.addEventListener("abort", onAbort, { once: true });
  inFlight.unlinkCallerSignal = () => callerSignal.removeEventListener("abort", onAbort);
}

function onDeadline(inFlight: GuardedCall): void {
  const call = inFlight.call;
  const error = new TimeoutError(call.agentId, call.name, inFlight.timeoutMs);
  // Abort only here, on the failure path (abort() costs ~15 µs).
  inFlight.controller?.abort(error);
  inFlight.fail(error);
  inFlight.rejectOnDeadline?.(error);
}
