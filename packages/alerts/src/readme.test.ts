import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/**
 * The README's first example, run as written (imports rewritten to this package's sources). It must
 * stay byte-identical to the README block, so the README cannot drift from code that compiles and runs.
 */
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";

describe("README example", () => {
  it("is the code below, and it runs", async () => {
    const source = readFileSync(new URL(import.meta.url), "utf8");
    const body = source.slice(
      source.indexOf("// README:start\n") + 16,
      source.lastIndexOf("    // README:end"),
    );
    const dedented = body
      .split("\n")
      .map((line) => line.replace(/^ {4}/, ""))
      .join("\n");
    expect(example.replace(/^import[^\n]*\n/gm, "").trim()).toBe(dedented.trim());

    const logs: unknown[] = [];
    const console = { log: (value: unknown) => logs.push(value) };
    const { AlertManager } = await import("./index.js");
    const { AgentSRE } = await import("@agent-sre/core");
    // README:start
    const sre = new AgentSRE({ budget: { perAgentDailyLimitUsd: 50, killSwitchThreshold: 1 } });

    const alerts = new AlertManager({
      sre, // subscribes to the engine's events
      receivers: {
        pager: { type: "pagerduty", routingKey: "${PAGERDUTY_ROUTING_KEY}" },
        chat: { type: "slack", url: "${SLACK_WEBHOOK_URL}" },
      },
      route: {
        receiver: "chat",
        groupBy: ["alertname", "agent"],
        groupWaitMs: "30s",
        groupIntervalMs: "5m",
        repeatIntervalMs: "4h",
        // pages go to PagerDuty and (continue) to Slack too; everything else to Slack
        routes: [{ severity: "page", receiver: "pager", continue: true }, { receiver: "chat" }],
      },
      silences: [{ matchers: ['agent="canary-bot"'], endsAt: "2026-12-24T00:00:00Z", comment: "load test" }],
      env: {
        PAGERDUTY_ROUTING_KEY: "R0UTINGKEY0123456789abcdefABCDEF",
        SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T0/B0/x",
      },
    });

    await alerts.ready; // the outbox of a previous run has been replayed
    console.log(alerts.status().receivers.map((r) => `${r.name}: ${r.type} ${r.url}`));
    // [ 'pager: pagerduty https://events.pagerduty.com/v2/enqueue', 'chat: slack https://hooks.slack.com/[redacted]' ]
    await alerts.close();
    // README:end
    expect(logs).toEqual([
      [
        "pager: pagerduty https://events.pagerduty.com/v2/enqueue",
        "chat: slack https://hooks.slack.com/[redacted]",
      ],
    ]);
  });
});
