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
/** Rows the cells start with; doubled when full, halved by `expire` when at most a quarter is used. */
const FIRST_ROWS = 64;
/** Cells per row and their offsets. */
const ROW = 3;
const SPENT = 0;
const RESERVED = 1;
const EXPIRES = 2;

/**
 * The in-process ledger: each key a row of three cells (spent, reserved, expiry) in one `Float64Array`, found by
 * a `Map` from key to row, O(lines) per call. Columns instead of an object per key: a key costs its `Map`
 * entry and 24 bytes, not an object and its boxed numbers (~100 bytes; an agent with tasks holds ~9 keys).
 * Amounts are integers (µUSD, tokens) exact in a double up to 2^53, as in any JavaScript number.
 * JavaScript runs each method to completion, so `reserve` is atomic without a lock. Memory stays bounded as
 * long as the owner calls `expire()` (the cost guard does, at most once a minute).
 */
export class MemoryStore implements LedgerStore, Store {
  readonly #rows = new Map<string, number>();
  /** Per row, three cells: spent, reserved, expiry (one cache line holds a row; one array to load). */
  #cells = new Float64Array(FIRST_ROWS * ROW);
  /** Rows handed out so far; rows freed by `expire` below it are reused first (`#freeRows`). */
  #usedRows = 0;
  readonly #freeRows: number[] = [];
  readonly #state = new Map<string, Map<string, { value: StateValue; expiresAtMs: number }>>();
  /** Rows found by the checking pass of `reserve`, reused by its holding pass (one lookup per line; −1: none). */
  readonly #found: number[] = [];
  /** Bumped whenever `expire` frees or moves rows: row numbers handed out before are stale then. */
  #epoch = 0;

