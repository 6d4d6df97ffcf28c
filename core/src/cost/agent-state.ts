import { type AnomalyHoldFigures, InvalidArgumentError } from "../errors.js";
import { AdmissionBucket } from "./admission-bucket.js";
import type { LogCostBaseline } from "./cost-anomaly.js";
import { type AgentLimits, requireBreakdown, requireTokenCount } from "./cost-guard-options.js";
import type { BudgetAlert, BudgetReservation, CommitOptions } from "./cost-types.js";
import type { HeldKeys } from "./held-keys.js";
import { isFiniteNonNegative, type MoneyCarry, microsToUsd } from "./money.js";

const MAX_LABELS_PER_AGENT = 64;
const OTHER_LABEL = "(other)";

/** Everything the guard knows about one agent besides its balances (which live in the store). */
export class AgentState implements MoneyCarry {
  readonly agentId: string;
  /** µUSD the ledger holds beyond this agent's exact spend today (see money.ts); below one µUSD. */
  creditMicros = 0;
  /** The limits in force: the configured ones, or lowered for a cooldown after a cost anomaly. */
  limits: AgentLimits;
  /** What few agents ever need (a kill, a hold, a cooldown, breakdowns): allocated at the first of them. */
  #rare: RareAgentState | undefined = undefined;
  /** Keys of the task seen last: consecutive calls of one task reuse them instead of concatenating. */
  lastTaskId: string | undefined = undefined;
  lastTaskKey = "";
  lastTaskTokenKey = "";
  /** Keys of the current period, built once per period (never per call). */
  dayStartMs = Number.NaN;
  dayKey = "";
  dayTokenKey = "";
  monthStartMs = Number.NaN;
  monthKey = "";
  killed = false;
  budgetThrottled = false;
  bucket: AdmissionBucket | undefined = undefined;
  baseline: LogCostBaseline | undefined = undefined;
  /** Reservations taken and not yet committed or released (a leak shows here). */
  openReservations = 0;
  /** The keys (and rows) the agent's last reservation held: the next one reuses them while they are current. */
  held: HeldKeys | undefined = undefined;

  constructor(agentId: string, limits: AgentLimits) {
    this.agentId = agentId;
    this.limits = limits;
  }

