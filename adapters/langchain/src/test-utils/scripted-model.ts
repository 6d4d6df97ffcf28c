import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import {
  BaseChatModel,
  type BaseChatModelParams,
  type BindToolsInput,
} from "@langchain/core/language_models/chat_models";
import { AIMessage, AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";

/** One scripted turn: a reply, an error to throw, or a function of the input. */
export type ScriptStep = AIMessage | Error | ((messages: BaseMessage[]) => AIMessage);

/** What the model saw on one call (for assertions). */
export interface SeenCall {
  messages: BaseMessage[];
  maxTokens: number | undefined;
  streamed: boolean;
}

interface SharedState {
  i: number;
  seen: SeenCall[];
}

/**
 * A deterministic chat model for tests: replies from a script (tool calls, usage_metadata and all),
 * supports `bindTools`, streaming (`_streamResponseChunks`, one chunk per character, then a final chunk
 * with usage and tool-call chunks) and an output cap (`maxTokens`) that truncates the text it returns.
 */
export class ScriptedChatModel extends BaseChatModel {
  static override lc_name(): string {
    return "ScriptedChatModel";
  }

  model: string;
  maxTokens: number | undefined;
  readonly script: readonly ScriptStep[];
  readonly state: SharedState;
  /** Repeat the last step forever once the script is exhausted (default: cycle). */
  readonly repeatLast: boolean;

  constructor(
    fields: BaseChatModelParams & {
      script: readonly ScriptStep[];
      model?: string;
      maxTokens?: number;
      state?: SharedState;
      repeatLast?: boolean;
    },
  ) {
    super(fields);
    this.script = fields.script;
    this.model = fields.model ?? "scripted-1";
    this.maxTokens = fields.maxTokens;
    this.state = fields.state ?? { i: 0, seen: [] };
    this.repeatLast = fields.repeatLast ?? false;
  }

  _llmType(): string {
    return "scripted";
  }

  /** Model calls made so far. */
  get calls(): number {
    return this.state.seen.length;
  }

  get seen(): readonly SeenCall[] {
    return this.state.seen;
  }

  override getLsParams(options: this["ParsedCallOptions"]) {
    return { ...super.getLsParams(options), ls_provider: "scripted", ls_model_name: this.model };
  }

  override bindTools(_tools: BindToolsInput[]): this {
    // The script decides the tool calls; the model itself (or a per-call view of it) serves as the bound model.
    return this;
  }

  private next(messages: BaseMessage[], streamed: boolean): AIMessage {
    this.state.seen.push({ messages, maxTokens: this.maxTokens, streamed });
    const index = this.state.i++;
    const step = this.repeatLast
      ? this.script[Math.min(index, this.script.length - 1)]
      : this.script[index % this.script.length];
    if (step === undefined) throw new Error("empty script");
    if (step instanceof Error) throw step;
    const reply = typeof step === "function" ? step(messages) : step;
    const text = typeof reply.content === "string" ? reply.content : reply.text;
    const capped =
      this.maxTokens !== undefined && text.length > this.maxTokens ? text.slice(0, this.maxTokens) : text;
    return new AIMessage({
      content: capped,
      tool_calls: reply.tool_calls ?? [],
      ...(reply.usage_metadata === undefined ? {} : { usage_metadata: reply.usage_metadata }),
      response_metadata: {
        model_name: (reply.response_metadata?.model_name as string | undefined) ?? this.model,
      },
    });
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    const message = this.next(messages, false);
    return { generations: [{ text: message.text, message }] };
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    _options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const message = this.next(messages, true);
    for (const character of message.text) {
      const chunk = new ChatGenerationChunk({
        text: character,
        message: new AIMessageChunk({ content: character }),
      });
      yield chunk;
      await runManager?.handleLLMNewToken(character, undefined, undefined, undefined, undefined, { chunk });
    }
    yield new ChatGenerationChunk({
      text: "",
      message: new AIMessageChunk({
        content: "",
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
  }
}

/** An AI reply with usage, optionally calling tools. */
export function reply(
  content: string,
  usage: { input: number; output: number },
  toolCalls: Array<{ name: string; args: Record<string, unknown>; id: string }> = [],
): AIMessage {
  return new AIMessage({
    content,
    tool_calls: toolCalls.map((call) => ({ ...call, type: "tool_call" as const })),
    usage_metadata: {
      input_tokens: usage.input,
      output_tokens: usage.output,
      total_tokens: usage.input + usage.output,
    },
  });
}
