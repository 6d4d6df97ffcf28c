import {
  type AgentSRE,
  type CallEstimate,
  ConfigError,
  DEFAULT_MAX_OUTPUT_TOKENS,
  defaultModelLimits,
  FailedAttempts,
  type GuardCall,
  type GuardedCall,
  type ModelLimitsCatalog,
  outputTokenCap,
  type Recorder,
  RefusalError,
  reservedOutputTokens,
  type UsageReport,
} from "@agent-sre/core";
import { type AIMessage, type BaseMessage, ToolMessage } from "@langchain/core/messages";
import { Command, isGraphBubbleUp } from "@langchain/langgraph";
import { createMiddleware, type ModelRequest, type Runtime, ToolInvocationError } from "langchain";
import {
  addUsage,
  checkpointNamespace,
  checkTokens,
  currentTurn,
  defaultContext,
  isThenable,
  structuredResultOf,
} from "./call-helpers.js";
import { classifyLangChainFailure } from "./failure-class.js";
import {
  estimateInputTokens,
  isClampable,
  isPrivateMemberError,
  markUnclampable,
  modelInfo,
  withInputPayload,
  withMaxTokens,
} from "./models.js";
import { checkRecorder, LANGCHAIN_API, modelRequestOf, modelResponseOf, toolResponseOf } from "./record.js";
import {
  checkToolErrors,
  defaultModes,
  defaultRefusalText,
  endMessage,
  type Modes,
  metadataOf,
  type OnViolation,
  type RefusalContext,
  type RefusalFormatter,
  type RefusalMetadata,
  refusalToolMessage,
  resolveModes,
  type ToolErrorMode,
} from "./refusals.js";
import { guardedCalls } from "./registry.js";
import { mirrorCall, modelTable, type RouteModels, routeRequest } from "./routing.js";
import {
  type AgentSREContext,
  type AgentSREContextSchema,
  type AgentSREUsageState,
  contextSchema,
  END_KEY,
  looseContextSchema,
  STRUCTURED_KEY,
  stateSchemaFor,
} from "./schema.js";
import { aiMessageOf, usageFromMessage } from "./usage.js";

export type { AgentSREContext, AgentSREUsageState } from "./schema.js";

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

const DEFAULT_MIN_OUTPUT_TOKENS = 64;
/** Returned by a guarded run when no chaos payload is to be applied to the result (no allocation). */
const NO_PAYLOAD = Object.freeze({ content: undefined as unknown });
const NO_MESSAGES: readonly BaseMessage[] = Object.freeze([]);

/** A tool answered with an error ToolMessage: a failed call for the engine, returned to the model unchanged. */
class ToolErrorResult extends Error {
  readonly toolMessage: ToolMessage;
  constructor(toolMessage: ToolMessage) {
    super(typeof toolMessage.content === "string" ? toolMessage.content : "tool returned an error");
    this.name = "ToolErrorResult";
    this.toolMessage = toolMessage;
  }
}

const OPTION_KEYS: ReadonlySet<string> = new Set([
  "agentId",
  "taskId",
  "onViolation",
  "toolErrors",
  "formatRefusal",
  "toolTimeoutMs",
  "modelTimeoutMs",
  "toolCosts",
  "provider",
  "defaultMaxOutputTokens",
  "estimate",
  "clampMaxTokens",
  "minOutputTokens",
  "context",
  "usageStateKey",
  "models",
  "name",
  "record",
]);

const CONTEXT_KEYS: ReadonlySet<string> = new Set([
  "agentId",
  "taskId",
  "onViolation",
  "toolTimeoutMs",
  "modelTimeoutMs",
]);

/** The request a model hook gets, over this middleware's state and context. */
type SREModelRequest = ModelRequest<Record<string, unknown>, unknown>;
type SREToolRequest = {
  toolCall: { name: string; args: Record<string, unknown>; id?: string };
  state: Record<string, unknown>;
  runtime: Runtime<unknown>;
};

