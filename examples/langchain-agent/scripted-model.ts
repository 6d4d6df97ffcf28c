/**
 * A scripted chat model, so the example runs offline: each call returns the next scripted turn, with the
 * tool calls and the usage a real provider would report (`usage_metadata`, `response_metadata.model_name`).
 */
import { BaseChatModel, type BindToolsInput } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";

export interface Turn {
  text?: string;
  tools?: Array<{ name: string; args: Record<string, unknown> }>;
  usage: { input: number; output: number };
}

let nextId = 0;

export class ScriptedChatModel extends BaseChatModel {
  model = "gpt-4o-mini";
  private turns: Turn[] = [];

  _llmType(): string {
    return "scripted";
  }

  /** Queues the turns of the next scene. */
  script(...turns: Turn[]): this {
    this.turns.push(...turns);
    return this;
  }

  override bindTools(_tools: BindToolsInput[]): this {
    return this;
  }

  override getLsParams(options: this["ParsedCallOptions"]) {
    return { ...super.getLsParams(options), ls_provider: "openai", ls_model_name: this.model };
  }

  async _generate(_messages: BaseMessage[]): Promise<ChatResult> {
    const turn = this.turns.shift() ?? { text: "(the script is over)", usage: { input: 10, output: 5 } };
    const message = new AIMessage({
      content: turn.text ?? "",
      tool_calls: (turn.tools ?? []).map((call) => ({
        ...call,
        id: `call_${++nextId}`,
        type: "tool_call" as const,
      })),
      usage_metadata: {
        input_tokens: turn.usage.input,
        output_tokens: turn.usage.output,
        total_tokens: turn.usage.input + turn.usage.output,
      },
      response_metadata: { model_name: "gpt-4o-mini-2024-07-18" },
    });
    return { generations: [{ text: message.text, message }] };
  }
}
