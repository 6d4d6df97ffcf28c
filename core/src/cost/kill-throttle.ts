import type { StateChange, StateStore } from "../store/state-store.js";
import { type AgentState, flatKey } from "./agent-state.js";
import {
  AGENT_KILL,
  ANOMALY_HOLD,
  asHold,
  asKill,
  asThrottle,
  type HoldRecord,
  ORG_KILL,
  THROTTLE,
  type ThrottleRecord,
} from "./budget-state.js";
import { type GuardCore, utilizationOf } from "./guard-core.js";
import { microsToUsd } from "./money.js";

/**
 * Kills, throttles and anomaly holds in the state store (budget-state.ts has the records): written on
 * transitions, read when an agent is first seen in a day, and applied when another process changes them, so a
 * restart or a fleet sharing the store refuses the same agents.
 */

/** Kills and throttles of the agent's current day kept in the state store (a restart, another process). */
export function restoreAgent(core: GuardCore, agent: AgentState): void {
  const state = core.state as StateStore;
  const kill = asKill(state.getState(AGENT_KILL, agent.agentId), agent.dayStartMs);
  if (kill !== undefined) {
    agent.killed = true;
    agent.killReason = kill.reason;
  }
  applyThrottle(core, agent, asThrottle(state.getState(THROTTLE, agent.agentId)));
  const hold = asHold(state.getState(ANOMALY_HOLD, agent.agentId));
  if (hold !== undefined) applyHold(agent, hold);
}

/** Holds the agent as the record says (none: released); the same hold keeps its count of refused calls. */
export function applyHold(agent: AgentState, record: HoldRecord | undefined): void {
  if (record === undefined) {
    agent.hold = undefined;
    return;
  }
  if (agent.hold?.heldAtMs === record.at) return;
  agent.hold = {
    costUsd: record.costUsd,
    expectedUsd: record.expectedUsd,
    score: record.score,
    threshold: record.threshold,
    taskId: record.taskId ?? undefined,
    heldAtMs: record.at,
    untilMs: record.untilMs ?? Number.POSITIVE_INFINITY,
    refusedCalls: 0,
  };
}

export function saveHold(core: GuardCore, agent: AgentState): void {
  const hold = agent.hold;
  if (hold === undefined) return;
  const record: HoldRecord = {
    costUsd: hold.costUsd,
    expectedUsd: hold.expectedUsd,
    score: hold.score,
    threshold: hold.threshold,
    taskId: hold.taskId ?? null,
    at: hold.heldAtMs,
    untilMs: Number.isFinite(hold.untilMs) ? hold.untilMs : null,
  };
  core.state?.putState(
    ANOMALY_HOLD,
    agent.agentId,
    record as unknown as Record<string, unknown>,
    hold.untilMs,
  );
}

export function applyThrottle(core: GuardCore, agent: AgentState, record: ThrottleRecord | undefined): void {
  const budget = record?.budget === true && record.dayStartMs === agent.dayStartMs;
  const external = record?.external ?? undefined;
  if ((budget || external !== undefined) && !agent.throttled) {
    agent.startThrottle(core.throttleTasksPerMinute, core.clock.now());
  }
  agent.budgetThrottled = budget;
  agent.externalThrottleReason = external;
}

export function saveKill(core: GuardCore, agent: AgentState, now: number): void {
  core.state?.putState(
    AGENT_KILL,
    agent.agentId,
    { reason: agent.killReason, at: now, periodStartMs: agent.dayStartMs },
    core.dayExpiryMs,
  );
}

export function saveOrgKill(core: GuardCore, reason: string, now: number): void {
  core.state?.putState(
    ORG_KILL,
    String(core.monthStartMs),
    { reason, at: now, periodStartMs: core.monthStartMs },
    core.monthExpiryMs,
  );
}

export function saveThrottle(core: GuardCore, agent: AgentState, now: number): void {
  const record: ThrottleRecord = {
    budget: agent.budgetThrottled,
    dayStartMs: agent.dayStartMs,
    external: agent.externalThrottleReason ?? null,
    at: now,
  };
  core.state?.putState(
    THROTTLE,
    agent.agentId,
    record as unknown as Record<string, unknown>,
    // An external throttle does not lapse with the day.
    record.external === null ? core.dayExpiryMs : Number.POSITIVE_INFINITY,
  );
}

