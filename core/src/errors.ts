import { formatUsd } from "./cost/money.js";

/**
 * Every refusal the engine makes is a typed error with a stable `code`, so adapters can map it to their
 * framework's idiom (an error ToolMessage, ending a run, an MCP `isError` result) without string matching.
 */
export type RefusalCode =
  | "CIRCUIT_OPEN"
  | "BUDGET_EXCEEDED"
  | "TOKEN_LIMIT_EXCEEDED"
  | "AGENT_THROTTLED"
  | "AGENT_KILLED"
  | "ANOMALY_HELD"
  | "AGENT_QUARANTINED"
  | "TOOL_NOT_ALLOWED"
  | "LOOP_DETECTED"
  | "RATE_LIMITED"
  | "MODEL_NOT_PRICED"
  | "TIMEOUT"
  | "CHAOS_INJECTED"
  | "RETRY_BUDGET_EXCEEDED";

export type ErrorCode = RefusalCode | "CONFIG_INVALID" | "INVALID_ARGUMENT" | "STORE_UNAVAILABLE";

export abstract class AgentSREError extends Error {
  abstract readonly code: ErrorCode;
  /** Whether retrying the same call later can succeed without anyone intervening. */
  readonly retryable: boolean = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }

  /** A JSON-friendly view (for logs, MCP error results, HTTP bodies). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, code: this.code, message: this.message };
    for (const [key, value] of Object.entries(this)) {
      if (key !== "stack" && key !== "cause" && value !== undefined) out[key] = value;
    }
    return out;
  }
}

/** Invalid configuration or argument: names the field and the offending value. */
export class ConfigError extends AgentSREError {
  readonly code = "CONFIG_INVALID" as const;
  /** The path of the (first) problem, e.g. `budget.perTaskLimitUsd` or `agents.bot.allowedTools[2]`. */
  readonly field: string;
  readonly value: unknown;
  /** Every problem found, in order (one for a single problem): report them all at once. */
  readonly issues: readonly ConfigIssue[];

  /** `suggestion`: the key probably meant, for an unknown key (`costGuard` → `budget`). */
  constructor(field: string, value: unknown, expected: string, suggestion?: string) {
    const issue: ConfigIssue = {
      field,
      value,
      expected,
      message: issueMessage(field, value, expected, suggestion),
    };
    if (suggestion !== undefined) issue.suggestion = suggestion;
    super(issue.message);
    this.field = field;
    this.value = value;
    this.issues = [issue];
  }

  /** One error for several problems (or the single one as it is); its message lists every problem. */
  static combine(errors: readonly ConfigError[]): ConfigError {
    if (errors.length === 1) return errors[0] as ConfigError;
    const issues = errors.flatMap((error) => error.issues);
    const first = issues[0] as ConfigIssue;
    const combined = new ConfigError(first.field, first.value, first.expected, first.suggestion);
    Object.defineProperty(combined, "issues", { value: issues, enumerable: true });
    combined.message = `${issues.length} configuration problems:\n${issues.map((issue) => `  - ${issue.message}`).join("\n")}`;
    return combined;
  }
}

export interface ConfigIssue {
  field: string;
  value: unknown;
  expected: string;
  /** The key probably meant, for an unknown key. */
  suggestion?: string;
  message: string;
}

function issueMessage(
  field: string,
  value: unknown,
  expected: string,
  suggestion: string | undefined,
): string {
  const hint = suggestion === undefined ? "" : ` — did you mean "${suggestion}"?`;
  return `Invalid ${field}: ${describeValue(value)} (expected ${expected})${hint}`;
}

/** A runtime argument that would corrupt state (a negative or NaN cost, an unknown reservation). */
export class InvalidArgumentError extends AgentSREError {
  readonly code = "INVALID_ARGUMENT" as const;
  readonly field: string;
  readonly value: unknown;

  constructor(field: string, value: unknown, expected: string) {
    super(`Invalid ${field}: ${describeValue(value)} (expected ${expected})`);
    this.field = field;
    this.value = value;
  }
}

/** Base class of every refusal (the engine said no before or during a call). */
export abstract class RefusalError extends AgentSREError {
  abstract override readonly code: RefusalCode;
  readonly agentId: string | undefined;

  constructor(message: string, agentId: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.agentId = agentId;
  }
}

export class CircuitOpenError extends RefusalError {
  readonly code = "CIRCUIT_OPEN" as const;
  /** The breaker that refused. */
  readonly breakerId: string;
  /** How long until the breaker admits a probe again; > 0 while it still rejects. */
  readonly retryAfterMs: number;
  override readonly retryable = true;

  constructor(breakerId: string, retryAfterMs: number, agentId?: string) {
    super(
      Number.isFinite(retryAfterMs)
        ? `Circuit "${breakerId}" is open; retry after ${Math.ceil(retryAfterMs)} ms`
        : `Circuit "${breakerId}" is held open until it is reset`,
      agentId,
    );
    this.breakerId = breakerId;
    this.retryAfterMs = retryAfterMs;
  }
}

