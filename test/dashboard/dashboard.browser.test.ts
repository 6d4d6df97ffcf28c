/// <reference lib="dom" />
/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against a running fleet of
 * agents on real adapters: the page loads, the fleet table shows the engine's state, a live update arrives
 * over Server-Sent Events, an operator action (revive) changes the engine, and requests without the token
 * are refused.
 */
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { agentSREMiddleware, guardTools } from "@agent-sre/ai-sdk";
import { AlertManager } from "@agent-sre/alerts";
import { AgentSRE, ErrorRate, SLO } from "@agent-sre/core";
import { type DashboardServer, serveDashboard } from "@agent-sre/dashboard";
import { generateText, stepCountIs, tool, wrapLanguageModel } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const TOKEN = "browser-test-token-0123456789";

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

/** A small fleet like the demo's: an AI SDK agent with a tool, a researcher with an SLO, a writer on a budget. */
function demoLikeFleet() {
  const sre = new AgentSRE({
    budget: { perTaskLimitUsd: 5, perAgentDailyLimitUsd: 0.05, orgMonthlyBudgetUsd: 100 },
    slos: [
      new SLO({
        name: "research-errors",
        agentId: "research-agent",
        indicators: [new ErrorRate({ kind: "model" })],
        errorBudget: { total: 0.01, windowMs: "30d" },
      }),
    ],
  });
  const frameworks: Record<string, string> = {
    "support-bot": "AI SDK",
    "research-agent": "LangChain.js",
    "report-writer": "AI SDK",
  };
  let step = 0;
  const model = wrapLanguageModel({
    model: new MockLanguageModelV3({
      provider: "openai.chat",
      modelId: "gpt-4.1-mini",
      doGenerate: async () =>
        step++ % 2 === 0
          ? {
              content: [{ type: "tool-call", toolCallId: `c${step}`, toolName: "lookup", input: '{"id":7}' }],
              finishReason: { unified: "tool-calls", raw: "tool_calls" },
              usage: usage(300, 20),
              warnings: [],
            }
          : {
              content: [{ type: "text", text: "order 7 shipped" }],
              finishReason: { unified: "stop", raw: "stop" },
              usage: usage(340, 12),
              warnings: [],
            },
    }),
    middleware: agentSREMiddleware(sre, { agentId: "support-bot" }),
  });
  const tools = guardTools(
    {
      lookup: tool({
        inputSchema: z.object({ id: z.number() }),
        execute: async ({ id }) => `order ${id}: shipped`,
      }),
    },
    sre,
    { agentId: "support-bot" },
  );
  const ask = () => generateText({ model, tools, stopWhen: stepCountIs(3), prompt: "where is order 7?" });
  return { sre, frameworks, ask };
}

let browser: Browser;
beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    timeout: 120_000,
  });
}, 150_000);
afterAll(async () => {
  await browser?.close();
});

