// One guarded model call of the LangChain middleware: the engine's call object, the adapter's state of the
// call and its translation of the outcome (a refusal into a state update, the usage state) in one object,
// so a call allocates no closures and adds no promise of its own.
import {
  type AgentRef,
  type AgentSRE,
  type CallEstimate,
  type FailedAttempts,
  type GuardCall,
  type GuardedCall,
  type ModelLimits,
  type OutcomeMapping,
  type Recorder,
  RefusalError,
  refForAgent,
} from "@agent-sre/core";
import type { AIMessage } from "@langchain/core/messages";
import { Command } from "@langchain/langgraph";
import type { ModelRequest } from "langchain";
import { addUsage, isThenable, structuredResultOf } from "./call-helpers.js";
import { classifyLangChainFailure } from "./failure-class.js";
import {
  isPrivateMemberError,
  type ModelInfo,
  markUnclampable,
  withInputPayload,
  withMaxTokens,
} from "./models.js";
import { LANGCHAIN_API, modelRequestOf, modelResponseOf } from "./record.js";
import { endMessage, type Modes, metadataOf, type RefusalContext } from "./refusals.js";
import type { GuardedCalls } from "./registry.js";
import { mirrorCall, type routeRequest } from "./routing.js";
import { type AgentSREContext, type AgentSREUsageState, STRUCTURED_KEY } from "./schema.js";
import { aiMessageOf, usageFromMessage } from "./usage.js";

/** The request a model hook gets, over this middleware's state and context. */
export type SREModelRequest = ModelRequest<Record<string, unknown>, unknown>;
export type ModelHandler = (request: SREModelRequest) => Promise<AIMessage> | AIMessage;

/** What a guarded run returns when a chaos payload is to be placed in its result (the engine injects it here). */
type PayloadHolder = { content: unknown };

/** The middleware's settings and shared state every call reads (one object per middleware). */
export interface CallSettings {
  readonly sre: AgentSRE;
  /** `options.agentId` bound once (`sre.agentRef`), when the middleware has one. */
  readonly agentRef: AgentRef | undefined;
  readonly registry: GuardedCalls;
  readonly record: Recorder | undefined;
  readonly stateKey: string | undefined;
  readonly failedModels: FailedAttempts;
  readonly failedTools: FailedAttempts;
  readonly toolErrors: "error" | "continue";
  modesOf(context: AgentSREContext | undefined): Modes;
  refusalText(refusal: RefusalError, context: RefusalContext): string;
}

// Fields declared, not class fields: a class field compiles to an initializer defining each one before the
// constructor assigns it, and modelCallOf has no inlining budget left for it (callgrind: ~80 instructions
// a call more). ToolCall keeps class fields: its initializer is inlined and reads cheaper there (−26).
export class ModelCall implements GuardCall<unknown>, OutcomeMapping<unknown, AIMessage | Command> {
  declare readonly kind: "model";
  declare readonly agentId: string;
  /** The middleware's own agent bound once, when the call is that agent's (else undefined: looked up by id). */
  declare readonly agentRef: AgentRef | undefined;
  declare readonly taskId: string | undefined;
  declare readonly name: string;
  declare readonly provider: string | undefined;
  declare readonly estimate: CallEstimate;
  declare readonly timeoutMs: number | undefined;
  declare readonly attempt: number;
  declare readonly settings: CallSettings;
  declare readonly request: SREModelRequest;
  declare readonly handler: ModelHandler;
  declare readonly routed: ReturnType<typeof routeRequest> | undefined;
  declare readonly info: ModelInfo;
  declare readonly limits: ModelLimits | undefined;
  declare readonly mayClamp: boolean;
  declare readonly context: AgentSREContext | undefined;
  /** The checkpoint namespace the callback handler knows this call by, when one listens. */
  declare key: string | undefined;
  declare produced: unknown;
  /** The run handed the engine a payload holder instead of the output (a chaos payload goes into it). */
  declare holding: boolean;

  constructor(
    settings: CallSettings,
    request: SREModelRequest,
    handler: ModelHandler,
    routed: ReturnType<typeof routeRequest> | undefined,
    agentId: string,
    taskId: string | undefined,
    entry: { info: ModelInfo; provider: string | undefined; limits: ModelLimits | undefined },
    estimate: CallEstimate,
    mayClamp: boolean,
    context: AgentSREContext | undefined,
    timeoutMs: number | undefined,
  ) {
    const info = entry.info;
    this.kind = "model";
    this.agentId = agentId;
    this.agentRef = refForAgent(settings.agentRef, agentId);
    this.taskId = taskId;
    this.name = info.name;
    this.provider = entry.provider;
    this.estimate = estimate;
    this.timeoutMs = timeoutMs;
    this.attempt = settings.failedModels.attemptOf(request.messages, info.name);
    this.settings = settings;
    this.request = request;
    this.handler = handler;
    this.routed = routed;
    this.info = info;
    this.limits = entry.limits;
    this.mayClamp = mayClamp;
    this.context = context;
    this.key = undefined;
    this.produced = undefined;
    this.holding = false;
  }

