import { type AgentState, addLabeled } from "./agent-state.js";
import { LogCostBaseline, type ResolvedCostAnomalyOptions } from "./cost-anomaly.js";
import {
  type AgentBudgetStatus,
  type AnomalyHoldStatus,
  BudgetAction,
  type BudgetAlert,
  type BudgetThresholdAlert,
  type CostAnomalyAlert,
  type CostGuardSnapshot,
} from "./cost-types.js";
import { type GuardCore, usdOrNull, utilizationOf } from "./guard-core.js";
import { saveHold, saveKill, saveOrgKill, saveThrottle } from "./kill-throttle.js";
import { exactMicrosToUsd, formatUsd, microsToUsd } from "./money.js";

/**
 * What spend sets off — threshold alerts, the budget throttle, the kill switch (per agent per day, for the
 * org per month), per-agent cost anomalies — and the status views built from the same state.
 */

const NO_ALERTS: readonly BudgetAlert[] = Object.freeze([]);
const ACTION_ORDER = { ALERT: 0, THROTTLE: 1, KILL: 2 } as const;

/**
 * Alerts, throttle, kill and anomaly after money was spent; events go out once the state is final. The usual
 * call (below every threshold, an ordinary cost) runs only the comparisons here: the crossings, the anomaly
 * check and the publishing are out of line, so this stays small enough (~120 bytes of bytecode) for V8 to
 * inline into the settlement (at 349 bytes, with the anomaly baseline and the publishing loop inline, it was
 * called out of line: ~360 instructions a settled call, most of them checks of its eleven arguments).
 */
export function afterSpend(
  core: GuardCore,
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
    if (dayIsCurrent && reachesTrigger(core, agent.limits.dailyLimitMicros, prevDay + amount))
      alerts = crossings(core, agent, prevDay, prevDay + amount, now, alerts);
    if (monthIsCurrent && reachesTrigger(core, core.orgLimitMicros, prevOrg + amount))
      alerts = crossings(core, undefined, prevOrg, prevOrg + amount, now, alerts);
    if (core.anomaly !== undefined) alerts = observeCost(core, agent, exactUsd, taskId, now, alerts);
  }
  return alerts === undefined ? NO_ALERTS : published(core, alerts);
}

/** The agent's cost baseline takes the call's cost; a spike raises the anomaly alert (out of line). */
function observeCost(
  core: GuardCore,
  agent: AgentState,
  exactUsd: number,
  taskId: string | undefined,
  now: number,
  alerts: BudgetAlert[] | undefined,
): BudgetAlert[] | undefined {
  const anomaly = core.anomaly as ResolvedCostAnomalyOptions;
  let baseline = agent.baseline;
  if (baseline === undefined) {
    baseline = new LogCostBaseline();
    agent.baseline = baseline;
  }
  const score = baseline.observe(exactUsd, anomaly);
  if (score > anomaly.zThreshold)
    return anomalyAlert(core, agent, anomaly, exactUsd, score, taskId, now, alerts);
  return alerts;
}

/** Publishes the alerts a spend raised (out of line: the usual call raises none). */
function published(core: GuardCore, alerts: BudgetAlert[]): readonly BudgetAlert[] {
  for (let i = 0; i < alerts.length; i++) core.publish(alerts[i] as BudgetAlert);
  return alerts;
}

/**
 * Whether spend `next` on a scope with `limit` reaches the lowest threshold anything triggers at (`crossings`
 * has work to do only then; it checks the same again).
 */
function reachesTrigger(core: GuardCore, limit: number, next: number): boolean {
  return limit < Infinity && !(utilizationOf(next, limit) < core.lowestTrigger);
}

/** The anomaly's alert and response (out of line: a cost spike is rare). */
function anomalyAlert(
  core: GuardCore,
  agent: AgentState,
  anomaly: ResolvedCostAnomalyOptions,
  costUsd: number,
  score: number,
  taskId: string | undefined,
  now: number,
  alerts: BudgetAlert[] | undefined,
): BudgetAlert[] {
  const expectedUsd = (agent.baseline as LogCostBaseline).priorExpectedUsd;
  const alert: CostAnomalyAlert = {
    type: "anomaly",
    at: now,
    agentId: agent.agentId,
    costUsd,
    expectedUsd,
    score,
    threshold: anomaly.zThreshold,
    response: anomaly.action,
    scope: "call",
    severity: "warning",
    action: "ALERT",
    message: `Agent "${agent.agentId}"${taskId === undefined ? "" : ` (task "${taskId}")`} spent ${formatUsd(costUsd)}, ${(costUsd / expectedUsd).toFixed(1)}× its typical ${formatUsd(expectedUsd)} (z = ${score.toFixed(2)})`,
  };
  respond(core, agent, anomaly, alert, taskId, now);
  const out = alerts ?? [];
  out.push(alert);
  return out;
}

