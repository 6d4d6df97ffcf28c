import {
  exceedsLimit,
  type LedgerBalance,
  type LedgerLine,
  type LedgerStore,
  RESERVE_OK,
  type ReserveResult,
  type SettleLine,
} from "./ledger-store.js";
import type { StateChange, StateValue, Store } from "./state-store.js";

const ZERO: LedgerBalance = Object.freeze({ spent: 0, reserved: 0 });

class LedgerEntry implements LedgerBalance {
  spent = 0;
  reserved = 0;
  expiresAtMs: number;

  constructor(expiresAtMs: number, spent = 0) {
    this.expiresAtMs = expiresAtMs;
    this.spent = spent;
  }
}

/**
 * The in-process ledger: one `Map` entry per key, O(lines) per call. JavaScript runs each method to
 * completion, so `reserve` is atomic without a lock. Memory stays bounded as long as the owner calls
 * `expire()` (the cost guard does, at most once a minute).
 */
export class MemoryStore implements LedgerStore, Store {
  readonly #entries = new Map<string, LedgerEntry>();
  readonly #state = new Map<string, Map<string, { value: StateValue; expiresAtMs: number }>>();
  /** Entries found by the checking pass of `reserve`, reused by its holding pass (one lookup per line). */
  readonly #found: Array<LedgerEntry | undefined> = [];

  reserve(lines: readonly LedgerLine[]): ReserveResult {
    const count = lines.length;
    const found = this.#found;
    for (let i = 0; i < count; i++) {
      const line = lines[i] as LedgerLine;
      const entry = this.#entries.get(line.key);
      const used = entry === undefined ? 0 : entry.spent + entry.reserved;
      if (exceedsLimit(used, line.amount, line.limit)) {
        found.fill(undefined);
        return { ok: false, index: i, used };
      }
      found[i] = entry;
    }
    for (let i = 0; i < count; i++) {
      const line = lines[i] as LedgerLine;
      let entry = found[i];
      found[i] = undefined;
      if (entry === undefined) {
        // Holding nothing on a key without balance changes nothing: no entry (a free call, e.g. most tool
        // calls, leaves no keys behind, so many agents making them hold no ledger memory).
        if (line.amount === 0) continue;
        entry = new LedgerEntry(line.expiresAtMs);
        this.#entries.set(line.key, entry);
      } else if (line.expiresAtMs > entry.expiresAtMs) {
        entry.expiresAtMs = line.expiresAtMs;
      }
      entry.reserved += line.amount;
    }
    return RESERVE_OK;
  }

  settle(lines: readonly SettleLine[]): void {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as SettleLine;
      let entry = this.#entries.get(line.key);
      if (entry === undefined) {
        // Nothing held and nothing spent on a key without an entry: nothing to record.
        if (line.actual === 0) continue;
        // A key dropped after its grace period comes back with expiry 0: the next `expire` removes it again.
        entry = new LedgerEntry(0);
        this.#entries.set(line.key, entry);
      }
      entry.reserved = entry.reserved > line.reserved ? entry.reserved - line.reserved : 0;
      entry.spent += line.actual;
    }
  }

  add(key: string, amount: number, expiresAtMs: number): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      if (amount === 0) return;
      this.#entries.set(key, new LedgerEntry(expiresAtMs, amount));
      return;
    }
    if (expiresAtMs > entry.expiresAtMs) entry.expiresAtMs = expiresAtMs;
    entry.spent += amount;
  }

  /** A live, read-only view of the entry (no copy): read its fields now, copy them to keep them. */
  read(key: string): LedgerBalance {
    return this.#entries.get(key) ?? ZERO;
  }

  expire(beforeMs: number): number {
    let dropped = 0;
    for (const records of this.#state.values()) {
      for (const [id, record] of records) if (record.expiresAtMs <= beforeMs) records.delete(id);
    }
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAtMs <= beforeMs) {
        this.#entries.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  getState(kind: string, id: string): StateValue | undefined {
    // Expiry is applied by `expire()` (driven by the owner's clock), not here: no wall-clock read.
    return this.#state.get(kind)?.get(id)?.value;
  }

  putState(kind: string, id: string, value: StateValue, expiresAtMs: number): void {
    let records = this.#state.get(kind);
    if (records === undefined) {
      records = new Map();
      this.#state.set(kind, records);
    }
    // A frozen copy: the caller may reuse its object, and readers must not change the record in place.
    records.set(id, { value: Object.freeze(structuredClone(value)), expiresAtMs });
  }

  deleteState(kind: string, id: string): void {
    this.#state.get(kind)?.delete(id);
  }

  listState(kind: string): Array<[string, StateValue]> {
    const out: Array<[string, StateValue]> = [];
    for (const [id, record] of this.#state.get(kind) ?? []) out.push([id, record.value]);
    return out;
  }

  /** One process, no other writers: never calls the listener. */
  subscribe(_listener: (change: StateChange) => void): () => void {
    return () => {};
  }

  /** Number of keys held (for tests and diagnostics). */
  get size(): number {
    return this.#entries.size;
  }
}
