import type { AgentState, ReservationSettler } from "./agent-state.js";

/**
 * The ledger keys one agent's reservations hold together, in line order: the money lines first (the task's,
 * if any, the agent's day and month, the org's month), then the token lines (the task's, if any, the agent's
 * day) — the order `lineRefusal` reads indexes in. Kept on the agent while they are its current keys and
 * shared by every reservation made with them, so a call builds no keys and copies none.
 *
 * `slots` holds each line's key and, with an in-process ledger (`MemoryStore.reserveRows`), its row (−1: not
 * known yet) side by side: `[key0, row0, key1, row1, …]`, one small array per agent (~70 bytes). Rows are
 * valid while the store's epoch is `epoch`: a key is looked up by its string once, not at every reserve and
 * commit.
 */
export class HeldKeys {
  readonly slots: Array<string | number>;
  /**
   * The agent, its task and the guard's settlement every reservation made with these keys shares (kept here,
   * not on each `Reservation`: three fields fewer on the one object a model call allocates in the guard).
   */
  readonly agent: AgentState;
  readonly taskId: string | undefined;
  readonly settler: ReservationSettler;
  readonly epoch: number;
  // The keys a reservation checks to know these are still the agent's current ones, as fields of their own
  // (each call compares them: no length test and slot read per key).
  readonly taskKey: string | undefined;
  readonly dayKey: string;
  readonly orgKey: string;
  /**
   * The day and month the keys are of (the agent's `dayStartMs`, the guard's `monthStartMs`): a call tells
   * current keys by two number comparisons (the keys are strings built per period: comparing them called
   * V8's string-equality builtin, even for the same string).
   */
  readonly dayStartMs: number;
  readonly monthStartMs: number;

  constructor(
    agent: AgentState,
    taskId: string | undefined,
    settler: ReservationSettler,
    taskKey: string | undefined,
    taskTokenKey: string | undefined,
    dayKey: string,
    monthKey: string,
    orgKey: string,
    dayTokenKey: string,
    epoch: number,
    dayStartMs: number,
    monthStartMs: number,
  ) {
    this.slots =
      taskKey === undefined
        ? [dayKey, -1, monthKey, -1, orgKey, -1, dayTokenKey, -1]
        : [taskKey, -1, dayKey, -1, monthKey, -1, orgKey, -1, taskTokenKey as string, -1, dayTokenKey, -1];
    this.agent = agent;
    this.taskId = taskId;
    this.settler = settler;
    this.epoch = epoch;
    this.taskKey = taskKey;
    this.dayKey = dayKey;
    this.orgKey = orgKey;
    this.dayStartMs = dayStartMs;
    this.monthStartMs = monthStartMs;
  }

  /** Lines held: 6 with a task, 4 without. */
  get count(): number {
    return this.slots.length >> 1;
  }

  /** The first `moneyCount` lines hold money (µUSD), the rest tokens. */
  get moneyCount(): number {
    return this.slots.length === 12 ? 4 : 3;
  }

  /** Index of the agent's day line (its month and the org's month follow it). */
  get day(): number {
    return this.slots.length === 12 ? 1 : 0;
  }

  key(line: number): string {
    return this.slots[2 * line] as string;
  }

  get taskTokenKey(): string | undefined {
    return this.slots.length === 12 ? (this.slots[8] as string) : undefined;
  }
}
