import type { BreakerRegistry, CircuitBreaker } from "../breaker/index.js";
import type { ChaosController } from "../chaos/index.js";
import type { SchedulingClock } from "../clock.js";
import type { CostGuard, PriceCatalog } from "../cost/index.js";
import { ConfigError, type RefusalError } from "../errors.js";
import type { EventBus } from "../events.js";
import type { RateLimiter } from "../ratelimit/index.js";
import type { CascadeResponse } from "../resilience/cascade-response.js";
import type { RetryBudget, RetryTarget } from "../resilience/retry-budget.js";
import { CompiledCapabilityProfile } from "../rogue/capability.js";
import type { AgentSignalsHandle } from "../rogue/detector.js";
import type { RiskLevel, RogueAgentDetector } from "../rogue/index.js";
import type { SLORegistry } from "../slo/index.js";
import { STATE_KINDS, type StateStore, type StateValue } from "../store/state-store.js";
import type { DeadlineQueue } from "./deadlines.js";
import type { FailureClassifier } from "./failure-class.js";
import { GenerationTable, type MemoryBounds, type TrackedEntries } from "./generations.js";
import type { CallSettler } from "./guarded-call.js";
import { type ObserverHooks, observeRefused } from "./observer.js";
import type { AgentPolicy, GuardCall, UsageReport } from "./types.js";

export type UnknownModelPolicy = "warn" | "block" | "free";

/** What the engine tracks per agent. */
export interface AgentState {
  readonly id: string;
  readonly breaker: CircuitBreaker;
  /** Allow/deny lists (fleet + agent); undefined = every tool allowed. */
  readonly capability: CompiledCapabilityProfile | undefined;
  quarantine: { reason: string; at: number } | undefined;
  unpricedTokens: number;
  calls: number;
  refused: number;
  failed: number;
  /** Calls admitted and not settled yet (an agent with calls in flight is never evicted). */
  inFlight: number;
  /** The detector's state for this agent, kept here so a call looks it up by id never (see `signalsOf`). */
  signals: AgentSignalsHandle | undefined;
}

/**
 * The agent table in one generation, as refs hold it (agent-ref.ts): the context replaces it each time the
 * table turns over, so a ref holding the current one holds a state still tracked, of this engine.
 */
export class AgentsToken {
  constructor(readonly context: EngineContext) {}
}

/**
 * `AgentState` as the engine keeps it: the fields every call reads, and nothing else, in one 80-byte object
 * (V8 lays fields out in declaration order, 8 bytes each after a 24-byte header), so an agent among thousands
 * costs its calls as few cache lines as may be; what a usual call never reads — the id, and the counts of
 * refusals, failures and unpriced tokens — is behind one field: the id string itself until a count is first
 * written, then a `RareCounts` holding the id and the counts.
 */
class TrackedAgent implements AgentState {
  readonly breaker: CircuitBreaker;
  readonly capability: CompiledCapabilityProfile | undefined;
  quarantine: { reason: string; at: number } | undefined;
  calls = 0;
  inFlight = 0;
  signals: AgentSignalsHandle | undefined = undefined;
  #rare: string | RareCounts;

  constructor(
    id: string,
    breaker: CircuitBreaker,
    capability: CompiledCapabilityProfile | undefined,
    quarantine: { reason: string; at: number } | undefined,
  ) {
    this.breaker = breaker;
    this.capability = capability;
    this.quarantine = quarantine;
    this.#rare = id;
  }

  get id(): string {
    const rare = this.#rare;
    return typeof rare === "string" ? rare : rare.id;
  }

  get unpricedTokens(): number {
    const rare = this.#rare;
    return typeof rare === "string" ? 0 : rare.unpricedTokens;
  }

  set unpricedTokens(tokens: number) {
    this.counts().unpricedTokens = tokens;
  }

  get refused(): number {
    const rare = this.#rare;
    return typeof rare === "string" ? 0 : rare.refused;
  }

  set refused(count: number) {
    this.counts().refused = count;
  }

  get failed(): number {
    const rare = this.#rare;
    return typeof rare === "string" ? 0 : rare.failed;
  }

  set failed(count: number) {
    this.counts().failed = count;
  }