/**
 * Middleware for `createAgent` that puts every model and tool call through the engine.
 *
 * ```ts
 * const agent = createAgent({ model, tools, middleware: [agentSREMiddleware(sre, { agentId: "support-agent" })] });
 * ```
 *
 * - `wrapModelCall`: pre-flight (quarantine, budget reservation sized from the request, breakers), chaos,
 *   the call (output cap clamped to what the task can afford), post-flight from `usage_metadata`, priced
 *   by the model the provider reports (`response_metadata.model_name`), else the requested one.
 * - `wrapToolCall`: allow-list and rogue detection, loop detection, a breaker per tool, chaos (latency,
 *   errors, timeouts, prompt-injection payloads in results), the call with a timeout, post-flight. Tool
 *   errors propagate (so `toolRetryMiddleware` can retry them) unless `toolErrors: "continue"`.
 * - Refusals follow `onViolation`: `"end"` ends the run (a refused tool call: `beforeModel` with
 *   `jumpTo: "end"`; a refused model call: a final AI message as a state update, which LangChain's routing
 *   ends the run on), `"error"` throws the typed refusal, `"continue"` (tools) answers the call with an error.
 *
 * Put it last in `middleware` (innermost) so every attempt of LangChain's retry and fallback middleware
 * is guarded on its own; first to guard each logical call once.
 */
