import { MemoryStore } from "../store/memory-store.js";
import type { AgentState, Reservation, ReservationSettler } from "./agent-state.js";
import { addBreakdown, afterSpend } from "./budget-policy.js";
import type { AgentLimits } from "./cost-guard-options.js";
import type { BudgetAlert } from "./cost-types.js";
import type { GuardCore } from "./guard-core.js";
import { HeldKeys } from "./held-keys.js";
import { rollAgent } from "./kill-throttle.js";
import { LedgerLines, lineRefusal } from "./ledger-lines.js";
import { chargeMicros, microsToUsd } from "./money.js";
import { OverrunAlert } from "./overrun-alert.js";

/** An exact cost this far (1e-12 USD) above its hold is float noise, not an overrun. */
const OVERRUN_SLACK_USD = 1e-12;

/**
 * The ledger half of the cost guard: holds a reservation's lines, settles or releases them.
 *
 * Each agent keeps the keys its reservations hold (`HeldKeys`: its task's, day's and month's, the org's
 * month) while they are current, and each reservation refers to them: a call builds and copies no keys.
 * With the default in-process ledger (exactly a `MemoryStore`) the held keys also keep their rows, so a key
 * is looked up by its string once, not at every reserve and again at every commit (14 `Map` lookups a model
 * call before); rows are valid while the store's `epoch` is the one they were found at (only `expire` frees
 * or moves rows), then looked up again. Any other store is called by key, as `LedgerStore` says.
 */
export class ReserveCommit {
  readonly #core: GuardCore;
  readonly lines: LedgerLines;
  readonly #memory: MemoryStore | undefined;
  /** The guard's settlement, kept with each agent's held keys (its reservations reach it there). */
  readonly #settler: ReservationSettler;
  /** Per call, in line order (see `HeldKeys`): each line's limit and expiry (reused: no allocation). */
  readonly #limits: number[] = [0, 0, 0, 0, 0, 0];
  readonly #expiries: number[] = [0, 0, 0, 0, 0, 0];
  /**
   * What `#limits` / `#expiries` hold now: the held keys (one agent's), its limits object (replaced, never
   * changed, when a cooldown lowers them) and the period expiries they were filled for. While all are the
   * same, a call refreshes only the task lines' expiry (the usual run of calls from one agent).
   */
  #filledHeld: HeldKeys | undefined = undefined;
  #filledLimits: AgentLimits | undefined = undefined;
  #filledDayExpiry = Number.NaN;
  #filledMonthExpiry = Number.NaN;

  constructor(core: GuardCore, settler: ReservationSettler) {
    this.#core = core;
    this.#settler = settler;
    this.lines = new LedgerLines(core);
    // Exactly a MemoryStore: a subclass may override `reserve` / `settle`, which the row paths would skip.
    const store = core.store;
    this.#memory =
      Object.getPrototypeOf(store) === MemoryStore.prototype ? (store as MemoryStore) : undefined;
  }

  /**
   * Holds `amount` µUSD and `tokens` on every line of the agent's (and task's) reservation, or throws the
   * refusal of the first line that does not fit (holding nothing); returns the keys held. Admission, the
   * standalone task's limits and the `Reservation` are the caller's (built there, V8 allocates it inline:
   * built here, at the end of a function this size, V8 constructed it through its generic, slower path).
   */
  hold(agent: AgentState, taskId: string | undefined, amount: number, tokens: number, now: number): HeldKeys {
    const core = this.#core;
    const memory = this.#memory;
    const held = this.#heldFor(agent, taskId, memory === undefined ? -1 : memory.epoch);
    if (memory !== undefined) {
      this.#fillLines(held, agent, now);
      const count = held.count;
      const limits = this.#limits;
      const result = memory.reserveRows(
        held.slots,
        count,
        held.moneyCount,
        amount,
        tokens,
        limits,
        this.#expiries,
      );
      if (!result.ok) {
        throw lineRefusal(core, agent, taskId !== undefined, result.index, result.used, amount, tokens, now);
      }
    } else {
      const lines = this.lines.fill(agent, held.taskKey, held.taskTokenKey, amount, tokens, now);
      const result = core.store.reserve(lines);
      if (!result.ok) {
        throw lineRefusal(core, agent, taskId !== undefined, result.index, result.used, amount, tokens, now);
      }
    }
    return held;
  }

