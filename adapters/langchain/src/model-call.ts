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
  isClampable,
  isPrivateMemberError,
  type ModelInfo,
  markUnclampable,
  unclampableCount,
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
  /** `options.clampMaxTokens`: whether a call's output cap may be lowered to what its task can afford. */
  readonly clamp: boolean;
  /** `options.modelTimeoutMs` / `options.toolTimeoutMs` (a run's context may override them per call). */
  readonly modelTimeoutMs: number | undefined;
  readonly toolTimeoutMs: number | undefined;
  modesOf(context: AgentSREContext | undefined): Modes;
  refusalText(refusal: RefusalError, context: RefusalContext): string;
}

/** A chat model as the middleware knows it: resolved once per model instance it sees. */
export interface ModelEntry {
  readonly settings: CallSettings;
  /** The chat model (the object `request.model` was when the entry was made). */
  readonly model: unknown;
  readonly info: ModelInfo;
  readonly provider: string | undefined;
  readonly limits: ModelLimits | undefined;
  /** The call's output reservation, when the model's cap is not clamped / is clamped per call. */
  readonly reservedOutputTokens: number;
  readonly reservedClampedOutputTokens: number;
  /** Whether the cap may be clamped per call, as of `clampableAt` (see `unclampableCount`). */
  clampable: boolean;
  clampableAt: number;
}

/** `ModelCall.held` before the run handed the engine a payload holder (the handler's output may be undefined). */
const NOT_HELD: unique symbol = Symbol("not held");

// Fields declared, not class fields: a class field compiles to an initializer defining each one before the
// constructor assigns it, and modelCallOf has no inlining budget left for it (callgrind: ~80 instructions
// a call more). The object holds only what varies per call (16 fields, 152 bytes on Node 20, was 184): what
// is the same for every call of a model (settings, model info, limits) is one `entry` field and `kind` is on
// the prototype. (`timeoutMs` stays a field: a getter cost the engine's pre-flight ~20 instructions a call.)
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
  /** The model's entry: its info, limits and the middleware's settings. */
  declare readonly entry: ModelEntry;
  declare readonly request: SREModelRequest;
  declare readonly handler: ModelHandler;
  declare readonly routed: ReturnType<typeof routeRequest> | undefined;
  declare readonly context: AgentSREContext | undefined;
  /** The call's output cap may be lowered to what its task can afford (worked out with its estimate). */
  declare readonly mayClamp: boolean;
  /** The checkpoint namespace the callback handler knows this call by, when one listens. */
  declare key: string | undefined;
  /**
   * The handler's output, once the run handed the engine a payload holder instead of it (a chaos payload
   * goes into the holder); `NOT_HELD` before (the engine's result is then the output itself).
   */
  declare held: unknown;

  constructor(
    request: SREModelRequest,
    handler: ModelHandler,
    routed: ReturnType<typeof routeRequest> | undefined,
    agentId: string,
    taskId: string | undefined,
    entry: ModelEntry,
    estimate: CallEstimate,
    mayClamp: boolean,
    context: AgentSREContext | undefined,
    timeoutMs: number | undefined,
    /**
     * Worked out before the object is made: the call (out of line in the constructor) made V8 write the
     * object's map and a write barrier at each store after it.
     */
    attempt: number,
  ) {
    this.agentId = agentId;
    this.agentRef = refForAgent(entry.settings.agentRef, agentId);
    this.taskId = taskId;
    this.name = entry.info.name;
    this.provider = entry.provider;
    this.estimate = estimate;
    this.timeoutMs = timeoutMs;
    this.attempt = attempt;
    this.entry = entry;
    this.request = request;
    this.handler = handler;
    this.routed = routed;
    this.context = context;
    this.mayClamp = mayClamp;
    this.key = undefined;
    this.held = NOT_HELD;
  }

  /** The engine hands the call's result here first: the handler's output, or a payload holder. */
  usage(result: unknown) {
    const held = this.held;
    return usageFromMessage(aiMessageOf(held === NOT_HELD ? result : held), this.name);
  }

  /** LangChain's error types say whose failure it was (a 400 is the agent's, a 503 the model's). */
  classifyFailure(error: unknown) {
    return classifyLangChainFailure(error);
  }

  done(result: unknown): AIMessage | Command {
    const { key, held } = this;
    const settings = this.entry.settings;
    if (key !== undefined) settings.registry.models.delete(key);
    // Not held: the engine's result is the handler's output itself.
    let produced = result;
    if (held !== NOT_HELD) {
      produced = held;
      const ai = aiMessageOf(held);
      if (ai !== undefined) ai.content = (result as PayloadHolder).content as AIMessage["content"];
    }
    const stateKey = settings.stateKey;
    const request = this.request;
    const markStructured = isStructured(request) && stateOf(request)?.[STRUCTURED_KEY] !== true;
    if (stateKey === undefined && !markStructured) return produced as AIMessage;
    // The handler's AI message is still appended; the Command only adds the state writes.
    const update: Record<string, unknown> = {};
    if (markStructured) update[STRUCTURED_KEY] = true;
    if (stateKey !== undefined) {
      const usage = usageFromMessage(aiMessageOf(produced), this.name);
      const previous = stateOf(request)?.[stateKey] as AgentSREUsageState | undefined;
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
    const settings = this.entry.settings;
    if (this.key !== undefined) settings.registry.models.delete(this.key);
    settings.failedModels.failed(this.request.messages, this.attempt, this.name);
    if (!(error instanceof RefusalError)) throw error;
    const mode = settings.modesOf(this.context).model[error.code];
    if (mode !== "end" || isStructured(this.request)) throw error;
    // The run ends: the explanation is written to the state (a state update, not passed off as the
    // model's reply to outer middleware). It has no tool calls, so LangChain's own routing ends the run
    // right after this model step — and, unlike a jumpTo from an afterModel hook, still runs the other
    // middleware's afterModel and afterAgent hooks (e.g. modelCallLimitMiddleware's run-count reset),
    // without a graph node of our own on every model call.
    const refusalContext: RefusalContext = {
      kind: "model",
      name: this.name,
      agentId: this.agentId,
      action: "end",
    };
    const metadata = metadataOf(error, refusalContext, settings.refusalText(error, refusalContext));
    return new Command({ update: { messages: [endMessage(metadata)] } });
  }
}