/** Another process killed, revived, throttled, held or released an agent: apply it to the agents held here. */
export function applyRemoteChange(
  core: GuardCore,
  agents: { get(agentId: string): AgentState | undefined },
  change: StateChange,
): void {
  if (change.kind === ORG_KILL) {
    if (change.id !== String(core.monthStartMs)) return;
    const kill = asKill(change.value, core.monthStartMs);
    core.orgKilled = kill !== undefined;
    core.orgKillReason = kill?.reason ?? "";
    return;
  }
  if (change.kind !== AGENT_KILL && change.kind !== THROTTLE && change.kind !== ANOMALY_HOLD) return;
  const agent = agents.get(change.id);
  if (agent === undefined) return; // loaded from the store when first seen
  if (change.kind === ANOMALY_HOLD) {
    applyHold(agent, asHold(change.value));
  } else if (change.kind === AGENT_KILL) {
    const kill = asKill(change.value, agent.dayStartMs);
    agent.killed = kill !== undefined;
    agent.killReason = kill?.reason ?? "";
  } else {
    applyThrottle(core, agent, asThrottle(change.value));
  }
}

/** A hold whose `holdMs` ran out ends when the agent is next looked at. */
export function lapseHold(core: GuardCore, agent: AgentState, now: number): void {
  if (agent.hold !== undefined && now >= agent.hold.untilMs) releaseHold(core, agent, "expiry", now);
}

/** Ends the agent's hold (confirmed, or lapsed) everywhere the store reaches, and says so. */
export function releaseHold(core: GuardCore, agent: AgentState, by: "confirm" | "expiry", now: number): void {
  const hold = agent.hold;
  if (hold === undefined) return;
  agent.hold = undefined;
  core.state?.deleteState(ANOMALY_HOLD, agent.agentId);
  core.emit("cost.anomaly.release", {
    at: now,
    agentId: agent.agentId,
    by,
    heldAtMs: hold.heldAtMs,
    costUsd: hold.costUsd,
    expectedUsd: hold.expectedUsd,
    score: hold.score,
    refusedCalls: hold.refusedCalls,
  });
}

/** An operator's kill (`CostGuard.kill`): refused until the day rolls over or `revive`, and said so. */
export function killAgent(core: GuardCore, agent: AgentState, reason: string, now: number): void {
  agent.killed = true;
  agent.killReason = reason;
  saveKill(core, agent, now);
  const spent = core.store.read(agent.dayKey).spent;
  core.publish({
    type: "budget",
    at: now,
    agentId: agent.agentId,
    scope: "agent-daily",
    periodEndMs: core.dayEndMs,
    threshold: core.killThreshold,
    utilization: utilizationOf(spent, agent.limits.dailyLimitMicros),
    spentUsd: microsToUsd(spent),
    limitUsd: microsToUsd(agent.limits.dailyLimitMicros),
    severity: "critical",
    action: "KILL",
    message: `Agent "${agent.agentId}" killed: ${reason}`,
  });
}

/** Moves an agent into the current day (and month): new keys, and day-scoped state starts afresh. */
export function rollAgent(core: GuardCore, agent: AgentState): void {
  if (agent.dayStartMs === core.dayStartMs) return;
  agent.dayStartMs = core.dayStartMs;
  agent.dayKey = flatKey(["agent-day:", core.dayStartMs, ":", agent.agentId]);
  agent.dayTokenKey = flatKey(["agent-day-tokens:", core.dayStartMs, ":", agent.agentId]);
  if (agent.monthStartMs !== core.monthStartMs) {
    agent.monthStartMs = core.monthStartMs;
    agent.monthKey = flatKey(["agent-month:", core.monthStartMs, ":", agent.agentId]);
  }
  agent.killed = false;
  agent.killReason = "";
  agent.budgetThrottled = false;
  agent.unpricedTokens = undefined;
  agent.breakdownMicros = undefined;
  // The day's ledger keys start at zero: a credit carried from yesterday has nothing left to offset.
  agent.creditMicros = 0;
  if (core.state !== undefined) restoreAgent(core, agent);
}