describe("dashboard in Chromium", () => {
  it("shows the fleet, updates live, revives a killed agent, and refuses requests without the token", async () => {
    const { sre, frameworks, ask } = demoLikeFleet();
    await ask();
    // research-agent fails against its SLO; report-writer spends past its daily budget and is killed.
    for (let i = 0; i < 3; i++) {
      await sre
        .guard({ kind: "model", agentId: "research-agent", name: "gpt-4.1", provider: "openai" }, () =>
          Promise.reject(new Error("upstream 503")),
        )
        .catch(() => {});
    }
    const writer = {
      kind: "model" as const,
      agentId: "report-writer",
      name: "gpt-4o",
      provider: "openai",
      usage: () => ({ inputTokens: 10_000, outputTokens: 4_000 }),
    };
    for (let i = 0; i < 4; i++) await sre.guard(writer, () => "draft").catch(() => {});
    expect(sre.budget.agentStatus("report-writer").killed).toBe(true);

    const server: DashboardServer = await serveDashboard(sre, {
      token: TOKEN,
      framework: (id) => frameworks[id],
    });
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      // The printed URL carries the token once; the page trades it for a cookie.
      await page.goto(server.url, { timeout: 60_000 });
      expect(new URL(page.url()).search).toBe("");
      await page.locator('[data-testid="connection"]', { hasText: "live" }).waitFor({ timeout: 60_000 });

      // The fleet table is the engine's state.
      const status = sre.status();
      for (const [id, agent] of Object.entries(status.agents)) {
        const row = page.locator(`tr[data-agent="${id}"]`);
        await expect(row.locator('td[data-field="calls"]').textContent()).resolves.toBe(String(agent.calls));
        await expect(row.locator('td[data-field="refused"]').textContent()).resolves.toBe(
          String(agent.refused),
        );
        await expect(row.locator('td[data-field="breaker"]').textContent()).resolves.toBe(agent.breaker);
      }
      await expect(page.locator('tr[data-agent="support-bot"] td').nth(1).textContent()).resolves.toBe(
        "AI SDK",
      );
      await expect(page.locator('tr[data-agent="report-writer"]').textContent()).resolves.toContain("KILLED");
      await expect(
        page.locator('tr[data-agent="research-agent"] td[data-field="slo"]').textContent(),
      ).resolves.toBe("EXHAUSTED");
      await expect(page.locator('[data-slo="research-errors"] rect').count()).resolves.toBeGreaterThan(2);

      // A live update: a new call changes the calls cell, observed as a DOM mutation in the page.
      const cell = 'tr[data-agent="support-bot"] td[data-field="calls"]';
      const before = Number(await page.locator(cell).textContent());
      // Install the observer first (and wait until it is installed), then make the call.
      await page.evaluate(
        ({ selector, from }) => {
          (window as unknown as { changed: Promise<string> }).changed = new Promise<string>((resolve) => {
            const observer = new MutationObserver(() => {
              const text = document.querySelector(selector)?.textContent;
              if (text !== undefined && text !== null && text !== String(from)) {
                observer.disconnect();
                resolve(text);
              }
            });
            observer.observe(document.querySelector("#fleet tbody") as Node, {
              childList: true,
              subtree: true,
              characterData: true,
            });
          });
        },
        { selector: cell, from: before },
      );
      await ask();
      const after = await Promise.race([
        page.evaluate(() => (window as unknown as { changed: Promise<string> }).changed),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("no live update in 30 s")), 30_000),
        ),
      ]);
      expect(Number(after)).toBeGreaterThan(before);
      // Updates keep coming until the table shows the engine's count.
      const calls = String(sre.status().agents["support-bot"]?.calls);
      await page.locator(cell, { hasText: new RegExp(`^${calls}$`) }).waitFor({ timeout: 30_000 });

      // Revive: the button calls the engine, which lifts the kill.
      const revived = new Promise((resolve) => sre.once("budget.revive", resolve));
      await page
        .locator('tr[data-agent="report-writer"] button[data-action="revive"]')
        .click({ timeout: 30_000 });
      await revived;
      expect(sre.budget.agentStatus("report-writer").killed).toBe(false);
      await page
        .locator('tr[data-agent="report-writer"] button[data-action="revive"]')
        .waitFor({ state: "detached", timeout: 30_000 });

      // Without the token (a fresh browser context: no cookie) everything is refused.
      const stranger = await browser.newContext();
      const denied = await stranger.newPage();
      const response = await denied.goto(server.url.replace(/\?token=.*$/, ""), { timeout: 60_000 });
      expect(response?.status()).toBe(401);
      const api = await stranger.request.get(server.url.replace(/\?token=.*$/, "api/state"));
      expect(api.status()).toBe(401);
      const forged = await stranger.request.post(server.url.replace(/\?token=.*$/, "api/actions/revive"), {
        data: { agentId: "report-writer" },
        headers: { "X-Agent-SRE-Action": "1" },
      });
      expect(forged.status()).toBe(401);
      await stranger.close();
      await context.close();
    } finally {
      await server.close();
    }
  }, 240_000);

  it("shows an agent held after a cost anomaly, and the on-call's Confirm lets it call again", async () => {
    const sre = new AgentSRE({
      budget: { perTaskLimitUsd: 5, anomalyDetection: { action: "hold", minSamples: 5 } },
    });
    let n = 0;
    const spend = (costUsd: number) =>
      sre.guard(
        { kind: "tool", agentId: "digest-bot", taskId: `t${n++}`, name: "fetch", estimate: { costUsd } },
        () => "ok",
      );
    for (let i = 0; i < 6; i++) await spend(0.01);
    await spend(0.4);
    await expect(spend(0.01)).rejects.toMatchObject({ code: "ANOMALY_HELD" });

    const server = await serveDashboard(sre, { token: TOKEN });
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(server.url, { timeout: 60_000 });
      const row = page.locator('tr[data-agent="digest-bot"]');
      await row.locator(".pill", { hasText: "HELD" }).waitFor({ timeout: 60_000 });
      const button = row.locator('button[data-action="confirm-anomaly"]');
      await expect(button.getAttribute("title", { timeout: 30_000 })).resolves.toMatch(
        /cost anomaly: \$0\.4000 vs ~\$0\.0100 \(z = \d+\.\d\); 1 calls refused while held/,
      );
      const released = new Promise((resolve) => sre.once("cost.anomaly.release", resolve));
      await button.click({ timeout: 30_000 });
      await expect(released).resolves.toMatchObject({
        agentId: "digest-bot",
        by: "confirm",
        refusedCalls: 1,
      });
      await button.waitFor({ state: "detached", timeout: 30_000 });
      await expect(spend(0.01)).resolves.toBe("ok");
      await context.close();
    } finally {
      await server.close();
    }
  }, 240_000);

  it("silences a paging alert of the attached AlertManager, and expires the silence", async () => {
    // A Slack-like receiver on loopback: the AlertManager delivers to it (the page only needs the manager).
    const slack = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.end("ok"));
    });
    await new Promise<void>((resolve) => slack.listen(0, "127.0.0.1", resolve));
    const sre = new AgentSRE({ budget: { perAgentDailyLimitUsd: 1 } });
    const alerts = new AlertManager({
      sre,
      logger: { warn: () => {} },
      receivers: {
        chat: { type: "slack", url: `http://127.0.0.1:${(slack.address() as AddressInfo).port}/hook` },
      },
      route: { receiver: "chat" },
    });
    await alerts.ready;
    sre.kill("billing-agent", "runaway spend");
    expect(alerts.status().alerts.map((a) => [a.name, a.mutedBy])).toEqual([["BudgetKill", null]]);

    const server = await serveDashboard(sre, { token: TOKEN, alerts });
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(server.url, { timeout: 60_000 });
      await page.locator('[data-testid="connection"]', { hasText: "live" }).waitFor({ timeout: 60_000 });
      const row = page.locator('[data-testid="active-alerts"] li[data-alert="BudgetKill"]');
      await expect(row.textContent({ timeout: 30_000 })).resolves.toContain("billing-agent");

      await row.locator('button[data-action="silence-alert"]').click({ timeout: 30_000 });
      await page.locator('[data-testid="silences"] li').first().waitFor({ timeout: 30_000 });
      const [silence] = alerts.silences();
      expect(silence).toMatchObject({ createdBy: "dashboard" });
      expect(silence?.matchers.map((m) => `${m.name}${m.type}${m.value}`)).toEqual([
        "alertname=BudgetKill",
        "agent=billing-agent",
      ]);
      expect(alerts.status().alerts[0]?.mutedBy).toBe(`silenced:${silence?.id}`);
      await row.locator(".muted", { hasText: "muted" }).waitFor({ timeout: 30_000 });

      await page
        .locator(
          `[data-testid="silences"] li[data-silence="${silence?.id}"] button[data-action="expire-silence"]`,
        )
        .click({ timeout: 30_000 });
      await page
        .locator(`[data-testid="silences"] li[data-silence="${silence?.id}"]`)
        .waitFor({ state: "detached", timeout: 30_000 });
      expect(alerts.status().alerts[0]?.mutedBy).toBeNull();
      await context.close();
    } finally {
      await server.close();
      await alerts.close();
      await new Promise<void>((resolve) => slack.close(() => resolve()));
    }
  }, 240_000);
});
