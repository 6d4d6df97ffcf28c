import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { breakerClose, breakerOpen, harness, T0 } from "./test-utils/harness.js";
import { FakeService } from "./test-utils/receiver.js";

const services: FakeService[] = [];
async function service(...args: Parameters<typeof FakeService.start>) {
  const s = await FakeService.start(...args);
  services.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});

const ROUTE = { groupWaitMs: 30_000, groupIntervalMs: 300_000, repeatIntervalMs: 3_600_000 };
const dedupKey = (receiver: string, groupKey: string) =>
  createHash("sha256").update(`${receiver}\u0000${groupKey}`).digest("hex");

describe("grouping windows", () => {
  it("waits groupWait, then sends the alerts that arrived together in one Slack message", async () => {
    const slack = await service();
    const { manager, emit, advance } = await harness({
      receivers: { oncall: { type: "slack", url: slack.url("/services/T000/B000/XXXXSECRET") } },
      route: { receiver: "oncall", ...ROUTE },
    });
    emit("breaker.open", breakerOpen("model:gpt-4o"));
    await advance(10_000);
    emit("breaker.open", breakerOpen("tool:search", 3));
    await advance(19_999);
    expect(slack.requests).toHaveLength(0);
    await advance(1);
    expect(slack.requests).toHaveLength(1);
    expect(slack.requests[0]?.path).toBe("/services/T000/B000/XXXXSECRET");
    expect(slack.requests[0]?.headers["content-type"]).toBe("application/json");
    expect(slack.json(0)).toEqual({
      text: '[FIRING:2] BreakerOpen: Circuit breaker "model:gpt-4o" opened after 5 failures (5 consecutive failures)',
      blocks: [
        { type: "header", text: { type: "plain_text", text: "🟠 [FIRING:2] BreakerOpen", emoji: true } },
        {
          type: "section",
          text: {
            type: "mrkdwn",
            text: '*TICKET* *BreakerOpen*\nCircuit breaker "model:gpt-4o" opened after 5 failures (5 consecutive failures)\n`breaker=model:gpt-4o`',
          },
        },
        {
          type: "section",
          text: {
            type: "mrkdwn",
            text: '*TICKET* *BreakerOpen*\nCircuit breaker "tool:search" opened after 3 failures (3 consecutive failures)\n`breaker=tool:search`',
          },
        },
        {
          type: "context",
          elements: [{ type: "mrkdwn", text: "2 firing, 0 resolved · agent-sre · oncall" }],
        },
      ],
    });
    await manager.close();
  });

  it("deduplicates repeats, re-sends after repeatInterval, and sends a change at the next groupInterval", async () => {
    const slack = await service();
    const { manager, emit, advance } = await harness({
      receivers: { oncall: { type: "slack", url: slack.url("/hook") } },
      route: { receiver: "oncall", ...ROUTE },
    });
    emit("breaker.open", breakerOpen("model:gpt-4o"));
    await advance(30_000); // first notification at T0+30s
    expect(slack.requests).toHaveLength(1);
    emit("breaker.open", breakerOpen("model:gpt-4o", 7)); // the same alert again: same fingerprint
    await advance(300_000 * 3);
    expect(slack.requests).toHaveLength(1);
    emit("breaker.open", breakerOpen("tool:fetch")); // a new alert in the group
    await advance(299_999); // up to just before the next tick (T0 + 30 s + 4 × 5 min)
    expect(slack.requests).toHaveLength(1);
    await advance(1);
    expect(slack.requests).toHaveLength(2);
    expect((slack.json(1) as { text: string }).text).toMatch(/^\[FIRING:2\] BreakerOpen/);
    // 1 h after the last send, the still-firing group is repeated (on a groupInterval tick).
    await advance(3_600_000 - 300_000);
    expect(slack.requests).toHaveLength(2);
    await advance(300_000);
    expect(slack.requests).toHaveLength(3);
    await manager.close();
  });
});