  /** The engine hands the call's result here first: the handler's output, or a payload holder. */
  usage(result: unknown) {
    if (!this.holding) this.produced = result;
    return usageFromMessage(aiMessageOf(this.produced), this.info.name);
  }

  /** LangChain's error types say whose failure it was (a 400 is the agent's, a 503 the model's). */
  classifyFailure(error: unknown) {
    return classifyLangChainFailure(error);
  }

  /** The state of the run the call was made in. */
  get #state(): Record<string, unknown> | undefined {
    return this.request.state as Record<string, unknown> | undefined;
  }

  /**
   * With structured output an early end has no structured response: a refusal is thrown instead, and the
   * state remembers it (`markStructured`) so a tool refusal later in the run does the same.
   */
  get #structured(): boolean {
    return this.request.responseFormat !== undefined;
  }

  done(result: unknown): AIMessage | Command {
    const { key, produced, settings } = this;
    if (key !== undefined) settings.registry.models.delete(key);
    if (this.holding) {
      const ai = aiMessageOf(produced);
      if (ai !== undefined) ai.content = (result as PayloadHolder).content as AIMessage["content"];
    }
    const stateKey = settings.stateKey;
    const markStructured = this.#structured && this.#state?.[STRUCTURED_KEY] !== true;
    if (stateKey === undefined && !markStructured) return produced as AIMessage;
    // The handler's AI message is still appended; the Command only adds the state writes.
    const update: Record<string, unknown> = {};
    if (markStructured) update[STRUCTURED_KEY] = true;
    if (stateKey !== undefined) {
      const usage = usageFromMessage(aiMessageOf(produced), this.info.name);
      const previous = this.#state?.[stateKey] as AgentSREUsageState | undefined;
      update[stateKey] = addUsage(previous, usage, settings.sre, this.provider);
    }
    // A structured response (tool strategy) comes back as { structuredResponse, messages }: carried in
    // the same update, or the agent would lose it.
    const structuredResult = structuredResultOf(produced);
    if (structuredResult !== undefined) {
      update.structuredResponse = structuredResult.structuredResponse;
      update.messages = structuredResult.messages;
    }
    return new Command({ update });
  }

  failed(error: unknown): Command {
    const settings = this.settings;
    if (this.key !== undefined) settings.registry.models.delete(this.key);
    settings.failedModels.failed(this.request.messages, this.attempt, this.info.name);
    if (!(error instanceof RefusalError)) throw error;
    const mode = settings.modesOf(this.context).model[error.code];
    if (mode !== "end" || this.#structured) throw error;
    // The run ends: the explanation is written to the state (a state update, not passed off as the
    // model's reply to outer middleware). It has no tool calls, so LangChain's own routing ends the run
    // right after this model step — and, unlike a jumpTo from an afterModel hook, still runs the other
    // middleware's afterModel and afterAgent hooks (e.g. modelCallLimitMiddleware's run-count reset),
    // without a graph node of our own on every model call.
    const refusalContext: RefusalContext = {
      kind: "model",
      name: this.info.name,
      agentId: this.agentId,
      action: "end",
    };
    const metadata = metadataOf(error, refusalContext, settings.refusalText(error, refusalContext));
    return new Command({ update: { messages: [endMessage(metadata)] } });
  }
}

/** The guarded run of a model call (one function for every call: its state is the engine's call object). */
export function runModel(_signal: AbortSignal | undefined, inFlight: GuardedCall): unknown {
  const call = inFlight.call as unknown as ModelCall;
  const { request, routed, settings } = call;
  const delivery = settings.sre.delivery;
  if (routed?.shadow !== undefined && routed.route !== undefined && delivery !== undefined) {
    mirrorCall(delivery, routed.route, routed.shadow, request, call.provider);
  }
  let next = request;
  const payload = inFlight.inputPayload;
  if (payload !== undefined) next = { ...next, messages: withInputPayload(next.messages, payload) };
  let clamped: unknown;
  if (call.mayClamp) {
    // Only when the budget binds, and never above the model's maximum output (a provider 400s that).
    const cap = inFlight.outputTokenCap(call.info.maxTokens, call.limits);
    if (cap !== undefined) clamped = withMaxTokens(next.model, cap);
  }
  const record = settings.record;
  // The usual call: the handler's own promise (its output reaches `usage` above).
  if (clamped === undefined && record === undefined && inFlight.resultPayload === undefined) {
    return call.handler(next);
  }
  return runLookedAt(call, inFlight, next, clamped);
}

/** A model call whose result is looked at inside the call: a chaos payload, a clamp, a recorder. */
function runLookedAt(
  call: ModelCall,
  inFlight: GuardedCall,
  next: SREModelRequest,
  clamped: unknown,
): unknown {
  const { handler, settings } = call;
  const record = settings.record;
  record?.request(
    call,
    modelRequestOf(call.info.name, next.messages, next.systemMessage, next.tools),
    LANGCHAIN_API,
  );
  const settle = (output: unknown): unknown => {
    call.produced = output;
    record?.response(call, modelResponseOf(aiMessageOf(output)));
    if (inFlight.resultPayload === undefined) return output;
    call.holding = true;
    return { content: aiMessageOf(output)?.content ?? "" };
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
}
