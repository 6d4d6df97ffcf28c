import type { Clock } from "../clock.js";
import type { AgentSREEventName, AgentSREEvents, EventSink } from "../events.js";
import type { LedgerStore } from "../store/ledger-store.js";
import { isStateStore, type StateStore } from "../store/state-store.js";
import { asKill, ORG_KILL } from "./budget-state.js";
import type { ResolvedCostAnomalyOptions } from "./cost-anomaly.js";
import type { AgentLimits, ResolvedCostGuardOptions } from "./cost-guard-options.js";
import type { BudgetAlert } from "./cost-types.js";
import { microsToUsd } from "./money.js";
import { plainAlerts } from "./overrun-alert.js";
import { CalendarPeriods } from "./periods.js";

/** Period keys outlive their period by this much, so a reservation made before midnight still settles. */
export const PERIOD_GRACE_MS = 86_400_000;
const RECENT_ALERTS = 100;

/**
 * What every part of the cost guard shares: its resolved options, the current calendar periods and the
 * org-wide kill. `CostGuard` (the public API) owns one; the ledger lines, spend policy, kill/throttle state
 * and status views read and update it. Plain fields: read on the hot path, set only by `CostGuard`.
 */
export class GuardCore {
  readonly clock: Clock;
  readonly events: EventSink;
  readonly store: LedgerStore;
  /** Where kills and throttles are kept (the ledger's store when it keeps state too). */
  readonly state: StateStore | undefined;
  readonly periods: CalendarPeriods;
  readonly defaults: AgentLimits;
  readonly overrides: Map<string, AgentLimits>;
  readonly orgLimitMicros: number;
  readonly alertThresholds: readonly number[];
  readonly autoThrottle: boolean;
  readonly throttleThreshold: number;
  readonly throttleTasksPerMinute: number;
  readonly killThreshold: number;
  /** The lowest utilization at which anything fires: below it no crossing is looked for. */
  readonly lowestTrigger: number;
  readonly anomaly: ResolvedCostAnomalyOptions | undefined;
  readonly taskTtlMs: number;

  dayStartMs = Number.NaN;
  dayEndMs = Number.NEGATIVE_INFINITY;
  monthStartMs = Number.NaN;
  monthEndMs = Number.NEGATIVE_INFINITY;
  orgKey = "";
  orgKilled = false;
  orgKillReason = "";

  readonly #recentAlerts: BudgetAlert[] = [];
  #recentAlertsNext = 0;

  constructor(resolved: ResolvedCostGuardOptions) {
    this.clock = resolved.clock;
    this.events = resolved.events;
    this.store = resolved.store;
    this.state = isStateStore(resolved.store) ? resolved.store : undefined;
    this.defaults = resolved.defaults;
    this.overrides = resolved.overrides;
    this.orgLimitMicros = resolved.orgLimitMicros;
    this.alertThresholds = resolved.alertThresholds;
    this.autoThrottle = resolved.autoThrottle;
    this.throttleThreshold = resolved.throttleThreshold;
    this.throttleTasksPerMinute = resolved.throttleTasksPerMinute;
    this.killThreshold = resolved.killThreshold;
    this.anomaly = resolved.anomaly;
    this.taskTtlMs = resolved.taskTtlMs;
    this.lowestTrigger = Math.min(
      this.alertThresholds[0] ?? 1,
      this.autoThrottle ? this.throttleThreshold : 1,
      this.killThreshold,
    );
    this.periods = new CalendarPeriods(resolved.timeZone, this.clock.now());
  }

  get dayExpiryMs(): number {
    return this.dayEndMs + PERIOD_GRACE_MS;
  }

  get monthExpiryMs(): number {
    return this.monthEndMs + PERIOD_GRACE_MS;
  }

  /** Moves the cached day (and month, with its org kill from the state store) to the one holding `now`. */
  rollPeriods(now: number): void {
    const day = this.periods.day(now);
    this.dayStartMs = day.startMs;
    this.dayEndMs = day.endMs;
    const month = this.periods.month(now);
    if (month.startMs !== this.monthStartMs) {
      this.monthStartMs = month.startMs;
      this.monthEndMs = month.endMs;
      this.orgKey = `org-month:${month.startMs}`;
      const kill = asKill(this.state?.getState(ORG_KILL, String(month.startMs)), month.startMs);
      this.orgKilled = kill !== undefined;
      this.orgKillReason = kill?.reason ?? "";
    }
  }

  emit<K extends AgentSREEventName>(name: K, payload: AgentSREEvents[K]): void {
    if (this.events.has(name)) this.events.emit(name, payload);
  }

  /** Keeps an alert among the recent ones (a ring of 100) and emits its event. */
  publish(alert: BudgetAlert): void {
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
      this.emit("cost.anomaly", event);
    } else if (alert.type === "overrun") {
      if (!this.events.has("budget.overrun")) return; // every overrunning call: no payload nobody hears
      const { agentId, taskId, reservedUsd, actualUsd, at } = alert;
      this.emit("budget.overrun", { at, agentId, taskId, reservedUsd, actualUsd });
    } else {
      this.emit(
        alert.action === "KILL"
          ? "budget.kill"
          : alert.action === "THROTTLE"
            ? "budget.throttle"
            : "budget.alert",
        alert,
      );
    }
  }

  /** The recent alerts, oldest first (an overrun as plain data: its message written now). */
  recentAlerts(): BudgetAlert[] {
    const alerts = this.#recentAlerts;
    const next = alerts.length < RECENT_ALERTS ? 0 : this.#recentAlertsNext;
    const ordered = [...alerts.slice(next), ...alerts.slice(0, next)];
    return plainAlerts(ordered);
  }
}

/** Spend / limit (0 without a limit; Infinity for any spend against a zero limit). */
export function utilizationOf(spent: number, limit: number): number {
  if (limit === Number.POSITIVE_INFINITY) return 0;
  if (limit === 0) return spent > 0 ? Number.POSITIVE_INFINITY : 0;
  return spent / limit;
}

export function usdOrNull(micros: number): number | null {
  return micros < Infinity ? microsToUsd(micros) : null;
}
