import {
  AgentKilledError,
  AgentThrottledError,
  AnomalyHeldError,
  BudgetExceededError,
  type BudgetScope,
  TokenLimitExceededError,
} from "../errors.js";
import { exceedsLimit, type LedgerLine, type SettleLine } from "../store/ledger-store.js";
import type { AgentState } from "./agent-state.js";
import type { GuardCore } from "./guard-core.js";
import type { HeldKeys } from "./held-keys.js";
import { microsToUsd } from "./money.js";

/** Every refusal the budget makes. */
export type BudgetRefusal =
  | AgentKilledError
  | AnomalyHeldError
  | AgentThrottledError
  | BudgetExceededError
  | TokenLimitExceededError;

/** Which limit each ledger line enforces, by line index. */
const TASK_LINE_SCOPES = [
  "task",
  "agent-daily",
  "agent-monthly",
  "org-monthly",
  "task-tokens",
  "daily-tokens",
];
const AGENT_LINE_SCOPES = ["agent-daily", "agent-monthly", "org-monthly", "daily-tokens"];
const TASK_LINE = 0;
const TASK_TOKENS_LINE = 4;

/**
 * The ledger lines one reservation touches — the task (money and tokens, with a task id), the agent's day
 * and month, the org's month, the agent's daily tokens — written into reused buffers: the hot path
 * allocates none (the store must not keep them, see `LedgerStore`).
 */
export class LedgerLines {
  readonly #core: GuardCore;
  readonly #taskLines: LedgerLine[] = makeLines(6);
  readonly #agentLines: LedgerLine[] = makeLines(4);
  readonly #taskSettles: SettleLine[] = makeSettles(6);
  readonly #agentSettles: SettleLine[] = makeSettles(4);

  constructor(core: GuardCore) {
    this.#core = core;
  }

  /** The lines a reservation of `amount` µUSD and `tokens` holds (6 with a task key, else 4). */
  fill(
    agent: AgentState,
    taskKey: string | undefined,
    taskTokenKey: string | undefined,
    amount: number,
    tokens: number,
    now: number,
  ): LedgerLine[] {
    const core = this.#core;
    const limits = agent.limits;
    const dayExpiry = core.dayExpiryMs;
    const monthExpiry = core.monthExpiryMs;
    let lines: LedgerLine[];
    let next = 0;
    if (taskKey === undefined) {
      lines = this.#agentLines;
    } else {
      lines = this.#taskLines;
      setLine(lines[next++], taskKey, amount, limits.perTaskLimitMicros, now + core.taskTtlMs);
    }
    setLine(lines[next++], agent.dayKey, amount, limits.dailyLimitMicros, dayExpiry);
    setLine(lines[next++], agent.monthKey, amount, Number.POSITIVE_INFINITY, monthExpiry);
    setLine(lines[next++], core.orgKey, amount, core.orgLimitMicros, monthExpiry);
    if (taskTokenKey !== undefined) {
      setLine(lines[next++], taskTokenKey, tokens, limits.perTaskTokenLimit, now + core.taskTtlMs);
    }
    setLine(lines[next], agent.dayTokenKey, tokens, limits.dailyTokenLimit, dayExpiry);
    return lines;
  }

  /** The settlement of a reservation at its actual cost and tokens, on the keys it held. */
  settles(
    held: HeldKeys,
    amountMicros: number,
    reservedTokens: number,
    actualMicros: number,
    actualTokens: number,
  ): SettleLine[] {
    const settles = held.count === 6 ? this.#taskSettles : this.#agentSettles;
    for (let i = 0; i < held.count; i++) {
      if (i < held.moneyCount) setSettle(settles[i], held.key(i), amountMicros, actualMicros);
      else setSettle(settles[i], held.key(i), reservedTokens, actualTokens);
    }
    return settles;
  }
}

