import {
  type AgentSRE,
  ConfigError,
  DEFAULT_MAX_OUTPUT_TOKENS,
  defaultModelLimits,
  FailedAttempts,
  failedWith,
  type GuardCall,
  type GuardedCall,
  type OutcomeMapping,
  type RefusalError,
  reservedOutputTokens,
} from "@agent-sre/core";
import type { AIMessage, BaseMessage, ToolMessage } from "@langchain/core/messages";
import type { Command } from "@langchain/langgraph";
import { createMiddleware, type ModelRequest, type Runtime } from "langchain";
import { checkpointNamespace, checkTokens, currentTurn, defaultContext } from "./call-helpers.js";
import {
  type CallSettings,
  isEntryClampable,
  ModelCall,
  type ModelEntry,
  type ModelHandler,
  runModel,
  type SREModelRequest,
} from "./model-call.js";
import { estimateInputTokens, modelInfo } from "./models.js";
import type { AgentSREMiddlewareOptions, TaskIdInput } from "./options.js";
import { checkRecorder } from "./record.js";
import {
  checkToolErrors,
  defaultModes,
  defaultRefusalText,
  endMessage,
  type Modes,
  type RefusalContext,
  type RefusalMetadata,
  resolveModes,
} from "./refusals.js";
import { guardedCalls } from "./registry.js";
import { modelTable, routeRequest } from "./routing.js";
import {
  type AgentSREContext,
  type AgentSREContextSchema,
  contextSchema,
  END_KEY,
  looseContextSchema,
  stateSchemaFor,
} from "./schema.js";
import { runTool, type SREToolRequest, ToolCall, type ToolHandler } from "./tool-call.js";

export type { AgentSREMiddlewareOptions, TaskIdInput } from "./options.js";
export type { AgentSREContext, AgentSREUsageState } from "./schema.js";

