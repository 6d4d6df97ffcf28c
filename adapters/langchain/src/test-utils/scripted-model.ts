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

/**
 * A streaming chat model that stalls mid-answer: it streams `before` (a chunk a character), waits for
 * `gate`, then streams `after` and a final chunk with usage. For timeouts on a manual clock.
 */
export class StallingChatModel extends BaseChatModel {
  static override lc_name(): string {
    return "StallingChatModel";
  }

  model = "scripted-1";
  readonly before: string;
  readonly after: string;
  readonly gate: Promise<void>;

  constructor(fields: BaseChatModelParams & { before: string; after: string; gate: Promise<void> }) {
    super(fields);
    this.before = fields.before;
    this.after = fields.after;
    this.gate = fields.gate;
  }

  _llmType(): string {
    return "stalling";
  }

  override getLsParams(options: this["ParsedCallOptions"]) {
    return { ...super.getLsParams(options), ls_provider: "scripted", ls_model_name: this.model };
  }

  async _generate(): Promise<ChatResult> {
    await this.gate;
    const message = new AIMessage(this.before + this.after);
    return { generations: [{ text: message.text, message }] };
  }

  override async *_streamResponseChunks(
    _messages: BaseMessage[],
    _options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    for (const [index, text] of [this.before, this.after].entries()) {
      if (index === 1) await this.gate;
      for (const character of text) {
        const chunk = new ChatGenerationChunk({
          text: character,
          message: new AIMessageChunk({ content: character }),
        });
        yield chunk;
        await runManager?.handleLLMNewToken(character, undefined, undefined, undefined, undefined, { chunk });
      }
    }
    const total = this.before.length + this.after.length;
    yield new ChatGenerationChunk({
      text: "",
      message: new AIMessageChunk({
        content: "",
        usage_metadata: { input_tokens: 5, output_tokens: total, total_tokens: 5 + total },
      }),
    });
  }
}