/** What an anomaly does beyond its event (`anomalyDetection.action`); the alert says what was done. */
function respond(
  core: GuardCore,
  agent: AgentState,
  anomaly: ResolvedCostAnomalyOptions,
  alert: CostAnomalyAlert,
  taskId: string | undefined,
  now: number,
): void {
  switch (anomaly.action) {
    case "hold": {
      // A second spike while held (calls that were already in flight) keeps the first hold and its figures.
      if (agent.hold === undefined) {
        agent.hold = {
          costUsd: alert.costUsd,
          expectedUsd: alert.expectedUsd,
          score: alert.score,
          threshold: alert.threshold,
          taskId,
          heldAtMs: now,
          untilMs: now + anomaly.holdMs,
          refusedCalls: 0,
        };
        saveHold(core, agent);
      }
      const untilMs = agent.hold.untilMs;
      if (Number.isFinite(untilMs)) alert.untilMs = untilMs;
      alert.action = "HOLD";
      alert.message += Number.isFinite(untilMs)
        ? `; next calls held until an operator confirms or ${new Date(untilMs).toISOString()}`
        : "; next calls held until an operator confirms (budget.confirmAnomaly)";
      return;
    }
    case "lower-task-limit": {
      const configured = agent.configuredLimits.perTaskLimitMicros;
      if (!(configured < Infinity)) return; // no per-task limit to lower
      const untilMs = now + anomaly.cooldownMs;
      agent.lowerTaskLimit(Math.floor(configured * anomaly.taskLimitFactor), untilMs);
      alert.taskLimitUsd = microsToUsd(agent.limits.perTaskLimitMicros);
      alert.untilMs = untilMs;
      alert.message += `; per-task limit lowered to ${formatUsd(alert.taskLimitUsd)} until ${new Date(untilMs).toISOString()}`;
      return;
    }
    case "throttle":
      if (!agent.budgetThrottled) {
        agent.startThrottle(core.throttleTasksPerMinute, now);
        agent.budgetThrottled = true;
        saveThrottle(core, agent, now);
      }
      alert.action = "THROTTLE";
      alert.message += `; throttled to ${core.throttleTasksPerMinute} tasks/min`;
      return;
    case "kill":
      if (!agent.killed) {
        agent.killed = true;
        agent.killReason = `cost anomaly: ${alert.message}`;
        saveKill(core, agent, now);
      }
      alert.action = "KILL";
      alert.message += "; killed until the day rolls over or revive";
      return;
    default:
      return;
  }
}

