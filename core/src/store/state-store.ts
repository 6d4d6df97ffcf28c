import type { LedgerStore } from "./ledger-store.js";

/**
 * Decision state besides money: the facts whose loss would change what the engine decides next (a kill, a
 * throttle, a quarantine and its reason, a breaker's state and opened-at, chaos experiment state). Written on
 * TRANSITIONS only (a kill, a breaker opening), never per call, and read when an agent or breaker is first
 * seen, so the hot path never touches it.
 *
 * Synchronous, like the ledger: a SQLite store reads its file, a Redis store serves reads from an in-process
 * mirror that pub/sub keeps current, and writes go out in the background. Values are small JSON objects (a
 * store serializes them); a store returns them frozen or as copies, never the caller's object.
 *
 * Kinds in use (documented so other components can write through the same seam without clashing):
 * `kill` (id = agent id), `org-kill` (id = month start), `throttle` (agent id), `quarantine` (agent id),
 * `anomaly-hold` (agent id), `breaker` (breaker id), `chaos` (experiment name), `slo` (SLO name: its error
 * budget's event buckets, saved at most once per `saveIntervalMs` of the SLO registry), `slo-part`
 * (`<SLO name>#<process key>`: one process's counts of an SLO on a shared store, read by every process with its
 * own). New components pick a new kind.
 */
export type StateValue = Readonly<Record<string, unknown>>;

export interface StateChange {
  readonly kind: string;
  readonly id: string;
  /** The new value, or undefined when the record was deleted. */
  readonly value: StateValue | undefined;
}

export interface StateStore {
  /** The record, or undefined when absent (or dropped by `expire()` of the ledger, which covers both). */
  getState(kind: string, id: string): StateValue | undefined;
  /**
   * Writes (replaces) a record. `expiresAtMs`: when it may be dropped (ms since the epoch; `Infinity` =
   * never). Shared stores broadcast it to every other process.
   */
  putState(kind: string, id: string, value: StateValue, expiresAtMs: number): void;
  deleteState(kind: string, id: string): void;
  /** Every record of a kind, as `[id, value]` pairs. */
  listState(kind: string): Array<[string, StateValue]>;
  /**
   * Changes made by OTHER processes (a shared store's broadcast), so a kill issued anywhere refuses here.
   * Local writes are not echoed. Returns an unsubscribe function. Stores without other writers never call it.
   */
  subscribe(listener: (change: StateChange) => void): () => void;
  /**
   * True when other processes read and write the same state (a fleet on Redis): components that count
   * fleet-wide (the retry budget) then publish their counts through the store. Absent or false: one process.
   */
  readonly shared?: boolean;
}

/** A complete store: the ledger and the decision state, which every component of one engine shares. */
export interface Store extends LedgerStore, StateStore {
  /** Flushes and releases what the store holds (connections, leases, file handles). */
  close?(): void | Promise<void>;
}

export function isStateStore(value: unknown): value is StateStore {
  const candidate = value as Partial<StateStore> | null | undefined;
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    typeof candidate.getState === "function" &&
    typeof candidate.putState === "function" &&
    typeof candidate.deleteState === "function" &&
    typeof candidate.listState === "function" &&
    typeof candidate.subscribe === "function"
  );
}

/** Record kinds used by the engine's components. */
export const STATE_KINDS = Object.freeze({
  kill: "kill",
  orgKill: "org-kill",
  throttle: "throttle",
  quarantine: "quarantine",
  breaker: "breaker",
  chaos: "chaos",
  slo: "slo",
  anomalyHold: "anomaly-hold",
  sloPart: "slo-part",
} as const);
