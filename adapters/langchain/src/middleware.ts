import {
  type AgentSRE,
  ConfigError,
  DEFAULT_MAX_OUTPUT_TOKENS,
  defaultModelLimits,
  FailedAttempts,
  type GuardCall,
  type GuardedCall,
  type ModelLimits,
  RefusalError,
  reservedOutputTokens,
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
  type ModelInfo,
  markUnclampable,
  modelInfo,
  withInputPayload,
  withMaxTokens,
} from "./models.js";
import type { AgentSREMiddlewareOptions } from "./options.js";
import { checkRecorder, LANGCHAIN_API, modelRequestOf, modelResponseOf, toolResponseOf } from "./record.js";
import {
  checkToolErrors,
  defaultModes,
  defaultRefusalText,
  endMessage,
  type Modes,
  metadataOf,
  type RefusalContext,
  type RefusalMetadata,
  refusalToolMessage,
  resolveModes,
} from "./refusals.js";
import { guardedCalls } from "./registry.js";
import { mirrorCall, modelTable, routeRequest } from "./routing.js";
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

export type { AgentSREMiddlewareOptions, TaskIdInput } from "./options.js";
export type { AgentSREContext, AgentSREUsageState } from "./schema.js";

const DEFAULT_MIN_OUTPUT_TOKENS = 64;
/** What a guarded run returns when a chaos payload is to be placed in its result (the engine injects it here). */
type PayloadHolder = { content: unknown };
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

  // The model an agent calls is usually the same object every step: its name, provider and limits are
  // looked up once for it (no WeakMap or catalog lookups per call then).
  let lastModel: unknown;
  let lastEntry:
    | { info: ModelInfo; provider: string | undefined; limits: ModelLimits | undefined }
    | undefined;
  const modelEntryOf = (model: unknown) => {
    if (model === lastModel && lastEntry !== undefined) return lastEntry;
    const info = modelInfo(model);
    const provider = options.provider ?? info.provider;
    const entry = { info, provider, limits: modelLimits.resolve(info.name, provider) };
    lastModel = model;
    lastEntry = entry;
    return entry;
  };

  // The hooks are not async functions and await nothing: the engine's promise gets one `then` (the outcome:
  // state writes, refusals, the registry), and the handler's promise one more only when the result must be
  // looked at inside the call (a chaos payload, a clamp, a recorder; a tool's error status).
  const wrapModelCall = (
    request: SREModelRequest,
    handler: (request: SREModelRequest) => Promise<AIMessage> | AIMessage,
  ): Promise<AIMessage | Command> => {
    try {
      return guardModelCall(request, handler);
    } catch (error) {
      return Promise.reject(error);
    }
  };

  const guardModelCall = (
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
    const { info, provider, limits } = modelEntryOf(request.model);
    // Clamping is possible when the model has a cap field; needed only if the cap can exceed the reservation.
    const clampable = clamp && info.maxTokensField !== undefined && isClampable(request.model);
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
    // The run handed the engine a payload holder instead of the output (a chaos payload goes into it).
    let holding = false;
    // One object shape for every call (optional fields present, possibly undefined).
    const call: GuardCall<unknown> = {
      kind: "model",
      agentId,
      taskId,
      name: info.name,
      provider,
      estimate,
      // The engine hands the call's result here first: the handler's output, or a payload holder.
      usage: (result: unknown) => {
        if (!holding) produced = result;
        return usageFromMessage(aiMessageOf(produced), info.name);
      },
      timeoutMs: context?.modelTimeoutMs ?? options.modelTimeoutMs,
      // LangChain's error types say whose failure it was (a 400 is the agent's, a 503 the model's).
      classifyFailure: classifyLangChainFailure,
      attempt: failedModels.attemptOf(request.messages, info.name),
    };

    const run = (_signal: AbortSignal | undefined, inFlight: GuardedCall): unknown => {
      let next = request;
      if (routed?.shadow !== undefined && routed.route !== undefined && sre.delivery !== undefined) {
        mirrorCall(sre.delivery, routed.route, routed.shadow, request, provider);
      }
      const payload = inFlight.inputPayload;
      if (payload !== undefined) next = { ...next, messages: withInputPayload(next.messages, payload) };
      let clamped: unknown;
      if (mayClamp) {
        // Only when the budget binds, and never above the model's maximum output (a provider 400s that).
        const cap = inFlight.outputTokenCap(info.maxTokens, limits);
        if (cap !== undefined) clamped = withMaxTokens(next.model, cap);
      }
      // The usual call: the handler's own promise (its output reaches `usage` above).
      if (clamped === undefined && record === undefined && inFlight.resultPayload === undefined) {
        return handler(next);
      }
      record?.request(
        call,
        modelRequestOf(info.name, next.messages, next.systemMessage, next.tools),
        LANGCHAIN_API,
      );
      const settle = (output: unknown): unknown => {
        produced = output;
        record?.response(call, modelResponseOf(aiMessageOf(produced)));
        if (inFlight.resultPayload === undefined) return output;
        holding = true;
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
    };

    const done = (result: unknown): AIMessage | Command => {
      if (key !== undefined) registry.models.delete(key);
      if (holding) {
        const ai = aiMessageOf(produced);
        if (ai !== undefined) ai.content = (result as PayloadHolder).content as AIMessage["content"];
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
    };

    const failed = (error: unknown): Command => {
      if (key !== undefined) registry.models.delete(key);
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
    };

    const key = registry.handlers > 0 ? checkpointNamespace(runtime) : undefined;
    if (key !== undefined) registry.models.add(key);
    return guarded(call, run, runtime.signal).then(done, failed);
  };

  /** `sre.guard`, a synchronous throw (a bad call) as a rejection. */
  const guarded = (
    call: GuardCall<unknown>,
    run: (signal: AbortSignal | undefined, inFlight: GuardedCall) => unknown,
    signal: AbortSignal | undefined,
  ): Promise<unknown> => {
    try {
      return sre.guard(call, run, signal === undefined ? undefined : { signal });
    } catch (error) {
      return Promise.reject(error);
    }
  };

  const wrapToolCall = (
    request: SREToolRequest,
    handler: (request: never) => Promise<ToolMessage | Command> | ToolMessage | Command,
  ): Promise<ToolMessage | Command> => {
    try {
      return guardToolCall(request, handler);
    } catch (error) {
      return Promise.reject(error);
    }
  };

  const guardToolCall = (
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
    let holding = false;
    /** The call, while the engine hands the tool's output to `usage` below (the usual call's path). */
    let judging: GuardedCall | undefined;
    /** The tool answered with an error ToolMessage: a failed call for the engine, returned as it is. */
    let answeredError = false;
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
      // The usual call: the engine hands the tool's output here before it settles the call; an error
      // ToolMessage fails it then (a call settles once: the engine's success that follows is a no-op).
      usage: (output: unknown) => {
        if (judging === undefined) return undefined;
        produced = output as ToolMessage | Command;
        if (ToolMessage.isInstance(output) && output.status === "error") {
          answeredError = true;
          judging.fail(new ToolErrorResult(output));
        }
        return undefined;
      },
    };

    // The tool's output is looked at inside the call: an error ToolMessage is a failed call for the engine.
    const run = (_signal: AbortSignal | undefined, inFlight: GuardedCall): unknown => {
      if (record === undefined && inFlight.resultPayload === undefined) {
        // No promise of ours: the handler's output reaches `usage` above.
        judging = inFlight;
        return handler(request as never);
      }
      const settle = (output: ToolMessage | Command): unknown => {
        produced = output;
        record?.response(call, toolResponseOf(output));
        const isMessage = ToolMessage.isInstance(output);
        if (isMessage && output.status === "error") throw new ToolErrorResult(output);
        if (inFlight.resultPayload === undefined) return output;
        holding = true;
        return { content: isMessage ? output.content : "" };
      };
      const output = handler(request as never);
      return isThenable(output) ? Promise.resolve(output).then(settle) : settle(output);
    };

    const done = (result: unknown): ToolMessage | Command => {
      if (key !== undefined) registry.tools.delete(key);
      if (answeredError) failedTools.failed(toolCall, call.attempt ?? 1);
      if (holding && ToolMessage.isInstance(produced)) {
        produced.content = (result as PayloadHolder).content as ToolMessage["content"];
      }
      return produced as ToolMessage | Command;
    };

    const failed = (error: unknown): ToolMessage | Command => {
      if (key !== undefined) registry.tools.delete(key);
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
    };

    const key = registry.handlers > 0 && toolCallId !== "" ? toolCallId : undefined;
    if (key !== undefined) registry.tools.add(key);
    return guarded(call, run, runtime.signal).then(done, failed);
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
