import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import {
  ConfigError,
  exceedsLimit,
  type LedgerBalance,
  type LedgerLine,
  RESERVE_OK,
  type ReserveResult,
  type SettleLine,
  type StateChange,
  type StateValue,
  type Store,
} from "@agent-sre/core";
import Database from "better-sqlite3";
import { SqliteOutboxStore, type SqliteOutboxStoreOptions } from "./outbox-store.js";

export interface SqliteStoreOptions {
  /**
   * `"NORMAL"` (default): every committed operation survives a crash of the process (kill -9); the last
   * ones may be lost on power loss. `"FULL"`: survives power loss too, at an fsync per operation.
   */
  synchronous?: "NORMAL" | "FULL";
  /** Milliseconds to wait for a lock held by another process writing the same file. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * How often to look for state written by other processes sharing the file (kills, quarantines, breaker
   * states), in ms. Default 200. Only while someone subscribes (an engine does).
   */
  pollIntervalMs?: number;
}

/** This process's own row of a key (the only rows it writes). */
interface OwnRow {
  spent: number;
  reserved: number;
  /** `Infinity` = never. */
  expiresAtMs: number;
}

interface StateRecord {
  value: StateValue;
  expiresAtMs: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ledger (
  key TEXT NOT NULL,
  owner INTEGER NOT NULL, -- the writing process (owners.owner); 0 = processes that have ended
  spent INTEGER NOT NULL,
  reserved INTEGER NOT NULL,
  expires_at REAL, -- ms since the epoch; NULL = never
  PRIMARY KEY (key, owner)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS owners (owner INTEGER PRIMARY KEY, pid INTEGER NOT NULL, started_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS state (
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  value TEXT NOT NULL,
  expires_at REAL,
  PRIMARY KEY (kind, id)
) WITHOUT ROWID;
`;

/** Folds an ended owner's rows into owner 0: spend is kept, reservations (calls that never committed) go. */
const RETIRE_OWNER = [
  `INSERT INTO ledger (key, owner, spent, reserved, expires_at)
     SELECT key, 0, spent, 0, expires_at FROM ledger WHERE owner = @owner
     ON CONFLICT (key, owner) DO UPDATE SET
       spent = spent + excluded.spent,
       expires_at = CASE WHEN expires_at IS NULL OR excluded.expires_at IS NULL THEN NULL
                         ELSE max(expires_at, excluded.expires_at) END`,
  "DELETE FROM ledger WHERE owner = @owner",
  "DELETE FROM owners WHERE owner = @owner",
];

/**
 * The embedded store: the ledger and the decision state in one SQLite file (WAL mode), so a restart keeps
 * spend, kills, quarantines and breaker states. Each operation is ONE synchronous transaction
 * (`BEGIN IMMEDIATE`): a `reserve` checks and holds all its lines or none, and a crash (kill -9) leaves every
 * operation either fully applied or not at all.
 *
 * Several processes may share a file (e.g. one stdio proxy per MCP client, all with the same config): each
 * writes its own row per key and a balance is the sum over the rows, read inside the reserving transaction,
 * so limits hold across processes. When a process ends (or is found dead at the next open) its rows are
 * folded into the shared row: its spend stays, its open reservations are released (their calls never
 * committed). State written by one process reaches the others within `pollIntervalMs`.
 */
export class SqliteStore implements Store {
  readonly path: string;
  readonly owner: number;
  readonly #db: Database.Database;
  readonly #own = new Map<string, OwnRow>();
  readonly #state = new Map<string, Map<string, StateRecord>>();
  readonly #listeners = new Set<(change: StateChange) => void>();
  readonly #pollIntervalMs: number;
  readonly #put: Database.Statement;
  readonly #sum: Database.Statement;
  readonly #putState: Database.Statement;
  readonly #deleteState: Database.Statement;
  // `.immediate` runs each as BEGIN IMMEDIATE: the write lock is taken before the balances are read.
  readonly #reserveTx: Database.Transaction<(lines: readonly LedgerLine[]) => ReserveResult>;
  readonly #settleTx: Database.Transaction<(lines: readonly SettleLine[]) => void>;
  readonly #addTx: Database.Transaction<(key: string, amount: number, expiresAtMs: number) => void>;
  readonly #expireTx: Database.Transaction<(beforeMs: number) => number>;
  #dataVersion = 0;
  #outbox: SqliteOutboxStore | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    if (typeof path !== "string" || path === "") throw new ConfigError("state.sqlite", path, "a file path");
    const synchronous = options.synchronous ?? "NORMAL";
    if (synchronous !== "NORMAL" && synchronous !== "FULL") {
      throw new ConfigError("synchronous", synchronous, '"NORMAL" or "FULL"');
    }
    this.path = path;
    this.#pollIntervalMs = options.pollIntervalMs ?? 200;
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
    this.#db = db;
    try {
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${synchronous}`);
      db.exec(SCHEMA);
      this.owner = this.#join();
    } catch (error) {
      db.close();
      throw error;
    }
    const owner = this.owner;
    this.#put = db.prepare(
      `INSERT OR REPLACE INTO ledger (key, owner, spent, reserved, expires_at) VALUES (?, ${owner}, ?, ?, ?)`,
    );
    this.#sum = db
      .prepare("SELECT total(spent) AS spent, total(reserved) AS reserved FROM ledger WHERE key = ?")
      .raw(true);
    this.#putState = db.prepare(
      "INSERT OR REPLACE INTO state (kind, id, value, expires_at) VALUES (?, ?, ?, ?)",
    );
    this.#deleteState = db.prepare("DELETE FROM state WHERE kind = ? AND id = ?");
    const deleteLedger = db.prepare("DELETE FROM ledger WHERE expires_at IS NOT NULL AND expires_at <= ?");
    const deleteStates = db.prepare("DELETE FROM state WHERE expires_at IS NOT NULL AND expires_at <= ?");
    this.#loadState(false);

    this.#reserveTx = db.transaction((lines: readonly LedgerLine[]) => {
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i] as LedgerLine;
        const used = this.#used(line.key);
        if (exceedsLimit(used, line.amount, line.limit)) return { ok: false as const, index: i, used };
      }
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i] as LedgerLine;
        const row = this.#row(line.key);
        const expiresAtMs = Math.max(row.expiresAtMs, line.expiresAtMs);
        this.#put.run(line.key, row.spent, row.reserved + line.amount, nullIfInfinite(expiresAtMs));
      }
      return RESERVE_OK;
    });
    this.#settleTx = db.transaction((lines: readonly SettleLine[]) => {
      for (const line of lines) {
        const row = this.#row(line.key);
        const reserved = row.reserved > line.reserved ? row.reserved - line.reserved : 0;
        this.#put.run(line.key, row.spent + line.actual, reserved, nullIfInfinite(row.expiresAtMs));
      }
    });
    this.#addTx = db.transaction((key: string, amount: number, expiresAtMs: number) => {
      const row = this.#row(key);
      this.#put.run(
        key,
        row.spent + amount,
        row.reserved,
        nullIfInfinite(Math.max(row.expiresAtMs, expiresAtMs)),
      );
    });
    this.#expireTx = db.transaction((beforeMs: number) => {
      deleteStates.run(beforeMs);
      return deleteLedger.run(beforeMs).changes;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Ledger: the cached own rows change only after their transaction committed.

  reserve(lines: readonly LedgerLine[]): ReserveResult {
    const result = this.#reserveTx.immediate(lines);
    if (result.ok) {
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i] as LedgerLine;
        const row = this.#row(line.key);
        row.reserved += line.amount;
        if (line.expiresAtMs > row.expiresAtMs) row.expiresAtMs = line.expiresAtMs;
      }
    }
    return result;
  }

  settle(lines: readonly SettleLine[]): void {
    this.#settleTx.immediate(lines);
    for (const line of lines) {
      const row = this.#row(line.key);
      row.reserved = row.reserved > line.reserved ? row.reserved - line.reserved : 0;
      row.spent += line.actual;
    }
  }

  add(key: string, amount: number, expiresAtMs: number): void {
    this.#addTx.immediate(key, amount, expiresAtMs);
    const row = this.#row(key);
    row.spent += amount;
    if (expiresAtMs > row.expiresAtMs) row.expiresAtMs = expiresAtMs;
  }

  /** The balance over every process sharing the file, read now. */
  read(key: string): Readonly<LedgerBalance> {
    const [spent, reserved] = this.#sum.get(key) as [number, number];
    return { spent, reserved };
  }

  expire(beforeMs: number): number {
    const dropped = this.#expireTx.immediate(beforeMs);
    for (const [key, row] of this.#own) if (row.expiresAtMs <= beforeMs) this.#own.delete(key);
    for (const records of this.#state.values()) {
      for (const [id, record] of records) if (record.expiresAtMs <= beforeMs) records.delete(id);
    }
    return dropped;
  }

  // ---------------------------------------------------------------------------------------------
  // State

  getState(kind: string, id: string): StateValue | undefined {
    return this.#state.get(kind)?.get(id)?.value;
  }

  putState(kind: string, id: string, value: StateValue, expiresAtMs: number): void {
    const json = JSON.stringify(value);
    this.#putState.run(kind, id, json, nullIfInfinite(expiresAtMs));
    this.#records(kind).set(id, { value: Object.freeze(JSON.parse(json) as StateValue), expiresAtMs });
  }

  deleteState(kind: string, id: string): void {
    this.#deleteState.run(kind, id);
    this.#state.get(kind)?.delete(id);
  }

  listState(kind: string): Array<[string, StateValue]> {
    return [...(this.#state.get(kind) ?? [])].map(([id, record]) => [id, record.value]);
  }

  /** State written by other processes sharing the file, found by polling its data version. */
  subscribe(listener: (change: StateChange) => void): () => void {
    this.#listeners.add(listener);
    if (this.#timer === undefined && !this.#closed) {
      this.#dataVersion = this.#db.pragma("data_version", { simple: true }) as number;
      this.#timer = setInterval(() => this.#poll(), this.#pollIntervalMs);
      this.#timer.unref();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#timer !== undefined) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  /**
   * The alert outbox (`AlertOutboxStore` of `@agent-sre/alerts`) in this file, as this process: one per
   * store, closed with it. Give it to the AlertManager (`store`) so queued pages survive a restart.
   */
  alertOutbox(options: SqliteOutboxStoreOptions = {}): SqliteOutboxStore {
    if (this.#closed) throw new Error("the SQLite store is closed");
    this.#outbox ??= new SqliteOutboxStore(this.#db, this.owner, options);
    return this.#outbox;
  }

  /** Leaves the file: this process's spend joins the shared row, its open reservations are released. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#db.transaction(() => this.#retire(this.owner)).immediate();
    this.#db.close();
  }

  // ---------------------------------------------------------------------------------------------

  #used(key: string): number {
    const [spent, reserved] = this.#sum.get(key) as [number, number];
    return spent + reserved;
  }

  /** This process's row of a key, as cached; created (in the cache only) if unknown. */
  #row(key: string): OwnRow {
    let row = this.#own.get(key);
    if (row === undefined) {
      // A key dropped by `expire` comes back with expiry 0, so the next `expire` removes it again.
      row = { spent: 0, reserved: 0, expiresAtMs: 0 };
      this.#own.set(key, row);
    }
    return row;
  }

  #records(kind: string): Map<string, StateRecord> {
    let records = this.#state.get(kind);
    if (records === undefined) {
      records = new Map();
      this.#state.set(kind, records);
    }
    return records;
  }

  #poll(): void {
    if (this.#closed) return;
    const version = this.#db.pragma("data_version", { simple: true }) as number;
    if (version === this.#dataVersion) return;
    this.#dataVersion = version;
    this.#loadState(true);
  }

  /** (Re)loads the state table; with `notify`, reports each record that changed to the subscribers. */
  #loadState(notify: boolean): void {
    const rows = this.#db
      .prepare("SELECT kind, id, value, expires_at AS expiresAt FROM state")
      .all() as Array<{
      kind: string;
      id: string;
      value: string;
      expiresAt: number | null;
    }>;
    const previous = new Map<string, Map<string, StateRecord>>(this.#state);
    this.#state.clear();
    const changes: StateChange[] = [];
    for (const row of rows) {
      const old = previous.get(row.kind)?.get(row.id);
      previous.get(row.kind)?.delete(row.id);
      if (old !== undefined && JSON.stringify(old.value) === row.value) {
        this.#records(row.kind).set(row.id, old);
        continue;
      }
      const value = Object.freeze(JSON.parse(row.value) as StateValue);
      this.#records(row.kind).set(row.id, { value, expiresAtMs: row.expiresAt ?? Number.POSITIVE_INFINITY });
      changes.push({ kind: row.kind, id: row.id, value });
    }
    for (const [kind, records] of previous) {
      for (const id of records.keys()) changes.push({ kind, id, value: undefined });
    }
    if (!notify) return;
    for (const change of changes) for (const listener of this.#listeners) listener(change);
  }

  /** Registers this process as a writer, and retires writers that died without closing. */
  #join(): number {
    return this.#db
      .transaction(() => {
        const owners = this.#db.prepare("SELECT owner, pid FROM owners").all() as Array<{
          owner: number;
          pid: number;
        }>;
        for (const { owner, pid } of owners) if (!isAlive(pid)) this.#retire(owner);
        const result = this.#db
          .prepare("INSERT INTO owners (pid, started_at) VALUES (?, ?)")
          .run(process.pid, Date.now());
        return Number(result.lastInsertRowid);
      })
      .immediate();
  }

  #retire(owner: number): void {
    for (const sql of RETIRE_OWNER) this.#db.prepare(sql).run({ owner });
  }
}

function nullIfInfinite(ms: number): number | null {
  return ms === Number.POSITIVE_INFINITY ? null : ms;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