describe("lifecycle", () => {
  it("pages PagerDuty with a stable dedup_key and resolves the same key after recovery", async () => {
    const pd = await service({ status: 202, body: '{"status":"success","message":"Event processed"}' });
    const { manager, emit, advance } = await harness({
      receivers: {
        pager: {
          type: "pagerduty",
          routingKey: "R0UTINGKEY0123456789abcdefABCDEF",
          url: pd.url("/v2/enqueue"),
        },
      },
      route: { receiver: "pager", ...ROUTE },
    });
    emit("breaker.open", breakerOpen("model:gpt-4o"));
    await advance(30_000);
    const key = dedupKey("pager", 'root:{agent="",alertname="BreakerOpen"}');
    const trigger = pd.json(0) as Record<string, unknown>;
    expect(trigger).toEqual({
      routing_key: "R0UTINGKEY0123456789abcdefABCDEF",
      event_action: "trigger",
      dedup_key: key,
      payload: {
        summary:
          '[FIRING:1] BreakerOpen: Circuit breaker "model:gpt-4o" opened after 5 failures (5 consecutive failures)',
        source: "agent-sre",
        severity: "warning",
        timestamp: new Date(T0).toISOString(),
        class: "BreakerOpen",
        custom_details: {
          firing: [
            {
              alert: "BreakerOpen",
              summary: 'Circuit breaker "model:gpt-4o" opened after 5 failures (5 consecutive failures)',
              labels: { breaker: "model:gpt-4o", alertname: "BreakerOpen", severity: "ticket" },
              details: {
                breaker: "model:gpt-4o",
                reason: "5 consecutive failures",
                failureCount: 5,
                from: "CLOSED",
                recoveryTimeoutMs: 30_000,
              },
            },
          ],
          resolved: [],
          groupLabels: { agent: "", alertname: "BreakerOpen" },
        },
      },
      client: "Agent SRE",
    });
    emit("breaker.close", breakerClose("model:gpt-4o"));
    await advance(300_000);
    expect(pd.requests).toHaveLength(2);
    expect(pd.json(1)).toEqual({
      routing_key: "R0UTINGKEY0123456789abcdefABCDEF",
      event_action: "resolve",
      dedup_key: key,
    });
    expect(manager.alerts()).toEqual([]);
    expect(manager.status().groups).toBe(0);
    // Acknowledge is its own action on the same key.
    emit("breaker.open", breakerOpen("model:gpt-4o"));
    const [alert] = manager.alerts();
    expect(manager.acknowledge(alert?.fingerprint ?? "")).toBe(1);
    await advance(0);
    expect(pd.json(2)).toEqual({
      routing_key: "R0UTINGKEY0123456789abcdefABCDEF",
      event_action: "acknowledge",
      dedup_key: key,
    });
    await manager.close();
  });

  it("does not notify an alert that fired and resolved inside the group wait", async () => {
    const slack = await service();
    const { manager, emit, advance } = await harness({
      receivers: { oncall: { type: "slack", url: slack.url("/hook") } },
      route: { receiver: "oncall", ...ROUTE },
    });
    emit("breaker.open", breakerOpen("model:gpt-4o"));
    await advance(5_000);
    emit("breaker.close", breakerClose("model:gpt-4o"));
    await advance(600_000);
    expect(slack.requests).toHaveLength(0);
    expect(manager.status().groups).toBe(0);
    await manager.close();
  });

  it("damps a flapping alert: its resolve is held while it keeps coming back", async () => {
    const slack = await service();
    const { manager, emit, advance, clock } = await harness({
      receivers: { oncall: { type: "slack", url: slack.url("/hook") } },
      route: { receiver: "oncall", groupWaitMs: 0, groupIntervalMs: 60_000, repeatIntervalMs: 3_600_000 },
      flapping: { windowMs: "10m", maxTransitions: 4, holdMs: "10m" },
    });
    const at: number[] = [];
    manager.on("notification.queued", () => at.push((clock.now() - T0) / 60_000));
    emit("breaker.open", breakerOpen("tool:flaky")); // t=0 fire
    await advance(0);
    await advance(120_000);
    emit("breaker.close", breakerClose("tool:flaky")); // t=2m resolve (2nd transition)
    await advance(120_000);
    emit("breaker.open", breakerOpen("tool:flaky")); // t=4m fire (3rd)
    await advance(0);
    await advance(120_000);
    emit("breaker.close", breakerClose("tool:flaky")); // t=6m would be the 4th: flapping → held 10 min
    await advance(120_000);
    emit("breaker.open", breakerOpen("tool:flaky")); // t=8m back before the hold ends: never resolved
    await advance(720_000);
    emit("breaker.close", breakerClose("tool:flaky")); // t=20m: calm window → resolves at once
    await advance(120_000);
    expect(slack.requests.map((r) => (JSON.parse(r.body) as { text: string }).text.split(" ")[0])).toEqual([
      "[FIRING:1]",
      "[RESOLVED]",
      "[FIRING:1]",
      "[RESOLVED]",
    ]);
    expect(at).toEqual([0, 3, 4, 21]);
    await manager.close();
  });

  it("a cost anomaly that held the agent pages (AgentHeld) until the hold is released, not on a timeout", async () => {
    const hook = await service();
    const { manager, emit, advance } = await harness({
      receivers: { hook: { type: "webhook", url: hook.url("/alerts") } },
      route: { receiver: "hook", groupWaitMs: 0, groupIntervalMs: 60_000 },
      resolveTimeoutMs: "5m",
    });
    emit("cost.anomaly", {
      agentId: "digest-bot",
      costUsd: 0.5,
      expectedUsd: 0.01,
      score: 39.1,
      threshold: 4,
      response: "hold",
    });
    await advance(0);
    const active = () =>
      manager
        .status()
        .alerts.map((alert) => `${alert.name}/${alert.severity}/${alert.agent}`)
        .sort();
    expect(active()).toEqual(["AgentHeld/page/digest-bot", "CostAnomaly/ticket/digest-bot"]);
    expect(manager.status().alerts.find((alert) => alert.name === "AgentHeld")?.summary).toBe(
      'Agent "digest-bot" held after a cost anomaly: $0.50, 50.0× its typical $0.01 (z=39.1); its calls are refused until confirmed',
    );
    await advance(10 * 60_000);
    expect(active()).toEqual(["AgentHeld/page/digest-bot"]);
    emit("cost.anomaly.release", {
      agentId: "digest-bot",
      by: "confirm",
      heldAtMs: T0,
      costUsd: 0.5,
      expectedUsd: 0.01,
      score: 39.1,
      refusedCalls: 3,
    });
    await advance(0);
    expect(active()).toEqual([]);
    await manager.close();
  });

  it("resolves event-like alerts (cost anomaly) after resolveTimeout without a repeat", async () => {
    const hook = await service();
    const { manager, emit, advance } = await harness({
      receivers: { hook: { type: "webhook", url: hook.url("/alerts") } },
      route: { receiver: "hook", groupWaitMs: 0, groupIntervalMs: 60_000 },
      resolveTimeoutMs: "5m",
    });
    emit("cost.anomaly", {
      agentId: "support-bot",
      costUsd: 0.42,
      expectedUsd: 0.01,
      score: 6.2,
      threshold: 3,
      response: "alert",
    });
    await advance(0);
    await advance(4 * 60_000);
    emit("cost.anomaly", {
      agentId: "support-bot",
      costUsd: 0.4,
      expectedUsd: 0.01,
      score: 6,
      threshold: 3,
      response: "alert",
    }); // refreshes
    await advance(4 * 60_000);
    expect(hook.requests).toHaveLength(1);
    await advance(2 * 60_000);
    expect(hook.requests).toHaveLength(2);
    const body = hook.json(1) as { status: string; alerts: Array<{ status: string; endsAt: string }> };
    expect(body.status).toBe("resolved");
    expect(body.alerts[0]?.endsAt).toBe(new Date(T0 + 9 * 60_000).toISOString());
    await manager.close();
  });
});

