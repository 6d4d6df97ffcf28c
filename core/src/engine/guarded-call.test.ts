import { describe, expect, it, vi } from "vitest";
import { ManualClock } from "../clock.js";
import { type ModelLimits, outputTokenCap } from "../cost/index.js";
import { AgentSRE, type AgentSREOptions } from "./agent-sre.js";
import type { CallEstimate, GuardCall } from "./types.js";

const START = Date.UTC(2026, 10, 23, 9, 0, 0);

function engine(options: AgentSREOptions = {}) {
  return new AgentSRE({ clock: new ManualClock(START), ...options });
}

function modelCall(estimate: CallEstimate, taskId = "t"): GuardCall<unknown> {
  return { kind: "model", agentId: "a", taskId, name: "gpt-4o", provider: "openai", estimate };
}

const LIMITS: ModelLimits = {
  maxOutputTokens: 16_384,
  contextWindowTokens: 128_000,
  model: "gpt-4o",
  provider: "openai",
};

describe("GuardedCall.outputTokenCap", () => {
  it("leaves the request as it is without reading the budget when the reservation holds its cap", async () => {
    const sre = engine({ budget: { perTaskLimitUsd: 1, perAgentDailyLimitUsd: 100 } });
    const inFlight = await sre.begin(modelCall({ inputTokens: 100, outputTokens: 512 }));
    const headroom = vi.spyOn(sre.budget, "headroom");
    expect(inFlight.outputTokenCap(512, LIMITS)).toBeUndefined();
    expect(inFlight.outputTokenCap(400, LIMITS)).toBeUndefined();
    expect(headroom).not.toHaveBeenCalled();
    // A larger cap than the reservation holds is checked against the budget: $1 still pays for it.
    expect(inFlight.outputTokenCap(20_000, LIMITS)).toBeUndefined();
    expect(headroom).toHaveBeenCalledTimes(1);
    inFlight.succeed({ inputTokens: 100, outputTokens: 10 });
  });

  it("clamps to the allowance of a call admitted with fewer output tokens than asked", async () => {
    const sre = engine({ budget: { perTaskLimitUsd: 0.1, perAgentDailyLimitUsd: 100 } });
    // $1.00 of output (gpt-4o, $10 / M) does not fit in $0.10: the engine reserves what does.
    const inFlight = await sre.begin(
      modelCall({ inputTokens: 0, outputTokens: 100_000, minOutputTokens: 1_000 }),
    );
    const cap = inFlight.outputTokenCap(100_000, LIMITS);
    expect(cap).toBe(outputTokenCap(inFlight.outputTokenAllowance, 100_000, LIMITS));
    expect(cap).toBeGreaterThanOrEqual(9_999);
    expect(cap).toBeLessThanOrEqual(10_000);
    inFlight.succeed({ inputTokens: 0, outputTokens: 10 });
  });

  it("reads the budget when the call states its own cost (the money held need not pay for the tokens)", async () => {
    const sre = engine({ budget: { perTaskLimitUsd: 0.01, perAgentDailyLimitUsd: 100 } });
    const inFlight = await sre.begin(modelCall({ costUsd: 0.001, inputTokens: 0, outputTokens: 10_000 }));
    // $0.01 of the task pays for 1,000 output tokens at $10 / M, not the 10,000 the reservation counts.
    const cap = inFlight.outputTokenCap(10_000, LIMITS);
    expect(cap).toBeGreaterThanOrEqual(999);
    expect(cap).toBeLessThanOrEqual(1_000);
    inFlight.succeed({ inputTokens: 0, outputTokens: 10 });
  });

  it("caps below the model's maximum when the request sets no cap and the budget binds there", async () => {
    const sre = engine({ budget: { perTaskLimitUsd: 0.05, perAgentDailyLimitUsd: 100 } });
    const inFlight = await sre.begin(modelCall({ inputTokens: 0, outputTokens: 1_000 }));
    // The reservation holds 1,000 tokens; the model's maximum (16,384) is above the $0.05 it may spend.
    const cap = inFlight.outputTokenCap(undefined, LIMITS);
    expect(cap).toBeGreaterThanOrEqual(4_999);
    expect(cap).toBeLessThanOrEqual(5_000);
    inFlight.succeed({ inputTokens: 0, outputTokens: 10 });
  });

  it("sends no cap when the engine has no budget to enforce", async () => {
    const sre = engine();
    const inFlight = await sre.begin(modelCall({ inputTokens: 0, outputTokens: 100_000 }));
    expect(inFlight.outputTokenCap(100_000, LIMITS)).toBeUndefined();
    inFlight.succeed({ inputTokens: 0, outputTokens: 10 });
  });
});

describe("GuardedCall's money held and allowance (fields that are undefined until set)", () => {
  it("holds $0 for a free tool call and the estimate for a model call, and charges it", async () => {
    const sre = engine({ budget: { perTaskLimitUsd: 1, perAgentDailyLimitUsd: 100 } });
    const tool = await sre.begin({ kind: "tool", agentId: "a", name: "search" });
    expect(tool.reservedUsd).toBe(0);
    tool.succeed();
    const model = await sre.begin(modelCall({ costUsd: 0.25 }));
    expect(model.reservedUsd).toBe(0.25);
    expect(sre.budget.agentStatus("a").reservedTodayUsd).toBe(0.25);
    model.succeed();
    expect(sre.budget.agentStatus("a").spentTodayUsd).toBe(0.25);
  });

  it("reads the allowance from the budget once, an unlimited one too", async () => {
    const limited = engine({ budget: { perTaskLimitUsd: 0.05, perAgentDailyLimitUsd: 100 } });
    const inFlight = await limited.begin(modelCall({ inputTokens: 0, outputTokens: 1_000 }));
    // Before it is read, what the reservation surely holds (less one token); after, the allowance.
    expect(inFlight.outputTokensHeld).toBe(999);
    const headroom = vi.spyOn(limited.budget, "headroom");
    const allowance = inFlight.outputTokenAllowance;
    expect(allowance).toBeGreaterThanOrEqual(4_999);
    expect(allowance).toBeLessThanOrEqual(5_000);
    expect(inFlight.outputTokenAllowance).toBe(allowance);
    expect(inFlight.outputTokensHeld).toBe(allowance);
    expect(headroom).toHaveBeenCalledTimes(1);
    inFlight.succeed({ inputTokens: 0, outputTokens: 10 });

    const unlimited = await engine().begin(modelCall({ inputTokens: 0, outputTokens: 1_000 }));
    expect(unlimited.outputTokenAllowance).toBe(Number.POSITIVE_INFINITY);
    expect(unlimited.outputTokensHeld).toBe(Number.POSITIVE_INFINITY);
    expect(unlimited.outputTokenCap(100, LIMITS)).toBeUndefined();
    unlimited.succeed({ inputTokens: 0, outputTokens: 10 });
  });
});