const DEFAULT_MIN_OUTPUT_TOKENS = 64;
const NO_MESSAGES: readonly BaseMessage[] = Object.freeze([]);

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

  // The context checked last: an invocation hands every call the same object (no WeakSet lookup then).
  let lastContext: AgentSREContext | undefined;
  // Small enough for V8 to inline into the hooks; the check of a new context object is out of line.
  const contextOf = (runtime: Runtime<unknown>): AgentSREContext | undefined => {
    const context = readContext(runtime);
    if (context === undefined || context === null) return undefined;
    return context === lastContext ? context : checkedContext(context);
  };

  const checkedContext = (context: AgentSREContext): AgentSREContext => {
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
    lastContext = context;
    return context;
  };

  // agentIdOf, taskIdOf and modelEntryOf are inlined into the hooks: their rare branches (a throw, a task id
  // function, a new model) are functions of their own, so the inlined bytecode stays within V8's budget for
  // modelCallOf (with them inline, `currentTurn` was left out of line: ~45 instructions a call).
  const agentIdOf = (context: AgentSREContext | undefined): string => {
    const agentId = context?.agentId ?? options.agentId;
    return typeof agentId === "string" && agentId.length > 0 ? agentId : noAgentId(agentId);
  };

  const taskIdOf = (
    context: AgentSREContext | undefined,
    runtime: Runtime<unknown>,
    messages: readonly BaseMessage[],
  ): string | undefined => {
    if (context?.taskId !== undefined) return context.taskId;
    if (typeof taskIdOption === "string") return taskIdOption;
    const threadId = runtime.configurable?.thread_id;
    if (typeof taskIdOption === "function")
      return taskIdFromOption(taskIdOption, runtime, messages, threadId);
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

  const settings: CallSettings = {
    sre,
    // The middleware's own agent bound once; an agent named by a run's context is looked up by its id.
    agentRef:
      typeof options.agentId === "string" && options.agentId.length > 0
        ? sre.agentRef(options.agentId)
        : undefined,
    registry,
    record,
    stateKey,
    failedModels,
    failedTools,
    toolErrors,
    clamp,
    modelTimeoutMs: options.modelTimeoutMs,
    toolTimeoutMs: options.toolTimeoutMs,
    modesOf,
    refusalText,
  };

  // The model an agent calls is usually the same object every step: its name, provider and limits are
  // looked up once for it (no WeakMap or catalog lookups per call then).
  let lastModel: unknown;
  let lastEntry: ModelEntry | undefined;
  const modelEntryOf = (model: unknown): ModelEntry =>
    model === lastModel && lastEntry !== undefined ? lastEntry : newModelEntry(model);

  const newModelEntry = (model: unknown): ModelEntry => {
    const info = modelInfo(model);
    const provider = options.provider ?? info.provider;
    const limits = modelLimits.resolve(info.name, provider);
    // The output reservation depends on the model alone (and whether its cap can be clamped): worked out
    // once here, not per call.
    const entry: ModelEntry = {
      settings,
      model,
      info,
      provider,
      limits,
      reservedOutputTokens: reservedOutputTokens(info.maxTokens, defaultOutput, false, limits),
      reservedClampedOutputTokens: reservedOutputTokens(info.maxTokens, defaultOutput, true, limits),
      clampable: false,
      clampableAt: -1,
    };
    lastModel = model;
    lastEntry = entry;
    return entry;
  };

  // The hooks are not async functions and await nothing: the engine's promise is the hook's, the call's
  // outcome translated in the engine's own reaction (`ModelCall` / `ToolCall`: the call object is the
  // engine's call, the adapter's state and the mapping at once); the handler's promise gets a `then` only
  // when the result must be looked at inside the call (a chaos payload, a clamp, a recorder).
  const wrapModelCall = (request: SREModelRequest, handler: ModelHandler): Promise<AIMessage | Command> => {
    let call: ModelCall;
    try {
      call = modelCallOf(request, handler);
    } catch (error) {
      return Promise.reject(error);
    }
    return guarded(call, runModel);
  };

  const modelCallOf = (request: SREModelRequest, handler: ModelHandler): ModelCall => {
    const runtime = request.runtime as Runtime<unknown>;
    const context = contextOf(runtime);
    const agentId = agentIdOf(context);
    const stateMessages =
      ((request.state as Record<string, unknown> | undefined)?.messages as BaseMessage[] | undefined) ??
      request.messages;
    const taskId = taskIdOf(context, runtime, stateMessages);
    const routed =
      sre.delivery === undefined
        ? undefined
        : routeRequest(sre.delivery, routeModels, agentId, taskId, request);
    if (routed !== undefined) request = routed.request;
    const entry = modelEntryOf(request.model);
    // Clamping is possible when the model has a cap field; needed only if the cap can exceed the reservation.
    const clampable = isEntryClampable(entry);
    let estimate = options.estimate?.(request as ModelRequest);
    if (estimate === undefined) {
      const inputTokens = estimateInputTokens(request.messages, request.systemMessage);
      const outputTokens = clampable ? entry.reservedClampedOutputTokens : entry.reservedOutputTokens;
      // The cap can be lowered for this call: the engine may admit it with fewer output tokens than the
      // reservation asks for (at least minOutputTokens) instead of refusing it. (Built whole: no property
      // added to the literal later.)
      estimate = clampable
        ? { inputTokens, outputTokens, minOutputTokens: minOutput }
        : { inputTokens, outputTokens };
    }
    // A clamp is needed when the cap can exceed what the call may produce: a model without a cap, a cap
    // above the reservation, or a reservation the engine may have shrunk (minOutputTokens).
    const maxTokens = entry.info.maxTokens;
    const mayClamp =
      clampable &&
      (maxTokens === undefined ||
        maxTokens > (estimate.outputTokens ?? 0) ||
        estimate.minOutputTokens !== undefined);
    const timeoutMs = context?.modelTimeoutMs ?? settings.modelTimeoutMs;
    // Before the call object is made (see ModelCall's constructor).
    const attempt = failedModels.attemptOf(request.messages, entry.info.name);
    const call = new ModelCall(
      request,
      handler,
      routed,
      agentId,
      taskId,
      entry,
      estimate,
      mayClamp,
      context,
      timeoutMs,
      attempt,
    );
    const key = registry.handlers > 0 ? checkpointNamespace(runtime) : undefined;
    if (key !== undefined) {
      call.key = key;
      registry.models.add(key);
    }
    return call;
  };

  /**
   * `sre.guard` with the outcome translated in the engine's own reaction to the call (no promise of ours);
   * a synchronous throw (a bad call) goes through `failed` too.
   */
  const guarded = <R>(
    call: GuardCall<unknown> & OutcomeMapping<unknown, R> & { request: { runtime: Runtime<unknown> } },
    run: (signal: AbortSignal | undefined, inFlight: GuardedCall) => unknown,
  ): Promise<R> => {
    const signal = call.request.runtime.signal;
    try {
      return sre.guard(call, run, signal === undefined ? undefined : { signal }, call);
    } catch (error) {
      return failedWith(call, error);
    }
  };

  const wrapToolCall = (request: SREToolRequest, handler: ToolHandler): Promise<ToolMessage | Command> => {
    let call: ToolCall;
    try {
      call = toolCallOf(request, handler);
    } catch (error) {
      return Promise.reject(error);
    }
    return guarded(call, runTool);
  };

  const toolCallOf = (request: SREToolRequest, handler: ToolHandler): ToolCall => {
    const runtime = request.runtime;
    const context = contextOf(runtime);
    const agentId = agentIdOf(context);
    const name = request.toolCall.name;
    const taskId = taskIdOf(
      context,
      runtime,
      (request.state?.messages as BaseMessage[] | undefined) ?? NO_MESSAGES,
    );
    const timeoutMs = context?.toolTimeoutMs ?? settings.toolTimeoutMs;
    const call = new ToolCall(
      settings,
      request,
      handler,
      agentId,
      taskId,
      toolCosts?.[name],
      context,
      timeoutMs,
    );
    const toolCallId = request.toolCall.id ?? "";
    const key = registry.handlers > 0 && toolCallId !== "" ? toolCallId : undefined;
    if (key !== undefined) {
      call.key = key;
      registry.tools.add(key);
    }
    return call;
  };

  return createMiddleware({
    name: options.name ?? "AgentSREMiddleware",
    stateSchema: stateSchemaFor<K>(stateKey as K | undefined),
    // A custom context reader may read any key, so nothing is stripped for it.
    contextSchema:
      options.context === undefined ? contextSchema : (looseContextSchema as AgentSREContextSchema),
    wrapModelCall: (request, handler) =>
      wrapModelCall(request as unknown as SREModelRequest, handler as unknown as ModelHandler),
    wrapToolCall: (request, handler) =>
      wrapToolCall(request as unknown as SREToolRequest, handler as unknown as ToolHandler),
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

function noAgentId(agentId: unknown): never {
  throw new ConfigError("agentId", agentId, "options.agentId or context.agentSRE.agentId");
}

function taskIdFromOption(
  taskId: (input: TaskIdInput) => string | undefined,
  runtime: Runtime<unknown>,
  messages: readonly BaseMessage[],
  threadId: string | undefined,
): string | undefined {
  return taskId({ runtime, messages, threadId });
}

const RESERVED_STATE_KEYS: ReadonlySet<string> = new Set(["messages", "structuredResponse", "jumpTo"]);