  reserve(lines: readonly LedgerLine[]): ReserveResult {
    const count = lines.length;
    const found = this.#found;
    const rows = this.#rows;
    for (let i = 0; i < count; i++) {
      const line = lines[i] as LedgerLine;
      const row = rows.get(line.key) ?? -1;
      const at = row * ROW;
      const used = row < 0 ? 0 : (this.#cells[at + SPENT] as number) + (this.#cells[at + RESERVED] as number);
      if (exceedsLimit(used, line.amount, line.limit)) return { ok: false, index: i, used };
      found[i] = row;
    }
    for (let i = 0; i < count; i++) {
      const line = lines[i] as LedgerLine;
      let row = found[i] as number;
      if (row < 0) {
        // Holding nothing on a key without balance changes nothing: no row (a free call, e.g. most tool
        // calls, leaves no keys behind, so many agents making them hold no ledger memory).
        if (line.amount === 0) continue;
        row = this.#newRow(line.key, line.expiresAtMs);
      } else if (line.expiresAtMs > (this.#cells[row * ROW + EXPIRES] as number)) {
        this.#cells[row * ROW + EXPIRES] = line.expiresAtMs;
      }
      const cells = this.#cells;
      cells[row * ROW + RESERVED] = (cells[row * ROW + RESERVED] as number) + line.amount;
    }
    return RESERVE_OK;
  }

  /**
   * @internal `reserve` for an owner that keeps the rows of keys it holds together (the cost guard, per agent):
   * `slots` is `[key0, row0, key1, row1, …]` for `count` lines, the first `moneyCount` holding `money`, the
   * rest `tokens`, line i against `limits[i]` and kept until at least `expiries[i]`. A row ≥ 0 is its key's
   * row at the current `epoch` (no lookup by key); −1: looked up, and the row found or made is written back.
   * Atomic as `reserve`.
   */
  reserveRows(
    slots: Array<string | number>,
    count: number,
    moneyCount: number,
    money: number,
    tokens: number,
    limits: readonly number[],
    expiries: readonly number[],
  ): ReserveResult {
    // The usual call: a task's six lines (task, day, month, org money; task, day tokens), every row known
    // (the owner's keys were reserved before) and every line fits — checked, then held, in straight-line
    // code (no loop, no per-line branch on the unit). Anything else, a refusal included, takes the loop,
    // which finds it again from the start (nothing was changed yet).
    if (count === 6 && moneyCount === 4) {
      const r0 = slots[1] as number;
      const r1 = slots[3] as number;
      const r2 = slots[5] as number;
      const r3 = slots[7] as number;
      const r4 = slots[9] as number;
      const r5 = slots[11] as number;
      if (r0 >= 0 && r1 >= 0 && r2 >= 0 && r3 >= 0 && r4 >= 0 && r5 >= 0) {
        // The six keys are distinct (as in any call), so are their rows: every cell is read before any is
        // written, each once (no reload after a store that might have aliased it).
        const cells = this.#cells;
        const a0 = r0 * ROW;
        const a1 = r1 * ROW;
        const a2 = r2 * ROW;
        const a3 = r3 * ROW;
        const a4 = r4 * ROW;
        const a5 = r5 * ROW;
        const held0 = cells[a0 + RESERVED] as number;
        const held1 = cells[a1 + RESERVED] as number;
        const held2 = cells[a2 + RESERVED] as number;
        const held3 = cells[a3 + RESERVED] as number;
        const held4 = cells[a4 + RESERVED] as number;
        const held5 = cells[a5 + RESERVED] as number;
        // `exceedsLimit` on each line; on a line without a limit (`Infinity`) it is false.
        if (
          !exceedsLimit((cells[a0 + SPENT] as number) + held0, money, limits[0] as number) &&
          !exceedsLimit((cells[a1 + SPENT] as number) + held1, money, limits[1] as number) &&
          !exceedsLimit((cells[a2 + SPENT] as number) + held2, money, limits[2] as number) &&
          !exceedsLimit((cells[a3 + SPENT] as number) + held3, money, limits[3] as number) &&
          !exceedsLimit((cells[a4 + SPENT] as number) + held4, tokens, limits[4] as number) &&
          !exceedsLimit((cells[a5 + SPENT] as number) + held5, tokens, limits[5] as number)
        ) {
          const kept0 = cells[a0 + EXPIRES] as number;
          const kept1 = cells[a1 + EXPIRES] as number;
          const kept2 = cells[a2 + EXPIRES] as number;
          const kept3 = cells[a3 + EXPIRES] as number;
          const kept4 = cells[a4 + EXPIRES] as number;
          const kept5 = cells[a5 + EXPIRES] as number;
          cells[a0 + RESERVED] = held0 + money;
          cells[a1 + RESERVED] = held1 + money;
          cells[a2 + RESERVED] = held2 + money;
          cells[a3 + RESERVED] = held3 + money;
          cells[a4 + RESERVED] = held4 + tokens;
          cells[a5 + RESERVED] = held5 + tokens;
          cells[a0 + EXPIRES] = later(kept0, expiries[0] as number);
          cells[a1 + EXPIRES] = later(kept1, expiries[1] as number);
          cells[a2 + EXPIRES] = later(kept2, expiries[2] as number);
          cells[a3 + EXPIRES] = later(kept3, expiries[3] as number);
          cells[a4 + EXPIRES] = later(kept4, expiries[4] as number);
          cells[a5 + EXPIRES] = later(kept5, expiries[5] as number);
          return RESERVE_OK;
        }
      }
    }
    return this.#reserveLoop(slots, count, moneyCount, money, tokens, limits, expiries);
  }

  /** `reserveRows` line by line: any number of lines, and the refusal of the first line that does not fit. */
  #reserveLoop(
    slots: Array<string | number>,
    count: number,
    moneyCount: number,
    money: number,
    tokens: number,
    limits: readonly number[],
    expiries: readonly number[],
  ): ReserveResult {
    // Every row known: checks, then holds, with no lookups and no new rows; a key without a known row takes
    // the general path from the start (nothing was changed yet).
    const cells = this.#cells;
    for (let i = 0; i < count; i++) {
      const row = slots[2 * i + 1] as number;
      if (row < 0) return this.#reserveFinding(slots, count, moneyCount, money, tokens, limits, expiries);
      const limit = limits[i] as number;
      if (limit === Number.POSITIVE_INFINITY) continue; // no limit: `exceedsLimit` is false
      const used = (cells[row * ROW + SPENT] as number) + (cells[row * ROW + RESERVED] as number);
      if (exceedsLimit(used, i < moneyCount ? money : tokens, limit)) return { ok: false, index: i, used };
    }
    for (let i = 0; i < count; i++) {
      const at = (slots[2 * i + 1] as number) * ROW;
      const expiresAtMs = expiries[i] as number;
      if (expiresAtMs > (cells[at + EXPIRES] as number)) cells[at + EXPIRES] = expiresAtMs;
      cells[at + RESERVED] = (cells[at + RESERVED] as number) + (i < moneyCount ? money : tokens);
    }
    return RESERVE_OK;
  }

  /** `reserveRows` when a row is not known yet: looks it up, and makes the rows a hold needs. */
  #reserveFinding(
    slots: Array<string | number>,
    count: number,
    moneyCount: number,
    money: number,
    tokens: number,
    limits: readonly number[],
    expiries: readonly number[],
  ): ReserveResult {
    const cells = this.#cells;
    for (let i = 0; i < count; i++) {
      let row = slots[2 * i + 1] as number;
      if (row < 0) {
        row = this.#rows.get(slots[2 * i] as string) ?? -1;
        slots[2 * i + 1] = row;
      }
      const limit = limits[i] as number;
      if (limit === Number.POSITIVE_INFINITY) continue; // no limit: `exceedsLimit` is false
      const used =
        row < 0 ? 0 : (cells[row * ROW + SPENT] as number) + (cells[row * ROW + RESERVED] as number);
      if (exceedsLimit(used, i < moneyCount ? money : tokens, limit)) return { ok: false, index: i, used };
    }
    let held = cells;
    for (let i = 0; i < count; i++) {
      const amount = i < moneyCount ? money : tokens;
      const expiresAtMs = expiries[i] as number;
      let row = slots[2 * i + 1] as number;
      if (row < 0) {
        if (amount === 0) continue; // as in `reserve`: no row for nothing held
        row = this.#newRow(slots[2 * i] as string, expiresAtMs);
        slots[2 * i + 1] = row;
        held = this.#cells; // a new row may have grown the cells
      } else if (expiresAtMs > (held[row * ROW + EXPIRES] as number)) {
        held[row * ROW + EXPIRES] = expiresAtMs;
      }
      const at = row * ROW + RESERVED;
      held[at] = (held[at] as number) + amount;
    }
    return RESERVE_OK;
  }

