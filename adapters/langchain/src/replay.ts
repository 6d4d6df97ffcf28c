import { type ReplaySession, reviveError, type TraceCall } from "@agent-sre/core";
import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import {
  BaseChatModel,
  type BaseChatModelParams,
  type BindToolsInput,
} from "@langchain/core/language_models/chat_models";
import { AIMessage, AIMessageChunk, type BaseMessage, ToolMessage } from "@langchain/core/messages";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";
import { LANGCHAIN_API, modelRequestOf, type RecordedMessage } from "./record.js";

export interface ReplayChatModelFields extends BaseChatModelParams {
  /** The model id the recording used (default: the first model call's). */
  model?: string;
}

/**
 * A LangChain chat model that answers from a recorded trace (`ReplaySession` from `@agent-sre/core`): each
 * call gets the recorded AI message (content, tool calls, usage, metadata) of its step, after its messages
 * and tools offered are compared with the recording — a difference throws `ReplayDivergenceError` with the
 * diff of that step. Supports `bindTools` (so `createAgent` works) and streaming (the recorded message
 * as one chunk, with tool-call chunks and usage).
 */
export class ReplayChatModel extends BaseChatModel {
  static override lc_name(): string {
    return "ReplayChatModel";
  }

  model: string;
  readonly session: ReplaySession;
  readonly boundTools: readonly unknown[] | undefined;

  constructor(
    session: ReplaySession,
    fields: ReplayChatModelFields & { boundTools?: readonly unknown[] } = {},
  ) {
    super(fields);
    this.session = session;
    this.model = fields.model ?? session.trace.calls.find((c) => c.kind === "model")?.name ?? "replay";
    this.boundTools = fields.boundTools;
  }

  _llmType(): string {
    return "replay";
  }

  override getLsParams(options: this["ParsedCallOptions"]) {
    return { ...super.getLsParams(options), ls_provider: "replay", ls_model_name: this.model };
  }

  override bindTools(tools: BindToolsInput[]): this {
    const bound = new ReplayChatModel(this.session, { model: this.model, boundTools: tools });
    return bound as this;
  }

  #answer(messages: BaseMessage[]): AIMessage {
    const step = this.session.answer({
      kind: "model",
      name: this.model,
      request: modelRequestOf(this.model, messages, undefined, this.boundTools),
      api: LANGCHAIN_API.api,
    });
    if (!step.ok && step.error !== undefined) throw reviveError(step.error);
    return aiMessageFrom(step);
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    const message = this.#answer(messages);
    return { generations: [{ text: message.text, message }] };
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    _options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const message = this.#answer(messages);
    const text = message.text;
    const chunk = new ChatGenerationChunk({
      text,
      message: new AIMessageChunk({
        content: message.content,
        ...(message.id === undefined ? {} : { id: message.id }),
        ...(message.usage_metadata === undefined ? {} : { usage_metadata: message.usage_metadata }),
        response_metadata: message.response_metadata,
        tool_call_chunks: (message.tool_calls ?? []).map((toolCall, index) => ({
          type: "tool_call_chunk" as const,
          name: toolCall.name,
          args: JSON.stringify(toolCall.args),
          ...(toolCall.id === undefined ? {} : { id: toolCall.id }),
          index,
        })),
      }),
    });
    yield chunk;
    await runManager?.handleLLMNewToken(text, undefined, undefined, undefined, undefined, { chunk });
  }
}

function aiMessageFrom(step: TraceCall): AIMessage {
  const r = (step.response ?? {}) as RecordedMessage & {
    usage_metadata?: AIMessage["usage_metadata"];
    response_metadata?: Record<string, unknown>;
    id?: string;
  };
  return new AIMessage({
    content: (r.content ?? "") as AIMessage["content"],
    tool_calls: (r.tool_calls ?? []).map((c) => ({
      name: c.name,
      args: c.args as Record<string, unknown>,
      ...(c.id === undefined ? {} : { id: c.id }),
      type: "tool_call" as const,
    })),
    ...(r.usage_metadata === undefined ? {} : { usage_metadata: r.usage_metadata }),
    ...(r.response_metadata === undefined ? {} : { response_metadata: r.response_metadata }),
    ...(r.id === undefined ? {} : { id: r.id }),
  });
}

/** A tool-like object LangChain can run: `name`, `invoke`, and whatever else the agent reads. */
// biome-ignore lint/suspicious/noExplicitAny: tools' invoke signatures are generic over their schemas
type ToolLike = { name: string; invoke: (...args: any[]) => Promise<unknown> };

/**
 * Tools answered from the trace: each returns the recorded ToolMessage (content and status) of its step,
 * after comparing its arguments with the recording. Tools listed in the session's `liveTools` run for real
 * (to test a tool fix) while their arguments are still compared.
 */
export function replayTools<T extends ToolLike>(tools: readonly T[], session: ReplaySession): T[] {
  return tools.map((tool) => {
    const replayed = Object.create(tool) as T;
    const invoke = async (input: unknown, config?: unknown) => {
      const toolCall = toolCallOf(input);
      const args = toolCall?.args ?? input;
      if (session.runsLive(tool.name)) {
        session.live({ kind: "tool", name: tool.name, request: args });
        return tool.invoke(input, config);
      }
      const step = session.answer({ kind: "tool", name: tool.name, request: args });
      const recorded = (step.response ?? undefined) as RecordedMessage | undefined;
      if (recorded === undefined && step.error !== undefined) throw reviveError(step.error);
      return new ToolMessage({
        content: (recorded?.content ?? "") as ToolMessage["content"],
        tool_call_id: toolCall?.id ?? recorded?.tool_call_id ?? "",
        name: tool.name,
        ...(recorded?.status === "error" || recorded?.status === "success"
          ? { status: recorded.status }
          : {}),
      });
    };
    Object.defineProperty(replayed, "invoke", { value: invoke, configurable: true, writable: true });
    return replayed;
  });
}

function toolCallOf(input: unknown): { args: unknown; id?: string } | undefined {
  if (typeof input !== "object" || input === null) return undefined;
  const call = input as { type?: unknown; args?: unknown; id?: unknown };
  if (call.type !== "tool_call" || call.args === undefined) return undefined;
  return typeof call.id === "string" ? { args: call.args, id: call.id } : { args: call.args };
}
