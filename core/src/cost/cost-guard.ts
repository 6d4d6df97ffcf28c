import { GenerationTable } from "../engine/generations.js";
import { InvalidArgumentError } from "../errors.js";
import { exceedsLimit, type LedgerLine } from "../store/ledger-store.js";
import { MemoryStore } from "../store/memory-store.js";
import { AgentState, addLabeled, Reservation, type ReservationSettler } from "./agent-state.js";
import { actionOf, snapshotOf, statusOf } from "./budget-policy.js";
import { AGENT_KILL, ORG_KILL, THROTTLE } from "./budget-state.js";
import {
  requireBreakdown,
  requireTaskId,
  requireTokenCount,
  resolveCostGuardOptions,
} from "./cost-guard-options.js";
import {
  type AgentBudgetStatus,
  BudgetAction,
  type BudgetAlert,
  type BudgetReservation,
  type CostGuardOptions,
  type CostGuardSnapshot,
  type RecordCostRequest,
  type ReserveRequest,
  type TaskCheck,
} from "./cost-types.js";
import { GuardCore, utilizationOf } from "./guard-core.js";
import {
  applyRemoteChange,
  killAgent,
  lapseHold,
  releaseHold,
  rollAgent,
  saveThrottle,
} from "./kill-throttle.js";
import { admissionRefusal, type BudgetRefusal, lineRefusal, standaloneTaskRefusal } from "./ledger-lines.js";
import { isFiniteNonNegative, microsToUsd, usdToMicrosUp } from "./money.js";
import { plainAlerts } from "./overrun-alert.js";
import { ReserveCommit } from "./reserve-commit.js";

const SWEEP_INTERVAL_MS = 60_000;
/** No agent kept from the call before: equal to no id a caller can pass (not even an invalid one). */
const NO_AGENT = Symbol("no agent");

/**
 * Budgets that cannot be overspent. `reserve()` checks and holds a call's worst-case cost atomically on every
 * scope it touches (the task, the agent's day, the org's month, and token limits), so any number of
 * concurrent calls can never push spend past a limit as long as each commits no more than it reserved.
 * `commit()` turns the hold into the real cost, `release()` returns it. `recordCost()` records spend that was
 * never reserved (it always records: the money was already spent).
 *
 * On top of the limits: alerts once per threshold per scope per period, a throttle that SHAPES (a token
 * bucket of admitted tasks) from `throttleThreshold`, a kill switch from `killSwitchThreshold` (per agent per
 * day, and for the whole org per month), and per-agent anomaly detection on log(cost). Days and months are
 * calendar periods in `timeZone` and roll over by themselves.
 *
 * Money is integer micro-dollars in the ledger, USD at the API. Each charge is rounded up and the excess is
 * carried as a credit for the agent's next charge, so an agent's spend is exact over any number of calls and
 * every ledger total is at most one µUSD per agent per day above the exact amount, never below (money.ts).
 * Balances live in the `LedgerStore`; kill/throttle flags, alerts crossed and anomaly baselines are held in
 * process. Per-task balances expire after `taskTtl` without activity (swept at most once a minute); per-agent
 * records are bounded by `memory` (at most `maxAgents`, forgotten after `idleMs` unused, two generations as
 * in the engine) except those holding what only this process knows (see `#mustKeep`).
 */
export class CostGuard {
  readonly #core: GuardCore;
  readonly #ledger: ReserveCommit;
  readonly #agents: GenerationTable<AgentState>;
  /** Whether balances live in this process (`MemoryStore`): then today's spend detail is kept with them. */
  readonly #inProcessLedger: boolean;
  /** How this guard's reservations settle (reservations are public objects; settlement stays private). */
  readonly #settler: ReservationSettler = {
    // `reservation.commit` hands its alerts to the caller: plain data there, an overrun's message written.
    settle: (reservation, actualUsd, actualTokens, breakdown, atMs) =>
      plainAlerts(this.#settle(reservation, actualUsd, actualTokens, breakdown, atMs)),
    release: (reservation, atMs) => this.#release(reservation, atMs),
  };
  #nextSweepMs = 0;
  /** The agent `#agent` found last (`NO_AGENT`: none), forgotten at each turn-over of the agent table. */
  #lastAgentId: string | symbol = NO_AGENT;
  #lastAgent: AgentState | undefined = undefined;
  /** Turn-overs of the agent table so far. */
  #turnOvers = 0;