/** Threshold crossings `prev < t <= next` on one scope (an agent's day, or the org's month if no agent). */
function crossings(
  core: GuardCore,
  agent: AgentState | undefined,
  prev: number,
  next: number,
  now: number,
  alerts: BudgetAlert[] | undefined,
): BudgetAlert[] | undefined {
  const limit = agent === undefined ? core.orgLimitMicros : agent.limits.dailyLimitMicros;
  if (!(limit < Infinity)) return alerts;
  const after = utilizationOf(next, limit);
  if (after < core.lowestTrigger) return alerts;
  const before = utilizationOf(prev, limit);
  const firstNew = alerts === undefined ? 0 : alerts.length;
  for (const threshold of core.alertThresholds) {
    if (crossed(before, after, threshold)) {
      alerts ??= [];
      alerts.push(thresholdAlert(core, agent, "ALERT", threshold, after, next, limit, now));
    }
  }
  if (agent !== undefined && core.autoThrottle && crossed(before, after, core.throttleThreshold)) {
    agent.startThrottle(core.throttleTasksPerMinute, now);
    agent.budgetThrottled = true;
    saveThrottle(core, agent, now);
    alerts ??= [];
    alerts.push(thresholdAlert(core, agent, "THROTTLE", core.throttleThreshold, after, next, limit, now));
  }
  if (crossed(before, after, core.killThreshold)) {
    const alert = thresholdAlert(core, agent, "KILL", core.killThreshold, after, next, limit, now);
    if (agent === undefined) {
      core.orgKilled = true;
      core.orgKillReason = alert.message;
      saveOrgKill(core, alert.message, now);
    } else {
      agent.killed = true;
      agent.killReason = alert.message;
      saveKill(core, agent, now);
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

export function thresholdAlert(
  core: GuardCore,
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
        ? `; throttled to ${core.throttleTasksPerMinute} tasks/min`
        : "";
  return {
    type: "budget",
    at: now,
    agentId: agent?.agentId,
    scope: agent === undefined ? "org-monthly" : "agent-daily",
    periodEndMs: agent === undefined ? core.monthEndMs : core.dayEndMs,
    threshold,
    utilization,
    spentUsd,
    limitUsd,
    severity: action === "KILL" || threshold >= 0.9 ? "critical" : "warning",
    action,
    message: `${who} spend reached ${Math.round(threshold * 100)}% of ${formatUsd(limitUsd)} (${formatUsd(spentUsd)})${what}`,
  };
}

export function actionOf(core: GuardCore, agent: AgentState): BudgetAction {
  if (core.orgKilled || agent.killed) return BudgetAction.KILL;
  if (agent.hold !== undefined) return BudgetAction.HOLD;
  if (agent.throttled) return BudgetAction.THROTTLE;
  const first = core.alertThresholds[0];
  if (first === undefined) return BudgetAction.ALLOW;
  const day = utilizationOf(core.store.read(agent.dayKey).spent, agent.limits.dailyLimitMicros);
  const org = utilizationOf(core.store.read(core.orgKey).spent, core.orgLimitMicros);
  return day >= first || org >= first ? BudgetAction.ALERT : BudgetAction.ALLOW;
}

export function addBreakdown(agent: AgentState, breakdown: Readonly<Record<string, number>>): void {
  agent.breakdownMicros ??= new Map();
  for (const [label, usd] of Object.entries(breakdown))
    addLabeled(agent.breakdownMicros, label, usd * 1_000_000); // display only: kept unrounded
}

export function statusOf(core: GuardCore, agent: AgentState, now: number): AgentBudgetStatus {
  const day = core.store.read(agent.dayKey);
  const month = core.store.read(agent.monthKey);
  const tokens = core.store.read(agent.dayTokenKey);
  const limits = agent.limits;
  const breakdown: Record<string, number> = {};
  for (const [label, micros] of agent.breakdownMicros ?? []) breakdown[label] = microsToUsd(micros);
  return {
    agentId: agent.agentId,
    at: now,
    dayStartMs: core.dayStartMs,
    dayEndMs: core.dayEndMs,
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
    action: actionOf(core, agent),
    killed: core.orgKilled || agent.killed,
    killReason: agent.killed ? agent.killReason : core.orgKilled ? core.orgKillReason : undefined,
    throttled: agent.throttled,
    throttleReason:
      agent.externalThrottleReason ?? (agent.budgetThrottled ? "daily budget throttle" : undefined),
    held: agent.hold !== undefined,
    hold: holdStatus(agent),
    unpricedTokens: Object.fromEntries(agent.unpricedTokens ?? []),
    costBreakdownUsd: breakdown,
    recentAlerts: core.recentAlerts().filter((alert) => alert.agentId === agent.agentId),
  };
}

function holdStatus(agent: AgentState): AnomalyHoldStatus | null {
  const hold = agent.hold;
  if (hold === undefined) return null;
  return {
    heldAtMs: hold.heldAtMs,
    untilMs: Number.isFinite(hold.untilMs) ? hold.untilMs : null,
    costUsd: hold.costUsd,
    expectedUsd: hold.expectedUsd,
    score: hold.score,
    threshold: hold.threshold,
    taskId: hold.taskId ?? null,
    refusedCalls: hold.refusedCalls,
  };
}

/** A threshold is crossed once: when spend moves from below it to at or above it. */
function crossed(before: number, after: number, threshold: number): boolean {
  return before < threshold && threshold <= after;
}

/** The guard's whole picture: periods, the org's month, and the given agents' statuses. */
export function snapshotOf(core: GuardCore, agents: AgentBudgetStatus[], now: number): CostGuardSnapshot {
  const org = core.store.read(core.orgKey);
  return {
    at: now,
    timeZone: core.periods.timeZone,
    day: { startMs: core.dayStartMs, endMs: core.dayEndMs },
    month: { startMs: core.monthStartMs, endMs: core.monthEndMs },
    org: {
      spentThisMonthUsd: microsToUsd(org.spent),
      reservedUsd: microsToUsd(org.reserved),
      monthlyBudgetUsd: usdOrNull(core.orgLimitMicros),
      utilization: utilizationOf(org.spent, core.orgLimitMicros),
      killed: core.orgKilled,
      killReason: core.orgKilled ? core.orgKillReason : undefined,
    },
    agents,
    recentAlerts: core.recentAlerts(),
  };
}
