import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import {
  defaultModelLimits,
  ModelsDevLimitsCatalog,
  modelOutputCeiling,
  outputTokenCap,
  reservedOutputTokens,
  UNKNOWN_MODEL_OUTPUT_CAP_TOKENS,
} from "./model-limits.js";

describe("ModelsDevLimitsCatalog", () => {
  const catalog = new ModelsDevLimitsCatalog();

  it("reads a model's limits from the models.dev data, by provider as the SDKs name it", () => {
    expect(catalog.resolve("gpt-4o-mini", "openai")).toMatchObject({
      maxOutputTokens: 16_384,
      contextWindowTokens: 128_000,
      provider: "openai",
    });
    // The AI SDK's `openai.chat`, LangChain's provider ids.
    expect(catalog.resolve("gpt-4.1", "openai.responses")?.maxOutputTokens).toBe(32_768);
    expect(catalog.resolve("claude-sonnet-4-20250514", "anthropic.messages")?.maxOutputTokens).toBe(64_000);
    expect(catalog.resolve("gemini-2.5-pro", "google_genai")?.maxOutputTokens).toBe(65_536);
  });

  it("matches dated names, provider/model ids and unknown providers", () => {
    expect(catalog.resolve("gpt-4o-2024-08-06", "openai")?.maxOutputTokens).toBe(16_384);
    expect(catalog.resolve("openai/gpt-4o-mini")?.provider).toBe("openai");
    expect(catalog.resolve("GPT-4o-mini", "my-proxy")?.maxOutputTokens).toBe(16_384);
    // Listings disagree (GitHub serves gpt-4.1 with 16,384): without a matching provider the lowest wins.
    expect(catalog.resolve("gpt-4.1")?.maxOutputTokens).toBe(16_384);
    expect(catalog.resolve("gpt-4.1")?.provider).toBeUndefined();
  });

  it("misses unknown models (memoized) and lets overrides win", () => {
    expect(catalog.resolve("my-finetune-v3", "openai")).toBeUndefined();
    expect(catalog.resolve("my-finetune-v3", "openai")).toBeUndefined();
    expect(catalog.resolve("")).toBeUndefined();
    const custom = new ModelsDevLimitsCatalog({ overrides: { "my-llama": { maxOutputTokens: 2048 } } });
    expect(custom.resolve("My-Llama", "ollama")?.maxOutputTokens).toBe(2048);
    expect(() => new ModelsDevLimitsCatalog({ overrides: { x: { maxOutputTokens: -1 } } })).toThrow(
      ConfigError,
    );
    expect(() => new ModelsDevLimitsCatalog({ maxEntries: 0 })).toThrow(/maxEntries/);
  });

  it("keeps the memo bounded", () => {
    const small = new ModelsDevLimitsCatalog({ maxEntries: 2 });
    for (let i = 0; i < 10; i++) small.resolve(`model-${i}`);
    expect(small.resolve("gpt-4o-mini", "openai")?.maxOutputTokens).toBe(16_384);
  });

  it("shares one default catalog", () => {
    expect(defaultModelLimits()).toBe(defaultModelLimits());
  });
});

describe("the cap rule", () => {
  const mini = new ModelsDevLimitsCatalog().resolve("gpt-4o-mini", "openai");

  it("injects the allowance only when it is below the model's maximum", () => {
    expect(outputTokenCap(62_486, undefined, mini)).toBeUndefined();
    expect(outputTokenCap(Number.POSITIVE_INFINITY, undefined, mini)).toBeUndefined();
    expect(outputTokenCap(16_384, undefined, mini)).toBeUndefined();
    expect(outputTokenCap(16_383.7, undefined, mini)).toBe(16_383);
    expect(outputTokenCap(0.2, undefined, mini)).toBe(1);
  });

  it("lowers the caller's own cap only when the allowance is below it", () => {
    expect(outputTokenCap(500, 1000, mini)).toBe(500);
    expect(outputTokenCap(5000, 1000, mini)).toBeUndefined();
    // A caller's cap above the model's maximum is the caller's choice: lowered only to the allowance.
    expect(outputTokenCap(20_000, 50_000, mini)).toBe(20_000);
  });

  it("bounds what it injects for unknown models", () => {
    expect(modelOutputCeiling(undefined)).toBe(UNKNOWN_MODEL_OUTPUT_CAP_TOKENS);
    expect(outputTokenCap(100_000, undefined, undefined)).toBeUndefined();
    expect(outputTokenCap(UNKNOWN_MODEL_OUTPUT_CAP_TOKENS - 1, undefined, undefined)).toBe(
      UNKNOWN_MODEL_OUTPUT_CAP_TOKENS - 1,
    );
    expect(
      modelOutputCeiling({
        maxOutputTokens: 8192,
        contextWindowTokens: 4096,
        model: "m",
        provider: undefined,
      }),
    ).toBe(4096);
  });

  it("reserves the default or the request's cap, never more than the model can produce", () => {
    expect(reservedOutputTokens(undefined, 4096, true, mini)).toBe(4096);
    expect(reservedOutputTokens(100_000, 4096, true, mini)).toBe(4096);
    expect(reservedOutputTokens(100_000, 4096, false, mini)).toBe(16_384);
    expect(reservedOutputTokens(500, 4096, true, mini)).toBe(500);
    const gpt35 = new ModelsDevLimitsCatalog().resolve("gpt-3.5-turbo", "openai");
    expect(reservedOutputTokens(undefined, 8192, true, gpt35)).toBe(4096);
    expect(reservedOutputTokens(undefined, 8192, true, undefined)).toBe(8192);
  });
});