export function agentSREMiddleware<K extends string = never>(
  sre: AgentSRE,
  options: AgentSREMiddlewareOptions<K> = {},
) {
  if (typeof options !== "object" || options === null) {
    throw new ConfigError("options", options, "an options object");
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      throw new ConfigError(`options.${key}`, key, `one of ${[...OPTION_KEYS].join(", ")}`);
    }
  }
  const toolErrors = checkToolErrors(options.toolErrors ?? "error");
  const baseModes = resolveModes(options.onViolation, defaultModes(toolErrors));
  const format = options.formatRefusal ?? defaultRefusalText;
  const clamp = options.clampMaxTokens ?? true;
  const defaultOutput = checkTokens(
    options.defaultMaxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
    "defaultMaxOutputTokens",
  );
  const minOutput = checkTokens(options.minOutputTokens ?? DEFAULT_MIN_OUTPUT_TOKENS, "minOutputTokens");
  const modelLimits = options.modelLimits ?? defaultModelLimits();
  const readContext = options.context ?? defaultContext;
  const taskIdOption = options.taskId;
  const toolCosts = options.toolCosts;
  const stateKey: string | undefined = options.usageStateKey;
  const registry = guardedCalls(sre);
  const record = checkRecorder(options.record);
  record?.attach(sre);
  const routeModels = modelTable(options.models);
  if (
    stateKey !== undefined &&
    (typeof stateKey !== "string" ||
      stateKey.length === 0 ||
      stateKey.startsWith("_") ||
      RESERVED_STATE_KEYS.has(stateKey))
  ) {
    throw new ConfigError(
      "usageStateKey",
      stateKey,
      'a non-empty state key not starting with "_" (and not "messages", "structuredResponse" or "jumpTo")',
    );
  }
  // Context objects already checked (an invocation passes one object to every call; check it once).
  const checkedContexts = new WeakSet<object>();

  const contextOf = (runtime: Runtime<unknown>): AgentSREContext | undefined => {
    const context = readContext(runtime);
    if (context === undefined || context === null) return undefined;
    if (typeof context !== "object") {
      throw new ConfigError("context.agentSRE", context, "an object { agentId?, taskId?, onViolation?, … }");
    }
    if (!checkedContexts.has(context)) {
      for (const key of Object.keys(context)) {
        if (!CONTEXT_KEYS.has(key)) {
          throw new ConfigError(`context.agentSRE.${key}`, key, `one of ${[...CONTEXT_KEYS].join(", ")}`);
        }
      }
      if (context.onViolation !== undefined) {
        resolveModes(context.onViolation, baseModes, "context.agentSRE.onViolation");
      }
      checkedContexts.add(context);
    }
    return context;
  };

  const agentIdOf = (context: AgentSREContext | undefined): string => {
    const agentId = context?.agentId ?? options.agentId;
    if (typeof agentId !== "string" || agentId.length === 0) {
      throw new ConfigError("agentId", agentId, "options.agentId or context.agentSRE.agentId");
    }
    return agentId;
  };

  const taskIdOf = (
    context: AgentSREContext | undefined,
    runtime: Runtime<unknown>,
    messages: readonly BaseMessage[],
  ): string | undefined => {
    if (context?.taskId !== undefined) return context.taskId;
    if (typeof taskIdOption === "string") return taskIdOption;
    const threadId = runtime.configurable?.thread_id;
    if (typeof taskIdOption === "function") return taskIdOption({ runtime, messages, threadId });
    return currentTurn(messages) ?? threadId;
  };

  const modesOf = (context: AgentSREContext | undefined): Modes =>
    context?.onViolation === undefined
      ? baseModes
      : resolveModes(context.onViolation, baseModes, "context.agentSRE.onViolation");

  const refusalText = (refusal: RefusalError, context: RefusalContext): string => {
    try {
      return format(refusal, context);
    } catch {
      return defaultRefusalText(refusal, context);
    }
  };

  // Retries (LangChain's retry middleware hands the same request back after a failure) are counted as
  // retries by the retry budget; a fallback model makes its own first attempt (the model is the variant).
  const failedTools = new FailedAttempts();
  const failedModels = new FailedAttempts();

  const wrapModelCall = async (
    request: SREModelRequest,
    handler: (request: SREModelRequest) => Promise<AIMessage> | AIMessage,
  ): Promise<AIMessage | Command> => {
    const runtime = request.runtime as Runtime<unknown>;
    const context = contextOf(runtime);
    const state = request.state as Record<string, unknown> | undefined;
    const stateMessages = (state?.messages as BaseMessage[] | undefined) ?? request.messages;
    // With structured output an early end has no structured response: a refusal is thrown instead, and
    // the state remembers it so a tool refusal later in the run does the same.
    const structured = request.responseFormat !== undefined;
    const markStructured = structured && state?.[STRUCTURED_KEY] !== true;

    const agentId = agentIdOf(context);
    const taskId = taskIdOf(context, runtime, stateMessages);
    const routed =
      sre.delivery === undefined
        ? undefined
        : routeRequest(sre.delivery, routeModels, agentId, taskId, request);
    if (routed !== undefined) request = routed.request;
    const info = modelInfo(request.model);
    // Clamping is possible when the model has a cap field; needed only if the cap can exceed the reservation.
    const clampable = clamp && info.maxTokensField !== undefined && isClampable(request.model);
    const provider = options.provider ?? info.provider;
    const limits = modelLimits.resolve(info.name, provider);
    let estimate = options.estimate?.(request as ModelRequest);
    if (estimate === undefined) {
      estimate = {
        inputTokens: estimateInputTokens(request.messages, request.systemMessage),
        outputTokens: reservedOutputTokens(info.maxTokens, defaultOutput, clampable, limits),
      };
      // The cap can be lowered for this call: the engine may admit it with fewer output tokens than the
      // reservation asks for (at least minOutputTokens) instead of refusing it.
      if (clampable) estimate.minOutputTokens = minOutput;
    }
    // A clamp is needed when the cap can exceed what the call may produce: a model without a cap, a cap
    // above the reservation, or a reservation the engine may have shrunk (minOutputTokens).
    const mayClamp =
      clampable &&
      (info.maxTokens === undefined ||
        info.maxTokens > (estimate.outputTokens ?? 0) ||
        estimate.minOutputTokens !== undefined);
    let produced: unknown;
    // One object shape for every call (optional fields present, possibly undefined).
    const call: GuardCall<unknown> = {
      kind: "model",
      agentId,
      taskId,
      name: info.name,
      provider,
      estimate,
      usage: () => usageFromMessage(aiMessageOf(produced), info.name),
      timeoutMs: context?.modelTimeoutMs ?? options.modelTimeoutMs,
      // LangChain's error types say whose failure it was (a 400 is the agent's, a 503 the model's).
      classifyFailure: classifyLangChainFailure,
      attempt: failedModels.attemptOf(request.messages, info.name),
    };

    const key = registry.handlers > 0 ? checkpointNamespace(runtime) : undefined;
    if (key !== undefined) registry.models.add(key);
    try {
      const holder = await sre.guard(
        call,
        // Not an async function: the handler's promise carries the usual call (one continuation, no frame).
        (_signal: AbortSignal | undefined, inFlight: GuardedCall) => {
          let next = request;
          if (routed?.shadow !== undefined && routed.route !== undefined && sre.delivery !== undefined) {
            mirrorCall(sre.delivery, routed.route, routed.shadow, request, provider);
          }
          const payload = inFlight.inputPayload;
          if (payload !== undefined) next = { ...next, messages: withInputPayload(next.messages, payload) };
          let clamped: unknown;
          if (mayClamp) {
            // Only when the budget binds, and never above the model's maximum output (a provider 400s that).
            const cap = outputTokenCap(inFlight.outputTokenAllowance, info.maxTokens, limits);
            if (cap !== undefined) clamped = withMaxTokens(next.model, cap);
          }
          record?.request(
            call,
            modelRequestOf(info.name, next.messages, next.systemMessage, next.tools),
            LANGCHAIN_API,
          );
          const settle = (output: unknown): { content: unknown } => {
            produced = output;
            record?.response(call, modelResponseOf(aiMessageOf(produced)));
            if (inFlight.resultPayload === undefined) return NO_PAYLOAD;
            return { content: aiMessageOf(produced)?.content ?? "" };
          };
          if (clamped === undefined) {
            const output = handler(next);
            return isThenable(output) ? Promise.resolve(output).then(settle) : settle(output);
          }
          const unclamped = next;
          return Promise.resolve()
            .then(() => handler({ ...unclamped, model: clamped as ModelRequest["model"] }))
            .catch((error: unknown) => {
              // A model class with #private members cannot run as a per-call view: run it unclamped.
              if (!isPrivateMemberError(error)) throw error;
              markUnclampable(unclamped.model);
              return handler(unclamped);
            })
            .then(settle);
        },
        runtime.signal === undefined ? undefined : { signal: runtime.signal },
      );
      if (holder !== NO_PAYLOAD) {
        const ai = aiMessageOf(produced);
        if (ai !== undefined) ai.content = holder.content as AIMessage["content"];
      }
      if (stateKey === undefined && !markStructured) return produced as AIMessage;
      // The handler's AI message is still appended; the Command only adds the state writes.
      const update: Record<string, unknown> = {};
      if (markStructured) update[STRUCTURED_KEY] = true;
      if (stateKey !== undefined) {
        const usage = usageFromMessage(aiMessageOf(produced), info.name);
        const previous = state?.[stateKey] as AgentSREUsageState | undefined;
        update[stateKey] = addUsage(previous, usage, sre, provider);
      }
      // A structured response (tool strategy) comes back as { structuredResponse, messages }: carried in
      // the same update, or the agent would lose it.
      const structuredResult = structuredResultOf(produced);
      if (structuredResult !== undefined) {
        update.structuredResponse = structuredResult.structuredResponse;
        update.messages = structuredResult.messages;
      }
      return new Command({ update });
    } catch (error) {
      failedModels.failed(request.messages, call.attempt ?? 1, info.name);
      if (!(error instanceof RefusalError)) throw error;
      const mode = modesOf(context).model[error.code];
      if (mode !== "end" || structured) throw error;
      // The run ends: the explanation is written to the state (a state update, not passed off as the
      // model's reply to outer middleware). It has no tool calls, so LangChain's own routing ends the run
      // right after this model step — and, unlike a jumpTo from an afterModel hook, still runs the other
      // middleware's afterModel and afterAgent hooks (e.g. modelCallLimitMiddleware's run-count reset),
      // without a graph node of our own on every model call.
      const refusalContext: RefusalContext = { kind: "model", name: info.name, agentId, action: "end" };
      const metadata = metadataOf(error, refusalContext, refusalText(error, refusalContext));
      return new Command({ update: { messages: [endMessage(metadata)] } });
    } finally {
      if (key !== undefined) registry.models.delete(key);
    }
  };

  const wrapToolCall = async (
    request: SREToolRequest,
    handler: (request: never) => Promise<ToolMessage | Command> | ToolMessage | Command,
  ): Promise<ToolMessage | Command> => {
    const runtime = request.runtime;
    const context = contextOf(runtime);
    const toolCall = request.toolCall;
    const name = toolCall.name;
    const toolCallId = toolCall.id ?? "";
    const agentId = agentIdOf(context);
    let produced: ToolMessage | Command | undefined;
    const cost = toolCosts?.[name];
    const call: GuardCall<unknown> = {
      kind: "tool",
      agentId,
      taskId: taskIdOf(
        context,
        runtime,
        (request.state?.messages as BaseMessage[] | undefined) ?? NO_MESSAGES,
      ),
      name,
      input: toolCall.args,
      estimate: cost === undefined ? undefined : { costUsd: cost },
      timeoutMs: context?.toolTimeoutMs ?? options.toolTimeoutMs,
      classifyFailure: classifyLangChainFailure,
      attempt: failedTools.attemptOf(toolCall),
    };

    const key = registry.handlers > 0 && toolCallId !== "" ? toolCallId : undefined;
    if (key !== undefined) registry.tools.add(key);
    try {
      const holder = await sre.guard(
        call,
        // Not an async function: the handler's promise carries the call (one continuation, no async frame).
        (_signal: AbortSignal | undefined, inFlight: GuardedCall) => {
          const settle = (output: ToolMessage | Command): { content: unknown } => {
            produced = output;
            record?.response(call, toolResponseOf(output));
            const isMessage = ToolMessage.isInstance(output);
            if (isMessage && output.status === "error") throw new ToolErrorResult(output);
            if (inFlight.resultPayload === undefined) return NO_PAYLOAD;
            return { content: isMessage ? output.content : "" };
          };
          const output = handler(request as never);
          return isThenable(output) ? Promise.resolve(output).then(settle) : settle(output);
        },
        runtime.signal === undefined ? undefined : { signal: runtime.signal },
      );
      if (holder !== NO_PAYLOAD && ToolMessage.isInstance(produced)) {
        produced.content = holder.content as ToolMessage["content"];
      }
      return produced as ToolMessage | Command;
    } catch (error) {
      failedTools.failed(toolCall, call.attempt ?? 1);
      if (error instanceof ToolErrorResult) return error.toolMessage;
      // Interrupts (human-in-the-loop) and aborted runs propagate, exactly as without middleware.
      if (isGraphBubbleUp(error) || runtime.signal?.aborted === true) throw error;
      if (error instanceof RefusalError) {
        const mode = modesOf(context).tool[error.code];
        if (mode === "error") throw error;
        // With structured output an early end has no structured response: the refusal is the signal.
        if (mode === "end" && request.state?.[STRUCTURED_KEY] === true) throw error;
        const refusalContext: RefusalContext = { kind: "tool", name, agentId, action: mode };
        const metadata = metadataOf(error, refusalContext, refusalText(error, refusalContext));
        const answer = refusalToolMessage(toolCallId, name, metadata);
        if (mode === "continue") return answer;
        // The call is answered; this middleware's beforeModel ends the run before the model runs again.
        return new Command({ update: { messages: [answer], [END_KEY]: metadata } });
      }
      // Schema-invalid arguments: LangChain turns these into its own error ToolMessage. An ordinary tool
      // error propagates as thrown (LangChain re-throws a handler's error unwrapped, so retry middleware
      // outside sees the tool's own error) unless the user opted into answering it.
      if (ToolInvocationError.isInstance(error) || toolErrors === "error") throw error;
      return new ToolMessage({
        content: `${error}\n Please fix your mistakes.`,
        tool_call_id: toolCallId,
        name,
        status: "error",
      });
    } finally {
      if (key !== undefined) registry.tools.delete(key);
    }
  };

  return createMiddleware({
    name: options.name ?? "AgentSREMiddleware",
    stateSchema: stateSchemaFor<K>(stateKey as K | undefined),
    // A custom context reader may read any key, so nothing is stripped for it.
    contextSchema:
      options.context === undefined ? contextSchema : (looseContextSchema as AgentSREContextSchema),
    wrapModelCall: (request, handler) =>
      wrapModelCall(
        request as unknown as SREModelRequest,
        handler as unknown as (r: SREModelRequest) => Promise<AIMessage>,
      ),
    wrapToolCall: (request, handler) =>
      wrapToolCall(
        request as unknown as SREToolRequest,
        handler as unknown as (r: never) => Promise<ToolMessage>,
      ),
    // A tool refused in "end" mode: the run ends before the model is called again (LangChain's own
    // graceful stop, as modelCallLimitMiddleware does it).
    beforeModel: {
      canJumpTo: ["end"],
      hook: (state) => {
        const ending = (state as Record<string, unknown>)[END_KEY] as RefusalMetadata | null | undefined;
        if (ending === undefined || ending === null) return undefined;
        return { messages: [endMessage(ending)], jumpTo: "end", [END_KEY]: null } as never;
      },
    },
  });
}

const RESERVED_STATE_KEYS: ReadonlySet<string> = new Set(["messages", "structuredResponse", "jumpTo"]);
