import { createHmac, timingSafeEqual } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { harness, T0 } from "../test-utils/harness.js";
import { FakeService } from "../test-utils/receiver.js";

const services: FakeService[] = [];
async function service(...args: Parameters<typeof FakeService.start>) {
  const s = await FakeService.start(...args);
  services.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});

const fast = { groupWaitMs: 0, groupIntervalMs: 60_000 };
const quarantine = { agentId: "support-bot", reason: "risk CRITICAL: tool abuse", riskLevel: "CRITICAL" };

describe("Microsoft Teams (workflow webhook, Adaptive Card)", () => {
  it("posts a message with an Adaptive Card, then a resolved card", async () => {
    const teams = await service({ status: 202, body: "" });
    const { manager, emit, advance } = await harness({
      receivers: {
        team: { type: "teams", url: teams.url("/workflows/abc/triggers/manual/paths/invoke?sig=SIGNATURE") },
      },
      route: { receiver: "team", ...fast },
      externalUrl: "https://sre.example.com/status",
    });
    emit("agent.quarantine", quarantine);
    await advance(0);
    expect(teams.requests[0]?.path).toBe("/workflows/abc/triggers/manual/paths/invoke?sig=SIGNATURE");
    expect(teams.json(0)).toEqual({
      type: "message",
      attachments: [
        {
          contentType: "application/vnd.microsoft.card.adaptive",
          contentUrl: null,
          content: {
            $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
            type: "AdaptiveCard",
            version: "1.4",
            msteams: { width: "Full" },
            body: [
              {
                type: "TextBlock",
                size: "Large",
                weight: "Bolder",
                wrap: true,
                color: "Attention",
                text: "[FIRING:1] AgentQuarantined support-bot",
              },
              {
                type: "TextBlock",
                isSubtle: true,
                spacing: "None",
                wrap: true,
                text: "1 firing, 0 resolved · receiver team",
              },
              {
                type: "TextBlock",
                wrap: true,
                separator: true,
                text: 'Agent "support-bot" quarantined: risk CRITICAL: tool abuse',
              },
              {
                type: "FactSet",
                facts: [
                  { title: "Status", value: "PAGE" },
                  { title: "Alert", value: "AgentQuarantined" },
                  { title: "Agent", value: "support-bot" },
                ],
              },
            ],
            actions: [
              {
                type: "Action.OpenUrl",
                title: "Open Agent SRE status",
                url: "https://sre.example.com/status",
              },
            ],
          },
        },
      ],
    });
    emit("agent.release", { agentId: "support-bot" });
    await advance(60_000);
    const resolved = teams.json(1) as {
      attachments: Array<{ content: { body: Array<{ text?: string; color?: string }> } }>;
    };
    expect(resolved.attachments[0]?.content.body[0]).toMatchObject({
      color: "Good",
      text: "[RESOLVED] AgentQuarantined support-bot",
    });
    await manager.close();
  });
});

describe("Opsgenie (Alerts API v2)", () => {
  it("creates with priority mapping and details, closes by alias", async () => {
    const og = await service({
      status: 202,
      body: '{"result":"Request will be processed","took":0.2,"requestId":"1"}',
    });
    const { manager, emit, advance } = await harness({
      receivers: {
        og: {
          type: "opsgenie",
          apiKey: "eb243592-faa2-4ba2-a551q-1afdf565c889",
          url: og.url(),
          tags: ["agents"],
          responders: [{ type: "team", name: "ai-platform" }],
        },
      },
      route: { receiver: "og", ...fast },
    });
    emit("agent.quarantine", quarantine);
    await advance(0);
    const created = og.json(0) as { alias: string };
    expect(og.requests[0]?.path).toBe("/v2/alerts");
    expect(og.requests[0]?.headers.authorization).toBe("GenieKey eb243592-faa2-4ba2-a551q-1afdf565c889");
    expect(created).toEqual({
      message: 'Agent "support-bot" quarantined: risk CRITICAL: tool abuse',
      alias: created.alias,
      description:
        '[page] AgentQuarantined (support-bot): Agent "support-bot" quarantined: risk CRITICAL: tool abuse',
      tags: ["agents", "AgentQuarantined"],
      details: { receiver: "og", firing: "1", agent: "support-bot", alertname: "AgentQuarantined" },
      source: "agent-sre",
      priority: "P1",
      entity: "support-bot",
      responders: [{ type: "team", name: "ai-platform" }],
    });
    expect(created.alias).toMatch(/^[0-9a-f]{64}$/);
    emit("agent.release", { agentId: "support-bot" });
    await advance(60_000);
    expect(og.requests[1]?.path).toBe(`/v2/alerts/${created.alias}/close?identifierType=alias`);
    expect(og.json(1)).toEqual({
      source: "agent-sre",
      note: "Resolved: [RESOLVED] AgentQuarantined support-bot",
    });
    await manager.close();
  });

  it("retries Opsgenie's 429 and dead-letters its 422", async () => {
    const og = await service();
    og.reply(
      { status: 429, body: '{"message":"Request limit exceeded"}', headers: { "retry-after": "2" } },
      {
        status: 422,
        body: '{"message":"Request body is not processable. Please check the errors.","errors":{"message":"Message can not be empty."},"took":0.001}',
      },
    );
    const { manager, emit, advance } = await harness({
      receivers: { og: { type: "opsgenie", apiKey: "genie-key-123", url: og.url() } },
      route: { receiver: "og", ...fast },
    });
    const failed: string[] = [];
    manager.on("alert.delivery_failed", (e) => failed.push(e.error));
    emit("agent.quarantine", quarantine);
    await advance(0);
    await advance(2_000);
    expect(og.requests).toHaveLength(2);
    expect(failed).toEqual([
      'HTTP 422: {"message":"Request body is not processable. Please check the errors.","errors":{"message":"Message can not be empty."},"took":0.001}',
    ]);
    await manager.close();
  });
});

