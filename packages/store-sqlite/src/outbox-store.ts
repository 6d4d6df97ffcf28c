import type Database from "better-sqlite3";

/**
 * The alert outbox of `@agent-sre/alerts` in the same SQLite file as the engine's state, so a restarted
 * proxy delivers what it had queued (with its retry state), keeps its dead letters, and neither forgets a
 * firing alert nor pages twice for it. It satisfies `AlertOutboxStore` structurally (this package does not
 * depend on the alerts package): entries and records are JSON the AlertManager writes and reads back.
 *
 * Rows belong to the writing process (the `SqliteStore`'s owner). A process sees its own rows and adopts
 * the rows of writers that have left the file (closed, or found dead when a store opened it), so several
 * proxies sharing one file never deliver each other's notifications, and a restart picks everything up.
 */
export interface SqliteOutboxEntry {
  id: string;
  createdAt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS owners (owner INTEGER PRIMARY KEY, pid INTEGER NOT NULL, started_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS alert_outbox (
  id TEXT PRIMARY KEY,
  owner INTEGER NOT NULL,
  created_at REAL NOT NULL,
  entry TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_dead_letters (seq INTEGER PRIMARY KEY AUTOINCREMENT, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_state (
  key TEXT NOT NULL,
  owner INTEGER NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (key, owner)
) WITHOUT ROWID;
`;

/** Rows of owners no longer registered in the store's `owners` table: their process has left the file. */
const ORPHAN = "owner NOT IN (SELECT owner FROM owners)";

export interface SqliteOutboxStoreOptions {
  /** Dead letters kept (the oldest go first). Default 1000. */
  maxDeadLetters?: number;
}

export class SqliteOutboxStore {
  readonly #db: Database.Database;
  readonly #owner: number;
  readonly #maxDeadLetters: number;
  readonly #put: Database.Statement;
  readonly #remove: Database.Statement;
  readonly #putState: Database.Statement;
  readonly #deleteState: Database.Statement;
  readonly #addDeadLetter: Database.Statement;
  readonly #trimDeadLetters: Database.Statement;

  /** Made by `SqliteStore.alertOutbox()`: the store's connection and owner (the store registers the owner). */
  constructor(db: Database.Database, owner: number, options: SqliteOutboxStoreOptions = {}) {
    this.#owner = owner;
    this.#maxDeadLetters = options.maxDeadLetters ?? 1000;
    this.#db = db;
    db.exec(SCHEMA);
    this.#put = db.prepare(
      `INSERT OR REPLACE INTO alert_outbox (id, owner, created_at, entry) VALUES (?, ${owner}, ?, ?)`,
    );
    this.#remove = db.prepare("DELETE FROM alert_outbox WHERE id = ?");
    this.#putState = db.prepare(
      `INSERT OR REPLACE INTO alert_state (key, owner, value) VALUES (?, ${owner}, ?)`,
    );
    this.#deleteState = db.prepare(`DELETE FROM alert_state WHERE key = ? AND owner = ${owner}`);
    this.#addDeadLetter = db.prepare("INSERT INTO alert_dead_letters (record) VALUES (?)");
    this.#trimDeadLetters = db.prepare(
      "DELETE FROM alert_dead_letters WHERE seq <= (SELECT max(seq) FROM alert_dead_letters) - ?",
    );
  }

  put(entry: SqliteOutboxEntry): void {
    this.#put.run(entry.id, entry.createdAt, JSON.stringify(entry));
  }

  remove(id: string): void {
    this.#remove.run(id);
  }

  /** This process's undelivered entries and those of writers that left the file, oldest first. */
  pending<T extends SqliteOutboxEntry = SqliteOutboxEntry>(): T[] {
    return this.#db
      .transaction(() => {
        this.#db.prepare(`UPDATE alert_outbox SET owner = ? WHERE ${ORPHAN}`).run(this.#owner);
        const rows = this.#db
          .prepare("SELECT entry FROM alert_outbox WHERE owner = ? ORDER BY created_at, id")
          .all(this.#owner) as Array<{ entry: string }>;
        return rows.map((row) => JSON.parse(row.entry) as T);
      })
      .immediate();
  }

  deadLetter(record: unknown): void {
    this.#db
      .transaction(() => {
        this.#addDeadLetter.run(JSON.stringify(record));
        this.#trimDeadLetters.run(this.#maxDeadLetters);
      })
      .immediate();
  }

  /** The most recent dead letters (every writer's), newest last. */
  deadLetters<T = unknown>(limit = 100): T[] {
    const rows = this.#db
      .prepare("SELECT record FROM alert_dead_letters ORDER BY seq DESC LIMIT ?")
      .all(limit) as Array<{ record: string }>;
    return rows.reverse().map((row) => JSON.parse(row.record) as T);
  }

  /** Sets (or, with `undefined`, deletes) one of this process's state values. */
  setState(key: string, value: unknown): void {
    if (value === undefined) this.#deleteState.run(key);
    else this.#putState.run(key, JSON.stringify(value));
  }

  /** This process's state values, after adopting those of writers that left the file. */
  loadState(): Record<string, unknown> {
    return this.#db
      .transaction(() => {
        // An orphan's value replaces nothing this process wrote itself.
        this.#db
          .prepare(
            `INSERT OR IGNORE INTO alert_state (key, owner, value) SELECT key, ?, value FROM alert_state WHERE ${ORPHAN}`,
          )
          .run(this.#owner);
        this.#db.prepare(`DELETE FROM alert_state WHERE ${ORPHAN}`).run();
        const rows = this.#db
          .prepare("SELECT key, value FROM alert_state WHERE owner = ?")
          .all(this.#owner) as Array<{ key: string; value: string }>;
        const out: Record<string, unknown> = {};
        for (const row of rows) out[row.key] = JSON.parse(row.value);
        return out;
      })
      .immediate();
  }

  /** Nothing to release: the connection is the store's, closed by `SqliteStore.close()`. */
  close(): void {}
}