/** A killed org or agent, or a throttled agent with no admission free now; undefined when admitted. */
export function admissionRefusal(
  core: GuardCore,
  agent: AgentState,
  now: number,
): AgentKilledError | AnomalyHeldError | AgentThrottledError | undefined {
  if (core.orgKilled) return new AgentKilledError(agent.agentId, core.orgKillReason, core.monthEndMs - now);
  if (agent.killed) return new AgentKilledError(agent.agentId, agent.killReason, core.dayEndMs - now);
  // The caller lapses a hold whose time is up before asking (CostGuard's agent lookup).
  if (agent.hold !== undefined) return new AnomalyHeldError(agent.agentId, agent.hold, now);
  if (agent.bucket !== undefined && agent.throttled) {
    const waitMs = agent.bucket.waitMs(now);
    if (waitMs > 0) {
      const reason = agent.externalThrottleReason ?? "daily budget throttle";
      return new AgentThrottledError(agent.agentId, waitMs, reason);
    }
  }
  return undefined;
}

/** Without a task id the reservation is its own task: per-task limits apply to it alone. */
export function standaloneTaskRefusal(
  core: GuardCore,
  agent: AgentState,
  amount: number,
  tokens: number,
  now: number,
): BudgetExceededError | TokenLimitExceededError | undefined {
  const limits = agent.limits;
  if (exceedsLimit(0, amount, limits.perTaskLimitMicros)) {
    return lineRefusal(core, agent, true, TASK_LINE, 0, amount, tokens, now);
  }
  if (exceedsLimit(0, tokens, limits.perTaskTokenLimit)) {
    return lineRefusal(core, agent, true, TASK_TOKENS_LINE, 0, amount, tokens, now);
  }
  return undefined;
}

/** The refusal for the ledger line at `index` (of a reservation with or without a task) that did not fit. */
export function lineRefusal(
  core: GuardCore,
  agent: AgentState,
  withTask: boolean,
  index: number,
  used: number,
  amount: number,
  tokens: number,
  now: number,
): BudgetExceededError | TokenLimitExceededError {
  const scope = (withTask ? TASK_LINE_SCOPES : AGENT_LINE_SCOPES)[index];
  const limits = agent.limits;
  const agentId = agent.agentId;
  if (scope === "task-tokens" || scope === "daily-tokens") {
    const limit = scope === "task-tokens" ? limits.perTaskTokenLimit : limits.dailyTokenLimit;
    return new TokenLimitExceededError({
      agentId,
      scope: scope === "task-tokens" ? "task" : "agent-daily",
      limitTokens: limit,
      remainingTokens: Math.max(0, limit - used),
      requestedTokens: tokens,
    });
  }
  let budgetScope: BudgetScope = "task";
  let limit = limits.perTaskLimitMicros;
  let retryAfterMs: number | undefined;
  if (scope === "agent-daily") {
    budgetScope = "agent-daily";
    limit = limits.dailyLimitMicros;
    retryAfterMs = core.dayEndMs - now;
  } else if (scope === "org-monthly") {
    budgetScope = "org-monthly";
    limit = core.orgLimitMicros;
    retryAfterMs = core.monthEndMs - now;
  }
  return new BudgetExceededError({
    agentId,
    scope: budgetScope,
    limitUsd: microsToUsd(limit),
    remainingUsd: microsToUsd(Math.max(0, limit - used)),
    requestedUsd: microsToUsd(amount),
    retryAfterMs,
  });
}

function makeLines(count: number): LedgerLine[] {
  return Array.from({ length: count }, () => ({ key: "", amount: 0, limit: 0, expiresAtMs: 0 }));
}

function makeSettles(count: number): SettleLine[] {
  return Array.from({ length: count }, () => ({ key: "", reserved: 0, actual: 0 }));
}

function setLine(
  line: LedgerLine | undefined,
  key: string,
  amount: number,
  limit: number,
  expiresAtMs: number,
) {
  const target = line as LedgerLine;
  target.key = key;
  target.amount = amount;
  target.limit = limit;
  target.expiresAtMs = expiresAtMs;
}

function setSettle(line: SettleLine | undefined, key: string, reserved: number, actual: number) {
  const target = line as SettleLine;
  target.key = key;
  target.reserved = reserved;
  target.actual = actual;
}
