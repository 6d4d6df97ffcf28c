// One guarded tool call of the LangChain middleware: the engine's call object, the adapter's state of the
// call and its translation of the outcome (a refusal into a ToolMessage or a Command, an error ToolMessage
// into a failed call) in one object, so a call allocates no closures and adds no promise of its own.
import {
  type AgentRef,
  type CallEstimate,
  type GuardCall,
  type GuardedCall,
  type OutcomeMapping,
  RefusalError,
  refForAgent,
} from "@agent-sre/core";
import { ToolMessage } from "@langchain/core/messages";
import { Command, isGraphBubbleUp } from "@langchain/langgraph";
import { type Runtime, ToolInvocationError } from "langchain";
import { isThenable } from "./call-helpers.js";
import { classifyLangChainFailure } from "./failure-class.js";
import type { CallSettings } from "./model-call.js";
import { toolResponseOf } from "./record.js";
import { metadataOf, type RefusalContext, refusalToolMessage } from "./refusals.js";
import { type AgentSREContext, END_KEY, STRUCTURED_KEY } from "./schema.js";

export type SREToolRequest = {
  toolCall: { name: string; args: Record<string, unknown>; id?: string };
  state: Record<string, unknown>;
  runtime: Runtime<unknown>;
};
export type ToolHandler = (request: never) => Promise<ToolMessage | Command> | ToolMessage | Command;

/** What a guarded run returns when a chaos payload is to be placed in its result (the engine injects it here). */
type PayloadHolder = { content: unknown };

/** A tool answered with an error ToolMessage: a failed call for the engine, returned to the model unchanged. */
class ToolErrorResult extends Error {
  readonly toolMessage: ToolMessage;
  constructor(toolMessage: ToolMessage) {
    super(typeof toolMessage.content === "string" ? toolMessage.content : "tool returned an error");
    this.name = "ToolErrorResult";
    this.toolMessage = toolMessage;
  }
}

/** `ToolCall.held` before the run handed the engine a payload holder (the tool's output may be undefined). */
const NOT_HELD: unique symbol = Symbol("not held");

// 16 fields (152 bytes on Node 20, was 168): `kind` is on the prototype, the output and whether the engine
// got a payload holder for it are one field (`held`).
export class ToolCall implements GuardCall<unknown>, OutcomeMapping<unknown, ToolMessage | Command> {
  declare readonly kind: "tool";
  readonly agentId: string;
  /** The middleware's own agent bound once, when the call is that agent's (else undefined: looked up by id). */
  readonly agentRef: AgentRef | undefined;
  readonly taskId: string | undefined;
  readonly name: string;
  readonly input: Record<string, unknown>;
  readonly estimate: CallEstimate | undefined;
  readonly timeoutMs: number | undefined;
  readonly attempt: number;
  readonly settings: CallSettings;
  readonly request: SREToolRequest;
  readonly handler: ToolHandler;
  readonly context: AgentSREContext | undefined;
  /** The callback handler knows this call by its tool call id, when one listens. */
  key: string | undefined;
  /** The call, while the engine hands the tool's output to `usage` below (the usual call's path). */
  judging: GuardedCall | undefined;
  /** The tool answered with an error ToolMessage: a failed call for the engine, returned as it is. */
  answeredError: boolean;
  /**
   * The tool's output, once the run handed the engine a payload holder instead of it (a chaos payload goes
   * into the holder); `NOT_HELD` before (the engine's result is then the output itself).
   */
  held: unknown;

  constructor(
    settings: CallSettings,
    request: SREToolRequest,
    handler: ToolHandler,
    agentId: string,
    taskId: string | undefined,
    cost: number | undefined,
    context: AgentSREContext | undefined,
    timeoutMs: number | undefined,
  ) {
    const toolCall = request.toolCall;
    this.agentId = agentId;
    this.agentRef = refForAgent(settings.agentRef, agentId);
    this.taskId = taskId;
    this.name = toolCall.name;
    this.input = toolCall.args;
    this.estimate = cost === undefined ? undefined : { costUsd: cost };
    this.timeoutMs = timeoutMs;
    this.attempt = settings.failedTools.attemptOf(toolCall);
    this.settings = settings;
    this.request = request;
    this.handler = handler;
    this.context = context;
    this.key = undefined;
    this.judging = undefined;
    this.answeredError = false;
    this.held = NOT_HELD;
  }

