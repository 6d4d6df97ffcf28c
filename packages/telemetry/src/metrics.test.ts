import { AgentSRE, ErrorRate, ManualClock, SLO } from "@agent-sre/core";
import type { Histogram } from "@opentelemetry/sdk-metrics";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instrument } from "./index.js";
import { metric, type OtelHarness, otelHarness, point } from "./test-utils/otel.js";

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
let otel: OtelHarness;

beforeAll(() => {
  otel = otelHarness();
});
afterAll(async () => {
  await otel.shutdown();
});

describe("metrics (OpenTelemetry metrics API)", () => {
  it("records token usage, duration, cost, refusals, breaker transitions, budget and SLO gauges", async () => {
    const clock = new ManualClock(START);
    const sre = new AgentSRE({
      clock,
      budget: { perTaskLimitUsd: 5, perAgentDailyLimitUsd: 1, orgMonthlyBudgetUsd: 100 },
      breakers: { defaults: { failureThreshold: 2 } },
      tools: { deny: ["rm"] },
      slos: [
        new SLO({
          name: "support-success",
          agentId: "support",
          indicators: [new ErrorRate({ kind: "model" })],
          errorBudget: { total: 0.01, windowMs: "30d" },
        }),
      ],
    });
    const meter = otel.meterProvider.getMeter("agent-sre-test");
    const telemetry = instrument(sre, { tracer: false, meter });
    // Per call the engine calls only `end` (and `enabled`): the metrics observer has no `start` to call.
    expect(telemetry.metrics && "start" in telemetry.metrics).toBe(false);

    const model = {
      kind: "model" as const,
      agentId: "support",
      name: "gpt-4o",
      provider: "openai",
      usage: () => ({ inputTokens: 1_000, outputTokens: 500 }),
    };
    await sre.guard(model, async () => {
      clock.advance(1_500);
      return "ok";
    });
    await sre.guard(model, () => "ok");
    await expect(sre.guard({ kind: "tool", agentId: "support", name: "rm" }, () => 1)).rejects.toThrow();
    const failing = () => Promise.reject(new Error("503"));
    for (let i = 0; i < 2; i++)
      await expect(sre.guard({ ...model, name: "gpt-4.1" }, failing)).rejects.toThrow();

    const all = await otel.collect();
    const tokens = metric(all, "gen_ai.client.token.usage");
    expect(tokens.descriptor.unit).toBe("{token}");
    const input = point<Histogram>(tokens, {
      "gen_ai.token.type": "input",
      "gen_ai.request.model": "gpt-4o",
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
    });
    expect(input.value.count).toBe(2);
    expect(input.value.sum).toBe(2_000);
    expect(
      point<Histogram>(tokens, { "gen_ai.token.type": "output", "gen_ai.request.model": "gpt-4o" }).value.sum,
    ).toBe(1_000);

    const duration = metric(all, "gen_ai.client.operation.duration");
    expect(duration.descriptor.unit).toBe("s");
    const ok = point<Histogram>(duration, { "gen_ai.request.model": "gpt-4o" });
    expect(ok.value.count).toBe(2);
    expect(ok.value.sum).toBeCloseTo(1.5, 9);
    expect(
      point<Histogram>(duration, { "gen_ai.request.model": "gpt-4.1", "error.type": "Error" }).value.count,
    ).toBe(2);

    const cost = point<number>(metric(all, "agent_sre.cost"), {
      "agent_sre.agent.id": "support",
      "gen_ai.request.model": "gpt-4o",
    });
    expect(cost.value).toBeCloseTo(0.015, 10);
    expect(
      point<number>(metric(all, "agent_sre.refusals"), { "agent_sre.refusal.code": "TOOL_NOT_ALLOWED" })
        .value,
    ).toBe(1);
    expect(
      point<number>(metric(all, "agent_sre.breaker.transitions"), {
        "agent_sre.breaker.id": "model:gpt-4.1",
        "agent_sre.breaker.to": "OPEN",
      }).value,
    ).toBe(1);
    expect(
      point<number>(metric(all, "agent_sre.breaker.state"), { "agent_sre.breaker.id": "model:gpt-4.1" })
        .value,
    ).toBe(2);
    expect(
      point<number>(metric(all, "agent_sre.breaker.state"), { "agent_sre.breaker.id": "model:gpt-4o" }).value,
    ).toBe(0);

    const utilization = metric(all, "agent_sre.budget.utilization");
    expect(
      point<number>(utilization, { "agent_sre.agent.id": "support", "agent_sre.budget.scope": "agent" })
        .value,
    ).toBeCloseTo(0.015, 9);
    expect(point<number>(utilization, { "agent_sre.budget.scope": "org" }).value).toBeCloseTo(0.00015, 9);

    // 2 failures out of 4 calls against a 1 % budget: burning fast, budget exhausted.
    const remaining = point<number>(metric(all, "agent_sre.slo.error_budget.remaining"), {
      "agent_sre.slo.name": "support-success",
    });
    expect(remaining.value).toBe(0);
    const burn = metric(all, "agent_sre.slo.burn_rate");
    const windows = burn.dataPoints.map((p) => p.attributes["agent_sre.slo.window"]);
    expect(windows).toContain("1h");
    expect(point<number>(burn, { "agent_sre.slo.window": "1h" }).value).toBeGreaterThan(10);
  });
});