export type BudgetScope = "call" | "task" | "agent-daily" | "org-monthly";

export class BudgetExceededError extends RefusalError {
  readonly code = "BUDGET_EXCEEDED" as const;
  /** Which limit refused the call. */
  readonly scope: BudgetScope;
  readonly limitUsd: number;
  /** What is left in that scope (spent and reserved money subtracted). */
  readonly remainingUsd: number;
  /** The amount the call asked to reserve. */
  readonly requestedUsd: number;
  /** When the period rolls over (daily and monthly scopes), in ms from now. */
  readonly retryAfterMs: number | undefined;

  constructor(init: {
    agentId: string | undefined;
    scope: BudgetScope;
    limitUsd: number;
    remainingUsd: number;
    requestedUsd: number;
    retryAfterMs?: number;
  }) {
    super(
      `Budget exceeded (${init.scope}): requested ${formatUsd(init.requestedUsd)}, remaining ${formatUsd(init.remainingUsd)} of ${formatUsd(init.limitUsd)}`,
      init.agentId,
    );
    this.scope = init.scope;
    this.limitUsd = init.limitUsd;
    this.remainingUsd = init.remainingUsd;
    this.requestedUsd = init.requestedUsd;
    this.retryAfterMs = init.retryAfterMs;
  }
}

export class TokenLimitExceededError extends RefusalError {
  readonly code = "TOKEN_LIMIT_EXCEEDED" as const;
  readonly scope: "task" | "agent-daily";
  readonly limitTokens: number;
  readonly remainingTokens: number;
  readonly requestedTokens: number;

  constructor(init: {
    agentId: string | undefined;
    scope: "task" | "agent-daily";
    limitTokens: number;
    remainingTokens: number;
    requestedTokens: number;
  }) {
    super(
      `Token limit exceeded (${init.scope}): requested ${init.requestedTokens}, remaining ${init.remainingTokens} of ${init.limitTokens}`,
      init.agentId,
    );
    this.scope = init.scope;
    this.limitTokens = init.limitTokens;
    this.remainingTokens = init.remainingTokens;
    this.requestedTokens = init.requestedTokens;
  }
}

export class AgentThrottledError extends RefusalError {
  readonly code = "AGENT_THROTTLED" as const;
  readonly retryAfterMs: number;
  override readonly retryable = true;

  constructor(agentId: string, retryAfterMs: number, reason = "budget throttle") {
    super(`Agent "${agentId}" is throttled (${reason}); retry after ${Math.ceil(retryAfterMs)} ms`, agentId);
    this.retryAfterMs = retryAfterMs;
  }
}

export class AgentKilledError extends RefusalError {
  readonly code = "AGENT_KILLED" as const;
  readonly reason: string;
  /** When the kill lifts by itself (period rollover), in ms from now; undefined if only `revive()` lifts it. */
  readonly retryAfterMs: number | undefined;

  constructor(agentId: string, reason: string, retryAfterMs?: number) {
    super(`Agent "${agentId}" is killed: ${reason}`, agentId);
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}

/** What a cost anomaly hold carries: the figures of the cost that set it off. */
export interface AnomalyHoldFigures {
  /** The anomalous cost (USD) and the typical cost it was judged against. */
  costUsd: number;
  expectedUsd: number;
  /** Its standard score of log(cost), and the threshold it passed. */
  score: number;
  threshold: number;
  /** The task that spent it, when it had one. */
  taskId: string | undefined;
  /** When the hold began (ms since the epoch). */
  heldAtMs: number;
  /** When the hold lapses by itself (`anomalyDetection.holdMs`); `Infinity` until an operator confirms. */
  untilMs: number;
}

/**
 * A cost anomaly holds the agent (`anomalyDetection.action: "hold"`): its calls are refused until an operator
 * confirms (`budget.confirmAnomaly(agentId)`) or the hold lapses (`holdMs`). Not retryable: someone has to look.
 */
export class AnomalyHeldError extends RefusalError {
  readonly code = "ANOMALY_HELD" as const;
  readonly costUsd: number;
  readonly expectedUsd: number;
  readonly score: number;
  readonly threshold: number;
  readonly taskId: string | undefined;
  readonly heldAtMs: number;
  /** When the hold lapses by itself, in ms from now; undefined if only a confirmation lifts it. */
  readonly retryAfterMs: number | undefined;