  /**
   * @internal `settle` of what `reserveRows` held on the same `slots`: `reservedMoney` / `actualMoney` on the
   * first `moneyCount` lines, `reservedTokens` / `actualTokens` on the rest. With `current` the rows are used
   * as in `reserveRows` (rows found are written back); without (the `epoch` changed since they were found)
   * every key is looked up and the slots are left alone.
   */
  settleRows(
    slots: Array<string | number>,
    current: boolean,
    count: number,
    moneyCount: number,
    reservedMoney: number,
    actualMoney: number,
    reservedTokens: number,
    actualTokens: number,
  ): void {
    // The usual settlement: a task's six lines, every row known and current — straight-line, as in
    // `reserveRows`.
    if (current && count === 6 && moneyCount === 4) {
      const r0 = slots[1] as number;
      const r1 = slots[3] as number;
      const r2 = slots[5] as number;
      const r3 = slots[7] as number;
      const r4 = slots[9] as number;
      const r5 = slots[11] as number;
      if (r0 >= 0 && r1 >= 0 && r2 >= 0 && r3 >= 0 && r4 >= 0 && r5 >= 0) {
        // Distinct rows, as in `reserveRows`: read all, then write all.
        const cells = this.#cells;
        const a0 = r0 * ROW;
        const a1 = r1 * ROW;
        const a2 = r2 * ROW;
        const a3 = r3 * ROW;
        const a4 = r4 * ROW;
        const a5 = r5 * ROW;
        const held0 = cells[a0 + RESERVED] as number;
        const held1 = cells[a1 + RESERVED] as number;
        const held2 = cells[a2 + RESERVED] as number;
        const held3 = cells[a3 + RESERVED] as number;
        const held4 = cells[a4 + RESERVED] as number;
        const held5 = cells[a5 + RESERVED] as number;
        const spent0 = cells[a0 + SPENT] as number;
        const spent1 = cells[a1 + SPENT] as number;
        const spent2 = cells[a2 + SPENT] as number;
        const spent3 = cells[a3 + SPENT] as number;
        const spent4 = cells[a4 + SPENT] as number;
        const spent5 = cells[a5 + SPENT] as number;
        cells[a0 + RESERVED] = held0 > reservedMoney ? held0 - reservedMoney : 0;
        cells[a1 + RESERVED] = held1 > reservedMoney ? held1 - reservedMoney : 0;
        cells[a2 + RESERVED] = held2 > reservedMoney ? held2 - reservedMoney : 0;
        cells[a3 + RESERVED] = held3 > reservedMoney ? held3 - reservedMoney : 0;
        cells[a4 + RESERVED] = held4 > reservedTokens ? held4 - reservedTokens : 0;
        cells[a5 + RESERVED] = held5 > reservedTokens ? held5 - reservedTokens : 0;
        cells[a0 + SPENT] = spent0 + actualMoney;
        cells[a1 + SPENT] = spent1 + actualMoney;
        cells[a2 + SPENT] = spent2 + actualMoney;
        cells[a3 + SPENT] = spent3 + actualMoney;
        cells[a4 + SPENT] = spent4 + actualTokens;
        cells[a5 + SPENT] = spent5 + actualTokens;
        return;
      }
    }
    this.#settleLoop(
      slots,
      current,
      count,
      moneyCount,
      reservedMoney,
      actualMoney,
      reservedTokens,
      actualTokens,
    );
  }

  /** `settleRows` line by line: any number of lines, rows not known or not current (looked up, or made). */
  #settleLoop(
    slots: Array<string | number>,
    current: boolean,
    count: number,
    moneyCount: number,
    reservedMoney: number,
    actualMoney: number,
    reservedTokens: number,
    actualTokens: number,
  ): void {
    let cells = this.#cells;
    for (let i = 0; i < count; i++) {
      const money = i < moneyCount;
      const held = money ? reservedMoney : reservedTokens;
      const actual = money ? actualMoney : actualTokens;
      let row = current ? (slots[2 * i + 1] as number) : -1;
      if (row < 0) {
        row = this.#rows.get(slots[2 * i] as string) ?? -1;
        if (row < 0) {
          // Nothing held and nothing spent on a key without a row: nothing to record.
          if (actual === 0) continue;
          // A key dropped after its grace period comes back with expiry 0: the next `expire` removes it again.
          row = this.#newRow(slots[2 * i] as string, 0);
          cells = this.#cells; // a new row may have grown the cells
        }
        if (current) slots[2 * i + 1] = row;
      }
      settleRow(cells, row, held, actual);
    }
  }

  /**
   * @internal `add` on the keys of `slots` (as `reserveRows`): `money` on the first `moneyCount`, `tokens` on
   * the rest, each kept until at least `expiries[i]`; rows found or made are written back.
   */
  addRows(
    slots: Array<string | number>,
    count: number,
    moneyCount: number,
    money: number,
    tokens: number,
    expiries: readonly number[],
  ): void {
    for (let i = 0; i < count; i++) {
      const amount = i < moneyCount ? money : tokens;
      const expiresAtMs = expiries[i] as number;
      let row = slots[2 * i + 1] as number;
      if (row < 0) {
        row = this.#rows.get(slots[2 * i] as string) ?? -1;
        if (row >= 0) slots[2 * i + 1] = row;
      }
      if (row < 0) {
        if (amount === 0) continue; // as in `add`: no row for nothing
        row = this.#newRow(slots[2 * i] as string, expiresAtMs);
        slots[2 * i + 1] = row;
      } else if (expiresAtMs > (this.#cells[row * ROW + EXPIRES] as number)) {
        this.#cells[row * ROW + EXPIRES] = expiresAtMs;
      }
      const at = row * ROW + SPENT;
      this.#cells[at] = (this.#cells[at] as number) + amount;
    }
  }

  /** @internal The row holding `key` (valid while `epoch` stays), or −1. */
  rowOf(key: string): number {
    return this.#rows.get(key) ?? -1;
  }

  /** @internal What was spent on `row` (a row from `rowOf` or `reserveRows` at the current `epoch`; −1: 0). */
  spentAt(row: number): number {
    return row < 0 ? 0 : (this.#cells[row * ROW + SPENT] as number);
  }

  /** @internal Changes whenever rows handed out before are no longer the same keys' (see `reserveRows`). */
  get epoch(): number {
    return this.#epoch;
  }

  settle(lines: readonly SettleLine[]): void {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as SettleLine;
      let row = this.#rows.get(line.key);
      if (row === undefined) {
        // Nothing held and nothing spent on a key without a row: nothing to record.
        if (line.actual === 0) continue;
        // A key dropped after its grace period comes back with expiry 0: the next `expire` removes it again.
        row = this.#newRow(line.key, 0);
      }
      const cells = this.#cells;
      const at = row * ROW;
      const reserved = cells[at + RESERVED] as number;
      cells[at + RESERVED] = reserved > line.reserved ? reserved - line.reserved : 0;
      cells[at + SPENT] = (cells[at + SPENT] as number) + line.actual;
    }
  }

  add(key: string, amount: number, expiresAtMs: number): void {
    let row = this.#rows.get(key);
    if (row === undefined) {
      if (amount === 0) return;
      row = this.#newRow(key, expiresAtMs);
    } else if (expiresAtMs > (this.#cells[row * ROW + EXPIRES] as number)) {
      this.#cells[row * ROW + EXPIRES] = expiresAtMs;
    }
    this.#cells[row * ROW + SPENT] = (this.#cells[row * ROW + SPENT] as number) + amount;
  }

  /** The key's balance now (a new object: the store keeps no reference to it). */
  read(key: string): LedgerBalance {
    const row = this.#rows.get(key);
    if (row === undefined) return ZERO;
    return {
      spent: this.#cells[row * ROW + SPENT] as number,
      reserved: this.#cells[row * ROW + RESERVED] as number,
    };
  }

  expire(beforeMs: number): number {
    let dropped = 0;
    for (const records of this.#state.values()) {
      for (const [id, record] of records) if (record.expiresAtMs <= beforeMs) records.delete(id);
    }
    for (const [key, row] of this.#rows) {
      if ((this.#cells[row * ROW + EXPIRES] as number) <= beforeMs) {
        this.#rows.delete(key);
        this.#freeRows.push(row);
        dropped++;
      }
    }
    if (dropped > 0) {
      // Freed rows are reused by other keys, compacting moves rows: every row handed out is stale.
      this.#epoch++;
      if (this.#rows.size <= this.rowCapacity >> 2 && this.rowCapacity > FIRST_ROWS) this.#compact();
    }
    return dropped;
  }

  /** A zeroed row for `key`: a freed one, or the next one (doubling the cells when they are full). */
  #newRow(key: string, expiresAtMs: number): number {
    let row = this.#freeRows.pop();
    if (row === undefined) {
      if (this.#usedRows === this.rowCapacity) this.#resize(2 * this.rowCapacity);
      row = this.#usedRows++;
    }
    const at = row * ROW;
    this.#cells[at + SPENT] = 0;
    this.#cells[at + RESERVED] = 0;
    this.#cells[at + EXPIRES] = expiresAtMs;
    this.#rows.set(key, row);
    return row;
  }

  #resize(rows: number): void {
    const cells = new Float64Array(rows * ROW);
    cells.set(this.#cells.subarray(0, Math.min(rows, this.#usedRows) * ROW));
    this.#cells = cells;
  }

  /** After many keys expired: the live rows moved to the front, the cells halved until a quarter is used. */
  #compact(): void {
    const live = this.#rows.size;
    let rows = this.rowCapacity;
    while (rows > FIRST_ROWS && live <= rows >> 2) rows >>= 1;
    const cells = new Float64Array(rows * ROW);
    let next = 0;
    for (const [key, row] of this.#rows) {
      cells.set(this.#cells.subarray(row * ROW, row * ROW + ROW), next * ROW);
      this.#rows.set(key, next++);
    }
    this.#cells = cells;
    this.#usedRows = next;
    this.#freeRows.length = 0;
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
    return this.#rows.size;
  }

  /** Rows the cells have room for (for tests: they shrink once most keys expired). */
  get rowCapacity(): number {
    return this.#cells.length / ROW;
  }
}

/** The later of a key's kept expiry and a new one (the kept one unless the new one is later, as `add`). */
function later(kept: number, expiresAtMs: number): number {
  // Not Math.max: a NaN expiry keeps the kept one, as `add` and the loop do.
  if (expiresAtMs > kept) return expiresAtMs;
  return kept;
}

/** Gives back `held` of what `row` holds (never below 0) and records `actual` as spent. */
function settleRow(cells: Float64Array, row: number, held: number, actual: number): void {
  const at = row * ROW;
  const reserved = cells[at + RESERVED] as number;
  cells[at + RESERVED] = reserved > held ? reserved - held : 0;
  cells[at + SPENT] = (cells[at + SPENT] as number) + actual;
}
