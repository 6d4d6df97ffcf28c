/**
 * End to end: a real AI SDK agent (`generateText` through `agentSREMiddleware`, only the LLM is a mock)
 * burns its SLO and then its budget; the AlertManager attached to the same engine pages a fake PagerDuty
 * and posts to a fake Slack (local HTTP servers), and resolves both incidents after recovery.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { agentSREMiddleware } from "@agent-sre/ai-sdk";
import { AlertManager } from "@agent-sre/alerts";
import { AgentSRE, ErrorRate, ManualClock, SLO } from "@agent-sre/core";
import { generateText, wrapLanguageModel } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { afterEach, describe, expect, it } from "vitest";

interface Received {
  path: string;
  body: Record<string, unknown>;
}

/** A fake service on 127.0.0.1:0 that records JSON bodies and answers like the real one. */
async function fakeService(status: number, body: string) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    req.on("end", () => {
      received.push({ path: req.url ?? "", body: JSON.parse(text) as Record<string, unknown> });
      res.writeHead(status, { "content-type": "application/json" });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    received,
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

describe("alerts end to end (AI SDK agent → engine → AlertManager → PagerDuty + Slack)", () => {
  it("pages on an SLO burn and a budget kill, and resolves both after recovery", async () => {
    const pagerduty = await fakeService(202, '{"status":"success","message":"Event processed"}');
    const slack = await fakeService(200, "ok");
    closers.push(pagerduty.close, slack.close);

    const clock = new ManualClock(Date.UTC(2026, 2, 2, 9, 0, 0));
    const slo = new SLO({
      name: "support-bot/calls",
      agentId: "support-bot",
      indicators: [new ErrorRate({ name: "call_error_rate" })],
      errorBudget: { total: 0.05, windowMs: "1d" },
    });
    const sre = new AgentSRE({
      clock,
      slos: [slo],
      sloEvaluationIntervalMs: 1_000,
      rogue: false,
      breakers: { defaults: { failureThreshold: 1_000 } },
      budget: {
        perAgentDailyLimitUsd: 1,
        alertThresholds: [0.5],
        killSwitchThreshold: 1,
        anomalyDetection: false,
      },
    });
    const alerts = new AlertManager({
      sre,
      clock,
      random: () => 0.5,
      receivers: {
        pager: { type: "pagerduty", routingKey: "${PD_KEY}", url: pagerduty.url("/v2/enqueue") },
        chat: { type: "slack", url: "${SLACK_URL}" },
      },
      route: {
        receiver: "chat",
        groupWaitMs: "30s",
        groupIntervalMs: "1m",
        // Pages go to PagerDuty and (continue) to Slack too; everything else to Slack.
        routes: [{ severity: "page", receiver: "pager", continue: true }, { receiver: "chat" }],
      },
      env: { PD_KEY: "R0UTINGKEY0123456789abcdefABCDEF", SLACK_URL: slack.url("/services/T0/B0/token") },
      logger: { warn: () => {} },
    });
    await alerts.ready;

    // The provider: failing at first (HTTP 500s), then healthy, then one runaway answer.
    let mode: "failing" | "healthy" | "runaway" = "failing";
    const provider = new MockLanguageModelV3({
      provider: "openai.chat",
      modelId: "gpt-4.1",
      doGenerate: async () => {
        if (mode === "failing") throw Object.assign(new Error("Internal Server Error"), { statusCode: 500 });
        return {
          content: [{ type: "text", text: "Your refund is on its way." }],
          finishReason: { unified: "stop", raw: "stop" },
          usage: mode === "runaway" ? usage(400_000, 40_000) : usage(200, 20),
          warnings: [],
        };
      },
    });
    const model = wrapLanguageModel({
      model: provider,
      middleware: agentSREMiddleware(sre, { agentId: "support-bot" }),
    });
    const ask = async () => {
      try {
        await generateText({ model, prompt: "Where is my refund?", maxRetries: 0 });
        return "ok";
      } catch (error) {
        return (error as { code?: string }).code ?? "failed";
      }
    };
    // Time moves in 1 s steps and each step waits for deliveries it started: a request really in flight
    // must not see minutes of manual time pass (its 10 s timeout is on the same clock).
    const step = async (ms: number) => {
      for (let left = ms; left > 0; left -= 1_000) {
        await clock.advanceAsync(Math.min(1_000, left));
        await alerts.idle();
      }
    };

    // 1. The provider fails: every call of the agent errors; the SLO burns 20x (page).
    for (let i = 0; i < 5; i++) {
      expect(await ask()).toBe("failed");
      await step(10_000);
    }
    await step(60_000);
    // 2. It recovers: successful calls for 25 minutes bring the SLO back.
    mode = "healthy";
    for (let i = 0; i < 150; i++) {
      expect(await ask()).toBe("ok");
      await step(10_000);
    }
    await step(120_000);
    expect(alerts.alerts()).toEqual([]);
    // 3. One runaway call spends more than the day's budget: the agent is killed, then revived.
    mode = "runaway";
    expect(await ask()).toBe("ok");
    expect(await ask()).toBe("AGENT_KILLED");
    await step(60_000);
    sre.revive("support-bot"); // no longer killed; the day's budget is still spent
    mode = "healthy";
    expect(await ask()).toBe("BUDGET_EXCEEDED");
    await step(120_000);

    const pd = pagerduty.received.map((r) => {
      const payload = r.body.payload as { class?: string; severity?: string; component?: string } | undefined;
      return [r.body.event_action, payload?.class ?? null, payload?.severity ?? null, r.body.dedup_key];
    });
    const key = (name: string) => pd.find((e) => e[1] === name)?.[3];
    expect(pd).toEqual([
      ["trigger", "SloBurnRate", "critical", key("SloBurnRate")],
      ["trigger", "SloBudgetExhausted", "critical", key("SloBudgetExhausted")],
      ["resolve", null, null, key("SloBurnRate")],
      ["resolve", null, null, key("SloBudgetExhausted")],
      ["trigger", "BudgetKill", "critical", key("BudgetKill")],
      ["resolve", null, null, key("BudgetKill")],
    ]);
    expect(new Set(pd.map((e) => e[3])).size).toBe(3);
    expect(pagerduty.received.every((r) => r.body.routing_key === "R0UTINGKEY0123456789abcdefABCDEF")).toBe(
      true,
    );
    // Slack sees the pages and the ticket, and each resolve; the budget threshold/throttle alerts stayed
    // muted behind the kill (default inhibition) and resolved with it unannounced.
    const texts = slack.received.map((r) => String(r.body.text).split(": ")[0]);
    // (Slack groups by alertname + agent: the burn-rate page and ticket arrive as one message.)
    expect(texts).toEqual([
      "[FIRING:2] SloBurnRate support-bot",
      "[FIRING:1] SloBudgetExhausted support-bot",
      "[RESOLVED] SloBurnRate support-bot",
      "[RESOLVED] SloBudgetExhausted support-bot",
      "[FIRING:1] BudgetKill support-bot",
      "[RESOLVED] BudgetKill support-bot",
    ]);
    expect(slack.received.every((r) => r.path === "/services/T0/B0/token")).toBe(true);
    await alerts.close();
  }, 60_000);
});