  // `private`, not a `#` method: a class with `#` methods gives each instance a brand field (8 bytes).
  private counts(): RareCounts {
    const rare = this.#rare;
    if (typeof rare !== "string") return rare;
    const counts = new RareCounts(rare);
    this.#rare = counts;
    return counts;
  }
}

/** A `TrackedAgent`'s id and the counts a usual call does not touch (made at the first count). */
class RareCounts {
  readonly id: string;
  unpricedTokens = 0;
  refused = 0;
  failed = 0;

  constructor(id: string) {
    this.id = id;
  }
}

/**
 * What the engine tracks per target (`tool:<name>` / `model:<name>`): its breaker and a handle to the
 * retry budget's window of the same target (resolved at the first call through it, again once the budget
 * has dropped it: resilience/admission.ts), so a call looks the name up once.
 */
export interface TargetState {
  readonly breaker: CircuitBreaker;
  retry: RetryTarget | undefined;
}

/** Options resolved and validated once, read by the stages on every call. */
export interface ResolvedEngineOptions {
  readonly unknownModel: UnknownModelPolicy;
  /** µUSD per token charged for a model without a price (fail safe), input and output. */
  readonly unknownInputMicrosPerToken: number;
  readonly unknownOutputMicrosPerToken: number;
  readonly budgetEnforced: boolean;
  /** Whether the agent's own breaker records call outcomes (`breakers.scope: "both"`). */
  readonly recordAgentOutcomes: boolean;
  readonly modelTimeoutMs: number;
  readonly toolTimeoutMs: number;
  readonly throttleMode: "delay" | "reject";
  readonly throttleMaxDelayMs: number;
  readonly quarantineAt: RiskLevel | undefined;
  readonly refuseLoops: boolean;
  readonly loopRepeats: number;
  /**
   * Per-agent policy by agent id (a Map: an id a peer or model made up is looked up without touching the
   * string table or an object's prototype — `"constructor"` is no one's policy).
   */
  readonly agentPolicies: ReadonlyMap<string, AgentPolicy>;
  /** The user's failure classifier (wins over the adapter's and the default rule). */
  readonly classifyFailure: FailureClassifier | undefined;
  readonly fleetTools: { allow?: string[]; deny?: string[] };
  /** Bounds of the per-agent and per-target tables (`memory` option). */
  readonly memory: MemoryBounds;
}

export const NO_USAGE: UsageReport = { inputTokens: 0, outputTokens: 0 };
const MAX_WARNED_MODELS = 1024;

/**
 * The state the pipeline stages share: the components, the resolved options and the per-agent tables.
 * `AgentSRE` builds one and wires the stages (engine/stages/) over it; each stage is a plain function of
 * this context, so the hot path pays no dispatch beyond a call.
 */
export class EngineContext {
  /** Per-agent state, bounded: idle agents are forgotten (see generations.ts and the `memory` option). */
  readonly agents: GenerationTable<AgentState>;
  /** Targets by bare name, bounded the same way (the registry restores a saved OPEN breaker state). */
  readonly modelTargets: GenerationTable<TargetState>;
  readonly toolTargets: GenerationTable<TargetState>;
  readonly deadlineQueues = new Map<number, DeadlineQueue>();
  /** Unknown model names already reported by `price.unknown` (bounded: names can come from responses). */
  readonly warnedModels = new Set<string>();
  readonly frozenBy = new Map<string, { at: number; reason: string }>();
  /** Adversarial payloads delivered to an agent whose outcome (blocked, detected, passed) is not known yet. */
  readonly pendingAdversarial = new Map<string, Array<{ experiment: string; faultId: string }>>();
  /** Set by the engine once the settle stage exists (it closes over this context). */
  settler!: CallSettler;
  /** Telemetry hooks (`sre.use()`); undefined when none is registered, so the hot path pays one check. */
  observer: ObserverHooks | undefined = undefined;
  /** Retry budgets (stages/retry-budget.ts); set by the engine. */
  retryBudget: RetryBudget | undefined = undefined;
  /** The cascade response, if configured; set by the engine. */
  cascade: CascadeResponse | undefined = undefined;
  /** Whether some breaker has a slow-call rule (then a call's duration counts); set by the engine. */
  timedBreakers = true;