  #rareState(): RareAgentState {
    this.#rare ??= new RareAgentState(this.limits);
    return this.#rare;
  }

  // Each setter leaves `#rare` unallocated while it writes the value an agent starts with.

  /** Whether the agent has none of the rare state (no cooldown, kill reason, hold, tallies: most agents). */
  get plain(): boolean {
    return this.#rare === undefined;
  }

  /** The configured limits (`limits` unless lowered for a cooldown). */
  get configuredLimits(): AgentLimits {
    return this.#rare?.configuredLimits ?? this.limits;
  }

  /** When a lowered per-task limit ends (`lowerTaskLimit`); +Infinity when none is in force. */
  get loweredUntilMs(): number {
    return this.#rare?.loweredUntilMs ?? Number.POSITIVE_INFINITY;
  }

  get killReason(): string {
    return this.#rare?.killReason ?? "";
  }

  set killReason(reason: string) {
    if (reason !== "" || this.#rare !== undefined) this.#rareState().killReason = reason;
  }

  get externalThrottleReason(): string | undefined {
    return this.#rare?.externalThrottleReason;
  }

  set externalThrottleReason(reason: string | undefined) {
    if (reason !== undefined || this.#rare !== undefined) this.#rareState().externalThrottleReason = reason;
  }

  /** A cost anomaly hold in force (`anomalyDetection.action: "hold"`), until confirmed or `untilMs`. */
  get hold(): AnomalyHold | undefined {
    return this.#rare?.hold;
  }

  set hold(hold: AnomalyHold | undefined) {
    if (hold !== undefined || this.#rare !== undefined) this.#rareState().hold = hold;
  }

  get unpricedTokens(): Map<string, number> | undefined {
    return this.#rare?.unpricedTokens;
  }

  set unpricedTokens(tokens: Map<string, number> | undefined) {
    if (tokens !== undefined || this.#rare !== undefined) this.#rareState().unpricedTokens = tokens;
  }

  get breakdownMicros(): Map<string, number> | undefined {
    return this.#rare?.breakdownMicros;
  }

  set breakdownMicros(micros: Map<string, number> | undefined) {
    if (micros !== undefined || this.#rare !== undefined) this.#rareState().breakdownMicros = micros;
  }

  /** The ledger key of the agent's task's money (the length prefix keeps ("a:b", "c") and ("a", "b:c") apart). */
  taskKeyOf(taskId: string): string {
    return flatKey(["task:", this.agentId.length, ":", this.agentId, ":", taskId]);
  }

  /** The ledger key of the agent's task's tokens. */
  taskTokenKeyOf(taskId: string): string {
    return flatKey(["task-tokens:", this.agentId.length, ":", this.agentId, ":", taskId]);
  }

  /** Lowers the per-task limit to `taskLimitMicros` until `untilMs` (never above the configured one). */
  lowerTaskLimit(taskLimitMicros: number, untilMs: number): void {
    const rare = this.#rareState();
    const configured = rare.configuredLimits;
    this.limits = {
      ...configured,
      perTaskLimitMicros: Math.min(configured.perTaskLimitMicros, taskLimitMicros),
    };
    rare.loweredUntilMs = untilMs;
  }

  /** Back to the configured limits (the cooldown ended). */
  restoreLimits(): void {
    const rare = this.#rare;
    if (rare === undefined) return;
    this.limits = rare.configuredLimits;
    rare.loweredUntilMs = Number.POSITIVE_INFINITY;
  }

  get throttled(): boolean {
    return this.budgetThrottled || this.externalThrottleReason !== undefined;
  }

  /** Starts shaping this agent's admissions at `tasksPerMinute` (a fresh bucket unless already throttled). */
  startThrottle(tasksPerMinute: number, now: number): void {
    if (this.bucket === undefined) this.bucket = new AdmissionBucket(tasksPerMinute, now);
    else if (!this.throttled) this.bucket.reset(now);
  }

  /** Switches the cached task keys to `taskId` (a no-op for the same task as last time). */
  useTask(taskId: string): void {
    if (taskId === this.lastTaskId) return;
    this.lastTaskId = taskId;
    this.lastTaskKey = this.taskKeyOf(taskId);
    this.lastTaskTokenKey = this.taskTokenKeyOf(taskId);
  }
}

/** The part of an agent's state most agents never use. */
class RareAgentState {
  readonly configuredLimits: AgentLimits;
  loweredUntilMs = Number.POSITIVE_INFINITY;
  killReason = "";
  externalThrottleReason: string | undefined = undefined;
  hold: AnomalyHold | undefined = undefined;
  unpricedTokens: Map<string, number> | undefined = undefined;
  breakdownMicros: Map<string, number> | undefined = undefined;

  constructor(configuredLimits: AgentLimits) {
    this.configuredLimits = configuredLimits;
  }
}

/** A hold in force: the anomaly's figures and the calls refused since it began (counted in this process). */
export interface AnomalyHold extends AnomalyHoldFigures {
  refusedCalls: number;
}

/** How a reservation reaches its guard's settlement (kept off the public `BudgetReservation`). */
export interface ReservationSettler {
  settle(
    reservation: Reservation,
    actualUsd: number,
    actualTokens: number,
    breakdown: Readonly<Record<string, number>> | undefined,
    atMs: number | undefined,
  ): readonly BudgetAlert[];
  release(reservation: Reservation, atMs: number | undefined): void;
}

export class Reservation implements BudgetReservation {
  // One per model call: each field set once in the constructor (`declare`: no class-field initializer that
  // defines them all first, and no private method, whose brand every instance would be given). The agent, task
  // and settlement are the held keys' (shared by the agent's reservations of the same keys): four fields, 56
  // bytes a call, not seven and 80.
  declare state: "open" | "committed" | "released";
  /** The ledger keys held (shared with the agent's other reservations of the same keys; never changed). */
  declare readonly held: HeldKeys;
  declare readonly amountMicros: number;
  declare readonly reservedTokens: number;

  constructor(held: HeldKeys, amountMicros: number, reservedTokens: number) {
    this.state = "open";
    this.held = held;
    this.amountMicros = amountMicros;
    this.reservedTokens = reservedTokens;
  }

  get settler(): ReservationSettler {
    return this.held.settler;
  }

  get agent(): AgentState {
    return this.held.agent;
  }

  get taskId(): string | undefined {
    return this.held.taskId;
  }

  get agentId(): string {
    return this.held.agent.agentId;
  }

  get reservedUsd(): number {
    return microsToUsd(this.amountMicros);
  }

  commit(actualCostUsd: number, options?: CommitOptions): readonly BudgetAlert[] {
    requireOpen(this);
    if (!isFiniteNonNegative(actualCostUsd)) {
      throw new InvalidArgumentError("actualCostUsd", actualCostUsd, "a cost in USD >= 0");
    }
    const tokens = options?.tokens;
    if (tokens !== undefined) requireTokenCount(tokens, "tokens");
    const breakdown = options?.breakdown;
    if (breakdown !== undefined) requireBreakdown(breakdown);
    return this.settler.settle(this, actualCostUsd, tokens ?? this.reservedTokens, breakdown, options?.atMs);
  }

  release(options?: { atMs?: number }): void {
    requireOpen(this);
    this.settler.release(this, options?.atMs);
  }

  toJSON(): Record<string, unknown> {
    return {
      agentId: this.agentId,
      taskId: this.taskId,
      reservedUsd: this.reservedUsd,
      reservedTokens: this.reservedTokens,
      state: this.state,
    };
  }
}

function requireOpen(reservation: Reservation): void {
  if (reservation.state !== "open") {
    throw new InvalidArgumentError(
      "reservation",
      reservation.state,
      "an open reservation (commit or release once)",
    );
  }
}

/**
 * A key built from `parts` as one flat string. Keys live as long as their balances (~9 per agent with
 * tasks); `+` and template literals build a rope of several string objects per key (~60 bytes each), a join
 * builds one.
 */
export function flatKey(parts: ReadonlyArray<string | number>): string {
  return parts.join("");
}

/** Adds to a bounded per-label tally: past the cap, new labels share one bucket. */
export function addLabeled(tally: Map<string, number>, label: string, amount: number): void {
  const key = tally.has(label) || tally.size < MAX_LABELS_PER_AGENT - 1 ? label : OTHER_LABEL;
  tally.set(key, (tally.get(key) ?? 0) + amount);
}
