import {
  type AgentSRE,
  type CallEstimate,
  ConfigError,
  type GuardCall,
  type GuardedCall,
  RefusalError,
  type UsageReport,
} from "@agent-sre/core";
import { type AIMessage, type BaseMessage, ToolMessage } from "@langchain/core/messages";
import { Command, isGraphBubbleUp } from "@langchain/langgraph";
import {
  type AgentMiddleware,
  createMiddleware,
  type ModelRequest,
  type Runtime,
  ToolInvocationError,
} from "langchain";
import { z } from "zod";
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
import {
  defaultRefusalText,
  endMessage,
  type ModeTable,
  metadataOf,
  type OnViolation,
  pendingEnd,
  type RefusalContext,
  type RefusalFormatter,
  refusalToolMessage,
  resolveModes,
} from "./refusals.js";
import { guardedCalls } from "./registry.js";
import { aiMessageOf, usageFromMessage } from "./usage.js";

/**
 * Per-invocation settings read from the agent's runtime context, by default from `context.agentSRE`:
 * `agent.invoke(input, { context: { agentSRE: { agentId: "billing-agent", taskId: "ticket-42" } } })`.
 * They win over the middleware's options, so one middleware instance can serve many agents and threads.
 */
export interface AgentSREContext {
  agentId?: string;
  taskId?: string;
  onViolation?: OnViolation;
  /** Tool-call timeout (ms) for this invocation; 0 disables. */
  toolTimeoutMs?: number;
  /** Model-call timeout (ms) for this invocation; 0 disables. */
  modelTimeoutMs?: number;
}

/** What `taskId` functions get to derive a task id. */
export interface TaskIdInput {
  runtime: Runtime<unknown>;
  /** The agent state's messages. */
  messages: readonly BaseMessage[];
  /** `configurable.thread_id`, when the run has one. */
  threadId: string | undefined;
}

/** Per-thread usage the middleware writes to the agent state when `usageStateKey` is set. */
export interface AgentSREUsageState {
  modelCalls: number;
  inputTokens: number;
  outputTokens: number;
  /** Priced from the engine's catalog (the provider's own reported cost when it has one). */
  costUsd: number;
}

export interface AgentSREMiddlewareOptions {
  /** The agent id calls are attributed to (budgets, breakers, allow-lists, quarantine). Or per invocation via context. */
  agentId?: string;
  /**
   * The task calls belong to (per-task budgets key on it). Default: the current user turn — the id of the
   * latest human message — so each request to the agent is a task; a run resumed after an interrupt stays
   * the same task. Return `threadId` to budget per conversation instead.
   */
  taskId?: string | ((input: TaskIdInput) => string | undefined);
  /** What refusals do, per call kind and refusal code (see the README). Defaults are production-safe. */
  onViolation?: OnViolation;
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
   * for a model whose cap the middleware can clamp. Default 1024.
   */
  defaultMaxOutputTokens?: number;
  /**
   * Estimate a model call yourself (the default counts ~4 characters a token, plus the model's output cap).
   * Set `minOutputTokens` in it to have the call admitted with a lower cap when the budget is short.
   */
  estimate?: (request: ModelRequest) => CallEstimate;
  /**
   * Clamp the model's output cap to what the task can still afford (`outputTokenAllowance`) when that is
   * lower than the cap. Default true.
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
  /** Write per-thread usage to this state key (persisted per thread with a checkpointer). Default: off. */
  usageStateKey?: string;
  /** Middleware name (must be unique within an agent). Default "AgentSREMiddleware". */
  name?: string;
}

const DEFAULT_MAX_OUTPUT_TOKENS = 1024;
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
 *   errors become error ToolMessages as they do without middleware; interrupts pass through.
 * - Refusals follow `onViolation`: end the run with an explanatory AI message, throw, or (tools) answer
 *   the call with an error ToolMessage.
 *
 * Put it first in `middleware` to guard each logical call once (retries inside count as one call); last
 * to guard every attempt.
 */
