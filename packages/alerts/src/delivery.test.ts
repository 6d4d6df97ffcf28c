import { ManualClock } from "@agent-sre/core";
import { afterEach, describe, expect, it } from "vitest";
import type { AlertManager } from "./manager.js";
import type { AlertManagerEvents } from "./manager-types.js";
import { MemoryOutboxStore } from "./outbox.js";
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

const PD_OK = { status: 202, body: '{"status":"success","message":"Event processed","dedup_key":"x"}' };
const ROUTING_KEY = "R0UTINGKEY0123456789abcdefABCDEF";
const fast = { groupWaitMs: 0, groupIntervalMs: 60_000, repeatIntervalMs: 3_600_000 };

function record<K extends keyof AlertManagerEvents>(
  manager: AlertManager,
  name: K,
): Array<AlertManagerEvents[K]> {
  const seen: Array<AlertManagerEvents[K]> = [];
  manager.on(name, (payload) => seen.push(payload));
  return seen;
}

describe("retries", () => {
  it("retries a 500 with backoff and a 429 after its Retry-After, sending the same body each time", async () => {
    const pd = await service(PD_OK);
    pd.reply(
      { status: 500, body: "upstream error" },
      { status: 429, body: "", headers: { "retry-after": "7" } },
    );
    const { manager, emit, advance } = await harness({
      receivers: { pager: { type: "pagerduty", routingKey: ROUTING_KEY, url: pd.url("/v2/enqueue") } },
      route: { receiver: "pager", ...fast },
      retry: { initialDelayMs: 1_000, multiplier: 2 },
    });
    const retries = record(manager, "notification.retry");
    const delivered = record(manager, "notification.delivered");
    emit("breaker.open", breakerOpen("model:gpt-4o"));
    await advance(0);
    expect(pd.requests).toHaveLength(1);
    // Equal jitter with random() = 0.5: 1000/2 + 0.5 × 1000/2 = 750 ms.
    expect(retries.map((r) => [r.attempts, r.delayMs, r.httpStatus, r.error])).toEqual([
      [1, 750, 500, "HTTP 500: upstream error"],
    ]);
    await advance(749);
    expect(pd.requests).toHaveLength(1);
    await advance(1);
    expect(pd.requests).toHaveLength(2);
    expect(retries[1]).toMatchObject({ attempts: 2, delayMs: 7_000, httpStatus: 429 });
    await advance(6_999);
    expect(pd.requests).toHaveLength(2);
    await advance(1);
    expect(pd.requests).toHaveLength(3);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ attempts: 3, httpStatus: 202, at: T0 + 7_750 });
    expect(new Set(pd.requests.map((r) => r.body)).size).toBe(1);
    expect(manager.status().receivers[0]?.delivery).toMatchObject({
      pending: 0,
      delivered: 1,
      lastError: null,
    });
    await manager.close();
  });

  it("dead-letters after the last try and emits alert.delivery_failed on the manager and the engine", async () => {
    const slack = await service({ status: 503, body: "service unavailable" });
    const { manager, emit, advance, bus, logs } = await harness({
      receivers: {
        chat: { type: "slack", url: slack.url("/services/T1/B1/SECRETTOKEN"), retry: { maxAttempts: 3 } },
      },
      route: { receiver: "chat", ...fast },
    });
    const failed = record(manager, "alert.delivery_failed");
    const onEngine: unknown[] = [];
    bus.on("alert.delivery_failed", (event) => onEngine.push(event));
    emit("breaker.open", breakerOpen("tool:search"));
    await advance(0);
    await advance(750); // 2nd try
    expect(failed).toHaveLength(0);
    await advance(1_500); // 3rd and last try: backoff(2) = 2000/2 + 0.5 × 1000
    expect(slack.requests).toHaveLength(3);
    const expected = {
      at: T0 + 2_250,
      receiver: "chat",
      channel: "slack",
      groupKey: 'root:{agent="",alertname="BreakerOpen"}',
      status: "firing",
      alerts: ["BreakerOpen"],
      attempts: 3,
      error: "gave up after 3 attempts: HTTP 503: service unavailable",
      httpStatus: 503,
    };
    expect(failed).toEqual([expected]);
    expect(onEngine).toEqual([expected]);
    const [dead] = await manager.deadLetters();
    expect(dead).toMatchObject({ failedAt: T0 + 2_250, error: expected.error, httpStatus: 503 });
    expect(dead?.entry.notification.alerts[0]?.name).toBe("BreakerOpen");
    expect(await manager.store.pending()).toEqual([]);
    expect(logs.join("\n")).toContain('notification to "chat" (slack) dead-lettered after 3 attempts');
    // The group's log says it was sent: the next tick does not start over (a repeat would, after 1 h).
    await advance(60_000);
    expect(slack.requests).toHaveLength(3);
    await manager.close();
  });

  it("does not retry a 400: PagerDuty's error body is kept in the dead letter", async () => {
    const body = JSON.stringify({
      status: "invalid event",
      message: "Event object is invalid",
      errors: ["Length of 'routing_key' is incorrect (should be 32 characters)"],
    });
    const pd = await service({ status: 400, body, headers: { "content-type": "application/json" } });
    const { manager, emit, advance } = await harness({
      receivers: { pager: { type: "pagerduty", routingKey: "short-key", url: pd.url("/v2/enqueue") } },
      route: { receiver: "pager", ...fast },
    });
    const failed = record(manager, "alert.delivery_failed");
    emit("breaker.open", breakerOpen("tool:search"));
    await advance(0);
    await advance(600_000);
    expect(pd.requests).toHaveLength(1);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.error).toBe(`HTTP 400: ${body}`);
    expect(failed[0]?.attempts).toBe(1);
    await manager.close();
  });

  it("a 2xx whose body reports a failure (Slack) is not counted as delivered", async () => {
    const slack = await service({ status: 200, body: "invalid_blocks" });
    const { manager, emit, advance } = await harness({
      receivers: { chat: { type: "slack", url: slack.url("/hook") } },
      route: { receiver: "chat", ...fast },
    });
    const failed = record(manager, "alert.delivery_failed");
    emit("breaker.open", breakerOpen("tool:search"));
    await advance(0);
    expect(failed[0]?.error).toBe('slack answered "invalid_blocks"');
    await manager.close();
  });

  it("times a hanging receiver out on the injected clock and retries", async () => {
    const hook = await service();
    hook.reply("hang");
    const { manager, emit, advance, clock } = await harness({
      receivers: { hook: { type: "webhook", url: hook.url("/alerts"), timeoutMs: "5s" } },
      route: { receiver: "hook", ...fast },
    });
    const retries = record(manager, "notification.retry");
    emit("breaker.open", breakerOpen("tool:search"));
    await clock.advanceAsync(0);
    await hook.waitFor(1);
    expect(manager.status().receivers[0]?.delivery.inFlight).toBe(true);
    await clock.advanceAsync(4_999); // (not advance(): idle() would wait for the hung request)
    expect(retries).toHaveLength(0);
    await advance(1);
    expect(retries.map((r) => [r.attempts, r.error, r.delayMs])).toEqual([
      [1, "timed out after 5000 ms", 750],
    ]);
    await advance(750);
    expect(hook.requests).toHaveLength(2);
    expect(manager.status().receivers[0]?.delivery).toMatchObject({ pending: 0, delivered: 1 });
    hook.release();
    await manager.close();
  });

  it("holds a receiver to its rate limit (the next request waits for a token)", async () => {
    const slack = await service();
    const { manager, emit, advance } = await harness({
      receivers: { chat: { type: "slack", url: slack.url("/hook"), rateLimit: { perMinute: 60, burst: 1 } } },
      route: { receiver: "chat", ...fast, groupBy: ["breaker"] },
    });
    emit("breaker.open", breakerOpen("tool:a"));
    emit("breaker.open", breakerOpen("tool:b"));
    emit("breaker.open", breakerOpen("tool:c"));
    await advance(0);
    expect(slack.requests).toHaveLength(1);
    await advance(999);
    expect(slack.requests).toHaveLength(1);
    await advance(1);
    expect(slack.requests).toHaveLength(2);
    await advance(1_000);
    expect(slack.requests).toHaveLength(3);
    await manager.close();
  });
});

