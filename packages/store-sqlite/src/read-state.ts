import { existsSync } from "node:fs";
import type { StateValue } from "@agent-sre/core";
import Database from "better-sqlite3";

export interface SqliteStateDump {
  path: string;
  /** Pids of the processes registered as writers (some may have died since). */
  writers: number[];
  ledger: Array<{ key: string; spent: number; reserved: number; expiresAtMs: number | null }>;
  state: Array<{ kind: string; id: string; value: StateValue; expiresAtMs: number | null }>;
}

/**
 * Reads a state file without becoming its writer (read-only, safe while a proxy runs on it): what
 * `agent-sre status --state` shows offline.
 */
export function readSqliteState(path: string): SqliteStateDump {
  if (!existsSync(path)) throw new Error(`no state file at ${path}`);
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const writers = (db.prepare("SELECT pid FROM owners ORDER BY owner").all() as Array<{ pid: number }>).map(
      (row) => row.pid,
    );
    // A balance is the sum of every writer's row (see SqliteStore).
    const ledger = db
      .prepare(
        `SELECT key, total(spent) AS spent, total(reserved) AS reserved,
                CASE WHEN count(expires_at) < count(*) THEN NULL ELSE max(expires_at) END AS expiresAtMs
           FROM ledger GROUP BY key ORDER BY key`,
      )
      .all() as SqliteStateDump["ledger"];
    const state = (
      db
        .prepare("SELECT kind, id, value, expires_at AS expiresAtMs FROM state ORDER BY kind, id")
        .all() as Array<{
        kind: string;
        id: string;
        value: string;
        expiresAtMs: number | null;
      }>
    ).map((row) => ({ ...row, value: JSON.parse(row.value) as StateValue }));
    return { path, writers, ledger, state };
  } finally {
    db.close();
  }
}