export function agentSREMiddleware(sre: AgentSRE, options: AgentSREMiddlewareOptions = {}): AgentMiddleware {
  const baseModes = resolveModes(options.onViolation);
  const format = options.formatRefusal ?? defaultRefusalText;
  const clamp = options.clampMaxTokens ?? true;
  const defaultOutput = checkTokens(
    options.defaultMaxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
    "defaultMaxOutputTokens",
  );
  const minOutput = checkTokens(options.minOutputTokens ?? DEFAULT_MIN_OUTPUT_TOKENS, "minOutputTokens");
  const readContext = options.context ?? defaultContext;
  const taskIdOption = options.taskId;
  const toolCosts = options.toolCosts;
  const stateKey = options.usageStateKey;
  const registry = guardedCalls(sre);
  if (
    stateKey !== undefined &&
    (typeof stateKey !== "string" || stateKey.length === 0 || stateKey === "messages")
  ) {
    throw new ConfigError("usageStateKey", stateKey, 'a non-empty state key other than "messages"');
  }

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

  const modesOf = (context: AgentSREContext | undefined): { model: ModeTable; tool: ModeTable } =>
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

  const wrapModelCall = async (
    request: ModelRequest<Record<string, unknown>, unknown>,
    handler: (request: ModelRequest<Record<string, unknown>, unknown>) => Promise<AIMessage> | AIMessage,
  ): Promise<AIMessage | Command> => {
    const runtime = request.runtime as Runtime<unknown>;
    const context = readContext(runtime);
    const stateMessages = (request.state?.messages as BaseMessage[] | undefined) ?? request.messages;

    // A tool refused in "end" mode: the run ends here, before the model is called again.
    const ended = pendingEnd(stateMessages);
    if (ended !== undefined) return endMessage(ended);

    const agentId = agentIdOf(context);
    const info = modelInfo(request.model);
    // Clamping is possible when the model has a cap field; needed only if the cap can exceed the reservation.
    const clampable = clamp && info.maxTokensField !== undefined && isClampable(request.model);
    let estimate = options.estimate?.(request as ModelRequest);
    if (estimate === undefined) {
      estimate = {
        inputTokens: estimateInputTokens(request.messages, request.systemMessage),
        outputTokens: outputEstimate(info, defaultOutput, clampable),
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
    const provider = options.provider ?? info.provider;
    let produced: unknown;
    // One object shape for every call (optional fields present, possibly undefined).
    const call: GuardCall<unknown> = {
      kind: "model",
      agentId,
      taskId: taskIdOf(context, runtime, stateMessages),
      name: info.name,
      provider,
      estimate,
      usage: () => usageFromMessage(aiMessageOf(produced), info.name),
      timeoutMs: context?.modelTimeoutMs ?? options.modelTimeoutMs,
    };

    const key = registry.handlers > 0 ? checkpointNamespace(runtime) : undefined;
    if (key !== undefined) registry.models.add(key);
    try {
      const holder = await sre.guard(
        call,
        async (_signal: AbortSignal | undefined, inFlight: GuardedCall) => {
          let next = request;
          const payload = inFlight.inputPayload;
          if (payload !== undefined) next = { ...next, messages: withInputPayload(next.messages, payload) };
          let clamped: unknown;
          if (mayClamp) {
            const allowance = inFlight.outputTokenAllowance;
            if (allowance < (info.maxTokens ?? Number.POSITIVE_INFINITY)) {
              clamped = withMaxTokens(next.model, Math.max(1, Math.floor(allowance)));
            }
          }
          if (clamped === undefined) {
            produced = await handler(next);
          } else {
            try {
              produced = await handler({ ...next, model: clamped as ModelRequest["model"] });
            } catch (error) {
              // A model class with #private members cannot run as a per-call view: run it unclamped.
              if (!isPrivateMemberError(error)) throw error;
              markUnclampable(next.model);
              produced = await handler(next);
            }
          }
          if (inFlight.resultPayload === undefined) return NO_PAYLOAD;
          return { content: aiMessageOf(produced)?.content ?? "" };
        },
        runtime.signal === undefined ? undefined : { signal: runtime.signal },
      );
      if (holder !== NO_PAYLOAD) {
        const ai = aiMessageOf(produced);
        if (ai !== undefined) ai.content = holder.content as AIMessage["content"];
      }
      if (stateKey !== undefined) {
        const usage = usageFromMessage(aiMessageOf(produced), info.name);
        const previous = request.state?.[stateKey] as AgentSREUsageState | undefined;
        return new Command({ update: { [stateKey]: addUsage(previous, usage, sre, provider) } });
      }
      return produced as AIMessage;
    } catch (error) {
      if (!(error instanceof RefusalError)) throw error;
      const mode = modesOf(context).model[error.code];
      if (mode === "error") throw error;
      const refusalContext: RefusalContext = { kind: "model", name: info.name, agentId, action: "end" };
      return endMessage(metadataOf(error, refusalContext, refusalText(error, refusalContext)));
    } finally {
      if (key !== undefined) registry.models.delete(key);
    }
  };

  const wrapToolCall = async (
    request: {
      toolCall: { name: string; args: Record<string, unknown>; id?: string };
      state: Record<string, unknown>;
      runtime: Runtime<unknown>;
    },
    handler: (request: never) => Promise<ToolMessage | Command> | ToolMessage | Command,
  ): Promise<ToolMessage | Command> => {
    const runtime = request.runtime;
    const context = readContext(runtime);
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
    };

    const key = registry.handlers > 0 && toolCallId !== "" ? toolCallId : undefined;
    if (key !== undefined) registry.tools.add(key);
    try {
      const holder = await sre.guard(
        call,
        async (_signal: AbortSignal | undefined, inFlight: GuardedCall) => {
          const output = await handler(request as never);
          produced = output;
          if (ToolMessage.isInstance(output) && output.status === "error") throw new ToolErrorResult(output);
          if (inFlight.resultPayload === undefined) return NO_PAYLOAD;
          return { content: ToolMessage.isInstance(output) ? output.content : "" };
        },
        runtime.signal === undefined ? undefined : { signal: runtime.signal },
      );
      if (holder !== NO_PAYLOAD && ToolMessage.isInstance(produced)) {
        produced.content = holder.content as ToolMessage["content"];
      }
      return produced as ToolMessage | Command;
    } catch (error) {
      if (error instanceof ToolErrorResult) return error.toolMessage;
      // Interrupts (human-in-the-loop) and aborted runs propagate, exactly as without middleware.
      if (isGraphBubbleUp(error) || runtime.signal?.aborted === true) throw error;
      if (error instanceof RefusalError) {
        const mode = modesOf(context).tool[error.code];
        if (mode === "error") throw error;
        const refusalContext: RefusalContext = { kind: "tool", name, agentId, action: mode };
        return refusalToolMessage(
          toolCallId,
          name,
          metadataOf(error, refusalContext, refusalText(error, refusalContext)),
        );
      }
      // Schema-invalid arguments: LangChain turns these into its own error ToolMessage.
      if (ToolInvocationError.isInstance(error)) throw error;
      // Any other tool error answers the call, as LangChain does when no wrapToolCall is installed.
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

  const name = options.name ?? "AgentSREMiddleware";
  const hooks = { wrapModelCall, wrapToolCall } as unknown as Pick<
    AgentMiddleware,
    "wrapModelCall" | "wrapToolCall"
  >;
  if (stateKey === undefined) return createMiddleware({ name, ...hooks }) as AgentMiddleware;
  return createMiddleware({
    name,
    stateSchema: z.object({ [stateKey]: usageStateSchema.optional() }),
    ...hooks,
  }) as unknown as AgentMiddleware;
}

const usageStateSchema = z.object({
  modelCalls: z.number(),
  inputTokens: z.number(),
  outputTokens: z.number(),
  costUsd: z.number(),
});

function defaultContext(runtime: Runtime<unknown>): AgentSREContext | undefined {
  const context = runtime.context as { agentSRE?: AgentSREContext } | undefined;
  return typeof context === "object" && context !== null ? context.agentSRE : undefined;
}

/** The id of the latest human message: the user turn the current calls serve. */
function currentTurn(messages: readonly BaseMessage[]): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i] as BaseMessage;
    if (message.type === "human") return message.id;
  }
  return undefined;
}