describe("silences and inhibition", () => {
  it("a silence mutes matching alerts until it expires; then they are notified", async () => {
    const slack = await service();
    const { manager, emit, advance } = await harness({
      receivers: { oncall: { type: "slack", url: slack.url("/hook") } },
      route: { receiver: "oncall", ...ROUTE },
    });
    const silence = manager.silence({
      matchers: ['breaker=~"tool:.*"'],
      durationMs: 600_000,
      comment: "maintenance",
    });
    emit("breaker.open", breakerOpen("tool:search"));
    await advance(30_000);
    expect(slack.requests).toHaveLength(0);
    expect(manager.status().alerts[0]?.mutedBy).toBe(`silenced:${silence.id}`);
    await advance(300_000);
    expect(slack.requests).toHaveLength(0);
    await advance(300_000); // the silence ended at 10 min; the tick at 10.5 min notifies
    expect(slack.requests).toHaveLength(1);
    expect(manager.silences()).toEqual([]);
    await manager.close();
  });

  it("expiring a silence early lets the next tick notify", async () => {
    const slack = await service();
    const { manager, emit, advance } = await harness({
      receivers: { oncall: { type: "slack", url: slack.url("/hook") } },
      route: { receiver: "oncall", ...ROUTE },
      silences: [{ matchers: ['alertname="BreakerOpen"'], endsAt: new Date(T0 + 86_400_000).toISOString() }],
    });
    emit("breaker.open", breakerOpen("tool:search"));
    await advance(30_000);
    expect(slack.requests).toHaveLength(0);
    const [active] = manager.silences();
    expect(manager.expireSilence(active?.id ?? "")).toBe(true);
    await advance(300_000);
    expect(slack.requests).toHaveLength(1);
    await manager.close();
  });

  it("a budget kill inhibits that agent's budget alerts, not another agent's; revive resolves both", async () => {
    const slack = await service();
    const { manager, emit, advance, clock } = await harness({
      receivers: { oncall: { type: "slack", url: slack.url("/hook") } },
      route: { receiver: "oncall", ...ROUTE },
    });
    const budget = (agentId: string, threshold: number, action: "ALERT" | "KILL") => ({
      agentId,
      scope: "agent-daily" as const,
      threshold,
      utilization: threshold,
      spentUsd: threshold * 10,
      limitUsd: 10,
      severity: action === "KILL" ? ("critical" as const) : ("warning" as const),
      action,
      periodEndMs: T0 + 1_800_000, // the agents' budget period ends half an hour in
    });
    emit("budget.alert", budget("support-bot", 0.75, "ALERT"));
    emit("budget.alert", budget("research-bot", 0.75, "ALERT"));
    emit("budget.kill", budget("support-bot", 1, "KILL"));
    await advance(30_000);
    const texts = slack.requests.map((r) => (JSON.parse(r.body) as { text: string }).text).sort();
    expect(texts).toEqual([
      '[FIRING:1] BudgetKill support-bot: Agent "support-bot" killed: spent $10.00 of $10.00 (100%) of its agent-daily budget',
      '[FIRING:1] BudgetThreshold research-bot: Agent "research-bot" spend crossed 75% of its agent-daily budget: $7.50 of $10.00 (75%)',
    ]);
    const muted = manager
      .status()
      .alerts.find((a) => a.name === "BudgetThreshold" && a.agent === "support-bot");
    expect(muted?.mutedBy).toMatch(/^inhibited:/);
    emit("budget.revive", { agentId: "support-bot", scope: "agent" });
    await advance(300_000);
    expect(slack.requests).toHaveLength(3);
    expect((slack.json(2) as { text: string }).text).toMatch(/^\[RESOLVED\] BudgetKill support-bot/);
    expect(manager.alerts().map((a) => `${a.name}:${a.agent}`)).toEqual(["BudgetThreshold:research-bot"]);
    // The day ends: research-bot's spend starts afresh, so its threshold alert resolves by itself.
    await advance(T0 + 1_800_000 - clock.now() - 1);
    expect(manager.alerts()).toHaveLength(1);
    await advance(1);
    expect(manager.alerts()).toEqual([]);
    // Steps shorter than the request timeout, so the real HTTP answer arrives within a step.
    for (let waited = 0; waited < 300_000 && slack.requests.length < 4; waited += 5_000) await advance(5_000);
    expect((slack.json(3) as { text: string }).text).toMatch(/^\[RESOLVED\] BudgetThreshold research-bot/);
    await manager.close();
  });
});