  /**
   * Records spend that was never reserved (`recordCost`) on the agent's (and task's) keys; returns the alerts
   * it raised. It always records: the money was already spent.
   */
  record(
    agent: AgentState,
    taskId: string | undefined,
    costUsd: number,
    tokens: number,
    breakdown: Readonly<Record<string, number>> | undefined,
    now: number,
  ): readonly BudgetAlert[] {
    const core = this.#core;
    const amount = chargeMicros(agent, costUsd);
    const readDay = agent.limits.dailyLimitMicros < Number.POSITIVE_INFINITY;
    const readOrg = core.orgLimitMicros < Number.POSITIVE_INFINITY;
    let prevDay = 0;
    let prevOrg = 0;
    const memory = this.#memory;
    if (memory !== undefined) {
      const held = this.#heldFor(agent, taskId, memory.epoch);
      if (readDay) prevDay = memory.spentAt(rowOf(memory, held, true, held.day));
      if (readOrg) prevOrg = memory.spentAt(rowOf(memory, held, true, held.day + 2));
      this.#fillLines(held, agent, now);
      memory.addRows(held.slots, held.count, held.moneyCount, amount, tokens, this.#expiries);
    } else {
      const store = core.store;
      if (readDay) prevDay = store.read(agent.dayKey).spent;
      if (readOrg) prevOrg = store.read(core.orgKey).spent;
      const dayExpiry = core.dayExpiryMs;
      const monthExpiry = core.monthExpiryMs;
      if (taskId !== undefined) {
        agent.useTask(taskId);
        store.add(agent.lastTaskKey, amount, now + core.taskTtlMs);
        store.add(agent.lastTaskTokenKey, tokens, now + core.taskTtlMs);
      }
      store.add(agent.dayKey, amount, dayExpiry);
      store.add(agent.monthKey, amount, monthExpiry);
      store.add(core.orgKey, amount, monthExpiry);
      store.add(agent.dayTokenKey, tokens, dayExpiry);
    }
    if (breakdown !== undefined) addBreakdown(agent, breakdown);
    return afterSpend(core, agent, taskId, amount, costUsd, prevDay, true, prevOrg, true, now, undefined);
  }

  /** The agent's held keys for a call of `taskId` now: the ones it keeps while current, else new ones. */
  #heldFor(agent: AgentState, taskId: string | undefined, epoch: number): HeldKeys {
    const core = this.#core;
    let taskKey: string | undefined;
    if (taskId !== undefined) {
      agent.useTask(taskId);
      taskKey = agent.lastTaskKey;
    }
    const held = agent.held;
    if (
      held !== undefined &&
      held.taskKey === taskKey &&
      held.dayStartMs === agent.dayStartMs &&
      held.monthStartMs === core.monthStartMs &&
      held.epoch === epoch
    ) {
      return held;
    }
    const taskTokenKey = taskKey === undefined ? undefined : agent.lastTaskTokenKey;
    const fresh = new HeldKeys(
      agent,
      taskId,
      this.#settler,
      taskKey,
      taskTokenKey,
      agent.dayKey,
      agent.monthKey,
      core.orgKey,
      agent.dayTokenKey,
      epoch,
      agent.dayStartMs,
      core.monthStartMs,
    );
    agent.held = fresh;
    return fresh;
  }

