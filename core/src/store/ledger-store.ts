/**
 * The ledger: every piece of mutable budget money (spend and held reservations per key) lives behind this
 * small, SYNCHRONOUS interface, so the cost guard never keeps its own copy of a balance.
 *
 * Why synchronous: a budget check sits on every guarded call and must cost well under a microsecond. A
 * `Promise` per call would cost more than the whole check. The persistent and shared stores that follow keep
 * this shape:
 * - a SQLite store (survives restarts) runs each method as one synchronous transaction (better-sqlite3 /
 *   `node:sqlite` are synchronous), so `reserve` stays atomic across its lines;
 * - a Redis store (shared across processes) serves `reserve` from locally leased chunks: a Lua script
 *   atomically moves a chunk (e.g. $0.10) from the shared key's remaining budget into this process's lease,
 *   refilled in the background below a low-water mark; `reserve` spends from the lease in process, and when
 *   the lease cannot cover a line it refuses (fail closed) while the refill is in flight. Overshoot stays zero
 *   because leases are themselves reservations against the shared limit; unused lease returns on `expire`.
 *
 * Units: `amount`, `spent` and `reserved` are non-negative safe integers in the key's unit (micro-dollars for
 * money keys, tokens for token keys). `limit` is the key's limit in the same unit, or `Infinity` for none:
 * limits travel with each call (config owns them, the store does not), as the Redis script takes `ARGV`.
 *
 * Callers may reuse the `lines` arrays and line objects between calls: a store must not keep references to
 * them. Keys within one call are distinct.
 */
export interface LedgerLine {
  key: string;
  /** Amount to hold, in the key's integer unit. */
  amount: number;
  /** The key's limit in the same unit; `Infinity` = no limit. */
  limit: number;
  /**
   * When the key may be dropped (ms since the epoch): the end of its period plus a grace for late
   * settlements, or a last-touch TTL for task keys. A store keeps the latest expiry it has seen for a key.
   */
  expiresAtMs: number;
}

export interface SettleLine {
  key: string;
  /** What was held on this key by the matching `reserve`. */
  reserved: number;
  /** What was really spent; may exceed `reserved` (the truth is recorded, never dropped). */
  actual: number;
}

export interface LedgerBalance {
  spent: number;
  reserved: number;
}

export type ReserveResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** Index in `lines` of the first line that did not fit. */
      readonly index: number;
      /** `spent + reserved` on that key when the reservation was refused. */
      readonly used: number;
    };

export interface LedgerStore {
  /**
   * Atomically holds every line or none: if any line does not fit (see `exceedsLimit`), nothing changes and
   * the first failing line is reported.
   */
  reserve(lines: readonly LedgerLine[]): ReserveResult;
  /** Turns held money into spend: `reserved -= line.reserved`, `spent += line.actual`. Never refuses. */
  settle(lines: readonly SettleLine[]): void;
  /** Records spend that was never reserved (e.g. `recordCost`). Never refuses. */
  add(key: string, amount: number, expiresAtMs: number): void;
  /**
   * The balance of a key (zeros if unknown). The result may be a live view that later calls change (the
   * memory store returns its entry to avoid an allocation per call): read it at once, copy it to keep it.
   */
  read(key: string): Readonly<LedgerBalance>;
  /** Drops every key whose expiry is at or before `beforeMs`; returns how many were dropped. */
  expire(beforeMs: number): number;
}

/** The one admission rule shared by every store and by advisory checks. */
export function exceedsLimit(used: number, amount: number, limit: number): boolean {
  // `used + amount > limit` lets a reservation end exactly at the limit. A zero-amount reservation (a call
  // whose cost is not known yet) is refused once nothing is left, so it cannot start past the limit.
  return used + amount > limit || (amount === 0 && used >= limit);
}

/** The shared success result (no allocation per call). */
export const RESERVE_OK: ReserveResult = Object.freeze({ ok: true as const });
