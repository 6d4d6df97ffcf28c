import { STATE_KINDS, type StateStore, type StateValue } from "../store/state-store.js";

/**
 * How the cost guard's decisions (kills, throttles, anomaly holds) are written to and read from the state store, so a
 * restart, or another process sharing the store, refuses the same agents. Written on transitions only.
 */

/** A budget kill of one agent for one day (`dayStartMs`), or of the org for one month (`monthStartMs`). */
export interface KillRecord {
  reason: string;
  at: number;
  /** The period the kill belongs to: it lapses by itself when that period rolls over. */
  periodStartMs: number;
}

export interface ThrottleRecord {
  /** The daily budget throttle, for the day starting at `dayStartMs`. */
  budget: boolean;
  dayStartMs: number;
  /** An external throttle's reason (e.g. an SLO), which does not lapse with the day. */
  external: string | null;
  at: number;
}

/**
 * A cost anomaly hold (`anomalyDetection.action: "hold"`): the figures of the cost that set it off. Not tied
 * to a period: it lasts until confirmed, or until `untilMs` (null: no time limit).
 */
export interface HoldRecord {
  costUsd: number;
  expectedUsd: number;
  score: number;
  threshold: number;
  taskId: string | null;
  at: number;
  untilMs: number | null;
}

export function asHold(value: StateValue | undefined): HoldRecord | undefined {
  if (value === undefined) return undefined;
  const record = value as unknown as HoldRecord;
  return typeof record.at === "number" &&
    typeof record.costUsd === "number" &&
    typeof record.expectedUsd === "number" &&
    typeof record.score === "number"
    ? record
    : undefined;
}

export function readKill(
  state: StateStore | undefined,
  kind: string,
  id: string,
  periodStartMs: number,
): KillRecord | undefined {
  const value = state?.getState(kind, id);
  return asKill(value, periodStartMs);
}

export function asKill(value: StateValue | undefined, periodStartMs: number): KillRecord | undefined {
  if (value === undefined) return undefined;
  const record = value as unknown as KillRecord;
  return record.periodStartMs === periodStartMs && typeof record.reason === "string" ? record : undefined;
}

export function asThrottle(value: StateValue | undefined): ThrottleRecord | undefined {
  if (value === undefined) return undefined;
  const record = value as unknown as ThrottleRecord;
  return typeof record.dayStartMs === "number" ? record : undefined;
}

export function writeKill(
  state: StateStore | undefined,
  kind: string,
  id: string,
  record: KillRecord,
  expiresAtMs: number,
): void {
  state?.putState(kind, id, record as unknown as StateValue, expiresAtMs);
}

export const AGENT_KILL = STATE_KINDS.kill;
export const ORG_KILL = STATE_KINDS.orgKill;
export const THROTTLE = STATE_KINDS.throttle;
export const ANOMALY_HOLD = STATE_KINDS.anomalyHold;
