import { calcPrice } from "@pydantic/genai-prices";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { ConfigError, InvalidArgumentError } from "../errors.js";
import type { TokenUsage } from "../types.js";
import { GenAIPriceCatalog } from "./price-catalog.js";

/** genai-prices' own figure in µUSD. Its `input_tokens` includes cache reads and writes, like ours. */
function referenceMicros(model: string, usage: TokenUsage, providerId?: string, at?: Date): number {
  const result = calcPrice(
    {
      input_tokens: usage.inputTokens,
      output_tokens: usage.outputTokens,
      cache_read_tokens: usage.cachedInputTokens,
      cache_write_tokens: usage.cacheWriteTokens,
      output_reasoning_tokens: usage.reasoningTokens,
    },
    model,
    { providerId, timestamp: at },
  );
  if (result === null) throw new Error(`genai-prices does not know ${model}`);
  return result.total_price * 1_000_000;
}

describe("GenAIPriceCatalog", () => {
  const catalog = new GenAIPriceCatalog();

  it("prices gpt-4o like calcPrice", () => {
    const usage = { inputTokens: 1200, outputTokens: 350 };
    // $2.50 / $10 per MTok: 1200 × 2.5 + 350 × 10 µUSD.
    expect(catalog.costMicros("gpt-4o", usage)).toBe(6500);
    expect(catalog.costMicros("gpt-4o", usage)).toBe(Math.round(referenceMicros("gpt-4o", usage)));
    const pricing = catalog.resolve("gpt-4o");
    expect(pricing).toMatchObject({
      model: "gpt-4o",
      provider: "openai",
      inputPerMTokUsd: 2.5,
      outputPerMTokUsd: 10,
      cachedInputPerMTokUsd: 1.25,
      source: "genai-prices",
    });
  });

  it("charges cached input at the cache-read price (OpenAI's cached prompt tokens)", () => {
    const usage = { inputTokens: 10_000, cachedInputTokens: 8_000, outputTokens: 100 };
    // 2,000 × 2.5 + 8,000 × 1.25 + 100 × 10 = 16,000 µUSD.
    expect(catalog.costMicros("gpt-4o", usage)).toBe(16_000);
    expect(catalog.costMicros("gpt-4o", usage)).toBe(Math.round(referenceMicros("gpt-4o", usage)));
  });

  it("prices Claude with cache reads and writes, across its 200k-token tier, like calcPrice", () => {
    const small = {
      inputTokens: 50_000,
      cachedInputTokens: 20_000,
      cacheWriteTokens: 10_000,
      outputTokens: 2_000,
    };
    const large = {
      inputTokens: 300_000,
      cachedInputTokens: 100_000,
      cacheWriteTokens: 50_000,
      outputTokens: 1_000,
    };
    for (const usage of [small, large]) {
      expect(catalog.costMicros("claude-sonnet-4-5", usage)).toBe(
        Math.round(referenceMicros("claude-sonnet-4-5", usage)),
      );
    }
    // Below the tier: 20,000 × 3 + 20,000 × 0.3 + 10,000 × 3.75 + 2,000 × 15.
    expect(catalog.costMicros("claude-sonnet-4-5", small)).toBe(60_000 + 6_000 + 37_500 + 30_000);
    // Above 200k input tokens every token of the request moves to the higher tier.
    expect(catalog.costMicros("claude-sonnet-4-5", large)).toBe(
      150_000 * 6 + 100_000 * 0.6 + 50_000 * 7.5 + 1_000 * 22.5,
    );
    const pricing = catalog.resolve("claude-sonnet-4-5");
    expect(pricing?.tiers).toEqual([
      {
        aboveInputTokens: 200_000,
        inputPerMTokUsd: 6,
        outputPerMTokUsd: 22.5,
        cachedInputPerMTokUsd: 0.6,
        cacheWritePerMTokUsd: 7.5,
      },
    ]);
  });

  it("matches calcPrice at the exact tier boundary (strictly above the start)", () => {
    const atBoundary = { inputTokens: 200_000, outputTokens: 10 };
    const above = { inputTokens: 200_001, outputTokens: 10 };
    expect(catalog.costMicros("claude-sonnet-4-5", atBoundary)).toBe(200_000 * 3 + 10 * 15);
    expect(catalog.costMicros("claude-sonnet-4-5", above)).toBe(Math.round(200_001 * 6 + 10 * 22.5));
  });

  it("charges reasoning tokens at a reasoning price when the model has one, else at the output price", () => {
    const usage = { inputTokens: 1000, outputTokens: 5000, reasoningTokens: 3000 };
    // sonar-deep-research: $2 in, $8 out, $3 reasoning.
    expect(catalog.costMicros("sonar-deep-research", usage, "perplexity")).toBe(2000 + 2000 * 8 + 3000 * 3);
    expect(catalog.costMicros("sonar-deep-research", usage, "perplexity")).toBe(
      Math.round(referenceMicros("sonar-deep-research", usage, "perplexity")),
    );
    expect(catalog.costMicros("gpt-4o", usage)).toBe(1000 * 2.5 + 5000 * 10);
  });

  it("adds per-request fees like calcPrice", () => {
    const usage = { inputTokens: 100, outputTokens: 100 };
    // sonar: $1/$1 per MTok plus $12 per 1,000 requests.
    expect(catalog.costMicros("sonar", usage, "perplexity")).toBe(200 + 12_000);
    expect(catalog.costMicros("sonar", usage, "perplexity")).toBe(
      Math.round(referenceMicros("sonar", usage, "perplexity")),
    );
    expect(catalog.resolve("sonar", "perplexity")?.perRequestUsd).toBe(0.012);
  });

  it("agrees with calcPrice on random usage for a spread of models (exactly, to float precision)", () => {
    const models = [
      "gpt-4o",
      "gpt-4o-mini",
      "claude-sonnet-4-5",
      "claude-3-5-haiku",
      "gemini-2.5-pro",
      "o3-mini",
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...models),
        fc.integer({ min: 0, max: 400_000 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 50_000 }),
        (model, inputTokens, cachedPercent, writePercent, outputTokens) => {
          const cachedInputTokens = Math.floor((inputTokens * cachedPercent) / 100);
          const cacheWriteTokens = Math.floor(((inputTokens - cachedInputTokens) * writePercent) / 100);
          const usage = { inputTokens, cachedInputTokens, cacheWriteTokens, outputTokens };
          const ours = catalog.costMicros(model, usage) as number;
          // Exact, not rounded to whole micro-dollars: equal to genai-prices up to float precision.
          const reference = referenceMicros(model, usage);
          expect(Math.abs(ours - reference)).toBeLessThanOrEqual(1e-9 * Math.max(1, reference));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("prices input-and-output usage exactly as the same usage with its other counts given as 0", () => {
    // The input-and-output usage takes a shorter path (issue 18, session 11): bit for bit the general sum.
    const models: Array<[string, string | undefined]> = [
      ["gpt-4o", undefined],
      ["gpt-4o-mini", undefined],
      ["claude-sonnet-4-5", undefined], // tiered: the general path
      ["o3-mini", undefined],
      ["sonar", "perplexity"], // a per-request fee
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...models),
        fc.integer({ min: 0, max: 400_000 }),
        fc.integer({ min: 0, max: 50_000 }),
        ([model, provider], inputTokens, outputTokens) => {
          const plain = catalog.costMicros(model, { inputTokens, outputTokens }, provider);
          const general = catalog.costMicros(
            model,
            { inputTokens, outputTokens, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
            provider,
          );
          expect(plain).toBe(general);
        },
      ),
      { numRuns: 300 },
    );
    expect(() => catalog.costMicros("gpt-4o", { inputTokens: 1, outputTokens: -1 })).toThrow(
      /usage\.outputTokens/,
    );
  });

  it("resolves dated and provider-prefixed names as genai-prices does", () => {
    expect(catalog.resolve("gpt-4o-2024-08-06")?.model).toBe("gpt-4o");
    expect(catalog.resolve("GPT-4o ")?.model).toBe("gpt-4o");
    expect(catalog.resolve("openai/gpt-4o")).toMatchObject({ model: "gpt-4o", provider: "openai" });
    expect(catalog.resolve("gpt-4o", "openai.chat")).toMatchObject({ provider: "openai" });
    expect(catalog.resolve("openai/gpt-4o", "openrouter")).toMatchObject({
      model: "openai/gpt-4o",
      provider: "openrouter",
    });
    // An unknown provider id falls back to matching the model alone.
    expect(catalog.resolve("gpt-4o", "my-gateway")?.provider).toBe("openai");
  });

  it("returns undefined for unknown models and for models not priced by tokens", () => {
    expect(catalog.resolve("no-such-model-xyz")).toBeUndefined();
    expect(catalog.costMicros("no-such-model-xyz", { inputTokens: 10, outputTokens: 10 })).toBeUndefined();
    expect(catalog.resolve("")).toBeUndefined();
    // whisper-1 is priced per audio hour: no token price, so it is unpriced here (never $0).
    expect(catalog.resolve("whisper-1", "openai")).toBeUndefined();
  });

  it("memoizes hits and misses per (provider, model)", () => {
    const local = new GenAIPriceCatalog();
    const first = local.resolve("gpt-4o");
    expect(local.resolve("gpt-4o")).toBe(first);
    expect(local.size).toBe(1);
    local.resolve("unknown-model-1");
    local.resolve("unknown-model-1");
    expect(local.size).toBe(2);
    local.resolve("gpt-4o", "openai");
    expect(local.size).toBe(3);
    local.clear();
    expect(local.size).toBe(0);
  });

  it("bounds the memo", () => {
    const local = new GenAIPriceCatalog({ maxEntries: 3 });
    for (let i = 0; i < 10; i++) local.resolve(`unknown-${i}`);
    expect(local.size).toBeLessThanOrEqual(3);
    expect(local.resolve("gpt-4o")?.model).toBe("gpt-4o");
  });

  it("answers a repeated lookup from the memo with the same price (its speed is measured in bench/core.mjs)", () => {
    const usage = { inputTokens: 1234, outputTokens: 567, cachedInputTokens: 200 };
    const first = catalog.costMicros("gpt-4o", usage);
    for (let i = 0; i < 1_000; i++) expect(catalog.costMicros("gpt-4o", usage)).toBe(first);
    expect(first).toBeGreaterThan(0);
  });

  it("lets overrides win over the data and define custom models", () => {
    const local = new GenAIPriceCatalog({
      overrides: {
        "gpt-4o": { inputPerMTokUsd: 1, outputPerMTokUsd: 2 },
        "anthropic/claude-sonnet-4-5": {
          inputPerMTokUsd: 3,
          outputPerMTokUsd: 4,
          cachedInputPerMTokUsd: 0.5,
        },
        "My-Model": {
          inputPerMTokUsd: 0.5,
          outputPerMTokUsd: 1.5,
          cacheWritePerMTokUsd: 1,
          tiers: [{ aboveInputTokens: 1000, inputPerMTokUsd: 1, outputPerMTokUsd: 3 }],
        },
      },
    });
    expect(local.costMicros("gpt-4o", { inputTokens: 1000, outputTokens: 1000 })).toBe(3000);
    expect(local.resolve("gpt-4o")?.source).toBe("override");
    expect(local.resolve("claude-sonnet-4-5", "anthropic")).toMatchObject({
      inputPerMTokUsd: 3,
      provider: "anthropic",
      source: "override",
    });
    // Without the provider the provider-keyed override does not apply: the data does.
    expect(local.resolve("claude-sonnet-4-5")?.source).toBe("genai-prices");
    expect(
      local.costMicros("my-model", { inputTokens: 1000, outputTokens: 100, cacheWriteTokens: 400 }),
    ).toBe(600 * 0.5 + 400 * 1 + 100 * 1.5);
    // Above the custom tier; cache writes fall back to the tier's input price.
    expect(
      local.costMicros("my-model", { inputTokens: 2000, outputTokens: 100, cacheWriteTokens: 400 }),
    ).toBe(1600 + 400 + 300);
  });

  it("rejects invalid overrides with a ConfigError naming the field", () => {
    const bad = (overrides: unknown) => () =>
      new GenAIPriceCatalog({ overrides: overrides as Record<string, never> });
    expect(bad({ m: { inputPerMTokUsd: -1, outputPerMTokUsd: 1 } })).toThrow(ConfigError);
    expect(bad({ m: { inputPerMTokUsd: -1, outputPerMTokUsd: 1 } })).toThrow(
      /overrides\["m"\]\.inputPerMTokUsd/,
    );
    expect(bad({ m: { inputPerMTokUsd: 1 } })).toThrow(/outputPerMTokUsd/);
    expect(bad({ m: { inputPerMTokUsd: 1, outputPerMTokUsd: Number.NaN } })).toThrow(/outputPerMTokUsd/);
    expect(bad({ m: { inputPerMTokUsd: 1, outputPerMTokUsd: 1, inputPerMtokUsd: 2 } })).toThrow(
      /overrides\["m"\]\.inputPerMtokUsd/,
    );
    expect(
      bad({
        m: {
          inputPerMTokUsd: 1,
          outputPerMTokUsd: 1,
          tiers: [
            { aboveInputTokens: 10, inputPerMTokUsd: 1, outputPerMTokUsd: 1 },
            { aboveInputTokens: 5, inputPerMTokUsd: 1, outputPerMTokUsd: 1 },
          ],
        },
      }),
    ).toThrow(/tiers\[1\]\.aboveInputTokens/);
    expect(bad({ m: null })).toThrow(ConfigError);
  });

  it("rejects negative or NaN token counts", () => {
    expect(() => catalog.costMicros("gpt-4o", { inputTokens: -1, outputTokens: 0 })).toThrow(
      InvalidArgumentError,
    );
    expect(() => catalog.costMicros("gpt-4o", { inputTokens: 1, outputTokens: Number.NaN })).toThrow(
      /usage\.outputTokens/,
    );
  });

  it("charges inconsistent cache subsets as reported, never negative", () => {
    expect(catalog.costMicros("gpt-4o", { inputTokens: 100, cachedInputTokens: 400, outputTokens: 0 })).toBe(
      500,
    );
  });

  it("follows time-dependent prices by the injected clock (o3's price change)", () => {
    const usage = { inputTokens: 1_000_000, outputTokens: 0 };
    const before = new ManualClock(Date.UTC(2025, 5, 1));
    const after = new ManualClock(Date.UTC(2025, 5, 11));
    const early = new GenAIPriceCatalog({ clock: before });
    const late = new GenAIPriceCatalog({ clock: after });
    const earlyMicros = early.costMicros("o3", usage, "openai");
    const lateMicros = late.costMicros("o3", usage, "openai");
    expect(earlyMicros).toBe(Math.round(referenceMicros("o3", usage, "openai", new Date(before.now()))));
    expect(lateMicros).toBe(Math.round(referenceMicros("o3", usage, "openai", new Date(after.now()))));
    expect(earlyMicros).not.toBe(lateMicros);
    // The same memoized entry switches when the clock passes the start date.
    before.set(after.now());
    expect(early.costMicros("o3", usage, "openai")).toBe(lateMicros);
  });

  it("follows off-peak time-of-day windows (deepseek-chat)", () => {
    const clock = new ManualClock(Date.UTC(2025, 0, 10, 12, 0));
    const local = new GenAIPriceCatalog({ clock });
    const usage = { inputTokens: 1_000_000, outputTokens: 1_000_000 };
    for (const hour of [12, 17, 20, 0]) {
      clock.set(Date.UTC(2025, 0, hour === 0 ? 11 : 10, hour, 0));
      expect(local.costMicros("deepseek-chat", usage, "deepseek")).toBe(
        Math.round(referenceMicros("deepseek-chat", usage, "deepseek", new Date(clock.now()))),
      );
    }
  });

  it("uses the default provider when a call names none", () => {
    const local = new GenAIPriceCatalog({ provider: "openrouter" });
    expect(local.resolve("openai/gpt-4o")?.provider).toBe("openrouter");
    expect(() => new GenAIPriceCatalog({ provider: "" })).toThrow(/provider/);
  });
});