  /**
   * The usual call: the engine hands the tool's output here before it settles the call; an error
   * ToolMessage fails it then (a call settles once: the engine's success that follows is a no-op).
   */
  usage(output: unknown) {
    const judging = this.judging;
    if (judging === undefined) return undefined;
    if (ToolMessage.isInstance(output) && output.status === "error") {
      this.answeredError = true;
      judging.fail(new ToolErrorResult(output));
    }
    return undefined;
  }

  /** LangChain's error types say whose failure it was (schema-invalid arguments are the agent's). */
  classifyFailure(error: unknown) {
    return classifyLangChainFailure(error);
  }

  done(result: unknown): ToolMessage | Command {
    const settings = this.settings;
    if (this.key !== undefined) settings.registry.tools.delete(this.key);
    if (this.answeredError) settings.failedTools.failed(this.request.toolCall, this.attempt);
    const held = this.held;
    // Not held: the engine's result is the tool's output itself.
    if (held === NOT_HELD) return result as ToolMessage | Command;
    if (ToolMessage.isInstance(held))
      held.content = (result as PayloadHolder).content as ToolMessage["content"];
    return held as ToolMessage | Command;
  }

  failed(error: unknown): ToolMessage | Command {
    const { settings, request, name } = this;
    if (this.key !== undefined) settings.registry.tools.delete(this.key);
    settings.failedTools.failed(request.toolCall, this.attempt);
    if (error instanceof ToolErrorResult) return error.toolMessage;
    // Interrupts (human-in-the-loop) and aborted runs propagate, exactly as without middleware.
    if (isGraphBubbleUp(error) || request.runtime.signal?.aborted === true) throw error;
    const toolCallId = request.toolCall.id ?? "";
    if (error instanceof RefusalError) {
      const mode = settings.modesOf(this.context).tool[error.code];
      if (mode === "error") throw error;
      // With structured output an early end has no structured response: the refusal is the signal.
      if (mode === "end" && request.state?.[STRUCTURED_KEY] === true) throw error;
      const refusalContext: RefusalContext = { kind: "tool", name, agentId: this.agentId, action: mode };
      const metadata = metadataOf(error, refusalContext, settings.refusalText(error, refusalContext));
      const answer = refusalToolMessage(toolCallId, name, metadata);
      if (mode === "continue") return answer;
      // The call is answered; this middleware's beforeModel ends the run before the model runs again.
      return new Command({ update: { messages: [answer], [END_KEY]: metadata } });
    }
    // Schema-invalid arguments: LangChain turns these into its own error ToolMessage. An ordinary tool
    // error propagates as thrown (LangChain re-throws a handler's error unwrapped, so retry middleware
    // outside sees the tool's own error) unless the user opted into answering it.
    if (ToolInvocationError.isInstance(error) || settings.toolErrors === "error") throw error;
    return new ToolMessage({
      content: `${error}\n Please fix your mistakes.`,
      tool_call_id: toolCallId,
      name,
      status: "error",
    });
  }
}

// On the prototype: the engine reads it like a field (a constant of the call's map), and no call stores it.
Object.defineProperty(ToolCall.prototype, "kind", { value: "tool" });

/**
 * The guarded run of a tool call (one function for every call: its state is the engine's call object).
 * The tool's output is looked at inside the call: an error ToolMessage is a failed call for the engine.
 */
export function runTool(_signal: AbortSignal | undefined, inFlight: GuardedCall): unknown {
  const call = inFlight.call as unknown as ToolCall;
  if (call.settings.record === undefined && inFlight.resultPayload === undefined) {
    // No promise of ours: the handler's output reaches `usage` above.
    call.judging = inFlight;
    return call.handler(call.request as never);
  }
  return runLookedAt(call, inFlight);
}

/**
 * A tool call whose result is looked at inside the call: a recorder, a chaos payload. (Out of `runTool`: a
 * function with a closure allocates its context on every call, whichever branch runs.)
 */
function runLookedAt(call: ToolCall, inFlight: GuardedCall): unknown {
  const record = call.settings.record;
  const settle = (output: ToolMessage | Command): unknown => {
    record?.response(call, toolResponseOf(output));
    const isMessage = ToolMessage.isInstance(output);
    if (isMessage && output.status === "error") throw new ToolErrorResult(output);
    if (inFlight.resultPayload === undefined) return output;
    call.held = output;
    return { content: isMessage ? output.content : "" };
  };
  const output = call.handler(call.request as never);
  return isThenable(output) ? Promise.resolve(output).then(settle) : settle(output);
}