describe("durable outbox", () => {
  it("replays undelivered notifications after a restart and resolves with the same dedup_key", async () => {
    const pd = await service({ status: 503, body: "down" });
    const store = new MemoryOutboxStore();
    const clock = new ManualClock(T0);
    const options = {
      receivers: {
        pager: { type: "pagerduty" as const, routingKey: ROUTING_KEY, url: pd.url("/v2/enqueue") },
      },
      route: { receiver: "pager", ...fast },
      store,
      clock,
    };
    const first = await harness(options);
    first.emit("budget.kill", {
      agentId: "support-bot",
      scope: "agent-daily",
      threshold: 1,
      utilization: 1.02,
      spentUsd: 10.2,
      limitUsd: 10,
      severity: "critical",
      action: "KILL",
      periodEndMs: T0 + 12 * 3_600_000,
    });
    await first.advance(0);
    expect(pd.requests).toHaveLength(1);
    await first.manager.close(); // the process goes away with the trigger undelivered
    const [pending] = await store.pending();
    expect(pending).toMatchObject({ receiver: "pager", attempts: 1, lastError: "HTTP 503: down" });

    pd.setFallback(PD_OK);
    const second = await harness(options); // a new process on the same store
    await second.advance(750); // the retry time the first process recorded
    expect(pd.requests).toHaveLength(2);
    expect(pd.requests[1]?.body).toBe(pd.requests[0]?.body);
    expect(await store.pending()).toEqual([]);
    // The new process remembers the firing alert and what it sent: no second trigger on its own flush ...
    expect(second.manager.alerts().map((a) => a.name)).toEqual(["BudgetKill"]);
    await second.advance(120_000);
    expect(pd.requests).toHaveLength(2);
    // ... and the revive resolves the incident with the trigger's dedup_key.
    second.emit("budget.revive", { agentId: "support-bot", scope: "agent" });
    await second.advance(60_000);
    expect(pd.requests).toHaveLength(3);
    const trigger = pd.json(0) as { dedup_key: string };
    expect(pd.json(2)).toEqual({
      routing_key: ROUTING_KEY,
      event_action: "resolve",
      dedup_key: trigger.dedup_key,
    });
    await second.manager.close();
  });

  it("an alert whose budget period ended while the process was away resolves when the next one starts", async () => {
    const pd = await service(PD_OK);
    const store = new MemoryOutboxStore();
    const clock = new ManualClock(T0);
    const options = {
      receivers: {
        pager: { type: "pagerduty" as const, routingKey: ROUTING_KEY, url: pd.url("/v2/enqueue") },
      },
      route: { receiver: "pager", ...fast },
      store,
      clock,
    };
    const first = await harness(options);
    first.emit("budget.kill", {
      agentId: "support-bot",
      scope: "agent-daily",
      threshold: 1,
      utilization: 1,
      spentUsd: 10,
      limitUsd: 10,
      severity: "critical",
      action: "KILL",
      periodEndMs: T0 + 600_000,
    });
    await first.advance(0);
    expect(pd.json(0)).toMatchObject({ event_action: "trigger" });
    await first.manager.close();

    clock.advance(3_600_000); // down for an hour: the day ended meanwhile, and with it the kill
    const second = await harness(options);
    await second.advance(0);
    expect(second.manager.alerts()).toEqual([]);
    expect(pd.requests).toHaveLength(2);
    expect(pd.json(1)).toEqual({
      routing_key: ROUTING_KEY,
      event_action: "resolve",
      dedup_key: (pd.json(0) as { dedup_key: string }).dedup_key,
    });
    await second.manager.close();
  });

  it("keeps silences across a restart", async () => {
    const slack = await service();
    const store = new MemoryOutboxStore();
    const clock = new ManualClock(T0);
    const options = {
      receivers: { chat: { type: "slack" as const, url: slack.url("/hook") } },
      route: { receiver: "chat", ...fast },
      store,
      clock,
    };
    const first = await harness(options);
    first.manager.silence({ matchers: ["breaker=tool:search"], durationMs: 3_600_000, createdBy: "oncall" });
    await first.manager.close();
    const second = await harness(options);
    expect(second.manager.silences().map((s) => s.createdBy)).toEqual(["oncall"]);
    second.emit("breaker.open", breakerOpen("tool:search"));
    await second.advance(60_000);
    expect(slack.requests).toHaveLength(0);
    await second.manager.close();
  });
});