  /** Each held line's limit and expiry now, into the reused `#limits` / `#expiries` (line order). */
  #fillLines(held: HeldKeys, agent: AgentState, now: number): void {
    const core = this.#core;
    const expiries = this.#expiries;
    const agentLimits = agent.limits;
    const dayExpiry = core.dayExpiryMs;
    const monthExpiry = core.monthExpiryMs;
    if (
      held === this.#filledHeld &&
      agentLimits === this.#filledLimits &&
      dayExpiry === this.#filledDayExpiry &&
      monthExpiry === this.#filledMonthExpiry
    ) {
      if (held.count === 6) {
        expiries[0] = now + core.taskTtlMs;
        expiries[4] = now + core.taskTtlMs;
      }
      return;
    }
    this.#fillAll(held, agentLimits, dayExpiry, monthExpiry, now);
  }

  #fillAll(
    held: HeldKeys,
    agentLimits: AgentLimits,
    dayExpiry: number,
    monthExpiry: number,
    now: number,
  ): void {
    const core = this.#core;
    const limits = this.#limits;
    const expiries = this.#expiries;
    let next = 0;
    if (held.count === 6) {
      limits[0] = agentLimits.perTaskLimitMicros;
      expiries[0] = now + core.taskTtlMs;
      limits[4] = agentLimits.perTaskTokenLimit;
      expiries[4] = now + core.taskTtlMs;
      next = 1;
    }
    limits[next] = agentLimits.dailyLimitMicros;
    expiries[next] = dayExpiry;
    limits[next + 1] = Number.POSITIVE_INFINITY;
    expiries[next + 1] = monthExpiry;
    limits[next + 2] = core.orgLimitMicros;
    expiries[next + 2] = monthExpiry;
    const last = held.count - 1;
    limits[last] = agentLimits.dailyTokenLimit;
    expiries[last] = dayExpiry;
    this.#filledHeld = held;
    this.#filledLimits = agentLimits;
    this.#filledDayExpiry = dayExpiry;
    this.#filledMonthExpiry = monthExpiry;
  }

  /** Turns the reservation's hold into its actual cost; returns the alerts (kept and published) it raised. */
  settle(
    reservation: Reservation,
    actualUsd: number,
    actualTokens: number,
    breakdown: Readonly<Record<string, number>> | undefined,
    now: number,
  ): readonly BudgetAlert[] {
    const core = this.#core;
    const held = reservation.held;
    const agent = held.agent;
    // Rolled here only when a day passed (the usual call: one comparison, no call).
    if (agent.dayStartMs !== core.dayStartMs) rollAgent(core, agent);
    const actualMicros = chargeMicros(agent, actualUsd);
    // Spend lands in the period the money was held in; alerts only concern the period that is still current.
    const dayIsCurrent = held.dayStartMs === agent.dayStartMs;
    const monthIsCurrent = held.monthStartMs === core.monthStartMs;
    const readDay = dayIsCurrent && agent.limits.dailyLimitMicros < Number.POSITIVE_INFINITY;
    const readOrg = monthIsCurrent && core.orgLimitMicros < Number.POSITIVE_INFINITY;
    let prevDay = 0;
    let prevOrg = 0;
    const memory = this.#memory;
    const amount = reservation.amountMicros;
    const tokens = reservation.reservedTokens;
    if (memory !== undefined) {
      const current = held.epoch === memory.epoch;
      if (readDay) prevDay = memory.spentAt(rowOf(memory, held, current, held.day));
      if (readOrg) prevOrg = memory.spentAt(rowOf(memory, held, current, held.day + 2));
      const slots = held.slots;
      memory.settleRows(
        slots,
        current,
        held.count,
        held.moneyCount,
        amount,
        actualMicros,
        tokens,
        actualTokens,
      );
    } else {
      const store = core.store;
      if (readDay) prevDay = store.read(held.dayKey).spent;
      if (readOrg) prevOrg = store.read(held.orgKey).spent;
      store.settle(this.lines.settles(held, amount, tokens, actualMicros, actualTokens));
    }
    reservation.state = "committed";
    agent.openReservations--;
    if (breakdown !== undefined) addBreakdown(agent, breakdown);
    let alerts: BudgetAlert[] | undefined;
    // Overrun is judged on the exact cost: rounding up into the ledger is not spending more than held.
    const reservedUsd = microsToUsd(amount);
    if (actualUsd > reservedUsd + OVERRUN_SLACK_USD) {
      alerts = [new OverrunAlert(now, agent.agentId, held.taskId, reservedUsd, actualUsd)];
    }
    return afterSpend(
      core,
      agent,
      held.taskId,
      actualMicros,
      actualUsd,
      prevDay,
      dayIsCurrent,
      prevOrg,
      monthIsCurrent,
      now,
      alerts,
    );
  }

  /** Gives the reservation's hold back. */
  release(reservation: Reservation): void {
    const memory = this.#memory;
    const held = reservation.held;
    const amount = reservation.amountMicros;
    const tokens = reservation.reservedTokens;
    if (memory === undefined) {
      this.#core.store.settle(this.lines.settles(held, amount, tokens, 0, 0));
    } else if (amount !== 0 || tokens !== 0) {
      // Holding nothing changed no balance in this ledger (a free tool call): nothing to give back.
      const current = held.epoch === memory.epoch;
      memory.settleRows(held.slots, current, held.count, held.moneyCount, amount, 0, tokens, 0);
    }
    reservation.state = "released";
    held.agent.openReservations--;
  }
}

/** The row of line `line`: the one kept (still current, found), else looked up (−1 when none). */
function rowOf(memory: MemoryStore, held: HeldKeys, current: boolean, line: number): number {
  const kept = current ? (held.slots[2 * line + 1] as number) : -1;
  return kept >= 0 ? kept : lookUpRow(memory, held, line);
}

/** Out of line: the usual settlement finds its rows kept, and `rowOf` stays small enough to inline. */
function lookUpRow(memory: MemoryStore, held: HeldKeys, line: number): number {
  return memory.rowOf(held.key(line));
}
