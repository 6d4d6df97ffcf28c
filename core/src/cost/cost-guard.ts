import type { Clock } from "../clock.js";
import {
  AgentKilledError,
  AgentThrottledError,
  BudgetExceededError,
  type BudgetScope,
  InvalidArgumentError,
  TokenLimitExceededError,
} from "../errors.js";
import type { AgentSREEventName, AgentSREEvents, EventSink } from "../events.js";
import { exceedsLimit, type LedgerLine, type LedgerStore, type SettleLine } from "../store/ledger-store.js";
import { isStateStore, type StateChange, type StateStore } from "../store/state-store.js";
import { AdmissionBucket } from "./admission-bucket.js";
import { AGENT_KILL, asKill, asThrottle, ORG_KILL, THROTTLE, type ThrottleRecord } from "./budget-state.js";
import { LogCostBaseline, type ResolvedCostAnomalyOptions } from "./cost-anomaly.js";
import { type AgentLimits, resolveCostGuardOptions } from "./cost-guard-options.js";
import {
  type AgentBudgetStatus,
  BudgetAction,
  type BudgetAlert,
  type BudgetReservation,
  type BudgetThresholdAlert,
  type CommitOptions,
  type CostGuardOptions,
  type CostGuardSnapshot,
  type RecordCostRequest,
  type ReserveRequest,
  type TaskCheck,
} from "./cost-types.js";
import {
  chargeMicros,
  exactMicrosToUsd,
  formatUsd,
  isFiniteNonNegative,
  type MoneyCarry,
  microsToUsd,
  usdToMicrosUp,
} from "./money.js";
import { CalendarPeriods } from "./periods.js";

const NO_ALERTS: readonly BudgetAlert[] = Object.freeze([]);
/** An exact cost this far (1e-12 USD) above its hold is float noise, not an overrun. */
const OVERRUN_SLACK_USD = 1e-12;
const SWEEP_INTERVAL_MS = 60_000;
/** Period keys outlive their period by this much, so a reservation made before midnight still settles. */
const PERIOD_GRACE_MS = 86_400_000;
/** Agents unseen this long (and not externally throttled) are forgotten, anomaly baseline included. */
const AGENT_IDLE_EVICT_MS = 2 * 86_400_000;
const RECENT_ALERTS = 100;
const MAX_LABELS_PER_AGENT = 64;
const OTHER_LABEL = "(other)";

/** Reservations reach the guard's private settlement through these, assigned in its static block. */
let settleReservation: (
  guard: CostGuard,
  reservation: Reservation,
  actualUsd: number,
  actualTokens: number,
  breakdown: Readonly<Record<string, number>> | undefined,
  atMs: number | undefined,
) => readonly BudgetAlert[];
let releaseReservation: (guard: CostGuard, reservation: Reservation, atMs: number | undefined) => void;

/** Which limit each ledger line enforces, by line index. */
const TASK_LINE_SCOPES = [
  "task",
  "agent-daily",
  "agent-monthly",
  "org-monthly",
  "task-tokens",
  "daily-tokens",
];
const AGENT_LINE_SCOPES = ["agent-daily", "agent-monthly", "org-monthly", "daily-tokens"];
const ACTION_ORDER = { ALERT: 0, THROTTLE: 1, KILL: 2 } as const;
const TASK_LINE = 0;
const TASK_TOKENS_LINE = 4;

/** Everything the guard knows about one agent besides its balances (which live in the store). */
class AgentState implements MoneyCarry {
  readonly agentId: string;
  /** µUSD the ledger holds beyond this agent's exact spend today (see money.ts); below one µUSD. */
  creditMicros = 0;
  readonly limits: AgentLimits;
  readonly taskPrefix: string;
  readonly taskTokenPrefix: string;
  /** Keys of the task seen last: consecutive calls of one task reuse them instead of concatenating. */
  lastTaskId: string | undefined = undefined;
  lastTaskKey = "";
  lastTaskTokenKey = "";
  /** Keys of the current period, built once per period (never per call). */
  dayStartMs = Number.NaN;
  dayKey = "";
  dayTokenKey = "";
  monthStartMs = Number.NaN;
  monthKey = "";
  killed = false;
  killReason = "";
  budgetThrottled = false;
  externalThrottleReason: string | undefined = undefined;
  bucket: AdmissionBucket | undefined = undefined;
  baseline: LogCostBaseline | undefined = undefined;
  lastSeenMs = 0;
  unpricedTokens: Map<string, number> | undefined = undefined;
  breakdownMicros: Map<string, number> | undefined = undefined;
  /** Reservations taken and not yet committed or released (a leak shows here). */
  openReservations = 0;

  constructor(agentId: string, limits: AgentLimits) {
    this.agentId = agentId;
    this.limits = limits;
    // The length prefix keeps ("a:b", "c") and ("a", "b:c") apart.
    this.taskPrefix = `task:${agentId.length}:${agentId}:`;
    this.taskTokenPrefix = `task-tokens:${agentId.length}:${agentId}:`;
  }

  get throttled(): boolean {
    return this.budgetThrottled || this.externalThrottleReason !== undefined;
  }

  /** Switches the cached task keys to `taskId` (a no-op for the same task as last time). */
  useTask(taskId: string): void {
    if (taskId === this.lastTaskId) return;
    this.lastTaskId = taskId;
    this.lastTaskKey = this.taskPrefix + taskId;
    this.lastTaskTokenKey = this.taskTokenPrefix + taskId;
  }
}

class Reservation implements BudgetReservation {
  state: "open" | "committed" | "released" = "open";
  readonly guard: CostGuard;
  readonly agent: AgentState;
  readonly taskId: string | undefined;
  readonly taskKey: string | undefined;
  readonly taskTokenKey: string | undefined;
  readonly dayKey: string;
  readonly monthKey: string;
  readonly orgKey: string;
  readonly dayTokenKey: string;
  readonly amountMicros: number;
  readonly reservedTokens: number;

