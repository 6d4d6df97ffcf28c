import { describe, expect, it } from "vitest";
import { estimatePromptTokens, toUsageReport } from "./usage.js";

describe("toUsageReport", () => {
  it("reads V3/V4 nested usage with cache and reasoning details", () => {
    expect(
      toUsageReport({
        inputTokens: { total: 100, noCache: 60, cacheRead: 30, cacheWrite: 10 },
        outputTokens: { total: 50, text: 20, reasoning: 30 },
      }),
    ).toEqual({
      inputTokens: 100,
      outputTokens: 50,
      cachedInputTokens: 30,
      cacheWriteTokens: 10,
      reasoningTokens: 30,
    });
  });

  it("reads V2 flat usage", () => {
    expect(
      toUsageReport({ inputTokens: 7, outputTokens: 3, cachedInputTokens: 2, reasoningTokens: 1 }),
    ).toEqual({
      inputTokens: 7,
      outputTokens: 3,
      cachedInputTokens: 2,
      reasoningTokens: 1,
    });
  });

  it("is undefined without token counts, and fills a missing half from the fallback", () => {
    expect(toUsageReport(undefined)).toBeUndefined();
    expect(
      toUsageReport({ inputTokens: { total: undefined }, outputTokens: { total: Number.NaN } }),
    ).toBeUndefined();
    expect(
      toUsageReport({ inputTokens: { total: undefined }, outputTokens: { total: 9 } }, undefined, {
        inputTokens: 40,
        outputTokens: 2,
      }),
    ).toEqual({
      inputTokens: 40,
      outputTokens: 9,
    });
    expect(toUsageReport(null, undefined, { inputTokens: 4, outputTokens: 1 })).toEqual({
      inputTokens: 4,
      outputTokens: 1,
    });
  });

  it("takes the AI Gateway's billed cost when present", () => {
    const report = toUsageReport({ inputTokens: 1, outputTokens: 1 }, { gateway: { cost: "0.00042" } });
    expect(report?.costUsd).toBe(0.00042);
    expect(
      toUsageReport({ inputTokens: 1, outputTokens: 1 }, { gateway: { cost: "n/a" } })?.costUsd,
    ).toBeUndefined();
  });
});

describe("estimatePromptTokens", () => {
  it("counts text, tool calls and results, tool schemas, and a flat amount per file", () => {
    const tokens = estimatePromptTokens(
      {
        prompt: [
          { role: "system", content: "x".repeat(400) },
          {
            role: "user",
            content: [
              { type: "text", text: "y".repeat(400) },
              { type: "file", data: new Uint8Array(10_000), mediaType: "image/png" },
            ],
          },
          {
            role: "assistant",
            content: [{ type: "tool-call", toolCallId: "1", toolName: "t", input: { q: "z".repeat(100) } }],
          },
          {
            role: "tool",
            content: [
              {
                type: "tool-result",
                toolCallId: "1",
                toolName: "t",
                output: { type: "text", value: "w".repeat(200) },
              },
            ],
          },
        ],
        tools: [
          { type: "function", name: "t", description: "d", inputSchema: { type: "object", properties: {} } },
        ],
      },
      4,
    );
    // 400 + 400 + ~110 + ~230 characters, 4 messages of framing, the schema, and 1000 for the image.
    expect(tokens).toBeGreaterThan(1_000 + 280);
    expect(tokens).toBeLessThan(1_000 + 320);
  });
});
