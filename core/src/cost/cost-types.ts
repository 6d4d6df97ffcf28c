import type { Clock } from "../clock.js";
import type { Duration } from "../duration.js";
import type { BudgetAlertEvent, CostAnomalyEvent, EventSink } from "../events.js";
import type { LedgerStore } from "../store/ledger-store.js";
import type { CostAnomalyOptions } from "./cost-anomaly.js";

/** What the guard does to an agent. */
export const BudgetAction = {
  ALERT: "ALERT",
  THROTTLE: "THROTTLE",
  KILL: "KILL",
  /** Held after a cost anomaly (`anomalyDetection.action: "hold"`) until an operator confirms. */
  HOLD: "HOLD",
  ALLOW: "ALLOW",
  /** `checkTask` only: refused by a limit (the agent itself is neither killed nor throttled). */
  DENY: "DENY",
} as const;
export type BudgetAction = (typeof BudgetAction)[keyof typeof BudgetAction];

/** Per-agent limits that replace the fleet-wide ones. */
export interface AgentBudgetOverride {
  dailyLimitUsd?: number;
  perTaskLimitUsd?: number;
  dailyTokenLimit?: number;
  perTaskTokenLimit?: number;
}

export interface CostGuardOptions {
  /** Most one task may spend. Default $2. `Infinity` = no limit (for every limit below too). */
  perTaskLimitUsd?: number;
  /** Most one agent may spend per calendar day. Default $100. */
  perAgentDailyLimitUsd?: number;
  /** Most the whole fleet may spend per calendar month. Default $5,000. */
  orgMonthlyBudgetUsd?: number;
  /** Utilizations (0..1] that raise an alert, once per period per scope. Default [0.5, 0.75, 0.9, 0.95]. */
  alertThresholds?: readonly number[];
  /** Shape an agent's admissions once its daily utilization reaches `throttleThreshold`. Default true. */
  autoThrottle?: boolean;
  /** Default 0.85; must not exceed `killSwitchThreshold`. */
  throttleThreshold?: number;
  /** Tasks a throttled agent may start per minute (token bucket, bursts up to this many). Default 6. */
  throttleTasksPerMinute?: number;
  /**
   * Daily utilization at which an agent is killed until the day rolls over or `revive()`; the same ratio of
   * the org monthly budget kills every agent until the month rolls over or `reviveOrg()`. Default 0.95.
   */
  killSwitchThreshold?: number;
  /** Per-agent anomaly detection on log(cost). Default true. */
  anomalyDetection?: boolean | CostAnomalyOptions;
  /** Most tokens one task may use. Default: no limit. */
  perTaskTokenLimit?: number;
  /** Most tokens one agent may use per day. Default: no limit. */
  perAgentDailyTokenLimit?: number;
  agents?: Readonly<Record<string, AgentBudgetOverride>>;
  /** IANA zone whose calendar days and months the periods follow. Default "UTC". */
  timeZone?: string;
  /** A task's spend is forgotten after this long without activity (bounds per-task state). Default 24 h. */
  taskTtl?: Duration;
  clock?: Clock;
  events?: EventSink;
  /** Where balances live. Default: a new `MemoryStore`. */
  store?: LedgerStore;
  /**
   * Bounds of the per-agent records (kill and throttle flags, anomaly baseline, today's breakdown; balances
   * are in the store): at most `maxAgents` (default 100,000), and a record unused for `idleMs` (default 2 d)
   * is forgotten. Records that hold something only this process knows are kept: open reservations, a
   * throttle, a lowered per-task limit, a kill without a state store, and — with the in-process
   * `MemoryStore` — an agent's spend of the current day. `new AgentSRE` sets this from its `memory` option.
   */
  memory?: { maxAgents?: number; idleMs?: Duration };
}

export interface ReserveRequest {
  agentId: string;
  /** Per-task limits key on it; without one the reservation is its own task. */
  taskId?: string;
  /** Worst-case cost to hold (USD). */
  estimatedCostUsd: number;
  /** Worst-case tokens to hold against token limits. */
  estimatedTokens?: number;
  /** The time of the reservation when the caller has just read the clock (saves a read); default now. */
  atMs?: number;
}

export interface CommitOptions {
  /** Tokens actually used; defaults to the reserved estimate. */
  tokens?: number;
  /** Where the money went (e.g. `{ model: 0.012, tool: 0.003 }`), summed per agent per day. */
  breakdown?: Readonly<Record<string, number>>;
  /** The time of the commit when the caller has just read the clock (saves a read); default now. */
  atMs?: number;
}

