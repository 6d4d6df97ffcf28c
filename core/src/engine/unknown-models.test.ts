import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { GenAIPriceCatalog } from "../cost/index.js";
import { ConfigError, ModelNotPricedError } from "../errors.js";
import { AgentSRE, type AgentSREOptions } from "./agent-sre.js";

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
const catalog = new GenAIPriceCatalog();

function engine(options: AgentSREOptions = {}) {
  const sre = new AgentSRE({ clock: new ManualClock(START), budget: { perTaskLimitUsd: 10 }, ...options });
  const unknown: Array<{ model: string; policy: string }> = [];
  sre.on("price.unknown", (e) => unknown.push({ model: e.model, policy: e.policy }));
  return { sre, unknown };
}

const usage = { inputTokens: 1_000, outputTokens: 200 };
const spent = (sre: AgentSRE, agentId = "a") => sre.budget.agentStatus(agentId).spentTodayUsd;

describe("models: aliases and custom prices, consulted before genai-prices", () => {
  it("prices an alias exactly as its target and a custom model at its own rates", async () => {
    const { sre, unknown } = engine({
      models: {
        "my-azure-deployment": "gpt-4o",
        "llama3:70b": { inputPerMTokUsd: 1, outputPerMTokUsd: 2 },
        "gpt-4o-mini": { inputPerMTokUsd: 100, outputPerMTokUsd: 100 }, // a custom price wins over the data
      },
    });
    await sre.guard(
      { kind: "model", agentId: "a", name: "my-azure-deployment", usage: () => usage },
      () => 1,
    );
    expect(spent(sre)).toBeCloseTo((catalog.costMicros("gpt-4o", usage) as number) / 1e6, 12);
    await sre.guard({ kind: "model", agentId: "b", name: "LLAMA3:70B", usage: () => usage }, () => 1);
    expect(spent(sre, "b")).toBeCloseTo((1_000 * 1 + 200 * 2) / 1e6, 12);
    await sre.guard({ kind: "model", agentId: "c", name: "gpt-4o-mini", usage: () => usage }, () => 1);
    expect(spent(sre, "c")).toBeCloseTo((1_200 * 100) / 1e6, 12);
    expect(unknown).toEqual([]);
  });

  it("names the bad entry of `models` in a ConfigError, every one at once", () => {
    const error = (() => {
      try {
        new AgentSRE({ models: { a: "", b: { inputPerMTokUsd: -1, outputPerMTokUsd: 0 } as never, c: "c" } });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.issues.map((i) => i.field)).toEqual(["models.a", "models.c"]);
    expect(() => new AgentSRE({ models: { b: { inputPerMTokUsd: -1, outputPerMTokUsd: 0 } } })).toThrow(
      /models\.b\.inputPerMTokUsd/,
    );
  });
});

describe('unknownModel: "block" refuses MODEL_NOT_PRICED in every path', () => {
  it("refuses guard(), begin(), calls that carry estimate.costUsd, and admission()", async () => {
    const { sre } = engine({ unknownModel: "block" });
    const call = { kind: "model" as const, agentId: "a", name: "my-private-model" };
    let ran = 0;
    await expect(sre.guard(call, () => ran++)).rejects.toBeInstanceOf(ModelNotPricedError);
    await expect(sre.guard({ ...call, estimate: { costUsd: 0.01 } }, () => ran++)).rejects.toBeInstanceOf(
      ModelNotPricedError,
    );
    await expect(sre.begin({ ...call, estimate: { costUsd: 0.01 } })).rejects.toBeInstanceOf(
      ModelNotPricedError,
    );
    expect(sre.admission("a", { model: "my-private-model" })).toBeInstanceOf(ModelNotPricedError);
    expect(ran).toBe(0);
    expect(sre.status().agents.a?.refused).toBe(3);
    // A priced model with its own estimate still runs.
    await sre.guard({ ...call, name: "gpt-4o", estimate: { costUsd: 0.01 } }, () => ran++);
    expect(ran).toBe(1);
  });
});

describe('unknownModel: "warn" (default) fails safe', () => {
  it("reserves at the unknown-model price, charges at least the reservation (never $0), and warns once", async () => {
    const { sre, unknown } = engine({ unknownModelPrice: { inputPerMTokUsd: 10, outputPerMTokUsd: 30 } });
    const call = {
      kind: "model" as const,
      agentId: "a",
      taskId: "t",
      name: "ollama/llama3-private",
      estimate: { inputTokens: 1_000, outputTokens: 4_000 },
    };
    const inFlight = await sre.begin(call);
    const reservedUsd = (1_000 * 10 + 4_000 * 30) / 1e6;
    expect(sre.budget.agentStatus("a").reservedTodayUsd).toBeCloseTo(reservedUsd, 9);
    inFlight.succeed({ inputTokens: 1_000, outputTokens: 10 });
    expect(spent(sre)).toBeCloseTo(reservedUsd, 9);
    await sre.guard(
      { ...call, estimate: undefined, usage: () => ({ inputTokens: 100, outputTokens: 100 }) },
      () => 1,
    );
    expect(spent(sre)).toBeCloseTo(reservedUsd + (100 * 10 + 100 * 30) / 1e6, 9);
    expect(unknown).toEqual([{ model: "ollama/llama3-private", policy: "warn" }]);
    expect(sre.status().agents.a?.unpricedTokens).toBe(1_010 + 200);
  });

  it("warns when the unknown name appears only in the provider's response, and still charges", async () => {
    const { sre, unknown } = engine();
    await sre.guard(
      { kind: "model", agentId: "a", name: "gpt-4o", usage: () => ({ ...usage, model: "azure-ft-7f3a" }) },
      () => 1,
    );
    expect(unknown).toEqual([{ model: "azure-ft-7f3a", policy: "warn" }]);
    // Priced as the requested model, which has a price.
    expect(spent(sre)).toBeCloseTo((catalog.costMicros("gpt-4o", usage) as number) / 1e6, 12);
    // Neither name priced: the unknown-model price, never $0.
    await sre.guard(
      { kind: "model", agentId: "b", name: "my-route", usage: () => ({ ...usage, model: "other-ft" }) },
      () => 1,
    );
    expect(spent(sre, "b")).toBeCloseTo((1_000 * 15 + 200 * 75) / 1e6, 12);
  });

  it('"free" counts an unknown model as $0 silently', async () => {
    const { sre, unknown } = engine({ unknownModel: "free" });
    await sre.guard({ kind: "model", agentId: "a", name: "local-model", usage: () => usage }, () => 1);
    expect(spent(sre)).toBe(0);
    expect(unknown).toEqual([]);
  });
});
