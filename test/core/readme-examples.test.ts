// The examples of core/README.md, run as written (with the LLM client replaced by a scripted one).
import {
  AgentSRE,
  ChaosExperiment,
  CircuitBreaker,
  CircuitOpenError,
  errorInjection,
  LatencyPercentile,
  latencyInjection,
  ManualClock,
  SLO,
  sloFromSpec,
  TaskSuccessRate,
  ToolCallSuccessRate,
} from "@agent-sre/core";
import { describe, expect, it } from "vitest";

const client = {
  chat: {
    completions: {
      create: async (_request: unknown, _options: { signal?: AbortSignal }) => ({
        model: "gpt-4o-2024-08-06",
        usage: { prompt_tokens: 3_000, completion_tokens: 800 },
        choices: [{ message: { content: "refund issued" } }],
      }),
    },
  },
};

describe("core README examples", () => {
  it("the pipeline example runs and prices the resolved model", async () => {
    const clock = new ManualClock(new Date("2026-11-23T08:00:00Z"));
    const sre = new AgentSRE({
      clock,
      budget: {
        perTaskLimitUsd: 2,
        perAgentDailyLimitUsd: 100,
        orgMonthlyBudgetUsd: 5_000,
        alertThresholds: [0.5, 0.75, 0.9, 0.95],
        throttleThreshold: 0.85,
        killSwitchThreshold: 0.95,
        perTaskTokenLimit: 200_000,
        timeZone: "Europe/Berlin",
      },
      breakers: {
        defaults: {
          failureThreshold: 5,
          recoveryTimeoutMs: "30s",
          slowCallMs: 20_000,
          slowCallRateThreshold: 0.5,
        },
        overrides: {
          "model:*": {
            window: { type: "time", durationMs: 60_000, minimumCalls: 10, failureRateThreshold: 0.5 },
          },
        },
        cascadeThreshold: 3,
      },
      tools: { deny: ["shell_*"] },
      agents: { billing: { allowedTools: ["lookup_invoice", "refund"] } },
      timeouts: { modelMs: "60s", toolMs: "30s" },
      throttle: { mode: "delay", maxDelayMs: "2m" },
      rogue: { quarantineAt: "HIGH" },
      slos: [
        new SLO({
          name: "billing-success",
          agentId: "billing",
          indicators: [new TaskSuccessRate()],
          errorBudget: { total: 0.01, windowMs: "30d", exhaustionAction: "THROTTLE" },
        }),
      ],
    });
    const request = { model: "gpt-4o", messages: [] };
    const result = await sre.guard(
      {
        kind: "model",
        agentId: "billing",
        taskId: "ticket-9",
        name: "gpt-4o",
        provider: "openai",
        estimate: { inputTokens: 3_000, outputTokens: 1_000 },
        usage: (r) => ({
          inputTokens: r.usage.prompt_tokens,
          outputTokens: r.usage.completion_tokens,
          model: r.model,
        }),
      },
      (signal?: AbortSignal) => client.chat.completions.create(request, { signal }),
    );
    expect(result.choices[0]?.message.content).toBe("refund issued");
    // gpt-4o: $2.50 / M input, $10 / M output → 3000 × 2.5e-6 + 800 × 1e-5.
    expect(sre.budget.agentStatus("billing").spentTodayUsd).toBeCloseTo(0.0075 + 0.008, 9);
    await expect(
      sre.guard({ kind: "tool", agentId: "billing", name: "shell_exec" }, async () => 1),
    ).rejects.toMatchObject({
      code: "TOOL_NOT_ALLOWED",
    });
  });

  it("the breaker example", async () => {
    const breaker = new CircuitBreaker({
      id: "data-analyst",
      failureThreshold: 3,
      recoveryTimeoutMs: 30_000,
      halfOpenMaxCalls: 1,
    });
    const failing = async () => {
      throw new Error("task failed");
    };
    for (let i = 0; i < 3; i++) await breaker.call(failing).catch(() => undefined);
    const refused = await breaker.call(failing).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect((refused as CircuitOpenError).retryAfterMs).toBeGreaterThan(0);
    expect(await breaker.call(failing, { fallback: () => "cached answer" })).toBe("cached answer");
    expect(breaker.state).toBe("OPEN");
  });

  it("the SLO examples", () => {
    const slo = new SLO({
      name: "researcher-tools",
      agentId: "researcher",
      indicators: [
        new ToolCallSuccessRate(),
        new LatencyPercentile({ percentile: 0.95, thresholdMs: 5_000 }),
      ],
      errorBudget: { total: 0.005, windowMs: "30d", exhaustionAction: "CIRCUIT_BREAK" },
    });
    expect(slo.evaluate().status).toBe("UNKNOWN");
    const fromData = sloFromSpec({
      name: "p95",
      target: 0.99,
      window: "30d",
      indicator: { type: "latency", percentile: 0.95, thresholdMs: 3000 },
    });
    expect(fromData.name).toBe("p95");
  });

  it("the chaos example", async () => {
    const sre = new AgentSRE({ clock: new ManualClock() });
    const experiment = new ChaosExperiment({
      name: "provider-brownout",
      targetAgent: "researcher-*",
      seed: 42,
      durationMs: "10m",
      blastRadius: 0.5,
      faults: [
        latencyInjection("model:*", { delayMs: 3_000, rate: 0.3 }),
        errorInjection("tool:search", { rate: 0.2 }),
      ],
      abortConditions: [{ metric: "success_rate", threshold: 0.7, comparator: "lt" }],
    });
    sre.startExperiment(experiment);
    expect(sre.chaos.active().map((e) => e.name)).toEqual(["provider-brownout"]);
  });
});