  constructor(
    guard: CostGuard,
    agent: AgentState,
    taskId: string | undefined,
    taskKey: string | undefined,
    taskTokenKey: string | undefined,
    orgKey: string,
    amountMicros: number,
    reservedTokens: number,
  ) {
    this.guard = guard;
    this.agent = agent;
    this.taskId = taskId;
    this.taskKey = taskKey;
    this.taskTokenKey = taskTokenKey;
    this.dayKey = agent.dayKey;
    this.monthKey = agent.monthKey;
    this.orgKey = orgKey;
    this.dayTokenKey = agent.dayTokenKey;
    this.amountMicros = amountMicros;
    this.reservedTokens = reservedTokens;
  }

  get agentId(): string {
    return this.agent.agentId;
  }

  get reservedUsd(): number {
    return microsToUsd(this.amountMicros);
  }

  commit(actualCostUsd: number, options?: CommitOptions): readonly BudgetAlert[] {
    this.#requireOpen();
    if (!isFiniteNonNegative(actualCostUsd)) {
      throw new InvalidArgumentError("actualCostUsd", actualCostUsd, "a cost in USD >= 0");
    }
    const tokens = options?.tokens;
    if (tokens !== undefined) requireTokenCount(tokens, "tokens");
    const breakdown = options?.breakdown;
    if (breakdown !== undefined) requireBreakdown(breakdown);
    return settleReservation(
      this.guard,
      this,
      actualCostUsd,
      tokens ?? this.reservedTokens,
      breakdown,
      options?.atMs,
    );
  }

  release(options?: { atMs?: number }): void {
    this.#requireOpen();
    releaseReservation(this.guard, this, options?.atMs);
  }

  toJSON(): Record<string, unknown> {
    return {
      agentId: this.agentId,
      taskId: this.taskId,
      reservedUsd: this.reservedUsd,
      reservedTokens: this.reservedTokens,
      state: this.state,
    };
  }

  #requireOpen(): void {
    if (this.state !== "open") {
      throw new InvalidArgumentError(
        "reservation",
        this.state,
        "an open reservation (commit or release once)",
      );
    }
  }
}

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
 * process. Per-task balances expire after `taskTtl` without activity; idle agents are forgotten after two
 * days; both sweeps run at most once a minute.
 */
export class CostGuard {
  readonly #clock: Clock;
  readonly #events: EventSink;
  readonly #store: LedgerStore;
  /** Where kills and throttles are kept (the ledger's store when it keeps state too). */
  readonly #state: StateStore | undefined;
  readonly #periods: CalendarPeriods;
  readonly #defaults: AgentLimits;
  readonly #overrides: Map<string, AgentLimits>;
  readonly #orgLimitMicros: number;
  readonly #alertThresholds: readonly number[];
  readonly #autoThrottle: boolean;
  readonly #throttleThreshold: number;
  readonly #throttleTasksPerMinute: number;
  readonly #killThreshold: number;
  /** The lowest utilization at which anything fires: below it `#crossings` returns at once. */
  readonly #lowestTrigger: number;
  readonly #anomaly: ResolvedCostAnomalyOptions | undefined;
  readonly #taskTtlMs: number;
  readonly #agents = new Map<string, AgentState>();

  #dayStartMs = Number.NaN;
  #dayEndMs = Number.NEGATIVE_INFINITY;
  #monthStartMs = Number.NaN;
  #monthEndMs = Number.NEGATIVE_INFINITY;
  #orgKey = "";
  #orgKilled = false;
  #orgKillReason = "";
  #nextSweepMs = 0;
  readonly #recentAlerts: BudgetAlert[] = [];
  #recentAlertsNext = 0;

  /** Reused line buffers: the store must not keep them (see `LedgerStore`). */
  readonly #taskLines: LedgerLine[] = makeLines(6);
  readonly #agentLines: LedgerLine[] = makeLines(4);
  readonly #taskSettles: SettleLine[] = makeSettles(6);
  readonly #agentSettles: SettleLine[] = makeSettles(4);