describe("routing", () => {
  it("routes by severity and agent with continue, each route grouping on its own", async () => {
    const pd = await service({ status: 202, body: '{"status":"success"}' });
    const slack = await service();
    const team = await service({ status: 202, body: "" });
    const { manager, emit, advance } = await harness({
      receivers: {
        pager: {
          type: "pagerduty",
          routingKey: "routing-key-000000000000000000000",
          url: pd.url("/v2/enqueue"),
        },
        chat: { type: "slack", url: slack.url("/hook") },
        support: { type: "teams", url: team.url("/workflow") },
      },
      route: {
        receiver: "chat",
        groupWaitMs: 1_000,
        routes: [
          { severity: "page", receiver: "pager", continue: true },
          { agent: "support-*", receiver: "support" },
        ],
      },
    });
    emit("agent.quarantine", { agentId: "support-bot", reason: "tool abuse", riskLevel: "CRITICAL" }); // page + support
    emit("cost.anomaly", {
      agentId: "research-bot",
      costUsd: 1,
      expectedUsd: 0.1,
      score: 4,
      threshold: 3,
      response: "alert",
    }); // chat
    await advance(1_000);
    expect(pd.requests).toHaveLength(1);
    expect(team.requests).toHaveLength(1);
    expect(slack.requests).toHaveLength(1);
    expect((pd.json(0) as { payload: { severity: string } }).payload.severity).toBe("critical");
    expect((slack.json(0) as { text: string }).text).toMatch(/CostAnomaly research-bot/);
    await manager.close();
  });
});
