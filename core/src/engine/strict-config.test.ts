import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { AgentSRE, type AgentSREOptions } from "./agent-sre.js";

function configError(options: unknown): ConfigError {
  try {
    new AgentSRE(options as AgentSREOptions);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("strict configuration", () => {
  it("rejects an unknown top-level key, naming it and the key meant", () => {
    const error = configError({ costGuard: { perTaskLimitUsd: 1 } });
    expect(error.field).toBe("costGuard");
    expect(error.issues[0]?.suggestion).toBe("budget");
    expect(error.message).toMatch(/did you mean "budget"\?/);
    expect(configError({ breaker: {} }).issues[0]?.suggestion).toBe("breakers");
    expect(configError({ timeout: {} }).issues[0]?.suggestion).toBe("timeouts");
    expect(configError({ unknownModell: "warn" }).issues[0]?.suggestion).toBe("unknownModel");
  });

  it("rejects unknown keys in every nested options object, with full paths", () => {
    const error = configError({
      budget: { perTaskLimitUsd: 1, perAgentDailyLimit: 5, agents: { bot: { dailyLimit: 2 } } },
      breakers: {
        defaults: { failureTreshold: 3, window: { type: "count", sise: 10 } },
        overrides: { "tool:x": { recoveryTimeout: 1 } },
      },
      agents: { bot: { allowedTool: ["a"] } },
      rateLimits: [{ limit: 1, perr: "1m" }],
      rogue: { quarantineAT: "HIGH" },
      timeouts: { model: "30s" },
    });
    expect(error.issues.map((issue) => [issue.field, issue.suggestion])).toEqual([
      ["budget.perAgentDailyLimit", "perAgentDailyLimitUsd"],
      ["budget.agents.bot.dailyLimit", "dailyLimitUsd"],
      ["breakers.defaults.failureTreshold", "failureThreshold"],
      ["breakers.defaults.window.sise", "size"],
      ['breakers.overrides["tool:x"].recoveryTimeout', "recoveryTimeoutMs"],
      ["agents.bot.allowedTool", "allowedTools"],
      ["rateLimits[0].perr", "per"],
      ["rogue.quarantineAT", "quarantineAt"],
      ["timeouts.model", "modelMs"],
    ]);
    expect(error.message).toMatch(/^9 configuration problems:/);
  });

  it("reports every invalid value at once, each naming its field and value", () => {
    const error = configError({
      unknownModel: "maybe",
      budget: { perTaskLimitUsd: -1 },
      breakers: { defaults: { failureThreshold: 0 }, scope: "everything" },
      timeouts: { modelMs: "soon" },
      throttle: { mode: "slow" },
      rogue: { quarantineAt: "SEVERE" },
      unknownModelPrice: { inputPerMTokUsd: -5, outputPerMTokUsd: 1 },
    });
    const fields = error.issues.map((issue) => issue.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        "unknownModel",
        "budget.perTaskLimitUsd",
        "breakers.defaults.failureThreshold",
        "breakers.scope",
        "timeouts.modelMs",
        "throttle.mode",
        "rogue.quarantineAt",
        "unknownModelPrice.inputPerMTokUsd",
      ]),
    );
    expect(error.message).toContain('Invalid unknownModel: "maybe"');
    expect(error.message).toContain("Invalid budget.perTaskLimitUsd: -1");
    expect(error.issues.find((issue) => issue.field === "throttle.mode")?.value).toBe("slow");
  });

  it("accepts every documented option", () => {
    expect(
      () =>
        new AgentSRE({
          models: { "my-deployment": "gpt-4o" },
          unknownModel: "warn",
          unknownModelPrice: { inputPerMTokUsd: 1, outputPerMTokUsd: 2 },
          budget: { perTaskLimitUsd: 1, agents: { bot: { dailyLimitUsd: 2 } }, anomalyDetection: false },
          breakers: {
            defaults: { failureThreshold: 3 },
            overrides: { "model:*": { recoveryTimeoutMs: 5_000 } },
            scope: "both",
          },
          tools: { allow: ["*"], deny: ["shell_*"] },
          agents: { bot: { allowedTools: ["search"] } },
          rateLimits: [{ tools: "search", limit: 10, per: "1m" }],
          timeouts: { modelMs: "30s", toolMs: 5_000 },
          throttle: { mode: "reject", maxDelayMs: 0 },
          rogue: { loopRepeats: 4, quarantineAt: "HIGH", refuseLoops: true },
          slos: [],
          sloEvaluationIntervalMs: 500,
          classifyFailure: () => undefined,
          chaosSeed: 7,
          onListenerError: () => {},
        }),
    ).not.toThrow();
  });
});