// Plain functions, not private getters: V8 reads a private accessor through a runtime call (callgrind: ~40
// instructions a model call for the one in `done`).
/** The state of the run the call was made in. */
function stateOf(request: SREModelRequest): Record<string, unknown> | undefined {
  return request.state as Record<string, unknown> | undefined;
}

/**
 * With structured output an early end has no structured response: a refusal is thrown instead, and the
 * state remembers it (`markStructured`) so a tool refusal later in the run does the same.
 */
function isStructured(request: SREModelRequest): boolean {
  return request.responseFormat !== undefined;
}

// On the prototype: the engine reads it like a field (a constant of the call's map), and no call stores it.
Object.defineProperty(ModelCall.prototype, "kind", { value: "model" });

/**
 * Whether a call of this entry's model may have its output cap clamped: the option, a cap field, and a class
 * not found unclampable (re-checked only after one was: `unclampableCount` moved).
 */
export function isEntryClampable(entry: ModelEntry): boolean {
  // The usual call: the answer cached for the entry is current (inlined; the check itself out of line).
  return entry.clampableAt === unclampableCount() ? entry.clampable : checkClampable(entry);
}

function checkClampable(entry: ModelEntry): boolean {
  entry.clampable =
    entry.settings.clamp && entry.info.maxTokensField !== undefined && isClampable(entry.model);
  entry.clampableAt = unclampableCount();
  return entry.clampable;
}

/** The guarded run of a model call (one function for every call: its state is the engine's call object). */
export function runModel(_signal: AbortSignal | undefined, inFlight: GuardedCall): unknown {
  const call = inFlight.call as unknown as ModelCall;
  // The usual call: nothing to mirror, clamp or record and no chaos payload: the handler's own promise (its
  // output reaches `usage` above).
  if (
    !call.mayClamp &&
    call.routed === undefined &&
    inFlight.inputPayload === undefined &&
    inFlight.resultPayload === undefined &&
    call.entry.settings.record === undefined
  ) {
    return call.handler(call.request);
  }
  return runFull(call, inFlight);
}

function runFull(call: ModelCall, inFlight: GuardedCall): unknown {
  const { request, routed, entry } = call;
  const settings = entry.settings;
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
    const cap = inFlight.outputTokenCap(entry.info.maxTokens, entry.limits);
    if (cap !== undefined) clamped = withMaxTokens(next.model, cap);
  }
  // Routed, or a cap that could be clamped and was not: still the handler's own promise.
  if (clamped === undefined && settings.record === undefined && inFlight.resultPayload === undefined) {
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
  const handler = call.handler;
  const record = call.entry.settings.record;
  record?.request(
    call,
    modelRequestOf(call.name, next.messages, next.systemMessage, next.tools),
    LANGCHAIN_API,
  );
  const settle = (output: unknown): unknown => {
    record?.response(call, modelResponseOf(aiMessageOf(output)));
    if (inFlight.resultPayload === undefined) return output;
    call.held = output;
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
