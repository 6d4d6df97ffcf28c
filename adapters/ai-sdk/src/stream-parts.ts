import type { UsageReport } from "@agent-sre/core";

/** The raw finish reason of a stream the in-flight cap cut off. */
export const CUT_OFF_FINISH_REASON = "agent-sre-budget";

// biome-ignore lint/suspicious/noExplicitAny: stream part unions differ between specification versions
export type Part = any;

/** A chaos payload placed in the model's result: one more text block before the finish part. */
export function payloadParts(v2: boolean, payload: string): Part[] {
  const id = "agent-sre-chaos";
  return v2
    ? [{ type: "text", text: payload }]
    : [
        { type: "text-start", id },
        { type: "text-delta", id, delta: payload },
        { type: "text-end", id },
      ];
}

/** The finish part of a stream the in-flight cap cut off: a "length" finish with the estimated usage. */
export function cutOffFinish(v2: boolean, usage: UsageReport): Part {
  return v2
    ? {
        type: "finish",
        finishReason: "length",
        usage: { ...usage, totalTokens: usage.inputTokens + usage.outputTokens },
      }
    : {
        type: "finish",
        finishReason: { unified: "length", raw: CUT_OFF_FINISH_REASON },
        usage: {
          inputTokens: {
            total: usage.inputTokens,
            noCache: undefined,
            cacheRead: undefined,
            cacheWrite: undefined,
          },
          outputTokens: { total: usage.outputTokens, text: undefined, reasoning: undefined },
          raw: { agentSre: "estimated: the stream was cut off by the budget" },
        },
      };
}