  constructor(
    readonly clock: SchedulingClock,
    readonly events: EventBus,
    readonly prices: PriceCatalog,
    readonly budget: CostGuard,
    readonly breakers: BreakerRegistry,
    readonly detector: RogueAgentDetector | undefined,
    readonly slos: SLORegistry,
    readonly chaos: ChaosController,
    readonly rateLimiter: RateLimiter | undefined,
    readonly options: ResolvedEngineOptions,
    /** Where quarantines are kept (a restart, or another process sharing the store, sees them). */
    readonly state: StateStore,
  ) {
    const { maxAgents, maxTargets, idleMs } = options.memory;
    const now = clock.now();
    this.agents = new GenerationTable<AgentState>(
      maxAgents,
      idleMs,
      now,
      (agent) => agent.inFlight > 0 || agent.quarantine !== undefined || agent.breaker.state !== "CLOSED",
      (agentId) => this.#forgetAgent(agentId),
      () => {
        this.agentsToken = new AgentsToken(this);
      },
    );
    const forgetTarget = (kind: string) => (name: string) => this.breakers.forget(`${kind}:${name}`);
    this.modelTargets = new GenerationTable(maxTargets, idleMs, now, keepNone, forgetTarget("model"));
    this.toolTargets = new GenerationTable(maxTargets, idleMs, now, keepNone, forgetTarget("tool"));
  }

  /**
   * The agent table's token for its current generation (agent-ref.ts), replaced at each turn-over: a bound
   * call compares one pointer with it (no generation count is read and compared per call).
   */
  agentsToken: AgentsToken = new AgentsToken(this);

  /** The agent's detector signals (the detector must exist), fetched again after a reset. */
  signalsOf(agent: AgentState): AgentSignalsHandle {
    let signals = agent.signals;
    if (signals === undefined || signals.retired) {
      signals = (this.detector as RogueAgentDetector).signalsOf(agent.id);
      agent.signals = signals;
    }
    return signals;
  }

  /** The earliest time one of the bounded tables may be due to turn over (never later than the real one). */
  #tickAtMs = Number.NEGATIVE_INFINITY;

  /** Turns the bounded tables over when they are due (one comparison per call otherwise). */
  tick(now: number): void {
    if (now >= this.#tickAtMs) this.#tickAll(now);
  }

  #tickAll(now: number): void {
    this.agents.tick(now);
    this.toolTargets.tick(now);
    this.modelTargets.tick(now);
    // A table turned over early (it filled up) is due later than this: its own `tick` then says no.
    this.#tickAtMs = Math.min(this.agents.turnAtMs, this.toolTargets.turnAtMs, this.modelTargets.turnAtMs);
  }

  trackedEntries(): TrackedEntries {
    return {
      agents: this.agents.size,
      tools: this.toolTargets.size,
      models: this.modelTargets.size,
      breakers: this.breakers.size,
      detectorAgents: this.detector?.trackedAgents ?? 0,
      retryTargets: this.retryBudget?.size ?? 0,
      evictedAgents: this.agents.evicted,
      budgetAgents: this.budget.trackedAgents.agents,
    };
  }