function checkpointNamespace(runtime: Runtime<unknown>): string | undefined {
  const namespace = runtime.configurable?.checkpoint_ns;
  return typeof namespace === "string" && namespace.length > 0 ? namespace : undefined;
}

/**
 * Output tokens to reserve. Without a cap, `defaultOutput`. With a cap the adapter can clamp, at most
 * `defaultOutput`: the cap itself is lowered to what the task can afford, so a call that can still do
 * useful work is not refused for its nominal cap. With a cap it cannot clamp, the cap (the worst case).
 */
function outputEstimate(info: ModelInfo, defaultOutput: number, clampable: boolean): number {
  if (info.maxTokens === undefined) return defaultOutput;
  return clampable && info.maxTokensField !== undefined
    ? Math.min(info.maxTokens, defaultOutput)
    : info.maxTokens;
}

function checkTokens(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(field, value, "an integer >= 0");
  return value;
}

function addUsage(
  previous: AgentSREUsageState | undefined,
  usage: UsageReport | undefined,
  sre: AgentSRE,
  provider: string | undefined,
): AgentSREUsageState {
  let costUsd = 0;
  if (usage !== undefined) {
    if (usage.costUsd !== undefined) costUsd = usage.costUsd;
    else if (usage.model !== undefined)
      costUsd = (sre.prices.costMicros(usage.model, usage, provider) ?? 0) / 1_000_000;
  }
  return {
    modelCalls: (previous?.modelCalls ?? 0) + 1,
    inputTokens: (previous?.inputTokens ?? 0) + (usage?.inputTokens ?? 0),
    outputTokens: (previous?.outputTokens ?? 0) + (usage?.outputTokens ?? 0),
    costUsd: (previous?.costUsd ?? 0) + costUsd,
  };
}