  constructor(options: CostGuardOptions = {}) {
    const resolved = resolveCostGuardOptions(options);
    const core = new GuardCore(resolved);
    this.#core = core;
    this.#ledger = new ReserveCommit(core, this.#settler);
    this.#inProcessLedger = core.store instanceof MemoryStore;
    this.#agents = new GenerationTable<AgentState>(
      resolved.maxAgents,
      resolved.agentIdleMs,
      core.clock.now(),
      (agent, now) => this.#mustKeep(agent, now),
      () => {},
      () => {
        // The agent kept from the call before may have been dropped: looked up again.
        this.#turnOvers++;
        this.#lastAgentId = NO_AGENT;
        this.#lastAgent = undefined;
      },
    );
    core.state?.subscribe((change) => applyRemoteChange(core, this.#agents, change));
  }

  /**
   * Kills an agent for the rest of its day (or until `revive()`), as if its budget had reached the kill
   * threshold: every reservation is refused with `AGENT_KILLED`. Shared stores make every process refuse.
   */
  kill(agentId: string, reason: string): void {
    if (typeof reason !== "string" || reason === "") {
      throw new InvalidArgumentError("reason", reason, "a non-empty string");
    }
    const now = this.#tick();
    killAgent(this.#core, this.#agent(agentId, now), reason, now);
  }

  /** Advisory check: would a task be admitted now? Holds nothing and takes no throttle admission. */
  checkTask(
    agentId: string,
    request: { estimatedCostUsd?: number; estimatedTokens?: number; taskId?: string } = {},
  ): TaskCheck {
    const estimatedCostUsd = request.estimatedCostUsd ?? 0;
    if (!isFiniteNonNegative(estimatedCostUsd)) {
      throw new InvalidArgumentError("estimatedCostUsd", estimatedCostUsd, "a cost in USD >= 0");
    }
    const refusal = this.refusalFor(agentId, { ...request, estimatedCostUsd });
    const action = actionOf(this.#core, this.#agent(agentId, this.#tick()));
    if (refusal === undefined) return { allowed: true, reason: undefined, action };
    // A refused check never reads ALLOW (or ALERT): a limit that refuses it is a DENY.
    const denied =
      action === BudgetAction.KILL || action === BudgetAction.THROTTLE || action === BudgetAction.HOLD
        ? action
        : BudgetAction.DENY;
    return { allowed: false, reason: refusal.message, action: denied };
  }

  /**
   * The typed refusal a reservation of this size would get right now (kill, throttle, a limit), or
   * undefined; holds nothing. `checkTask` is the same answer as `{ allowed, reason, action }`.
   */
  refusalFor(
    agentId: string,
    request: { estimatedCostUsd?: number; estimatedTokens?: number; taskId?: string } = {},
  ): BudgetRefusal | undefined {
    const core = this.#core;
    const estimatedCostUsd = request.estimatedCostUsd ?? 0;
    if (!isFiniteNonNegative(estimatedCostUsd)) {
      throw new InvalidArgumentError("estimatedCostUsd", estimatedCostUsd, "a cost in USD >= 0");
    }
    const tokens = request.estimatedTokens ?? 0;
    requireTokenCount(tokens, "estimatedTokens");
    requireTaskId(request.taskId);
    const now = this.#tick();
    const agent = this.#agent(agentId, now);
    const refusal = admissionRefusal(core, agent, now);
    if (refusal !== undefined) return refusal;
    const amount = usdToMicrosUp(estimatedCostUsd);
    const taskId = request.taskId;
    if (taskId === undefined) {
      const error = standaloneTaskRefusal(core, agent, amount, tokens, now);
      if (error !== undefined) return error;
    }
    const lines = this.#ledger.lines.fill(
      agent,
      taskId === undefined ? undefined : agent.taskKeyOf(taskId),
      taskId === undefined ? undefined : agent.taskTokenKeyOf(taskId),
      amount,
      tokens,
      now,
    );
    for (let index = 0; index < lines.length; index++) {
      const line = lines[index] as LedgerLine;
      const balance = core.store.read(line.key);
      const used = balance.spent + balance.reserved;
      if (exceedsLimit(used, line.amount, line.limit)) {
        return lineRefusal(core, agent, taskId !== undefined, index, used, amount, tokens, now);
      }
    }
    return undefined;
  }

  /**
   * What a new call of this agent (and task) could still spend right now. `usd` / `tokens`: the tightest
   * remaining money and tokens over the shared scopes (the task, the agent's day, the org's month), after
   * everything spent and reserved. `callLimitUsd` / `callLimitTokens`: for a call without a task id, which is
   * its own task, the per-task limits that apply to that one call (`Infinity` otherwise). `Infinity` where
   * nothing limits. Adapters turn this into an output-token allowance to clamp or cut off a generation.
   */
  headroom(
    agentId: string,
    taskId?: string,
  ): { usd: number; tokens: number; callLimitUsd: number; callLimitTokens: number } {
    requireTaskId(taskId);
    const now = this.#tick();
    const agent = this.#agent(agentId, now);
    const limits = agent.limits;
    let moneyMicros = Number.POSITIVE_INFINITY;
    let tokens = Number.POSITIVE_INFINITY;
    const lines = this.#ledger.lines.fill(
      agent,
      taskId === undefined ? undefined : agent.taskKeyOf(taskId),
      taskId === undefined ? undefined : agent.taskTokenKeyOf(taskId),
      0,
      0,
      now,
    );
    const moneyLines = taskId === undefined ? 3 : 4;
    const lineCount = taskId === undefined ? 4 : 6;
    for (let index = 0; index < lineCount; index++) {
      const line = lines[index] as LedgerLine;
      if (line.limit === Number.POSITIVE_INFINITY) continue;
      const balance = this.#core.store.read(line.key);
      const left = Math.max(0, line.limit - balance.spent - balance.reserved);
      if (index < moneyLines) moneyMicros = Math.min(moneyMicros, left);
      else tokens = Math.min(tokens, left);
    }
    const callLimitMicros = taskId === undefined ? limits.perTaskLimitMicros : Number.POSITIVE_INFINITY;
    return {
      usd: moneyMicros === Number.POSITIVE_INFINITY ? moneyMicros : microsToUsd(moneyMicros),
      tokens,
      callLimitUsd:
        callLimitMicros === Number.POSITIVE_INFINITY ? callLimitMicros : microsToUsd(callLimitMicros),
      callLimitTokens: taskId === undefined ? limits.perTaskTokenLimit : Number.POSITIVE_INFINITY,
    };
  }

  /**
   * Holds a call's worst-case cost on every scope at once, or throws: `AgentKilledError`,
   * `AgentThrottledError` (with `retryAfterMs` until the next admission), `BudgetExceededError` or
   * `TokenLimitExceededError` (with scope, limit and remaining). A refusal holds nothing.
   */
  reserve(request: ReserveRequest): BudgetReservation {
    if (typeof request !== "object" || request === null) {
      throw new InvalidArgumentError("request", request, "{ agentId, estimatedCostUsd }");
    }
    const { agentId, taskId, estimatedCostUsd, atMs } = request;
    return this.reserveCall(agentId, taskId, estimatedCostUsd, request.estimatedTokens ?? 0, atMs);
  }

  /** @internal `reserve()` for the engine: the request's fields as arguments (no request object per call). */
  reserveCall(
    agentId: string,
    taskId: string | undefined,
    estimatedCostUsd: number,
    tokens: number,
    atMs: number | undefined,
  ): BudgetReservation {
    const core = this.#core;
    if (!isFiniteNonNegative(estimatedCostUsd)) {
      throw new InvalidArgumentError("estimatedCostUsd", estimatedCostUsd, "a cost in USD >= 0");
    }
    requireTokenCount(tokens, "estimatedTokens");
    requireTaskId(taskId);
    const now = this.#tick(atMs);
    const agent = this.#agent(agentId, now);
    const refusal = admissionRefusal(core, agent, now);
    if (refusal !== undefined) {
      if (refusal.code === "ANOMALY_HELD" && agent.hold !== undefined) agent.hold.refusedCalls++;
      throw refusal;
    }
    const amount = usdToMicrosUp(estimatedCostUsd);
    if (taskId === undefined) {
      const error = standaloneTaskRefusal(core, agent, amount, tokens, now);
      if (error !== undefined) throw error;
    }
    const held = this.#ledger.hold(agent, taskId, amount, tokens, now);
    const reservation = new Reservation(held, amount, tokens);
    if (agent.bucket !== undefined && agent.throttled) agent.bucket.take(now);
    agent.openReservations++;
    return reservation;
  }

  /** Records spend that was never reserved; it always records. Returns the alerts it raised. */
  recordCost(request: RecordCostRequest): readonly BudgetAlert[] {
    if (typeof request !== "object" || request === null) {
      throw new InvalidArgumentError("request", request, "{ agentId, costUsd }");
    }
    const { agentId, taskId, costUsd, breakdown } = request;
    if (!isFiniteNonNegative(costUsd))
      throw new InvalidArgumentError("costUsd", costUsd, "a cost in USD >= 0");
    const tokens = request.tokens ?? 0;
    requireTokenCount(tokens, "tokens");
    requireTaskId(taskId);
    if (breakdown !== undefined) requireBreakdown(breakdown);
    const now = this.#tick();
    return this.#ledger.record(this.#agent(agentId, now), taskId, costUsd, tokens, breakdown, now);
  }

  /**
   * @internal `recordCost()` for the engine: the request's fields as arguments (no request object per call)
   * and the time it just read (`atMs`; undefined: read the clock), as `reserveCall`.
   */
  recordCostCall(
    agentId: string,
    taskId: string | undefined,
    costUsd: number,
    tokens: number,
    atMs: number | undefined,
  ): readonly BudgetAlert[] {
    if (!isFiniteNonNegative(costUsd))
      throw new InvalidArgumentError("costUsd", costUsd, "a cost in USD >= 0");
    requireTokenCount(tokens, "tokens");
    requireTaskId(taskId);
    const now = this.#tick(atMs);
    return this.#ledger.record(this.#agent(agentId, now), taskId, costUsd, tokens, undefined, now);
  }

  /** Lifts an agent's kill (the daily kill also lifts by itself at the next day). */
  revive(agentId: string): boolean {
    const core = this.#core;
    const now = this.#tick();
    // An agent killed before a restart is known only to the store until it calls: revive it there too.
    const agent =
      this.#existingAgent(agentId) ?? (core.state === undefined ? undefined : this.#agent(agentId, now));
    if (agent === undefined || !agent.killed) return false;
    agent.killed = false;
    agent.killReason = "";
    core.state?.deleteState(AGENT_KILL, agentId);
    core.emit("budget.revive", { at: now, agentId, scope: "agent" });
    return true;
  }

  /** Lifts the org-wide kill (it also lifts by itself at the next month). */
  reviveOrg(): boolean {
    const core = this.#core;
    const now = this.#tick();
    if (!core.orgKilled) return false;
    core.orgKilled = false;
    core.orgKillReason = "";
    core.state?.deleteState(ORG_KILL, String(core.monthStartMs));
    core.emit("budget.revive", { at: now, agentId: undefined, scope: "org" });
    return true;
  }

  /**
   * Throttles an agent from outside the budget (e.g. the SLO engine's THROTTLE action) at
   * `throttleTasksPerMinute`, until `unthrottle()`; emits `agent.throttle`.
   */
  throttle(agentId: string, reason: string): void {
    const core = this.#core;
    if (typeof reason !== "string" || reason === "") {
      throw new InvalidArgumentError("reason", reason, "a non-empty string");
    }
    const now = this.#tick();
    const agent = this.#agent(agentId, now);
    agent.startThrottle(core.throttleTasksPerMinute, now);
    agent.externalThrottleReason = reason;
    saveThrottle(core, agent, now);
    core.emit("agent.throttle", {
      at: now,
      agentId,
      reason,
      tasksPerMinute: core.throttleTasksPerMinute,
    });
  }

  /** Lifts both the budget throttle and an external one. */
  unthrottle(agentId: string): boolean {
    const core = this.#core;
    const now = this.#tick();
    const agent =
      this.#existingAgent(agentId) ?? (core.state === undefined ? undefined : this.#agent(agentId, now));
    if (agent === undefined || !agent.throttled) return false;
    agent.budgetThrottled = false;
    agent.externalThrottleReason = undefined;
    core.state?.deleteState(THROTTLE, agentId);
    return true;
  }

  /**
   * An operator confirms a cost anomaly: lifts the agent's hold (`anomalyDetection.action: "hold"`) so its calls
   * run again, and emits `cost.anomaly.release`. Shared stores lift it in every process. False when not held.
   * `newBaseline: true` when the new cost level is intended (a bigger prompt, another model): the agent's
   * baseline starts afresh (judged again after `minSamples` costs), instead of holding it again at the next
   * cost at that level. Baselines are per process: other processes sharing the store keep theirs.
   */
  confirmAnomaly(agentId: string, options: { newBaseline?: boolean } = {}): boolean {
    const core = this.#core;
    const now = this.#tick();
    const agent =
      this.#existingAgent(agentId) ?? (core.state === undefined ? undefined : this.#agent(agentId, now));
    if (agent?.hold === undefined) return false;
    if (options.newBaseline === true) agent.baseline = undefined;
    releaseHold(core, agent, "confirm", now);
    return true;
  }

  /** Whether the agent is held after a cost anomaly (here, or as the store knows it after a restart). */
  isHeld(agentId: string): boolean {
    const now = this.#tick();
    const agent = this.#knownAgent(agentId);
    if (agent === undefined) return false;
    lapseHold(this.#core, agent, now);
    return agent.hold !== undefined;
  }

  isKilled(agentId: string): boolean {
    this.#tick();
    return this.#core.orgKilled || this.#knownAgent(agentId)?.killed === true;
  }

  isThrottled(agentId: string): boolean {
    this.#tick();
    return this.#knownAgent(agentId)?.throttled === true;
  }

  /** The agent held here or, with a state store, as the store knows it (a restart), without holding it. */
  #knownAgent(agentId: string): AgentState | undefined {
    return (
      this.#existingAgent(agentId) ??
      (this.#core.state === undefined ? undefined : this.#transientAgent(agentId))
    );
  }

  /** Notes tokens of a call whose model has no price (they show in `agentStatus`). */
  noteUnpricedTokens(agentId: string, model: string, tokens: number): void {
    requireTokenCount(tokens, "tokens");
    if (typeof model !== "string") throw new InvalidArgumentError("model", model, "a model name");
    const now = this.#tick();
    const agent = this.#agent(agentId, now);
    agent.unpricedTokens ??= new Map();
    addLabeled(agent.unpricedTokens, model, tokens);
  }

  /** Per-agent records held now (bounded by `memory`), and how many were forgotten so far. */
  get trackedAgents(): { agents: number; evicted: number } {
    return { agents: this.#agents.size, evicted: this.#agents.evicted };
  }

  /** Spent today / the daily limit (0 without a limit), without building a status: for per-call routing. */
  utilization(agentId: string): number {
    this.#tick();
    const agent = this.#existingAgent(agentId) ?? this.#transientAgent(agentId);
    return utilizationOf(this.#core.store.read(agent.dayKey).spent, agent.limits.dailyLimitMicros);
  }

  agentStatus(agentId: string): AgentBudgetStatus {
    const now = this.#tick();
    const agent = this.#existingAgent(agentId) ?? this.#transientAgent(agentId);
    lapseHold(this.#core, agent, now);
    return statusOf(this.#core, agent, now);
  }

  snapshot(): CostGuardSnapshot {
    const core = this.#core;
    const now = this.#tick();
    const agents: AgentBudgetStatus[] = [];
    for (const agent of this.#agents.values()) {
      rollAgent(this.#core, agent);
      lapseHold(this.#core, agent, now);
      agents.push(statusOf(core, agent, now));
    }
    return snapshotOf(core, agents, now);
  }

  /**
   * @internal `reservation.commit` for the engine, which does not read the alerts it returns: an overrun
   * alert's message is then built when the alert is read (status, snapshot), not on every overrunning call.
   */
  commitUnread(open: BudgetReservation, actualUsd: number, tokens: number, atMs: number): void {
    const reservation = open as Reservation;
    if (
      // The held keys' settler, read directly (not through the getter: this is inlined into the engine's
      // settlement, where every call inlined takes from the budget that decides what else is).
      reservation.held?.settler !== this.#settler ||
      reservation.state !== "open" ||
      !isFiniteNonNegative(actualUsd)
    ) {
      reservation.commit(actualUsd, { tokens, atMs }); // another guard's, or the error commit raises
      return;
    }
    requireTokenCount(tokens, "tokens");
    this.#settle(reservation, actualUsd, tokens, undefined, atMs);
  }

  #settle(
    reservation: Reservation,
    actualUsd: number,
    actualTokens: number,
    breakdown: Readonly<Record<string, number>> | undefined,
    atMs: number | undefined,
  ): readonly BudgetAlert[] {
    return this.#ledger.settle(reservation, actualUsd, actualTokens, breakdown, this.#tick(atMs));
  }

  #release(reservation: Reservation, atMs: number | undefined): void {
    this.#tick(atMs);
    this.#ledger.release(reservation);
  }

  /** Rolls periods when the cached day ends and sweeps expired state at most once a minute. O(1) otherwise. */
  #tick(atMs?: number): number {
    const core = this.#core;
    // Callers on the hot path pass the time they just read: each clock read costs ~60 ns.
    const now = atMs !== undefined && Number.isFinite(atMs) ? atMs : core.clock.now();
    if (now >= core.dayEndMs) core.rollPeriods(now);
    if (now >= this.#nextSweepMs) this.#sweep(now);
    return now;
  }

  #sweep(now: number): void {
    this.#nextSweepMs = now + SWEEP_INTERVAL_MS;
    this.#core.store.expire(now);
    this.#agents.tick(now);
  }

  /**
   * Whether an idle (or pushed-out) record must stay because it holds what exists only here: open
   * reservations (their settlement updates it), a throttle (its admission bucket), a lowered per-task limit
   * (a cooldown), a cost anomaly hold, a kill with no state store to restore it from, and — with balances in this process — the
   * current day's spend detail (the sub-µUSD carry, breakdown and unpriced tallies), kept like the balances
   * themselves until the day ends. With a store that keeps balances elsewhere, a forgotten agent comes back
   * with its balances, kill and throttle from the store; only that detail and its anomaly baseline restart.
   */
  #mustKeep(agent: AgentState, now: number): boolean {
    // A cost anomaly hold is rare and carries its count of refused calls: kept until confirmed or lapsed.
    if (agent.openReservations > 0 || agent.throttled || agent.hold !== undefined) return true;
    // loweredUntilMs is +Infinity when no cooldown is in force.
    if (agent.loweredUntilMs > now && agent.loweredUntilMs < Number.POSITIVE_INFINITY) return true;
    const core = this.#core;
    if (agent.killed && core.state === undefined) return true;
    if (!this.#inProcessLedger || agent.dayStartMs !== core.dayStartMs) return false;
    return (
      agent.creditMicros > 0 ||
      agent.breakdownMicros !== undefined ||
      agent.unpricedTokens !== undefined ||
      core.store.read(agent.dayKey).spent > 0
    );
  }

  #agent(agentId: string, now: number): AgentState {
    // The agent of the call before, while the table has not turned over since it was found in (or added
    // to) its current generation: it is still there, and a lookup would return it (no hashing of the id).
    const agent =
      agentId === this.#lastAgentId ? (this.#lastAgent as AgentState) : this.#lookUpAgent(agentId, now);
    if (agent.dayStartMs !== this.#core.dayStartMs) rollAgent(this.#core, agent);
    // A cooldown that ended, a hold that lapsed: only an agent with rare state can have either.
    if (!agent.plain) this.#refresh(agent, now);
    return agent;
  }

  /** Ends an agent's cooldown and lapses its hold when their time is up. */
  #refresh(agent: AgentState, now: number): void {
    if (now >= agent.loweredUntilMs) agent.restoreLimits();
    lapseHold(this.#core, agent, now);
  }

  /** The agent's record from the table (added when new), remembered for the next call while it is current. */
  #lookUpAgent(agentId: string, now: number): AgentState {
    const agents = this.#agents;
    const turnOvers = this.#turnOvers;
    let agent = agents.get(agentId);
    if (agent === undefined) {
      agent = this.#transientAgent(agentId);
      agents.add(agentId, agent, now);
    }
    // An `add` that turned the generations over left the agent in the previous one: not remembered then.
    if (this.#turnOvers === turnOvers) {
      this.#lastAgentId = agentId;
      this.#lastAgent = agent;
    }
    return agent;
  }

  #existingAgent(agentId: string): AgentState | undefined {
    const agent = this.#agents.get(agentId);
    if (agent !== undefined) rollAgent(this.#core, agent);
    return agent;
  }

  #transientAgent(agentId: string): AgentState {
    const core = this.#core;
    if (typeof agentId !== "string" || agentId === "") {
      throw new InvalidArgumentError("agentId", agentId, "a non-empty string");
    }
    const agent = new AgentState(agentId, core.overrides.get(agentId) ?? core.defaults);
    rollAgent(this.#core, agent);
    return agent;
  }
}
