/**
 * A scripted LangChain chat model: a real `BaseChatModel` whose "decisions" come from a policy function
 * instead of an LLM, so the demo runs offline and deterministically. It reports usage the way OpenAI does
 * (`usage_metadata`, `response_metadata.model_name`), counting the prompt it actually receives, and takes
 * simulated inference time on the demo clock.
 */
import { BaseChatModel, type BindToolsInput } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import type { DemoClock } from "../clock.js";

export interface ScriptedTurn {
  text?: string;
  tools?: Array<{ name: string; args: Record<string, unknown> }>;
  /** Output tokens the "model" generates for this turn. */
  outputTokens: number;
}

export type TurnPolicy = (messages: readonly BaseMessage[], call: number) => ScriptedTurn;

export interface ScriptedChatModelOptions {
  /** The model id requests name (priced from the catalog). */
  model: string;
  /** The model id the "provider" reports back (a dated snapshot, like OpenAI's). */
  reportedModel?: string;
  policy: TurnPolicy;
  clock?: DemoClock;
  /** Simulated inference time per call, ms. */
  latencyMs?: number;
}

/** Prompt tokens as a provider would count them: ~4 characters a token plus a few per message. */
export function promptTokens(messages: readonly BaseMessage[]): number {
  let chars = 0;
  for (const message of messages) {
    chars +=
      typeof message.content === "string" ? message.content.length : JSON.stringify(message.content).length;
    const calls = (message as AIMessage).tool_calls;
    if (calls !== undefined) chars += JSON.stringify(calls).length;
  }
  return Math.ceil(chars / 4) + 4 * messages.length;
}

export class ScriptedChatModel extends BaseChatModel {
  model: string;
  readonly #reportedModel: string;
  readonly #policy: TurnPolicy;
  readonly #clock: DemoClock | undefined;
  readonly #latencyMs: number;
  #nextCallId = 0;
  /** Calls that reached the "provider", and the tokens it billed. */
  calls = 0;
  inputTokens = 0;
  outputTokens = 0;

  constructor(options: ScriptedChatModelOptions) {
    super({});
    this.model = options.model;
    this.#reportedModel = options.reportedModel ?? options.model;
    this.#policy = options.policy;
    this.#clock = options.clock;
    this.#latencyMs = options.latencyMs ?? 0;
  }

  _llmType(): string {
    return "scripted";
  }

  override bindTools(_tools: BindToolsInput[]): this {
    return this;
  }

  override getLsParams(options: this["ParsedCallOptions"]) {
    return { ...super.getLsParams(options), ls_provider: "openai", ls_model_name: this.model };
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    const turn = this.#policy(messages, this.calls);
    this.calls++;
    const input = promptTokens(messages);
    this.inputTokens += input;
    this.outputTokens += turn.outputTokens;
    if (this.#latencyMs > 0) this.#clock?.advance(this.#latencyMs);
    const message = new AIMessage({
      content: turn.text ?? "",
      tool_calls: (turn.tools ?? []).map((call) => ({
        ...call,
        id: `call_${++this.#nextCallId}`,
        type: "tool_call" as const,
      })),
      usage_metadata: {
        input_tokens: input,
        output_tokens: turn.outputTokens,
        total_tokens: input + turn.outputTokens,
      },
      response_metadata: { model_name: this.#reportedModel },
    });
    return { generations: [{ text: message.text, message }] };
  }
}