  constructor(options: CostGuardOptions = {}) {
    const resolved = resolveCostGuardOptions(options);
    this.#clock = resolved.clock;
    this.#events = resolved.events;
    this.#store = resolved.store;
    this.#defaults = resolved.defaults;
    this.#overrides = resolved.overrides;
    this.#orgLimitMicros = resolved.orgLimitMicros;
    this.#alertThresholds = resolved.alertThresholds;
    this.#autoThrottle = resolved.autoThrottle;
    this.#throttleThreshold = resolved.throttleThreshold;
    this.#throttleTasksPerMinute = resolved.throttleTasksPerMinute;
    this.#killThreshold = resolved.killThreshold;
    this.#anomaly = resolved.anomaly;
    this.#taskTtlMs = resolved.taskTtlMs;
    this.#lowestTrigger = Math.min(
      this.#alertThresholds[0] ?? 1,
      this.#autoThrottle ? this.#throttleThreshold : 1,
      this.#killThreshold,
    );
    this.#periods = new CalendarPeriods(resolved.timeZone, this.#clock.now());
    this.#state = isStateStore(resolved.store) ? resolved.store : undefined;
    this.#state?.subscribe((change) => this.#onRemoteChange(change));
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
    const agent = this.#agent(agentId, now);
    agent.killed = true;
    agent.killReason = reason;
    this.#saveKill(agent, now);
    const spent = this.#store.read(agent.dayKey).spent;
    this.#publish({
      type: "budget",
      at: now,
      agentId,
      scope: "agent-daily",
      periodEndMs: this.#dayEndMs,
      threshold: this.#killThreshold,
      utilization: utilizationOf(spent, agent.limits.dailyLimitMicros),
      spentUsd: microsToUsd(spent),
      limitUsd: microsToUsd(agent.limits.dailyLimitMicros),
      severity: "critical",
      action: "KILL",
      message: `Agent "${agentId}" killed: ${reason}`,
    });
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
    const action = this.#actionOf(this.#agent(agentId, this.#tick()));
    if (refusal === undefined) return { allowed: true, reason: undefined, action };
    // A refused check never reads ALLOW (or ALERT): a limit that refuses it is a DENY.
    const denied =
      action === BudgetAction.KILL || action === BudgetAction.THROTTLE ? action : BudgetAction.DENY;
    return { allowed: false, reason: refusal.message, action: denied };
  }

  /**
   * The typed refusal a reservation of this size would get right now (kill, throttle, a limit), or
   * undefined; holds nothing. `checkTask` is the same answer as `{ allowed, reason, action }`.
   */
  refusalFor(
    agentId: string,
    request: { estimatedCostUsd?: number; estimatedTokens?: number; taskId?: string } = {},
  ): AgentKilledError | AgentThrottledError | BudgetExceededError | TokenLimitExceededError | undefined {
    const estimatedCostUsd = request.estimatedCostUsd ?? 0;
    if (!isFiniteNonNegative(estimatedCostUsd)) {
      throw new InvalidArgumentError("estimatedCostUsd", estimatedCostUsd, "a cost in USD >= 0");
    }
    const tokens = request.estimatedTokens ?? 0;
    requireTokenCount(tokens, "estimatedTokens");
    requireTaskId(request.taskId);
    const now = this.#tick();
    const agent = this.#agent(agentId, now);
    const refusal = this.#admissionRefusal(agent, now);
    if (refusal !== undefined) return refusal;
    const amount = usdToMicrosUp(estimatedCostUsd);
    const taskId = request.taskId;
    if (taskId === undefined) {
      const error = this.#standaloneTaskRefusal(agent, amount, tokens, now);
      if (error !== undefined) return error;
    }
    const lines = this.#fillLines(
      agent,
      taskId === undefined ? undefined : agent.taskPrefix + taskId,
      taskId === undefined ? undefined : agent.taskTokenPrefix + taskId,
      amount,
      tokens,
      now,
    );
    for (let index = 0; index < lines.length; index++) {
      const line = lines[index] as LedgerLine;
      const balance = this.#store.read(line.key);
      const used = balance.spent + balance.reserved;
      if (exceedsLimit(used, line.amount, line.limit)) {
        return this.#refusalFor(agent, taskId !== undefined, index, used, amount, tokens, now);
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
    const lines = this.#fillLines(
      agent,
      taskId === undefined ? undefined : agent.taskPrefix + taskId,
      taskId === undefined ? undefined : agent.taskTokenPrefix + taskId,
      0,
      0,
      now,
    );
    const moneyLines = taskId === undefined ? 3 : 4;
    const lineCount = taskId === undefined ? 4 : 6;
    for (let index = 0; index < lineCount; index++) {
      const line = lines[index] as LedgerLine;
      if (line.limit === Number.POSITIVE_INFINITY) continue;
      const balance = this.#store.read(line.key);
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
    const { agentId, taskId, estimatedCostUsd } = request;
    if (!isFiniteNonNegative(estimatedCostUsd)) {
      throw new InvalidArgumentError("estimatedCostUsd", estimatedCostUsd, "a cost in USD >= 0");
    }
    const tokens = request.estimatedTokens ?? 0;
    requireTokenCount(tokens, "estimatedTokens");
    requireTaskId(taskId);
    const now = this.#tick(request.atMs);
    const agent = this.#agent(agentId, now);
    const refusal = this.#admissionRefusal(agent, now);
    if (refusal !== undefined) throw refusal;
    const amount = usdToMicrosUp(estimatedCostUsd);
    if (taskId === undefined) {
      const error = this.#standaloneTaskRefusal(agent, amount, tokens, now);
      if (error !== undefined) throw error;
    }
    let taskKey: string | undefined;
    let taskTokenKey: string | undefined;
    if (taskId !== undefined) {
      agent.useTask(taskId);
      taskKey = agent.lastTaskKey;
      taskTokenKey = agent.lastTaskTokenKey;
    }
    const result = this.#store.reserve(this.#fillLines(agent, taskKey, taskTokenKey, amount, tokens, now));
    if (!result.ok) {
      throw this.#refusalFor(agent, taskId !== undefined, result.index, result.used, amount, tokens, now);
    }
    if (agent.bucket !== undefined && agent.throttled) agent.bucket.take(now);
    agent.openReservations++;
    return new Reservation(this, agent, taskId, taskKey, taskTokenKey, this.#orgKey, amount, tokens);
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
    const agent = this.#agent(agentId, now);
    const amount = chargeMicros(agent, costUsd);
    const limits = agent.limits;
    const prevDay = limits.dailyLimitMicros < Infinity ? this.#store.read(agent.dayKey).spent : 0;
    const prevOrg = this.#orgLimitMicros < Infinity ? this.#store.read(this.#orgKey).spent : 0;
    const store = this.#store;
    const dayExpiry = this.#dayEndMs + PERIOD_GRACE_MS;
    const monthExpiry = this.#monthEndMs + PERIOD_GRACE_MS;
    if (taskId !== undefined) {
      agent.useTask(taskId);
      store.add(agent.lastTaskKey, amount, now + this.#taskTtlMs);
      store.add(agent.lastTaskTokenKey, tokens, now + this.#taskTtlMs);
    }
    store.add(agent.dayKey, amount, dayExpiry);
    store.add(agent.monthKey, amount, monthExpiry);
    store.add(this.#orgKey, amount, monthExpiry);
    store.add(agent.dayTokenKey, tokens, dayExpiry);
    if (breakdown !== undefined) this.#addBreakdown(agent, breakdown);
    return this.#afterSpend(agent, taskId, amount, costUsd, prevDay, true, prevOrg, true, now, undefined);
  }

  /** Lifts an agent's kill (the daily kill also lifts by itself at the next day). */
  revive(agentId: string): boolean {
    const now = this.#tick();
    // An agent killed before a restart is known only to the store until it calls: revive it there too.
    const agent =
      this.#existingAgent(agentId) ?? (this.#state === undefined ? undefined : this.#agent(agentId, now));
    if (agent === undefined || !agent.killed) return false;
    agent.killed = false;
    agent.killReason = "";
    this.#state?.deleteState(AGENT_KILL, agentId);
    this.#emit("budget.revive", { at: now, agentId, scope: "agent" });
    return true;
  }

  /** Lifts the org-wide kill (it also lifts by itself at the next month). */
  reviveOrg(): boolean {
    const now = this.#tick();
    if (!this.#orgKilled) return false;
    this.#orgKilled = false;
    this.#orgKillReason = "";
    this.#state?.deleteState(ORG_KILL, String(this.#monthStartMs));
    this.#emit("budget.revive", { at: now, agentId: undefined, scope: "org" });
    return true;
  }

  /**
   * Throttles an agent from outside the budget (e.g. the SLO engine's THROTTLE action) at
   * `throttleTasksPerMinute`, until `unthrottle()`; emits `agent.throttle`.
   */
  throttle(agentId: string, reason: string): void {
    if (typeof reason !== "string" || reason === "") {
      throw new InvalidArgumentError("reason", reason, "a non-empty string");
    }
    const now = this.#tick();
    const agent = this.#agent(agentId, now);
    this.#startThrottle(agent, now);
    agent.externalThrottleReason = reason;
    this.#saveThrottle(agent, now);
    this.#emit("agent.throttle", {
      at: now,
      agentId,
      reason,
      tasksPerMinute: this.#throttleTasksPerMinute,
    });
  }

  /** Lifts both the budget throttle and an external one. */
  unthrottle(agentId: string): boolean {
    const now = this.#tick();
    const agent =
      this.#existingAgent(agentId) ?? (this.#state === undefined ? undefined : this.#agent(agentId, now));
    if (agent === undefined || !agent.throttled) return false;
    agent.budgetThrottled = false;
    agent.externalThrottleReason = undefined;
    this.#state?.deleteState(THROTTLE, agentId);
    return true;
  }

  isKilled(agentId: string): boolean {
    this.#tick();
    return this.#orgKilled || this.#knownAgent(agentId)?.killed === true;
  }

  isThrottled(agentId: string): boolean {
    this.#tick();
    return this.#knownAgent(agentId)?.throttled === true;
  }

  /** The agent held here or, with a state store, as the store knows it (a restart), without holding it. */
  #knownAgent(agentId: string): AgentState | undefined {
    return (
      this.#existingAgent(agentId) ?? (this.#state === undefined ? undefined : this.#transientAgent(agentId))
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

  agentStatus(agentId: string): AgentBudgetStatus {
    const now = this.#tick();
    const agent = this.#existingAgent(agentId) ?? this.#transientAgent(agentId);
    return this.#statusOf(agent, now);
  }

  snapshot(): CostGuardSnapshot {
    const now = this.#tick();
    const org = this.#store.read(this.#orgKey);
    const agents: AgentBudgetStatus[] = [];
    for (const agent of this.#agents.values()) {
      this.#rollAgent(agent);
      agents.push(this.#statusOf(agent, now));
    }
    return {
      at: now,
      timeZone: this.#periods.timeZone,
      day: { startMs: this.#dayStartMs, endMs: this.#dayEndMs },
      month: { startMs: this.#monthStartMs, endMs: this.#monthEndMs },
      org: {
        spentThisMonthUsd: microsToUsd(org.spent),
        reservedUsd: microsToUsd(org.reserved),
        monthlyBudgetUsd: usdOrNull(this.#orgLimitMicros),
        utilization: utilizationOf(org.spent, this.#orgLimitMicros),
        killed: this.#orgKilled,
        killReason: this.#orgKilled ? this.#orgKillReason : undefined,
      },
      agents,
      recentAlerts: this.#alertsInOrder(),
    };
  }

  static {
    settleReservation = (guard, reservation, actualUsd, actualTokens, breakdown, atMs) =>
      guard.#settle(reservation, actualUsd, actualTokens, breakdown, atMs);
    releaseReservation = (guard, reservation, atMs) => guard.#release(reservation, atMs);
  }

  #settle(
    reservation: Reservation,
    actualUsd: number,
    actualTokens: number,
    breakdown: Readonly<Record<string, number>> | undefined,
    atMs: number | undefined,
  ): readonly BudgetAlert[] {
    const now = this.#tick(atMs);
    const agent = reservation.agent;
    this.#rollAgent(agent);
    const actualMicros = chargeMicros(agent, actualUsd);
    // Spend lands in the period the money was held in; alerts only concern the period that is still current.
    const dayIsCurrent = reservation.dayKey === agent.dayKey;
    const monthIsCurrent = reservation.orgKey === this.#orgKey;
    const prevDay =
      dayIsCurrent && agent.limits.dailyLimitMicros < Infinity ? this.#store.read(agent.dayKey).spent : 0;
    const prevOrg =
      monthIsCurrent && this.#orgLimitMicros < Infinity ? this.#store.read(this.#orgKey).spent : 0;
    this.#store.settle(this.#fillSettles(reservation, actualMicros, actualTokens));
    reservation.state = "committed";
    agent.openReservations--;
    agent.lastSeenMs = now;
    if (breakdown !== undefined) this.#addBreakdown(agent, breakdown);
    let alerts: BudgetAlert[] | undefined;
    // Overrun is judged on the exact cost: rounding up into the ledger is not spending more than held.
    const reservedUsd = microsToUsd(reservation.amountMicros);
    if (actualUsd > reservedUsd + OVERRUN_SLACK_USD) {
      alerts = [
        {
          type: "overrun",
          at: now,
          agentId: agent.agentId,
          taskId: reservation.taskId,
          scope: "call",
          reservedUsd,
          actualUsd,
          severity: "warning",
          action: "ALERT",
          message: `Agent "${agent.agentId}" spent ${formatUsd(actualUsd)} on a reservation of ${formatUsd(reservedUsd)}`,
        },
      ];
    }
    return this.#afterSpend(
      agent,
      reservation.taskId,
      actualMicros,
      actualUsd,
      prevDay,
      dayIsCurrent,
      prevOrg,
      monthIsCurrent,
      now,
      alerts,
    );
  }

  #release(reservation: Reservation, atMs: number | undefined): void {
    this.#tick(atMs);
    this.#store.settle(this.#fillSettles(reservation, 0, 0));
    reservation.state = "released";
    reservation.agent.openReservations--;
  }

  /** Rolls periods when the cached day ends and sweeps expired state at most once a minute. O(1) otherwise. */
  #tick(atMs?: number): number {
    // Callers on the hot path pass the time they just read: each clock read costs ~60 ns.
    const now = atMs !== undefined && Number.isFinite(atMs) ? atMs : this.#clock.now();
    if (now >= this.#dayEndMs) this.#rollPeriods(now);
    if (now >= this.#nextSweepMs) this.#sweep(now);
    return now;
  }

  #rollPeriods(now: number): void {
    const day = this.#periods.day(now);
    this.#dayStartMs = day.startMs;
    this.#dayEndMs = day.endMs;
    const month = this.#periods.month(now);
    if (month.startMs !== this.#monthStartMs) {
      this.#monthStartMs = month.startMs;
      this.#monthEndMs = month.endMs;
      this.#orgKey = `org-month:${month.startMs}`;
      const kill = asKill(this.#state?.getState(ORG_KILL, String(month.startMs)), month.startMs);
      this.#orgKilled = kill !== undefined;
      this.#orgKillReason = kill?.reason ?? "";
    }
  }

  #sweep(now: number): void {
    this.#nextSweepMs = now + SWEEP_INTERVAL_MS;
    this.#store.expire(now);
    for (const [agentId, agent] of this.#agents) {
      if (now - agent.lastSeenMs >= AGENT_IDLE_EVICT_MS && agent.externalThrottleReason === undefined) {
        this.#agents.delete(agentId);
      }
    }
  }

  #agent(agentId: string, now: number): AgentState {
    let agent = this.#agents.get(agentId);
    if (agent === undefined) {
      agent = this.#transientAgent(agentId);
      this.#agents.set(agentId, agent);
    } else if (agent.dayStartMs !== this.#dayStartMs) {
      this.#rollAgent(agent);
    }
    agent.lastSeenMs = now;
    return agent;
  }

  #existingAgent(agentId: string): AgentState | undefined {
    const agent = this.#agents.get(agentId);
    if (agent !== undefined) this.#rollAgent(agent);
    return agent;
  }

  #transientAgent(agentId: string): AgentState {
    if (typeof agentId !== "string" || agentId === "") {
      throw new InvalidArgumentError("agentId", agentId, "a non-empty string");
    }
    const agent = new AgentState(agentId, this.#overrides.get(agentId) ?? this.#defaults);
    this.#rollAgent(agent);
    return agent;
  }

  /** Moves an agent into the current day (and month): new keys, and day-scoped state starts afresh. */
  #rollAgent(agent: AgentState): void {
    if (agent.dayStartMs === this.#dayStartMs) return;
    agent.dayStartMs = this.#dayStartMs;
    agent.dayKey = `agent-day:${this.#dayStartMs}:${agent.agentId}`;
    agent.dayTokenKey = `agent-day-tokens:${this.#dayStartMs}:${agent.agentId}`;
    if (agent.monthStartMs !== this.#monthStartMs) {
      agent.monthStartMs = this.#monthStartMs;
      agent.monthKey = `agent-month:${this.#monthStartMs}:${agent.agentId}`;
    }
    agent.killed = false;
    agent.killReason = "";
    agent.budgetThrottled = false;
    agent.unpricedTokens = undefined;
    agent.breakdownMicros = undefined;
    // The day's ledger keys start at zero: a credit carried from yesterday has nothing left to offset.
    agent.creditMicros = 0;
    if (this.#state !== undefined) this.#restoreAgent(agent);
  }

  /** Kills and throttles of the agent's current day kept in the state store (a restart, another process). */
  #restoreAgent(agent: AgentState): void {
    const state = this.#state as StateStore;
    const kill = asKill(state.getState(AGENT_KILL, agent.agentId), agent.dayStartMs);
    if (kill !== undefined) {
      agent.killed = true;
      agent.killReason = kill.reason;
    }
    this.#applyThrottle(agent, asThrottle(state.getState(THROTTLE, agent.agentId)));
  }

  #applyThrottle(agent: AgentState, record: ThrottleRecord | undefined): void {
    const budget = record?.budget === true && record.dayStartMs === agent.dayStartMs;
    const external = record?.external ?? undefined;
    if ((budget || external !== undefined) && !agent.throttled) this.#startThrottle(agent, this.#clock.now());
    agent.budgetThrottled = budget;
    agent.externalThrottleReason = external;
  }

  #saveKill(agent: AgentState, now: number): void {
    this.#state?.putState(
      AGENT_KILL,
      agent.agentId,
      { reason: agent.killReason, at: now, periodStartMs: agent.dayStartMs },
      this.#dayEndMs + PERIOD_GRACE_MS,
    );
  }

  #saveThrottle(agent: AgentState, now: number): void {
    const record: ThrottleRecord = {
      budget: agent.budgetThrottled,
      dayStartMs: agent.dayStartMs,
      external: agent.externalThrottleReason ?? null,
      at: now,
    };
    this.#state?.putState(
      THROTTLE,
      agent.agentId,
      record as unknown as Record<string, unknown>,
      record.external === null ? this.#dayEndMs + PERIOD_GRACE_MS : Number.POSITIVE_INFINITY,
    );
  }

  /** Another process killed, revived, throttled or released an agent: apply it to the agents held here. */
  #onRemoteChange(change: StateChange): void {
    if (change.kind === ORG_KILL) {
      if (change.id !== String(this.#monthStartMs)) return;
      const kill = asKill(change.value, this.#monthStartMs);
      this.#orgKilled = kill !== undefined;
      this.#orgKillReason = kill?.reason ?? "";
      return;
    }
    if (change.kind !== AGENT_KILL && change.kind !== THROTTLE) return;
    const agent = this.#agents.get(change.id);
    if (agent === undefined) return; // loaded from the store when first seen
    if (change.kind === AGENT_KILL) {
      const kill = asKill(change.value, agent.dayStartMs);
      agent.killed = kill !== undefined;
      agent.killReason = kill?.reason ?? "";
    } else {
      this.#applyThrottle(agent, asThrottle(change.value));
    }
  }

  #admissionRefusal(agent: AgentState, now: number): AgentKilledError | AgentThrottledError | undefined {
    if (this.#orgKilled)
      return new AgentKilledError(agent.agentId, this.#orgKillReason, this.#monthEndMs - now);
    if (agent.killed) return new AgentKilledError(agent.agentId, agent.killReason, this.#dayEndMs - now);
    if (agent.bucket !== undefined && agent.throttled) {
      const waitMs = agent.bucket.waitMs(now);
      if (waitMs > 0) {
        const reason = agent.externalThrottleReason ?? "daily budget throttle";
        return new AgentThrottledError(agent.agentId, waitMs, reason);
      }
    }
    return undefined;
  }

  /** Without a task id the reservation is its own task: per-task limits apply to it alone. */
  #standaloneTaskRefusal(
    agent: AgentState,
    amount: number,
    tokens: number,
    now: number,
  ): BudgetExceededError | TokenLimitExceededError | undefined {
    const limits = agent.limits;
    if (exceedsLimit(0, amount, limits.perTaskLimitMicros)) {
      return this.#refusalFor(agent, true, TASK_LINE, 0, amount, tokens, now);
    }
    if (exceedsLimit(0, tokens, limits.perTaskTokenLimit)) {
      return this.#refusalFor(agent, true, TASK_TOKENS_LINE, 0, amount, tokens, now);
    }
    return undefined;
  }

  #fillLines(
    agent: AgentState,
    taskKey: string | undefined,
    taskTokenKey: string | undefined,
    amount: number,
    tokens: number,
    now: number,
  ): LedgerLine[] {
    const limits = agent.limits;
    const dayExpiry = this.#dayEndMs + PERIOD_GRACE_MS;
    const monthExpiry = this.#monthEndMs + PERIOD_GRACE_MS;
    let lines: LedgerLine[];
    let next = 0;
    if (taskKey === undefined) {
      lines = this.#agentLines;
    } else {
      lines = this.#taskLines;
      setLine(lines[next++], taskKey, amount, limits.perTaskLimitMicros, now + this.#taskTtlMs);
    }
    setLine(lines[next++], agent.dayKey, amount, limits.dailyLimitMicros, dayExpiry);
    setLine(lines[next++], agent.monthKey, amount, Number.POSITIVE_INFINITY, monthExpiry);
    setLine(lines[next++], this.#orgKey, amount, this.#orgLimitMicros, monthExpiry);
    if (taskTokenKey !== undefined) {
      setLine(lines[next++], taskTokenKey, tokens, limits.perTaskTokenLimit, now + this.#taskTtlMs);
    }
    setLine(lines[next], agent.dayTokenKey, tokens, limits.dailyTokenLimit, dayExpiry);
    return lines;
  }

  #fillSettles(reservation: Reservation, actualMicros: number, actualTokens: number): SettleLine[] {
    const amount = reservation.amountMicros;
    let settles: SettleLine[];
    let next = 0;
    if (reservation.taskKey === undefined) {
      settles = this.#agentSettles;
    } else {
      settles = this.#taskSettles;
      setSettle(settles[next++], reservation.taskKey, amount, actualMicros);
    }
    setSettle(settles[next++], reservation.dayKey, amount, actualMicros);
    setSettle(settles[next++], reservation.monthKey, amount, actualMicros);
    setSettle(settles[next++], reservation.orgKey, amount, actualMicros);
    if (reservation.taskTokenKey !== undefined) {
      setSettle(settles[next++], reservation.taskTokenKey, reservation.reservedTokens, actualTokens);
    }
    setSettle(settles[next], reservation.dayTokenKey, reservation.reservedTokens, actualTokens);
    return settles;
  }

  #refusalFor(
    agent: AgentState,
    withTask: boolean,
    index: number,
    used: number,
    amount: number,
    tokens: number,
    now: number,
  ): BudgetExceededError | TokenLimitExceededError {
    const scope = (withTask ? TASK_LINE_SCOPES : AGENT_LINE_SCOPES)[index];
    const limits = agent.limits;
    const agentId = agent.agentId;
    if (scope === "task-tokens" || scope === "daily-tokens") {
      const limit = scope === "task-tokens" ? limits.perTaskTokenLimit : limits.dailyTokenLimit;
      return new TokenLimitExceededError({
        agentId,
        scope: scope === "task-tokens" ? "task" : "agent-daily",
        limitTokens: limit,
        remainingTokens: Math.max(0, limit - used),
        requestedTokens: tokens,
      });
    }
    let budgetScope: BudgetScope = "task";
    let limit = limits.perTaskLimitMicros;
    let retryAfterMs: number | undefined;
    if (scope === "agent-daily") {
      budgetScope = "agent-daily";
      limit = limits.dailyLimitMicros;
      retryAfterMs = this.#dayEndMs - now;
    } else if (scope === "org-monthly") {
      budgetScope = "org-monthly";
      limit = this.#orgLimitMicros;
      retryAfterMs = this.#monthEndMs - now;
    }
    return new BudgetExceededError({
      agentId,
      scope: budgetScope,
      limitUsd: microsToUsd(limit),
      remainingUsd: microsToUsd(Math.max(0, limit - used)),
      requestedUsd: microsToUsd(amount),
      retryAfterMs,
    });
  }

  /** Alerts, throttle, kill and anomaly after money was spent; events go out once the state is final. */
  #afterSpend(
    agent: AgentState,
    taskId: string | undefined,
    amount: number,
    exactUsd: number,
    prevDay: number,
    dayIsCurrent: boolean,
    prevOrg: number,
    monthIsCurrent: boolean,
    now: number,
    alerts: BudgetAlert[] | undefined,
  ): readonly BudgetAlert[] {
    if (amount > 0) {
      if (dayIsCurrent) alerts = this.#crossings(agent, prevDay, prevDay + amount, now, alerts);
      if (monthIsCurrent) alerts = this.#crossings(undefined, prevOrg, prevOrg + amount, now, alerts);
      const anomaly = this.#anomaly;
      if (anomaly !== undefined) {
        agent.baseline ??= new LogCostBaseline();
        const costUsd = exactUsd;
        const score = agent.baseline.observe(costUsd, anomaly);
        if (score > anomaly.zThreshold) {
          const expectedUsd = agent.baseline.priorExpectedUsd;
          alerts ??= [];
          alerts.push({
            type: "anomaly",
            at: now,
            agentId: agent.agentId,
            costUsd,
            expectedUsd,
            score,
            threshold: anomaly.zThreshold,
            scope: "call",
            severity: "warning",
            action: "ALERT",
            message: `Agent "${agent.agentId}"${taskId === undefined ? "" : ` (task "${taskId}")`} spent ${formatUsd(costUsd)}, ${(costUsd / expectedUsd).toFixed(1)}× its typical ${formatUsd(expectedUsd)} (z = ${score.toFixed(2)})`,
          });
        }
      }
    }
    if (alerts === undefined) return NO_ALERTS;
    for (const alert of alerts) this.#publish(alert);
    return alerts;
  }

  /** Threshold crossings `prev < t <= next` on one scope (an agent's day, or the org's month if no agent). */
  #crossings(
    agent: AgentState | undefined,
    prev: number,
    next: number,
    now: number,
    alerts: BudgetAlert[] | undefined,
  ): BudgetAlert[] | undefined {
    const limit = agent === undefined ? this.#orgLimitMicros : agent.limits.dailyLimitMicros;
    if (!(limit < Infinity)) return alerts;
    const after = utilizationOf(next, limit);
    if (after < this.#lowestTrigger) return alerts;
    const before = utilizationOf(prev, limit);
    const firstNew = alerts === undefined ? 0 : alerts.length;
    for (const threshold of this.#alertThresholds) {
      if (crossed(before, after, threshold)) {
        alerts ??= [];
        alerts.push(this.#thresholdAlert(agent, "ALERT", threshold, after, next, limit, now));
      }
    }
    if (agent !== undefined && this.#autoThrottle && crossed(before, after, this.#throttleThreshold)) {
      this.#startThrottle(agent, now);
      agent.budgetThrottled = true;
      this.#saveThrottle(agent, now);
      alerts ??= [];
      alerts.push(this.#thresholdAlert(agent, "THROTTLE", this.#throttleThreshold, after, next, limit, now));
    }
    if (crossed(before, after, this.#killThreshold)) {
      const alert = this.#thresholdAlert(agent, "KILL", this.#killThreshold, after, next, limit, now);
      if (agent === undefined) {
        this.#orgKilled = true;
        this.#orgKillReason = alert.message;
        this.#state?.putState(
          ORG_KILL,
          String(this.#monthStartMs),
          { reason: alert.message, at: now, periodStartMs: this.#monthStartMs },
          this.#monthEndMs + PERIOD_GRACE_MS,
        );
      } else {
        agent.killed = true;
        agent.killReason = alert.message;
        this.#saveKill(agent, now);
      }
      alerts ??= [];
      alerts.push(alert);
    }
    // One scope's crossings in threshold order (ALERT before THROTTLE before KILL at equal thresholds).
    if (alerts !== undefined && alerts.length - firstNew > 1) {
      const scoped = (alerts.splice(firstNew) as BudgetThresholdAlert[]).sort(
        (a, b) => a.threshold - b.threshold || ACTION_ORDER[a.action] - ACTION_ORDER[b.action],
      );
      alerts.push(...scoped);
    }
    return alerts;
  }

  #thresholdAlert(
    agent: AgentState | undefined,
    action: "ALERT" | "THROTTLE" | "KILL",
    threshold: number,
    utilization: number,
    spentMicros: number,
    limitMicros: number,
    now: number,
  ): BudgetThresholdAlert {
    const spentUsd = microsToUsd(spentMicros);
    const limitUsd = microsToUsd(limitMicros);
    const who = agent === undefined ? "Org monthly" : `Agent "${agent.agentId}" daily`;
    const what =
      action === "KILL"
        ? "; killed until the period rolls over or revive"
        : action === "THROTTLE"
          ? `; throttled to ${this.#throttleTasksPerMinute} tasks/min`
          : "";
    return {
      type: "budget",
      at: now,
      agentId: agent?.agentId,
      scope: agent === undefined ? "org-monthly" : "agent-daily",
      periodEndMs: agent === undefined ? this.#monthEndMs : this.#dayEndMs,
      threshold,
      utilization,
      spentUsd,
      limitUsd,
      severity: action === "KILL" || threshold >= 0.9 ? "critical" : "warning",
      action,
      message: `${who} spend reached ${Math.round(threshold * 100)}% of ${formatUsd(limitUsd)} (${formatUsd(spentUsd)})${what}`,
    };
  }

  #startThrottle(agent: AgentState, now: number): void {
    if (agent.bucket === undefined) agent.bucket = new AdmissionBucket(this.#throttleTasksPerMinute, now);
    else if (!agent.throttled) agent.bucket.reset(now);
  }

  #publish(alert: BudgetAlert): void {
    if (this.#recentAlerts.length < RECENT_ALERTS) this.#recentAlerts.push(alert);
    else this.#recentAlerts[this.#recentAlertsNext] = alert;
    this.#recentAlertsNext = (this.#recentAlertsNext + 1) % RECENT_ALERTS;
    if (alert.type === "anomaly") {
      const {
        type: _type,
        scope: _scope,
        severity: _severity,
        action: _action,
        message: _message,
        ...event
      } = alert;
      this.#emit("cost.anomaly", event);
    } else if (alert.type === "overrun") {
      const { agentId, taskId, reservedUsd, actualUsd, at } = alert;
      this.#emit("budget.overrun", { at, agentId, taskId, reservedUsd, actualUsd });
    } else {
      this.#emit(
        alert.action === "KILL"
          ? "budget.kill"
          : alert.action === "THROTTLE"
            ? "budget.throttle"
            : "budget.alert",
        alert,
      );
    }
  }

  #emit<K extends AgentSREEventName>(name: K, payload: AgentSREEvents[K]): void {
    if (this.#events.has(name)) this.#events.emit(name, payload);
  }

  #alertsInOrder(): BudgetAlert[] {
    const alerts = this.#recentAlerts;
    if (alerts.length < RECENT_ALERTS) return alerts.slice();
    return [...alerts.slice(this.#recentAlertsNext), ...alerts.slice(0, this.#recentAlertsNext)];
  }

  #actionOf(agent: AgentState): BudgetAction {
    if (this.#orgKilled || agent.killed) return BudgetAction.KILL;
    if (agent.throttled) return BudgetAction.THROTTLE;
    const first = this.#alertThresholds[0];
    if (first === undefined) return BudgetAction.ALLOW;
    const day = utilizationOf(this.#store.read(agent.dayKey).spent, agent.limits.dailyLimitMicros);
    const org = utilizationOf(this.#store.read(this.#orgKey).spent, this.#orgLimitMicros);
    return day >= first || org >= first ? BudgetAction.ALERT : BudgetAction.ALLOW;
  }

  #addBreakdown(agent: AgentState, breakdown: Readonly<Record<string, number>>): void {
    agent.breakdownMicros ??= new Map();
    for (const [label, usd] of Object.entries(breakdown))
      addLabeled(agent.breakdownMicros, label, usd * 1_000_000); // display only: kept unrounded
  }

  #statusOf(agent: AgentState, now: number): AgentBudgetStatus {
    const day = this.#store.read(agent.dayKey);
    const month = this.#store.read(agent.monthKey);
    const tokens = this.#store.read(agent.dayTokenKey);
    const limits = agent.limits;
    const breakdown: Record<string, number> = {};
    for (const [label, micros] of agent.breakdownMicros ?? []) breakdown[label] = microsToUsd(micros);
    return {
      agentId: agent.agentId,
      at: now,
      dayStartMs: this.#dayStartMs,
      dayEndMs: this.#dayEndMs,
      // The ledger rounds each charge up; the carried credit takes the excess back out (exact spend).
      spentTodayUsd: exactMicrosToUsd(Math.max(0, day.spent - agent.creditMicros)),
      reservedTodayUsd: microsToUsd(day.reserved),
      spentThisMonthUsd: exactMicrosToUsd(Math.max(0, month.spent - agent.creditMicros)),
      tokensToday: tokens.spent,
      reservedTokensToday: tokens.reserved,
      openReservations: agent.openReservations,
      limits: {
        dailyLimitUsd: usdOrNull(limits.dailyLimitMicros),
        perTaskLimitUsd: usdOrNull(limits.perTaskLimitMicros),
        dailyTokenLimit: limits.dailyTokenLimit < Infinity ? limits.dailyTokenLimit : null,
        perTaskTokenLimit: limits.perTaskTokenLimit < Infinity ? limits.perTaskTokenLimit : null,
      },
      utilization: utilizationOf(day.spent, limits.dailyLimitMicros),
      action: this.#actionOf(agent),
      killed: this.#orgKilled || agent.killed,
      killReason: agent.killed ? agent.killReason : this.#orgKilled ? this.#orgKillReason : undefined,
      throttled: agent.throttled,
      throttleReason:
        agent.externalThrottleReason ?? (agent.budgetThrottled ? "daily budget throttle" : undefined),
      unpricedTokens: Object.fromEntries(agent.unpricedTokens ?? []),
      costBreakdownUsd: breakdown,
      recentAlerts: this.#alertsInOrder().filter((alert) => alert.agentId === agent.agentId),
    };
  }
}

function makeLines(count: number): LedgerLine[] {
  return Array.from({ length: count }, () => ({ key: "", amount: 0, limit: 0, expiresAtMs: 0 }));
}

function makeSettles(count: number): SettleLine[] {
  return Array.from({ length: count }, () => ({ key: "", reserved: 0, actual: 0 }));
}

function setLine(
  line: LedgerLine | undefined,
  key: string,
  amount: number,
  limit: number,
  expiresAtMs: number,
) {
  const target = line as LedgerLine;
  target.key = key;
  target.amount = amount;
  target.limit = limit;
  target.expiresAtMs = expiresAtMs;
}

function setSettle(line: SettleLine | undefined, key: string, reserved: number, actual: number) {
  const target = line as SettleLine;
  target.key = key;
  target.reserved = reserved;
  target.actual = actual;
}

/** A threshold is crossed once: when spend moves from below it to at or above it. */
function crossed(before: number, after: number, threshold: number): boolean {
  return before < threshold && threshold <= after;
}

function utilizationOf(spent: number, limit: number): number {
  if (limit === Number.POSITIVE_INFINITY) return 0;
  if (limit === 0) return spent > 0 ? Number.POSITIVE_INFINITY : 0;
  return spent / limit;
}

function usdOrNull(micros: number): number | null {
  return micros < Infinity ? microsToUsd(micros) : null;
}

/** Adds to a bounded per-label tally: past the cap, new labels share one bucket. */
function addLabeled(tally: Map<string, number>, label: string, amount: number): void {
  const key = tally.has(label) || tally.size < MAX_LABELS_PER_AGENT - 1 ? label : OTHER_LABEL;
  tally.set(key, (tally.get(key) ?? 0) + amount);
}

function requireTokenCount(value: unknown, field: string): void {
  if (!isFiniteNonNegative(value)) throw new InvalidArgumentError(field, value, "a token count >= 0");
}

function requireTaskId(taskId: unknown): void {
  if (taskId !== undefined && typeof taskId !== "string") {
    throw new InvalidArgumentError("taskId", taskId, "a string");
  }
}

function requireBreakdown(breakdown: unknown): void {
  if (typeof breakdown !== "object" || breakdown === null || Array.isArray(breakdown)) {
    throw new InvalidArgumentError("breakdown", breakdown, "an object of USD amounts");
  }
  for (const [label, usd] of Object.entries(breakdown)) {
    if (!isFiniteNonNegative(usd))
      throw new InvalidArgumentError(`breakdown.${label}`, usd, "a cost in USD >= 0");
  }
}