  constructor(agentId: string, hold: AnomalyHoldFigures, now: number) {
    const ratio = hold.costUsd / hold.expectedUsd;
    const until = Number.isFinite(hold.untilMs)
      ? `until ${new Date(hold.untilMs).toISOString()} or an operator confirms`
      : "until an operator confirms (budget.confirmAnomaly)";
    super(
      `Agent "${agentId}" is held after a cost anomaly: ${formatUsd(hold.costUsd)}${hold.taskId === undefined ? "" : ` in task "${hold.taskId}"`}, ${ratio.toFixed(1)}× its typical ${formatUsd(hold.expectedUsd)} (z = ${hold.score.toFixed(2)}); held ${until}`,
      agentId,
    );
    this.costUsd = hold.costUsd;
    this.expectedUsd = hold.expectedUsd;
    this.score = hold.score;
    this.threshold = hold.threshold;
    this.taskId = hold.taskId;
    this.heldAtMs = hold.heldAtMs;
    this.retryAfterMs = Number.isFinite(hold.untilMs) ? Math.max(0, hold.untilMs - now) : undefined;
  }
}

export class AgentQuarantinedError extends RefusalError {
  readonly code = "AGENT_QUARANTINED" as const;
  readonly reason: string;

  constructor(agentId: string, reason: string) {
    super(`Agent "${agentId}" is quarantined: ${reason}`, agentId);
    this.reason = reason;
  }
}

export class ToolNotAllowedError extends RefusalError {
  readonly code = "TOOL_NOT_ALLOWED" as const;
  readonly toolName: string;
  readonly reason: "denied" | "not-in-allow-list";

  constructor(agentId: string, toolName: string, reason: "denied" | "not-in-allow-list") {
    super(
      `Tool "${toolName}" is not allowed for agent "${agentId}" (${reason === "denied" ? "on the deny list" : "not on the allow list"})`,
      agentId,
    );
    this.toolName = toolName;
    this.reason = reason;
  }
}

export class LoopDetectedError extends RefusalError {
  readonly code = "LOOP_DETECTED" as const;
  readonly toolName: string;
  readonly repeats: number;

  constructor(agentId: string, toolName: string, repeats: number) {
    super(
      `Agent "${agentId}" repeated the same call to "${toolName}" ${repeats} times: loop detected`,
      agentId,
    );
    this.toolName = toolName;
    this.repeats = repeats;
  }
}

/** A call-rate rule (`rateLimits`) has no admission left right now. */
export class RateLimitedError extends RefusalError {
  readonly code = "RATE_LIMITED" as const;
  override readonly retryable = true;
  readonly ruleId: string;
  /** How long until the call would pass. */
  readonly retryAfterMs: number;
  readonly limit: number;
  readonly perMs: number;

  constructor(init: {
    agentId: string;
    toolName: string;
    ruleId: string;
    retryAfterMs: number;
    limit: number;
    perMs: number;
  }) {
    super(
      `Rate limit "${init.ruleId}" (${init.limit} per ${init.perMs} ms) reached for "${init.toolName}"; retry after ${Math.ceil(init.retryAfterMs)} ms`,
      init.agentId,
    );
    this.ruleId = init.ruleId;
    this.retryAfterMs = init.retryAfterMs;
    this.limit = init.limit;
    this.perMs = init.perMs;
  }
}

export class ModelNotPricedError extends RefusalError {
  readonly code = "MODEL_NOT_PRICED" as const;
  readonly model: string;

  constructor(agentId: string | undefined, model: string) {
    super(`Model "${model}" has no known price and the unknown-model policy is "block"`, agentId);
    this.model = model;
  }
}

export class TimeoutError extends RefusalError {
  readonly code = "TIMEOUT" as const;
  readonly timeoutMs: number;
  override readonly retryable = true;

  constructor(agentId: string | undefined, name: string, timeoutMs: number) {
    super(`Call "${name}" timed out after ${timeoutMs} ms`, agentId);
    this.timeoutMs = timeoutMs;
  }
}

/** An error injected by a chaos fault. It looks like a transient provider error and is retryable. */
export class ChaosInjectedError extends RefusalError {
  readonly code = "CHAOS_INJECTED" as const;
  override readonly retryable = true;
  readonly faultId: string;
  readonly experiment: string | undefined;
  /** HTTP-like status the fault simulates (e.g. 503, 429). */
  readonly status: number;

  constructor(init: {
    agentId?: string;
    faultId: string;
    experiment?: string;
    message?: string;
    status?: number;
  }) {
    super(init.message ?? "Injected fault: service unavailable", init.agentId);
    this.faultId = init.faultId;
    this.experiment = init.experiment;
    this.status = init.status ?? 503;
  }
}

export function isRefusal(error: unknown): error is RefusalError {
  return error instanceof RefusalError;
}

function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) {
    return String(value);
  }
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/**
 * The shared state store cannot answer a decision it must make (a Redis store needs a new budget lease while
 * Redis is unreachable, and fails closed). Not a policy refusal: an infrastructure failure, typed and
 * retryable (the store reconnects by itself).
 */
export class StoreUnavailableError extends AgentSREError {
  readonly code = "STORE_UNAVAILABLE" as const;
  override readonly retryable = true;
  readonly store: string;

  constructor(store: string, detail: string) {
    super(`The ${store} state store is unavailable (${detail}); the call was refused to keep budgets exact`);
    this.store = store;
  }
}