describe("secrets", () => {
  it("redacts webhook URLs and keys from errors, logs and status", async () => {
    // The fake echoes the path back, as some services do in their error pages.
    const slack = await service({ status: 404, body: "no_service /services/T9/B9/TOPSECRETTOKEN" });
    const { manager, emit, advance, logs } = await harness({
      receivers: {
        chat: { type: "slack", url: "${SLACK_URL}" },
        pager: { type: "pagerduty", routingKey: "${PD_KEY}", url: slack.url("/pd") },
      },
      route: { receiver: "chat", ...fast, routes: [{ severity: "page", receiver: "pager" }] },
      env: {
        SLACK_URL: slack.url("/services/T9/B9/TOPSECRETTOKEN"),
        PD_KEY: "PDROUTINGKEYSECRET000000000000000",
      },
    });
    const failed = record(manager, "alert.delivery_failed");
    emit("breaker.open", breakerOpen("tool:search"));
    await advance(0);
    expect(slack.requests[0]?.path).toBe("/services/T9/B9/TOPSECRETTOKEN"); // the real URL was used
    expect(failed[0]?.error).toBe("HTTP 404: no_service [redacted]");
    const everything = JSON.stringify({
      logs,
      status: manager.status(),
      failed,
      dead: await manager.deadLetters(),
    });
    expect(everything).not.toContain("TOPSECRETTOKEN");
    expect(everything).not.toContain("PDROUTINGKEYSECRET");
    expect(manager.status().receivers.map((r) => r.url)).toEqual([
      `${new URL(slack.url()).origin}/[redacted]`,
      slack.url("/pd"),
    ]);
    await manager.close();
  });
});

describe("lifecycle across channels", () => {
  it("closes an Opsgenie alert by alias after it was created under that alias", async () => {
    const og = await service({
      status: 202,
      body: '{"result":"Request will be processed","took":0.1,"requestId":"r"}',
    });
    const { manager, emit, advance } = await harness({
      receivers: { og: { type: "opsgenie", apiKey: "GENIE-KEY-0000", url: og.url() } },
      route: { receiver: "og", ...fast },
    });
    emit("breaker.open", breakerOpen("tool:search"));
    await advance(0);
    emit("breaker.close", breakerClose("tool:search"));
    await advance(60_000);
    expect(og.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /v2/alerts",
      `POST /v2/alerts/${(og.json(0) as { alias: string }).alias}/close?identifierType=alias`,
    ]);
    expect(og.requests.every((r) => r.headers.authorization === "GenieKey GENIE-KEY-0000")).toBe(true);
    await manager.close();
  });
});
