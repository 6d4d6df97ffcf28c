/**
 * The ledger keys one agent's reservations hold together, in line order: the money lines first (the task's,
 * if any, the agent's day and month, the org's month), then the token lines (the task's, if any, the agent's
 * day) — the order `lineRefusal` reads indexes in. Kept on the agent while they are its current keys and
 * shared by every reservation made with them, so a call builds no keys and copies none. With an in-process
 * ledger (`MemoryStore`) `rows` keeps each key's row (−1: not known yet), valid while the store's epoch is
 * `epoch`: a key is looked up by its string once, not at every reserve and commit.
 */
export class HeldKeys {
  readonly keys: string[];
  readonly rows: number[];
  /** Lines held: 6 with a task, 4 without. */
  readonly count: number;
  /** The first `moneyCount` lines hold money (µUSD), the rest tokens. */
  readonly moneyCount: number;
  /** Index of the agent's day line (the month and the org follow it). */
  readonly day: number;
  readonly taskKey: string | undefined;
  readonly dayKey: string;
  readonly orgKey: string;
  readonly epoch: number;

  constructor(
    taskKey: string | undefined,
    taskTokenKey: string | undefined,
    dayKey: string,
    monthKey: string,
    orgKey: string,
    dayTokenKey: string,
    epoch: number,
  ) {
    this.keys =
      taskKey === undefined
        ? [dayKey, monthKey, orgKey, dayTokenKey]
        : [taskKey, dayKey, monthKey, orgKey, taskTokenKey as string, dayTokenKey];
    this.count = this.keys.length;
    this.moneyCount = taskKey === undefined ? 3 : 4;
    this.day = taskKey === undefined ? 0 : 1;
    this.rows = taskKey === undefined ? [-1, -1, -1, -1] : [-1, -1, -1, -1, -1, -1];
    this.taskKey = taskKey;
    this.dayKey = dayKey;
    this.orgKey = orgKey;
    this.epoch = epoch;
  }

  get monthKey(): string {
    return this.keys[this.day + 1] as string;
  }

  get dayTokenKey(): string {
    return this.keys[this.count - 1] as string;
  }

  get taskTokenKey(): string | undefined {
    return this.taskKey === undefined ? undefined : (this.keys[4] as string);
  }
}
