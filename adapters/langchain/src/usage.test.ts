import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { aiMessageOf, usageFromMessage, usageFromMetadata } from "./usage.js";

describe("usageFromMetadata", () => {
  it("keeps integer counts as they are, with the cache and reasoning details", () => {
    expect(
      usageFromMetadata(
        {
          input_tokens: 1200,
          output_tokens: 300,
          input_token_details: { cache_read: 1000, cache_creation: 100 },
          output_token_details: { reasoning: 120 },
        },
        "gpt-4o-mini",
      ),
    ).toEqual({
      inputTokens: 1200,
      outputTokens: 300,
      model: "gpt-4o-mini",
      cachedInputTokens: 1000,
      cacheWriteTokens: 100,
      reasoningTokens: 120,
    });
    // Beyond 32 bits (not a small integer to V8) and still an integer.
    expect(usageFromMetadata({ input_tokens: 3_000_000_000, output_tokens: 1 }, undefined)).toEqual({
      inputTokens: 3_000_000_000,
      outputTokens: 1,
    });
  });

  it("rounds a fractional count and counts anything but a positive finite number as 0", () => {
    expect(usageFromMetadata({ input_tokens: 99.6, output_tokens: 20.4 }, "m")).toEqual({
      inputTokens: 100,
      outputTokens: 20,
      model: "m",
    });
    expect(usageFromMetadata({ input_tokens: 0.4, output_tokens: 0.5 }, undefined)).toEqual({
      inputTokens: 0,
      outputTokens: 1,
    });
    const bad = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -5, -0, 0, "12", null];
    for (const value of bad) {
      const count = value as unknown as number;
      expect(usageFromMetadata({ input_tokens: count, output_tokens: count }, undefined)).toEqual({
        inputTokens: 0,
        outputTokens: 0,
      });
    }
    expect(usageFromMetadata(undefined, "m")).toBeUndefined();
  });
});

describe("usageFromMessage and aiMessageOf", () => {
  const answer = () =>
    new AIMessage({
      content: "ok",
      usage_metadata: { input_tokens: 10, output_tokens: 2, total_tokens: 12 },
    });

  it("prices by the model the response names, else the requested one", () => {
    const named = answer();
    named.response_metadata = { model_name: "gpt-4o-mini-2024-07-18" };
    expect(usageFromMessage(named, "gpt-4o-mini")?.model).toBe("gpt-4o-mini-2024-07-18");
    expect(usageFromMessage(answer(), "gpt-4o-mini")).toEqual({
      inputTokens: 10,
      outputTokens: 2,
      model: "gpt-4o-mini",
    });
    expect(usageFromMessage(new AIMessage("no usage"), "m")).toBeUndefined();
  });

  it("finds the AI message in a reply, a structured result or a command's update, and nothing else", () => {
    const ai = answer();
    const human = new HumanMessage("hi");
    expect(aiMessageOf(ai)).toBe(ai);
    expect(aiMessageOf({ structuredResponse: {}, messages: [human, ai] })).toBe(ai);
    expect(aiMessageOf({ update: { messages: [human, ai] } })).toBe(ai);
    expect(aiMessageOf(human)).toBeUndefined();
    expect(aiMessageOf({ messages: [human] })).toBeUndefined();
    expect(aiMessageOf({ content: "ok", type: "ai" })).toBeUndefined();
    expect(aiMessageOf("ok")).toBeUndefined();
    expect(aiMessageOf(undefined)).toBeUndefined();
  });
});
