/**
 * Scripted language models for the AI SDK, built on the SDK's own `MockLanguageModelV3` (`ai/test`): the
 * "decisions" come from a policy function that reads the prompt the SDK actually sends (tool results
 * included), usage is reported the way a provider does, and each call takes simulated time on the demo clock.
 */
import { MockLanguageModelV3 } from "ai/test";
import type { DemoClock } from "../clock.js";

type CallOptions = Parameters<MockLanguageModelV3["doGenerate"]>[0];
type GenerateResult = Awaited<ReturnType<MockLanguageModelV3["doGenerate"]>>;
type StreamResult = Awaited<ReturnType<MockLanguageModelV3["doStream"]>>;
type StreamPart = StreamResult["stream"] extends ReadableStream<infer P> ? P : never;

/** A tool result the model saw, in order. */
export interface SeenToolResult {
  toolName: string;
  input: unknown;
  ok: boolean;
  text: string;
}

export interface ModelView {
  /** The whole prompt, as text (for "reading" instructions or injected content). */
  promptText: string;
  /** The tool results of this run so far, oldest first. */
  results: SeenToolResult[];
  /** The model calls of this run so far (steps). */
  step: number;
}

export interface ModelDecision {
  text?: string;
  toolCalls?: Array<{ name: string; input: Record<string, unknown> }>;
  outputTokens?: number;
}

export interface ScriptedLanguageModelOptions {
  modelId: string;
  provider?: string;
  clock?: DemoClock;
  latencyMs?: number;
  /** Decides each generate call (and non-runaway stream calls). */
  decide?: (view: ModelView) => ModelDecision;
  /** Streams: text deltas, produced until the consumer stops reading (a runaway generation) or `limit`. */
  stream?: { delta: string; tokensPerDelta: number; limitDeltas?: number };
}

/** Billing the "provider" saw: what the guard is compared against. */
export interface ProviderMeter {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** Stream deltas delivered (a cut-off stream delivers fewer than it would have). */
  deltas: number;
}

export function promptTokensOf(prompt: unknown): number {
  return Math.ceil(JSON.stringify(prompt).length / 4);
}

function usage(input: number, output: number) {
  return {
    inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: output, text: output, reasoning: undefined },
  };
}

function view(options: CallOptions): ModelView {
  const calls = new Map<string, { toolName: string; input: unknown }>();
  const results: SeenToolResult[] = [];
  let step = 0;
  let promptText = "";
  for (const message of options.prompt) {
    if (message.role === "system") {
      promptText += `${message.content}\n`;
      continue;
    }
    if (message.role === "assistant") step++;
    for (const part of message.content) {
      if (part.type === "text") promptText += `${part.text}\n`;
      else if (part.type === "tool-call")
        calls.set(part.toolCallId, { toolName: part.toolName, input: part.input });
      else if (part.type === "tool-result") {
        const output = part.output as { type: string; value?: unknown };
        const text = typeof output.value === "string" ? output.value : JSON.stringify(output.value ?? "");
        promptText += `${text}\n`;
        results.push({
          toolName: part.toolName,
          input: calls.get(part.toolCallId)?.input,
          ok: !output.type.startsWith("error"),
          text,
        });
      }
    }
  }
  return { promptText, results, step };
}

export function scriptedLanguageModel(options: ScriptedLanguageModelOptions): {
  model: MockLanguageModelV3;
  meter: ProviderMeter;
} {
  const meter: ProviderMeter = { calls: 0, inputTokens: 0, outputTokens: 0, deltas: 0 };
  let nextToolCallId = 0; // per model, so a run's prompts (and token counts) do not depend on earlier runs
  const tick = () => {
    if (options.latencyMs !== undefined && options.latencyMs > 0) options.clock?.advance(options.latencyMs);
  };
  const decideOrThrow = (call: CallOptions): ModelDecision => {
    if (options.decide === undefined) throw new Error(`${options.modelId}: no policy for generate calls`);
    return options.decide(view(call));
  };

  const model = new MockLanguageModelV3({
    provider: options.provider ?? "openai.chat",
    modelId: options.modelId,
    doGenerate: async (call): Promise<GenerateResult> => {
      meter.calls++;
      tick();
      const decision = decideOrThrow(call);
      const input = promptTokensOf(call.prompt);
      const output = decision.outputTokens ?? 40;
      meter.inputTokens += input;
      meter.outputTokens += output;
      const content: GenerateResult["content"] = [];
      if (decision.text !== undefined) content.push({ type: "text", text: decision.text });
      for (const toolCall of decision.toolCalls ?? []) {
        content.push({
          type: "tool-call",
          toolCallId: `call_${++nextToolCallId}`,
          toolName: toolCall.name,
          input: JSON.stringify(toolCall.input),
        });
      }
      const calledTools = (decision.toolCalls?.length ?? 0) > 0;
      return {
        content,
        finishReason: calledTools
          ? { unified: "tool-calls", raw: "tool_calls" }
          : { unified: "stop", raw: "stop" },
        usage: usage(input, output),
        // As a provider does: the response names the model that answered.
        response: { modelId: options.modelId },
        warnings: [],
      };
    },
    doStream: async (call): Promise<StreamResult> => {
      meter.calls++;
      tick();
      const input = promptTokensOf(call.prompt);
      meter.inputTokens += input;
      const spec = options.stream ?? {
        delta: decideOrThrow(call).text ?? "",
        tokensPerDelta: 1,
        limitDeltas: 1,
      };
      const limit = spec.limitDeltas ?? Number.POSITIVE_INFINITY;
      let sent = 0;
      let phase: "start" | "text" | "end" | "done" = "start";
      const stream = new ReadableStream<StreamPart>({
        pull(controller) {
          if (phase === "start") {
            controller.enqueue({ type: "stream-start", warnings: [] });
            controller.enqueue({ type: "text-start", id: "t1" });
            phase = "text";
            return;
          }
          if (phase === "text") {
            if (sent < limit) {
              sent++;
              meter.deltas++;
              meter.outputTokens += spec.tokensPerDelta;
              controller.enqueue({ type: "text-delta", id: "t1", delta: spec.delta });
              return;
            }
            phase = "end";
          }
          if (phase === "end") {
            controller.enqueue({ type: "text-end", id: "t1" });
            controller.enqueue({
              type: "finish",
              finishReason: { unified: "stop", raw: "stop" },
              usage: usage(input, sent * spec.tokensPerDelta),
            });
            phase = "done";
            controller.close();
          }
        },
      });
      return { stream };
    },
  });
  return { model, meter };
}
