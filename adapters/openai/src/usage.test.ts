import { describe, expect, it } from "vitest";
import { estimateInputTokens, usageReport } from "./usage.js";

describe("usageReport", () => {
  it("reads chat and responses usage with cached and reasoning details", () => {
    expect(
      usageReport("chat", {
        prompt_tokens: 100,
        completion_tokens: 40,
        prompt_tokens_details: { cached_tokens: 64 },
        completion_tokens_details: { reasoning_tokens: 30 },
      }),
    ).toEqual({ inputTokens: 100, outputTokens: 40, cachedInputTokens: 64, reasoningTokens: 30 });
    expect(
      usageReport("responses", {
        input_tokens: 10,
        output_tokens: 5,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens_details: { reasoning_tokens: 2 },
      }),
    ).toEqual({ inputTokens: 10, outputTokens: 5, reasoningTokens: 2 });
    expect(usageReport("chat", null)).toBeUndefined();
    expect(usageReport("responses", {})).toBeUndefined();
  });
});

describe("estimateInputTokens", () => {
  it("counts message and input text, tools, and a flat amount per image", () => {
    const chat = estimateInputTokens(
      "chat",
      {
        messages: [
          { role: "system", content: "s".repeat(400) },
          {
            role: "user",
            content: [
              { type: "text", text: "u".repeat(400) },
              { type: "image_url", image_url: { url: "data:..." } },
            ],
          },
        ],
      },
      4,
    );
    expect(chat).toBe(1_000 + Math.ceil((800 + 32) / 4));
    const responses = estimateInputTokens(
      "responses",
      { instructions: "i".repeat(40), input: "q".repeat(40) },
      4,
    );
    expect(responses).toBe(Math.ceil((80 + 16) / 4));
  });
});
