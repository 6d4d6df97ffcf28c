/**
 * Scene 8 — On-call. The engine's events become pages. An AlertManager (`@agent-sre/alerts`) is attached
 * to the fleet's engine and delivers to a local receiver that answers like PagerDuty's Events API v2 and a
 * Slack incoming webhook. An AI SDK billing agent (`generateText` + `agentSREMiddleware`) goes through a
 * provider outage and then one runaway answer:
 *
 * - the outage trips the model's breaker (ticket) and burns the agent's SLO (page), which pages PagerDuty
 *   and posts to Slack after the group wait;
 * - the provider recovers: the breaker closes and the SLO comes back, so each incident is resolved with
 *   its own dedup key;
 * - one runaway answer spends the agent's day: a BudgetKill page. The budget threshold and throttle alerts
 *   stay muted behind it (inhibition). The on-call revives the agent and the page resolves.
 *
 * The receiver prints what it gets, as the on-call person sees it.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { agentSREMiddleware } from "@agent-sre/ai-sdk";
import { AlertManager } from "@agent-sre/alerts";
import { ManualClock, type SchedulingClock } from "@agent-sre/core";
import { generateText, wrapLanguageModel } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import type { Scene } from "../scene.js";

const AGENT = "billing-agent";
const MODEL = "gpt-4.1-mini";

interface Delivery {
  at: number;
  service: "PagerDuty" | "Slack";
  line: string;
  action: string;
  key: string | undefined;
}

/** One local server standing in for PagerDuty (`/v2/enqueue`) and Slack (`/services/...`). */
async function startReceiver(
  now: () => number,
): Promise<{ url: string; deliveries: Delivery[]; close(): Promise<void> }> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    req.on("end", () => {
      const body = JSON.parse(text) as Record<string, unknown>;
      const at = now();
      if (req.url === "/v2/enqueue") {
        const action = String(body.event_action);
        const key = String(body.dedup_key).slice(0, 8);
        const payload = body.payload as { severity?: string; summary?: string } | undefined;
        const line =
          action === "trigger"
            ? `TRIGGER ${payload?.severity} · ${payload?.summary} · dedup ${key}`
            : `${action.toUpperCase()} · dedup ${key}`;
        deliveries.push({ at, service: "PagerDuty", line, action, key });
        res.writeHead(202, { "content-type": "application/json" });
        res.end(JSON.stringify({ status: "success", message: "Event processed", dedup_key: body.dedup_key }));
        return;
      }
      const header = (body.blocks as Array<{ type: string; text?: { text: string } }>)[0]?.text?.text ?? "";
      deliveries.push({
        at,
        service: "Slack",
        line: header,
        action: header.includes("RESOLVED") ? "resolved" : "firing",
        key: undefined,
      });
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    deliveries,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const clockTime = (ms: number) => new Date(ms).toISOString().slice(11, 19);

export const alertsScene: Scene = {
  name: "alerts",
  title: "On-call: alerts delivered",
  failure: "a provider outage, then a runaway answer, and someone has to be told",
  async run({ fleet, progress }) {
    const { sre, clock } = fleet;
    fleet.addAgent(AGENT, "AI SDK");
    const receiver = await startReceiver(() => clock.now());
    // The alerts' timers run on their own manual clock, kept in lockstep with the demo clock by `wait()`:
    // the demo clock fires short timers by itself whenever the process idles, which it does while a
    // request is on the wire, and grouping windows must not jump ahead then.
    const timers = new ManualClock(clock.now());
    const alertClock: SchedulingClock = {
      now: () => clock.now(),
      setTimeout: (callback, delayMs) => timers.setTimeout(callback, delayMs + (clock.now() - timers.now())),
      clearTimeout: (handle) => timers.clearTimeout(handle),
    };
    const alerts = new AlertManager({
      sre,
      clock: alertClock,
      random: () => 0.5,
      receivers: {
        pagerduty: {
          type: "pagerduty",
          routingKey: "demo-routing-key-0000000000000000",
          url: `${receiver.url}/v2/enqueue`,
        },
        slack: { type: "slack", url: `${receiver.url}/services/T000/B000/demo` },
      },
      route: {
        receiver: "slack",
        groupWaitMs: "30s",
        groupIntervalMs: "1m",
        // Pages go to PagerDuty and (continue) to Slack; tickets to Slack only.
        routes: [{ severity: "page", receiver: "pagerduty", continue: true }, { receiver: "slack" }],
      },
      // The fleet's other agents belong to other teams: a silence keeps their alerts off this pager.
      silences: [
        {
          matchers: ['agent!~"billing-.*"', `breaker!="model:${MODEL}"`],
          endsAt: clock.now() + 30 * 86_400_000,
          comment: "other teams' agents",
        },
      ],
      logger: { warn: () => {} },
    });
    await alerts.ready;

    let mode: "down" | "up" | "runaway" = "down";
    let providerCalls = 0;
    const provider = new MockLanguageModelV3({
      provider: "openai.chat",
      modelId: MODEL,
      doGenerate: async () => {
        providerCalls++;
        if (mode === "down") throw Object.assign(new Error("503 Service Unavailable"), { statusCode: 503 });
        const output = mode === "runaway" ? 3_000_000 : 40;
        return {
          content: [{ type: "text", text: "Invoice 4410 is paid." }],
          finishReason: { unified: "stop", raw: "stop" },
          usage: {
            inputTokens: { total: 300, noCache: 300, cacheRead: undefined, cacheWrite: undefined },
            outputTokens: { total: output, text: output, reasoning: undefined },
          },
          warnings: [],
        };
      },
    });
    const model = wrapLanguageModel({
      model: provider,
      middleware: agentSREMiddleware(sre, { agentId: AGENT }),
    });
    const outcomes: Record<string, number> = {};
    const ask = async (i: number) => {
      let outcome = "ok";
      try {
        await generateText({ model, prompt: `Is invoice ${4400 + i} paid?`, maxRetries: 0 });
      } catch (error) {
        outcome = (error as { code?: string }).code ?? "provider error";
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      return outcome;
    };
    // Moves the demo clock in 1 s steps, letting each delivery finish before time moves on.
    const wait = async (ms: number) => {
      for (let left = ms; left > 0; left -= 1_000) {
        await clock.advanceAsync(Math.min(1_000, left));
        await timers.advanceAsync(Math.max(0, clock.now() - timers.now()));
        await alerts.idle();
      }
    };
    const started = clock.now();

    progress("the billing agent's provider goes down");
    for (let i = 0; i < 6; i++) {
      await ask(i);
      await wait(10_000);
    }
    await wait(60_000);
    progress("the provider is back; the agent keeps answering");
    mode = "up";
    for (let i = 0; i < 140; i++) {
      await ask(100 + i);
      await wait(10_000);
    }
    await wait(120_000);
    progress("one runaway answer spends the agent's day");
    mode = "runaway";
    const runaway = await ask(999);
    const afterKill = await ask(1_000);
    await wait(60_000);
    progress("on-call raises the budget and revives the agent");
    sre.revive(AGENT);
    await wait(120_000);

    const dead = await alerts.deadLetters();
    const stillFiring = alerts
      .alerts()
      .filter((a) => a.agent === AGENT || a.labels.breaker === `model:${MODEL}`);
    await alerts.close();
    await receiver.close();

    const pd = receiver.deliveries.filter((d) => d.service === "PagerDuty");
    const triggers = pd.filter((d) => d.action === "trigger");
    const resolves = pd.filter((d) => d.action === "resolve");
    const unresolved = [...new Set(triggers.map((t) => t.key))].filter(
      (key) => !resolves.some((r) => r.key === key),
    );
    const slack = receiver.deliveries.filter((d) => d.service === "Slack");
    const feed = receiver.deliveries.map(
      (d) => `${clockTime(d.at)} ${d.service === "PagerDuty" ? "📟 PagerDuty" : "💬 Slack    "} ${d.line}`,
    );
    return {
      contained:
        triggers.length >= 2 &&
        unresolved.length === 0 &&
        dead.length === 0 &&
        stillFiring.length === 0 &&
        afterKill === "AGENT_KILLED" &&
        triggers.some((t) => t.line.includes("BudgetKill")),
      headline:
        `${triggers.length} pages and ${resolves.length} resolves at PagerDuty, ${slack.length} Slack messages; ` +
        `every incident resolved, nothing dead-lettered`,
      lines: [
        ...feed,
        `${Math.round((clock.now() - started) / 60_000)} min simulated; calls: ${Object.entries(outcomes)
          .map(([k, v]) => `${v} ${k}`)
          .join(", ")}; runaway answer ${runaway}, next call ${afterKill}`,
      ],
      facts: {
        agent: AGENT,
        pagerdutyTriggers: triggers.length,
        pagerdutyResolves: resolves.length,
        pagerdutyPages: triggers.map((t) => /\] (\w+)/.exec(t.line)?.[1] ?? ""),
        slackMessages: slack.length,
        unresolvedIncidents: unresolved.length,
        deadLetters: dead.length,
        providerCalls,
        killedCallCode: afterKill,
        firstDeliveryAfterMs: (receiver.deliveries[0]?.at ?? started) - started,
      },
    };
  },
};