export interface RecordCostRequest extends CommitOptions {
  agentId: string;
  taskId?: string;
  costUsd: number;
}

export interface TaskCheck {
  allowed: boolean;
  /** Why it is refused; undefined when allowed. */
  reason: string | undefined;
  /**
   * KILL (killed), HOLD (held after a cost anomaly), THROTTLE (shaped), DENY (a limit refuses this task) when
   * refused; ALERT (past an alert threshold) or ALLOW when allowed. A refused check never says ALLOW.
   */
  action: BudgetAction;
}

/** A threshold, throttle or kill crossing (the payload of `budget.alert` / `budget.throttle` / `budget.kill`). */
export interface BudgetThresholdAlert extends BudgetAlertEvent {
  type: "budget";
  message: string;
}

/** A cost far above the agent's baseline (the payload of `cost.anomaly`, plus alert fields). */
export interface CostAnomalyAlert extends CostAnomalyEvent {
  type: "anomaly";
  scope: "call";
  severity: "warning";
  /** HOLD, THROTTLE or KILL when the anomaly held, throttled or killed the agent (`response`), else ALERT. */
  action: "ALERT" | "HOLD" | "THROTTLE" | "KILL";
  message: string;
}

/** A commit above its reservation: the full cost was recorded. */
export interface BudgetOverrunAlert {
  type: "overrun";
  at: number;
  agentId: string;
  taskId: string | undefined;
  scope: "call";
  reservedUsd: number;
  actualUsd: number;
  severity: "warning";
  action: "ALERT";
  message: string;
}

export type BudgetAlert = BudgetThresholdAlert | CostAnomalyAlert | BudgetOverrunAlert;

/** Money held for one call or task; settle it exactly once with `commit` or `release`. */
export interface BudgetReservation {
  readonly agentId: string;
  readonly taskId: string | undefined;
  readonly reservedUsd: number;
  readonly reservedTokens: number;
  readonly state: "open" | "committed" | "released";
  /**
   * Records the real cost: less than reserved returns the rest, more is recorded in full and reported as an
   * overrun. Returns the alerts this spend raised.
   */
  commit(actualCostUsd: number, options?: CommitOptions): readonly BudgetAlert[];
  /** Returns all the held money and tokens. `atMs`: the time when the caller has just read the clock. */
  release(options?: { atMs?: number }): void;
}

export interface BudgetLimits {
  dailyLimitUsd: number | null;
  perTaskLimitUsd: number | null;
  dailyTokenLimit: number | null;
  perTaskTokenLimit: number | null;
}

export interface AgentBudgetStatus {
  agentId: string;
  at: number;
  dayStartMs: number;
  dayEndMs: number;
  spentTodayUsd: number;
  reservedTodayUsd: number;
  spentThisMonthUsd: number;
  tokensToday: number;
  reservedTokensToday: number;
  /** Reservations taken and not yet committed or released: in-flight calls (or leaked holds). */
  openReservations: number;
  /** `null` = no limit. */
  limits: BudgetLimits;
  /** Spent today / daily limit (0 without a limit). */
  utilization: number;
  action: BudgetAction;
  killed: boolean;
  killReason: string | undefined;
  throttled: boolean;
  throttleReason: string | undefined;
  /** Held after a cost anomaly: calls refused with `ANOMALY_HELD` until `confirmAnomaly` (or `untilMs`). */
  held: boolean;
  hold: AnomalyHoldStatus | null;
  /** Tokens of calls to models the catalog could not price, per model, today. */
  unpricedTokens: Record<string, number>;
  costBreakdownUsd: Record<string, number>;
  recentAlerts: BudgetAlert[];
}

/** A cost anomaly hold in force, with the figures that set it off. */
export interface AnomalyHoldStatus {
  heldAtMs: number;
  /** When it lapses by itself; null: only a confirmation lifts it. */
  untilMs: number | null;
  costUsd: number;
  expectedUsd: number;
  score: number;
  threshold: number;
  taskId: string | null;
  /** Calls refused while held (in this process). */
  refusedCalls: number;
}

export interface CostGuardSnapshot {
  at: number;
  timeZone: string;
  day: { startMs: number; endMs: number };
  month: { startMs: number; endMs: number };
  org: {
    spentThisMonthUsd: number;
    reservedUsd: number;
    monthlyBudgetUsd: number | null;
    utilization: number;
    killed: boolean;
    killReason: string | undefined;
  };
  agents: AgentBudgetStatus[];
  recentAlerts: BudgetAlert[];
}
