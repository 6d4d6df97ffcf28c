// The options of agentSREMiddleware (types only).
import type { CallEstimate, ModelLimitsCatalog, Recorder } from "@agent-sre/core";
import type { BaseMessage } from "@langchain/core/messages";
import type { ModelRequest, Runtime } from "langchain";
import type { OnViolation, RefusalFormatter, ToolErrorMode } from "./refusals.js";
import type { RouteModels } from "./routing.js";
import type { AgentSREContext } from "./schema.js";

/** What `taskId` functions get to derive a task id. */
export interface TaskIdInput {
  runtime: Runtime<unknown>;
  /** The agent state's messages. */
  messages: readonly BaseMessage[];
  /** `configurable.thread_id`, when the run has one. */
  threadId: string | undefined;
}

export interface AgentSREMiddlewareOptions<K extends string = never> {
  /** The agent id calls are attributed to (budgets, breakers, allow-lists, quarantine). Or per invocation via context. */
  agentId?: string;
  /**
   * The task calls belong to (per-task budgets key on it). Default: the current user turn — the id of the
   * latest human message — so each request to the agent is a task; a run resumed after an interrupt stays
   * the same task. Return `threadId` to budget per conversation instead.
   */
  taskId?: string | ((input: TaskIdInput) => string | undefined);
  /**
   * What refusals do, per call kind and refusal code: `"end"`, `"error"` or (tool calls) `"continue"` (see
   * the README). The defaults let LangChain's retry and fallback middleware handle what they can.
   */
  onViolation?: OnViolation;
  /**
   * What an ordinary tool error does: `"error"` (default) propagates it as thrown, so `toolRetryMiddleware`
   * wrapped around this middleware retries it (and without one, the run rejects as it does with any
   * `wrapToolCall` middleware); `"continue"` answers the call with an error ToolMessage and the run goes on.
   * Timeouts and injected tool faults follow this unless `onViolation.tool` names them.
   */
  toolErrors?: ToolErrorMode;
  /** The texts refusals produce. */
  formatRefusal?: RefusalFormatter;
  /** Tool-call timeout (ms); overrides the engine's `timeouts.toolMs`; 0 disables. */
  toolTimeoutMs?: number;
  /** Model-call timeout (ms); overrides the engine's `timeouts.modelMs`; 0 disables. */
  modelTimeoutMs?: number;
  /** Known prices of paid tools (USD per call), reserved before the call and committed after it. */
  toolCosts?: Record<string, number>;
  /** Provider id for pricing when the model does not say (`openai`, `anthropic`, ...). */
  provider?: string;
  /**
   * Output tokens the budget reserves for a model call: for a model without a cap, and at most this much
   * for a model whose cap the middleware can clamp; never more than the model's maximum output. Default
   * 4096 (core's `DEFAULT_MAX_OUTPUT_TOKENS`, shared by every adapter).
   */
  defaultMaxOutputTokens?: number;
  /** Where model limits come from. Default: core's models.dev catalog (`defaultModelLimits()`). */
  modelLimits?: ModelLimitsCatalog;
  /**
   * Estimate a model call yourself (the default counts ~4 characters a token, plus the model's output cap).
   * Set `minOutputTokens` in it to have the call admitted with a lower cap when the budget is short.
   */
  estimate?: (request: ModelRequest) => CallEstimate;
  /**
   * Clamp the model's output cap to what the task can still afford (`outputTokenAllowance`) when that
   * binds: below the model's configured cap or, when it has none, below the model's maximum output
   * (models.dev catalog; 4096 for models it does not list). Otherwise the model is called as configured.
   * Default true.
   */
  clampMaxTokens?: boolean;
  /**
   * With clamping: when the budget cannot hold the output reservation, the engine admits the call with as
   * many output tokens as still fit, if at least this many (`estimate.minOutputTokens`), and the model's cap
   * is lowered to that for the call; fewer, and the call is refused. Default 64.
   */
  minOutputTokens?: number;
  /** Reads the per-invocation settings; default `runtime.context?.agentSRE`. */
  context?: (runtime: Runtime<unknown>) => AgentSREContext | undefined;
  /**
   * Write per-thread usage to this state key (persisted per thread with a checkpointer), typed on the
   * agent's result: `usageStateKey: "sreUsage"` → `result.sreUsage`. Default: off.
   */
  usageStateKey?: K;
  /**
   * Progressive delivery: the chat models a `Delivery` on the engine (`sre.delivery`) may route calls to —
   * rollout candidates, budget-downgrade targets — by model id, or a factory. Each model call asks the
   * delivery where it goes (sticky per task) and runs on that model (`request.model` swapped).
   */
  models?: RouteModels;
  /** Middleware name (must be unique within an agent). Default "AgentSREMiddleware". */
  name?: string;
  /** Record every model and tool call into a trace (a `Recorder` from `@agent-sre/core`, attached to `sre`). */
  record?: Recorder;
}
