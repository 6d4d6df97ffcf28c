import type { StateChange, StateStore } from "../store/state-store.js";
import type { AgentState } from "./agent-state.js";
import { AGENT_KILL, asKill, asThrottle, ORG_KILL, THROTTLE, type ThrottleRecord } from "./budget-state.js";
import type { GuardCore } from "./guard-core.js";

/**
 * Kills and throttles in the state store (budget-state.ts has the records): written on transitions,
 * read when an agent is first seen in a day, and applied when another process changes them, so a
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

/** Another process killed, revived, throttled or released an agent: apply it to the agents held here. */
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
  if (change.kind !== AGENT_KILL && change.kind !== THROTTLE) return;
  const agent = agents.get(change.id);
  if (agent === undefined) return; // loaded from the store when first seen
  if (change.kind === AGENT_KILL) {
    const kill = asKill(change.value, agent.dayStartMs);
    agent.killed = kill !== undefined;
    agent.killReason = kill?.reason ?? "";
  } else {
    applyThrottle(core, agent, asThrottle(change.value));
  }
}
