import type { Duration } from "../duration.js";
import type { CallKind, TokenUsage } from "../types.js";
import type { AgentRef } from "./agent-ref.js";
import type { FailureClass } from "./failure-class.js";

/** What an adapter can say about a call before it runs, so the budget can hold its worst case. */
export interface CallEstimate {
  /** A known price for the call (e.g. a paid tool, or an adapter that already priced the request). */
  costUsd?: number;
  /** Prompt size in tokens (an estimate is fine). */
  inputTokens?: number;
  /** The most the call may generate (e.g. `maxOutputTokens`). */
  outputTokens?: number;
  /**
   * When the budget cannot hold `outputTokens`, reserve as many output tokens as still fit, if that is at
   * least this many, instead of refusing; `inFlight.outputTokenAllowance` then says how many (clamp the
   * request's `maxOutputTokens` to it).
   */
  minOutputTokens?: number;
}

/** Usage an adapter extracts from a result; `model` is the resolved model name when the provider reports one. */
export interface UsageReport extends TokenUsage {
  model?: string;
  /** A cost the provider reported itself; when set it wins over the catalog. */
  costUsd?: number;
}

/** One call for the pipeline: a model call or a tool call made by an agent. */
export interface GuardCall<T = unknown> {
  kind: CallKind;
  agentId: string;
  /**
   * The agent bound once with `sre.agentRef(agentId)` (the same `agentId`): the engine reaches the agent's
   * state through it, without looking the id up — what an adapter made for one agent passes with each call.
   * A ref of another agent or another engine is refused with a `ConfigError`.
   */
  agentRef?: AgentRef;
  /** The task (a run, a thread, a user request) the call belongs to: per-task budgets key on it. */
  taskId?: string;
  /** Model id (`gpt-4.1`) or tool name (`search`). */
  name: string;
  /** Provider id for pricing (`openai`, `anthropic`), when the adapter knows it. */
  provider?: string;
  /** Tool arguments (used by loop detection and the rogue detector) or the model request. */
  input?: unknown;
  estimate?: CallEstimate;
  /** Reads usage from the result (called as a method of the call); without it a model call commits its estimate. */
  usage?: (result: T) => UsageReport | undefined;
  /** Per-call timeout override (ms); 0 disables. */
  timeoutMs?: number;
  /**
   * Which attempt this is (1 = the first; 2 and up = retries of the same logical call). Adapters set it
   * from their retry loop (an SDK's `maxRetries`, retry middleware, a client's own tag) so retries count
   * against the target's retry budget. Default 1.
   */
  attempt?: number;
  /**
   * Extra breakers (ids in the engine's registry, e.g. `upstream:search-server`) that must admit the call
   * and that record its outcome, besides the target's and the agent's.
   */
  breakers?: readonly string[];
  /**
   * What a failed call means to the extra `breakers` (default: whatever it counts as on the target): `true`
   * a failure, `false` a success (e.g. an upstream server that answered with a tool error is up, even though
   * that tool failed), `undefined` nothing (the permit is returned, e.g. for a fault injected into one tool).
   */
  breakerFailure?: (error: unknown) => boolean | undefined;
  /**
   * The adapter's classification of a failure of this call (its framework's error types): `"provider"`
   * counts against the target's breakers, `"caller"` against the agent's only (see `FailureClass`).
   * `undefined` falls back to the default rule. The engine's `classifyFailure` option wins over it.
   */
  classifyFailure?: (error: unknown) => FailureClass | undefined;
}

export interface GuardOptions {
  /** The caller's abort signal: passed through to `run`, and it cancels throttle waits and injected delays. */
  signal?: AbortSignal;
}

/** Per-agent policy. */
export interface AgentPolicy {
  /** Only these tools (globs with `*`); merged with the fleet-wide `tools.allow`. */
  allowedTools?: string[];
  /** Never these tools (globs with `*`); merged with the fleet-wide `tools.deny`. */
  deniedTools?: string[];
}

export interface TimeoutOptions {
  /** Timeout of model calls; none by default. */
  modelMs?: Duration;
  /** Timeout of tool calls; none by default. */
  toolMs?: Duration;
}

export interface ThrottleOptions {
  /**
   * What a throttled agent's call does when no admission is free: `"delay"` waits for the next admission
   * (up to `maxDelayMs`, then refuses), `"reject"` refuses at once with `AGENT_THROTTLED` and `retryAfterMs`.
   */
  mode?: "delay" | "reject";
  /** Longest wait in `"delay"` mode. Default 60 s. */
  maxDelayMs?: Duration;
}
