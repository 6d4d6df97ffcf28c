import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { AgentSRE, ErrorRate, ManualClock, SLO } from "@agent-sre/core";
import { afterEach, describe, expect, it } from "vitest";
import { metricsHandler, metricsResponse, prometheusMetrics } from "./prometheus-index.js";

const START = Date.UTC(2026, 10, 23, 9, 0, 0);
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function fleet() {
  const clock = new ManualClock(START);
  const sre = new AgentSRE({
    clock,
    budget: { perTaskLimitUsd: 5, perAgentDailyLimitUsd: 2, orgMonthlyBudgetUsd: 100 },
    breakers: { defaults: { failureThreshold: 2 } },
    tools: { deny: ["rm"] },
    slos: [
      new SLO({
        name: "support-errors",
        agentId: "support",
        indicators: [new ErrorRate({ kind: "model" })],
        errorBudget: { total: 0.01, windowMs: "30d" },
      }),
    ],
  });
  return { clock, sre };
}

const model = {
  kind: "model" as const,
  agentId: "support",
  name: "gpt-4o",
  provider: "openai",
  usage: () => ({ inputTokens: 1_000, outputTokens: 500 }),
};

/** The value of one sample line, e.g. `agent_sre_calls_total{agent="a",kind="model",outcome="ok"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("Prometheus registry for the engine", () => {
  it("exposes calls, tokens, cost, refusals, breakers, spend vs limit and SLO burn per window", async () => {
    const { clock, sre } = fleet();
    const prom = prometheusMetrics(sre);
    await sre.guard(model, async () => {
      clock.advance(2_000);
      return "ok";
    });
    await expect(sre.guard({ kind: "tool", agentId: "support", name: "rm" }, () => 1)).rejects.toThrow();
    const failing = () => Promise.reject(new Error("503"));
    for (let i = 0; i < 2; i++)
      await expect(sre.guard({ ...model, name: "gpt-4.1" }, failing)).rejects.toThrow();
    sre.quarantine("intruder", "test");

    const text = await prom.metrics();
    expect(prom.contentType).toMatch(/text\/plain/);
    expect(sample(text, 'agent_sre_calls_total{agent="support",kind="model",outcome="ok"}')).toBe(1);
    expect(sample(text, 'agent_sre_calls_total{agent="support",kind="model",outcome="error"}')).toBe(2);
    expect(sample(text, 'agent_sre_tokens_total{agent="support",model="gpt-4o",type="input"}')).toBe(1_000);
    expect(sample(text, 'agent_sre_cost_usd_total{agent="support"}')).toBeCloseTo(0.0075, 10);
    expect(sample(text, 'agent_sre_refusals_total{agent="support",code="TOOL_NOT_ALLOWED"}')).toBe(1);
    expect(sample(text, 'agent_sre_call_duration_seconds_sum{kind="model",target="gpt-4o"}')).toBe(2);
    expect(sample(text, 'agent_sre_breaker_transitions_total{breaker="model:gpt-4.1",to="OPEN"}')).toBe(1);
    expect(sample(text, 'agent_sre_breaker_state{breaker="model:gpt-4.1"}')).toBe(2);
    expect(sample(text, 'agent_sre_breaker_state{breaker="model:gpt-4o"}')).toBe(0);
    expect(sample(text, "agent_sre_breakers_open")).toBe(1);
    expect(sample(text, 'agent_sre_agent_spend_usd{agent="support"}')).toBeCloseTo(0.0075, 10);
    expect(sample(text, 'agent_sre_agent_budget_limit_usd{agent="support"}')).toBe(2);
    expect(sample(text, 'agent_sre_agent_budget_utilization_ratio{agent="support"}')).toBeCloseTo(
      0.00375,
      10,
    );
    expect(sample(text, "agent_sre_org_budget_limit_usd")).toBe(100);
    expect(sample(text, 'agent_sre_agent_state{agent="intruder",state="quarantined"}')).toBe(1);
    expect(sample(text, 'agent_sre_agent_state{agent="support",state="quarantined"}')).toBe(0);
    expect(sample(text, 'agent_sre_slo_error_budget_remaining_ratio{slo="support-errors"}')).toBe(0);
    expect(sample(text, 'agent_sre_slo_burn_rate{slo="support-errors",window="1h"}')).toBeGreaterThan(14.4);
    expect(sample(text, 'agent_sre_slo_status{slo="support-errors",status="EXHAUSTED"}')).toBe(1);
    expect(sample(text, 'agent_sre_slo_status{slo="support-errors",status="HEALTHY"}')).toBe(0);

    // Gauges follow the engine between scrapes.
    sre.release("intruder");
    expect(sample(await prom.metrics(), 'agent_sre_agent_state{agent="intruder",state="quarantined"}')).toBe(
      0,
    );
    prom.dispose();
    await sre.guard(model, () => "ok");
    expect(
      sample(await prom.metrics(), 'agent_sre_calls_total{agent="support",kind="model",outcome="ok"}'),
    ).toBe(1);
  });

  it("metricsHandler serves the exposition to any Node server; metricsResponse for fetch handlers", async () => {
    const { sre } = fleet();
    const prom = prometheusMetrics(sre);
    await sre.guard(model, () => "ok");
    const server = createServer(metricsHandler(prom));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/text\/plain/);
    expect(await response.text()).toContain(
      'agent_sre_calls_total{agent="support",kind="model",outcome="ok"} 1',
    );
    expect((await fetch(url, { method: "POST" })).status).toBe(405);

    const fetched = await metricsResponse(prom.registry);
    expect(await fetched.text()).toContain("# TYPE agent_sre_breaker_state gauge");
  });

  it("the shipped Grafana dashboard queries only metrics the registry exposes", async () => {
    const dashboard = JSON.parse(readFileSync(new URL("../grafana/agent-sre.json", import.meta.url), "utf8"));
    const { sre } = fleet();
    const text = await prometheusMetrics(sre).metrics();
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+) (\w+)/gm)].map((m) => m[1]));
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      for (const target of panel.targets)
        for (const name of target.expr.match(/agent_sre_[a-z_]+/g)) used.add(name);
    }
    for (const variable of dashboard.templating.list)
      for (const name of variable.definition.match(/agent_sre_[a-z_]+/g)) used.add(name);
    expect(used.size).toBeGreaterThan(10);
    const missing = [...used].filter((name) => !exposed.has(name.replace(/_(bucket|sum|count)$/, "")));
    expect(missing).toEqual([]);
    expect(dashboard.panels.map((p: { title: string }) => p.title)).toEqual(
      expect.arrayContaining([
        "SLO burn rate by window",
        "Spend vs daily limit",
        "Refusals per second by code",
      ]),
    );
  });
});