  /** An evicted agent: its breaker and detector state go too (a quarantine stays in the state store). */
  #forgetAgent(agentId: string): void {
    this.breakers.forget(`agent:${agentId}`);
    this.detector?.reset(agentId);
    this.detector?.removeCapabilityProfile(agentId);
  }

  agent(agentId: string): AgentState {
    return this.agents.get(agentId) ?? this.addAgent(agentId);
  }

  addAgent(agentId: string): AgentState {
    if (typeof agentId !== "string" || agentId.length === 0) {
      throw new ConfigError("call.agentId", agentId, "a non-empty string");
    }
    const state = new TrackedAgent(
      agentId,
      this.breakers.get(`agent:${agentId}`),
      this.#capabilityOf(agentId),
      savedQuarantine(this.state.getState(STATE_KINDS.quarantine, agentId)),
    );
    this.agents.add(agentId, state, this.clock.now());
    this.#tickAtMs = Math.min(this.#tickAtMs, this.agents.turnAtMs); // (a clock set back, a full table)
    return state;
  }

  /** The agent's allow/deny lists (fleet + its own), also given to the detector as its capability profile. */
  #capabilityOf(agentId: string): CompiledCapabilityProfile | undefined {
    const policy = this.options.agentPolicies.get(agentId);
    const allow = mergeLists(this.options.fleetTools.allow, policy?.allowedTools);
    const deny = mergeLists(this.options.fleetTools.deny, policy?.deniedTools);
    if (allow === undefined && deny === undefined) return undefined;
    const profile = {
      ...(allow === undefined ? {} : { allowedTools: allow }),
      ...(deny === undefined ? {} : { deniedTools: deny }),
    };
    this.detector?.registerCapabilityProfile(agentId, profile);
    return new CompiledCapabilityProfile(profile);
  }

  /** The target's record (breaker, retry-budget handle), by bare name so the hot path builds no id string. */
  target(isTool: boolean, name: string): TargetState {
    return (isTool ? this.toolTargets : this.modelTargets).get(name) ?? this.#addTarget(isTool, name);
  }

  /** Out of line: pre-flight inlines `target` within V8's inlining budget (see pipeline.ts). */
  #addTarget(isTool: boolean, name: string): TargetState {
    const target: TargetState = {
      breaker: this.breakers.get(`${isTool ? "tool" : "model"}:${name}`),
      retry: undefined,
    };
    const table = isTool ? this.toolTargets : this.modelTargets;
    table.add(name, target, this.clock.now());
    this.#tickAtMs = Math.min(this.#tickAtMs, table.turnAtMs);
    return target;
  }

  /** Counts a refusal and tells listeners; returns the error for the caller to throw. */
  refused<E extends RefusalError>(call: GuardCall<never>, agent: AgentState, error: E): E {
    agent.refused++;
    if (this.observer !== undefined) observeRefused(this.observer, call, error);
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

  /** Emits `price.unknown` once per model name (the set is cleared past 1,024 names, bounding memory). */
  warnUnknownModel(model: string, provider: string | undefined): void {
    const policy = this.options.unknownModel;
    if (policy === "free" || this.warnedModels.has(model)) return;
    if (this.warnedModels.size >= MAX_WARNED_MODELS) this.warnedModels.clear();
    this.warnedModels.add(model);
    this.events.emit("price.unknown", { at: this.clock.now(), model, provider, policy });
  }

  /** The fail-safe cost of a model without a price (`unknownModelPrice`), in USD. */
  unknownModelUsd(inputTokens: number, outputTokens: number): number {
    const o = this.options;
    return (
      (inputTokens * o.unknownInputMicrosPerToken + outputTokens * o.unknownOutputMicrosPerToken) / 1_000_000
    );
  }

  /** Refuses every call of the agent with `AGENT_QUARANTINED` until released. */
  quarantine(agentId: string, reason: string, riskLevel?: RiskLevel): void {
    const agent = this.agent(agentId);
    if (agent.quarantine !== undefined) return;
    const at = this.clock.now();
    agent.quarantine = { reason, at };
    this.state.putState(
      STATE_KINDS.quarantine,
      agentId,
      riskLevel === undefined ? { reason, at } : { reason, at, riskLevel },
      Number.POSITIVE_INFINITY,
    );
    if (this.pendingAdversarial.size > 0) this.settleAdversarial(agentId, "detected");
    this.events.emit("agent.quarantine", {
      at,
      agentId,
      reason,
      ...(riskLevel === undefined ? {} : { riskLevel }),
    });
  }

  /** Reports how the agent's defences handled the chaos payloads it was sent, once each. */
  settleAdversarial(agentId: string, outcome: "blocked" | "detected" | "passed"): void {
    const pending = this.pendingAdversarial.get(agentId);
    if (pending === undefined) return;
    this.pendingAdversarial.delete(agentId);
    for (const entry of pending)
      this.chaos.reportAdversarialOutcome(entry.experiment, entry.faultId, outcome);
  }
}

const keepNone = () => false;

function mergeLists(a: string[] | undefined, b: string[] | undefined): string[] | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return [...a, ...b];
}

/** A quarantine record as the state store keeps it, or undefined. */
export function savedQuarantine(value: StateValue | undefined): { reason: string; at: number } | undefined {
  if (value === undefined || typeof value.reason !== "string" || typeof value.at !== "number")
    return undefined;
  return { reason: value.reason, at: value.at };
}
