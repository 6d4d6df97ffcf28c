import type { Notification } from "./notification.js";

/**
 * The durable side of the AlertManager, behind a small interface so a SQLite or Redis store can plug in.
 * Two things live here: the outbox (notifications not yet delivered, with their retry state, plus the
 * dead letters) and a small key/value state (active alerts, the notification log, silences) so a
 * restarted process neither forgets a firing alert nor pages twice for it. Methods may be synchronous
 * (better-sqlite3) or return promises (Redis); the manager awaits them off the hot path.
 */
export type Awaitable<T> = T | Promise<T>;

export interface OutboxEntry {
  id: string;
  receiver: string;
  notification: Notification;
  /** Delivery attempts made so far. */
  attempts: number;
  /** Earliest time (ms) of the next attempt. */
  nextAttemptAt: number;
  createdAt: number;
  /** The last failure, redacted. */
  lastError?: string;
  /**
   * What a shared store compares to drop a notification another process already sent: `group` (a hash of
   * receiver + group key), `signature` (action, status, firing and resolved fingerprints) and `windowMs` (the
   * route's repeat interval: the same content again within it is a duplicate).
   */
  dedup?: { group: string; signature: string; windowMs: number };
}

/**
 * A shared store's answer to `claim`: `"ok"` (this process makes the attempt now; the claim lasts
 * `leaseMs`), `"duplicate"` (another process already sent the group this same content within the dedup
 * window: dropped from the outbox), `"gone"` (no longer this process's to deliver: delivered, or taken over
 * by another process), or `{ retryInMs }` (another process holds the claim: ask again then).
 */
export type ClaimVerdict = "ok" | "duplicate" | "gone" | { retryInMs: number };

export interface DeadLetter {
  entry: OutboxEntry;
  failedAt: number;
  /** Why delivery stopped (redacted): the last error, a permanent 4xx, or "outbox full". */
  error: string;
  /** The last HTTP status, when there was an answer. */
  httpStatus?: number;
}

export interface AlertOutboxStore {
  /** Inserts or replaces an entry (by `id`). */
  put(entry: OutboxEntry): Awaitable<void>;
  remove(id: string): Awaitable<void>;
  /** Every entry not yet delivered, oldest first. */
  pending(): Awaitable<OutboxEntry[]>;
  deadLetter(record: DeadLetter): Awaitable<void>;
  /** The most recent dead letters, newest last. */
  deadLetters(limit?: number): Awaitable<DeadLetter[]>;
  /** Sets (or, with `undefined`, deletes) a state value; values are JSON. */
  setState(key: string, value: unknown): Awaitable<void>;
  /** Every state value (`alert:<fingerprint>`, `nflog:<receiver>:<group>`, `silence:<id>`). */
  loadState(): Awaitable<Record<string, unknown>>;
  close?(): Awaitable<void>;
  /**
   * Shared stores (a fleet on one Redis) only: asked before each delivery attempt, so that one process
   * delivers each notification and a notification another process already sent is not sent again.
   */
  claim?(entry: OutboxEntry, options: { leaseMs: number; now: number }): Awaitable<ClaimVerdict>;
  /**
   * Shared stores only: takes over the entries and state of writers that departed since the last call (a
   * crashed process, once its lease ran out). A running manager calls it every `adoptIntervalMs`.
   */
  adopt?(): Awaitable<{ entries: OutboxEntry[]; state: Record<string, unknown> }>;
  readonly adoptIntervalMs?: number;
}

/**
 * The default store: process memory, bounded (dead letters are a ring). "Durable" only for the process's
 * life — a restart test passes the same instance to a new manager, as a SQLite file would survive. Values
 * are stored as JSON text so nothing the caller keeps aliases the stored copy (as with a real store).
 */
export class MemoryOutboxStore implements AlertOutboxStore {
  readonly #entries = new Map<string, string>();
  readonly #dead: string[] = [];
  readonly #state = new Map<string, string>();
  readonly #maxDeadLetters: number;

  constructor(options: { maxDeadLetters?: number } = {}) {
    this.#maxDeadLetters = options.maxDeadLetters ?? 1000;
  }

  put(entry: OutboxEntry): void {
    this.#entries.set(entry.id, JSON.stringify(entry));
  }

  remove(id: string): void {
    this.#entries.delete(id);
  }

  pending(): OutboxEntry[] {
    return [...this.#entries.values()]
      .map((text) => JSON.parse(text) as OutboxEntry)
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  deadLetter(record: DeadLetter): void {
    this.#dead.push(JSON.stringify(record));
    if (this.#dead.length > this.#maxDeadLetters) this.#dead.shift();
  }

  deadLetters(limit = 100): DeadLetter[] {
    return this.#dead.slice(-limit).map((text) => JSON.parse(text) as DeadLetter);
  }

  setState(key: string, value: unknown): void {
    if (value === undefined) this.#state.delete(key);
    else this.#state.set(key, JSON.stringify(value));
  }

  loadState(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, text] of this.#state) out[key] = JSON.parse(text);
    return out;
  }
}
