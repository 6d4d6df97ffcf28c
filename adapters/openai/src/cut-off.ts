import type { UsageReport } from "@agent-sre/core";
import type { Endpoint } from "./usage.js";

// The items a cut-off stream ends with (stream.ts): what still fits of the crossing item, then a "length" ending.

// biome-ignore lint/suspicious/noExplicitAny: stream items are the SDK's chunk / event unions
type Item = any;

/** The crossing item with only the text that still fits (content deltas); other items are dropped. */
export function truncate(endpoint: Endpoint, item: Item, delta: string, fit: number): Item | undefined {
  if (endpoint === "responses") return { ...item, delta: delta.slice(0, fit) };
  const choice = item.choices?.[0];
  if (typeof choice?.delta?.content !== "string") return undefined;
  return { ...item, choices: [{ ...choice, delta: { ...choice.delta, content: delta.slice(0, fit) } }] };
}

/** The last item of a cut-off stream: a clear "length" ending with the estimated usage. */
export function cutOffItem(endpoint: Endpoint, item: Item, usage: UsageReport): Item {
  if (endpoint === "chat") {
    return {
      id: item?.id,
      object: "chat.completion.chunk",
      created: item?.created,
      model: item?.model,
      choices: [{ index: 0, delta: {}, finish_reason: "length", logprobs: null }],
      usage: {
        prompt_tokens: usage.inputTokens,
        completion_tokens: usage.outputTokens,
        total_tokens: usage.inputTokens + usage.outputTokens,
      },
    };
  }
  return {
    type: "response.incomplete",
    sequence_number: typeof item?.sequence_number === "number" ? item.sequence_number + 1 : undefined,
    response: {
      object: "response",
      status: "incomplete",
      incomplete_details: { reason: "max_output_tokens" },
      usage: {
        input_tokens: usage.inputTokens,
        output_tokens: usage.outputTokens,
        total_tokens: usage.inputTokens + usage.outputTokens,
      },
    },
  };
}