describe("generic webhook (Alertmanager body, HMAC-SHA256 signature)", () => {
  it("sends the Alertmanager v4 body, signed so the receiver can verify it", async () => {
    const hook = await service();
    const secret = "whsec_0123456789abcdef";
    const { manager, emit, advance } = await harness({
      receivers: { hook: { type: "webhook", url: hook.url("/alerts"), secret } },
      route: { receiver: "hook", ...fast },
    });
    emit("slo.alert", {
      slo: "task-success",
      agentId: "research-agent",
      severity: "page",
      burnRateThreshold: 14.4,
      longWindowMs: 3_600_000,
      shortWindowMs: 300_000,
      longBurnRate: 20,
      shortBurnRate: 25.5,
    });
    await advance(0);
    const request = hook.requests[0];
    const timestamp = String(request?.headers["x-agent-sre-timestamp"]);
    expect(timestamp).toBe(String(Math.floor(T0 / 1000)));
    // What a receiver does: HMAC over "<timestamp>.<raw body>", constant-time compare.
    const expected = Buffer.from(
      `sha256=${createHmac("sha256", secret).update(`${timestamp}.${request?.body}`).digest("hex")}`,
    );
    const got = Buffer.from(String(request?.headers["x-agent-sre-signature"]));
    expect(got.length === expected.length && timingSafeEqual(got, expected)).toBe(true);
    const body = hook.json(0) as { alerts: Array<{ fingerprint: string }> };
    expect(body).toEqual({
      version: "4",
      groupKey: 'root:{agent="research-agent",alertname="SloBurnRate"}',
      truncatedAlerts: 0,
      status: "firing",
      receiver: "hook",
      groupLabels: { agent: "research-agent", alertname: "SloBurnRate" },
      commonLabels: {
        slo: "task-success",
        alertname: "SloBurnRate",
        severity: "page",
        agent: "research-agent",
      },
      commonAnnotations: {
        summary:
          'SLO "task-success" is burning its error budget 20.0x too fast (1h) and 25.5x (5m); page threshold 14.4x',
      },
      externalURL: "",
      alerts: [
        {
          status: "firing",
          labels: {
            slo: "task-success",
            alertname: "SloBurnRate",
            severity: "page",
            agent: "research-agent",
          },
          annotations: {
            summary:
              'SLO "task-success" is burning its error budget 20.0x too fast (1h) and 25.5x (5m); page threshold 14.4x',
            slo: "task-success",
            burnRateThreshold: "14.4",
            longBurnRate: "20",
            shortBurnRate: "25.5",
            longWindowMs: "3600000",
            shortWindowMs: "300000",
          },
          startsAt: new Date(T0).toISOString(),
          endsAt: "0001-01-01T00:00:00Z",
          generatorURL: "",
          fingerprint: body.alerts[0]?.fingerprint,
        },
      ],
    });
    expect(body.alerts[0]?.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    // A tampered body does not verify.
    const tampered = createHmac("sha256", secret)
      .update(`${timestamp}.${request?.body.replace("firing", "resolved")}`)
      .digest("hex");
    expect(`sha256=${tampered}`).not.toBe(String(request?.headers["x-agent-sre-signature"]));
    // Recovery: the SLO's status leaves CRITICAL → resolved body.
    emit("slo.status", {
      slo: "task-success",
      agentId: "research-agent",
      from: "CRITICAL",
      to: "HEALTHY",
      budgetRemainingPercent: 40,
    });
    await advance(60_000);
    expect(hook.json(1)).toMatchObject({
      status: "resolved",
      alerts: [{ status: "resolved", endsAt: new Date(T0).toISOString() }],
    });
    await manager.close();
  });
});
