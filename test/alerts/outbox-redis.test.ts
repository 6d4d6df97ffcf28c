/**
 * The alert outbox in a shared Redis (`RedisStore.alertOutbox()`): a fleet pages once. Two processes that see
 * the same breaker open send one trigger and one resolve, with one dedup_key; a page whose deliverer dies
 * between retries is delivered by another process; and after every process restarted, the new one remembers
 * the firing alert (no second page) and resolves it with the same dedup_key. Real Redis, own key prefix per
 * test, a local PagerDuty fake, and a real process killed with SIGKILL.
 */
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { AlertManager, type AlertManagerEvents } from "@agent-sre/alerts";
import { type Clock, ManualClock, systemClock } from "@agent-sre/core";
import { RedisStore } from "@agent-sre/store-redis";
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { NODE } from "../mcp/helpers.js";

const MEMBER = fileURLToPath(new URL("./fixtures/outbox-member.mjs", import.meta.url));
const URL_6379 = process.env.AGENT_SRE_TEST_REDIS ?? "redis://127.0.0.1:6379";
const PREFIX = `agent-sre-test:outbox:${process.pid}:${Date.now()}:`;
const ROUTING_KEY = "R0UTINGKEY0123456789abcdefABCDEF";
const T0 = Date.UTC(2026, 0, 5, 9);
const admin = new Redis(URL_6379);
let testNumber = 0;
let memberNumber = 0;

/** A PagerDuty Events v2 fake on 127.0.0.1:0: answers `status`, keeps every body, tells who waits for a count. */
async function fakePagerDuty(initialStatus: number) {
  const bodies: Array<Record<string, unknown>> = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  let status = initialStatus;
  const server: Server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    req.on("end", () => {
      bodies.push(JSON.parse(text) as Record<string, unknown>);
      res.writeHead(status, { "content-type": "application/json" });
      res.end(status === 202 ? '{"status":"success"}' : '{"status":"unavailable"}');
      for (const waiter of waiters.filter((w) => bodies.length >= w.count)) waiter.resolve();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    bodies,
    url: `http://127.0.0.1:${port}/v2/enqueue`,
    answer: (next: number) => {
      status = next;
    },
    received: (count: number) =>
      new Promise<void>((resolve) => {
        if (bodies.length >= count) resolve();
        else waiters.push({ count, resolve });
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  const keys = await admin.keys(`${PREFIX}*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

/** One process of the fleet: a RedisStore and an AlertManager on its outbox. */
async function member(prefix: string, clock: Clock, pagerUrl: string) {
  const store = await RedisStore.connect({ url: URL_6379, keyPrefix: prefix });
  // Fixed per process (deterministic backoff) but not the same in two processes: notification ids differ.
  const random = 0.5 + ++memberNumber / 1000;
  const manager = new AlertManager({
    clock,
    store: store.alertOutbox({ ownerLeaseMs: 1_000, adoptIntervalMs: 200 }),
    random: () => random,
    logger: { warn: () => {} },
    receivers: { pager: { type: "pagerduty", routingKey: ROUTING_KEY, url: pagerUrl } },
    route: { receiver: "pager", groupWaitMs: 0, groupIntervalMs: 60_000, repeatIntervalMs: 3_600_000 },
  });
  await manager.ready;
  const deduplicated: Array<AlertManagerEvents["notification.deduplicated"]> = [];
  manager.on("notification.deduplicated", (event) => deduplicated.push(event));
  let ended = false;
  const end = async () => {
    if (ended) return;
    ended = true;
    await manager.close();
    await store.close();
  };
  cleanups.push(end);
  return { store, manager, deduplicated, end };
}

const breakerOpen = (at: number) => ({
  name: "BreakerOpen",
  severity: "page" as const,
  labels: { breaker: "model:gpt-5" },
  summary: "breaker model:gpt-5 opened",
  at,
});

describe("alert outbox in a shared Redis", { timeout: 60_000 }, () => {
  it("two processes that see the same breaker open page once and resolve once, with one dedup_key", async () => {
    const prefix = `${PREFIX}${++testNumber}:`;
    const pd = await fakePagerDuty(202);
    cleanups.push(pd.close);
    const clock = new ManualClock(T0);
    const a = await member(prefix, clock, pd.url);
    const b = await member(prefix, clock, pd.url);
    const advance = async (ms: number) => {
      await clock.advanceAsync(ms);
      await Promise.all([a.manager.idle(), b.manager.idle()]);
    };

    a.manager.fire(breakerOpen(T0));
    b.manager.fire(breakerOpen(T0));
    await advance(0);
    expect(pd.bodies).toHaveLength(1);
    expect(pd.bodies[0]).toMatchObject({ event_action: "trigger" });
    expect([...a.deduplicated, ...b.deduplicated].map((event) => event.reason)).toEqual(["duplicate"]);
    await advance(120_000); // group intervals pass: nothing new to say
    expect(pd.bodies).toHaveLength(1);

    a.manager.resolve(a.manager.alerts()[0]?.fingerprint as string);
    b.manager.resolve(b.manager.alerts()[0]?.fingerprint as string);
    await advance(60_000);
    expect(pd.bodies).toHaveLength(2);
    expect(pd.bodies[1]).toEqual({
      routing_key: ROUTING_KEY,
      event_action: "resolve",
      dedup_key: (pd.bodies[0] as { dedup_key: string }).dedup_key,
    });
    expect(a.deduplicated.length + b.deduplicated.length).toBe(2);
    expect(await a.store.alertOutbox().pending()).toEqual([]);
  });

  it("a page whose deliverer dies between retries is delivered by another process, once", async () => {
    const prefix = `${PREFIX}${++testNumber}:`;
    const pd = await fakePagerDuty(503);
    cleanups.push(pd.close);
    const survivor = await member(prefix, systemClock, pd.url);
    const delivered = new Promise<AlertManagerEvents["notification.delivered"]>((resolve) =>
      survivor.manager.on("notification.delivered", resolve),
    );

    const child = spawn(NODE, [MEMBER, URL_6379, prefix, pd.url, ROUTING_KEY], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    });
    let output = "";
    const retryScheduled = new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('"retry":1')) resolve();
      });
    });
    await pd.received(1); // the first attempt: 503
    await retryScheduled; // ... and its retry time recorded in Redis
    child.kill("SIGKILL");
    await exited;
    pd.answer(202);

    // The survivor takes over once the dead process's lease has run out, and delivers at the recorded time.
    const event = await delivered;
    expect(event.attempts).toBe(2);
    expect(pd.bodies).toHaveLength(2);
    expect(pd.bodies[1]).toEqual(pd.bodies[0]);
    expect(pd.bodies[1]).toMatchObject({ event_action: "trigger", routing_key: ROUTING_KEY });
    await survivor.manager.idle();
    expect(await survivor.store.alertOutbox().pending()).toEqual([]);
    // It took over the alert too: its resolve goes to the same incident.
    expect(survivor.manager.alerts().map((alert) => alert.name)).toEqual(["BreakerOpen"]);
    const resolved = new Promise((resolve) => survivor.manager.on("notification.delivered", resolve));
    survivor.manager.resolve(survivor.manager.alerts()[0]?.fingerprint as string);
    survivor.manager.flush();
    await resolved;
    expect(pd.bodies[2]).toEqual({
      routing_key: ROUTING_KEY,
      event_action: "resolve",
      dedup_key: (pd.bodies[0] as { dedup_key: string }).dedup_key,
    });
  });

  it("after every process restarted, the new one does not page again and resolves with the same key", async () => {
    const prefix = `${PREFIX}${++testNumber}:`;
    const pd = await fakePagerDuty(202);
    cleanups.push(pd.close);
    const clock = new ManualClock(T0);
    const a = await member(prefix, clock, pd.url);
    const b = await member(prefix, clock, pd.url);
    a.manager.fire(breakerOpen(T0));
    b.manager.fire(breakerOpen(T0));
    await clock.advanceAsync(0);
    await Promise.all([a.manager.idle(), b.manager.idle()]);
    expect(pd.bodies).toHaveLength(1);
    await a.end();
    await b.end();

    const c = await member(prefix, clock, pd.url);
    expect(c.manager.alerts().map((alert) => alert.name)).toEqual(["BreakerOpen"]);
    await clock.advanceAsync(120_000);
    await c.manager.idle();
    expect(pd.bodies).toHaveLength(1); // it knows what the fleet sent: no second page
    c.manager.resolve(c.manager.alerts()[0]?.fingerprint as string);
    await clock.advanceAsync(60_000);
    await c.manager.idle();
    expect(pd.bodies).toHaveLength(2);
    expect(pd.bodies[1]).toMatchObject({
      event_action: "resolve",
      dedup_key: (pd.bodies[0] as { dedup_key: string }).dedup_key,
    });
  });

  it("keeps every key under the prefix and expiring; dead letters are shared and bounded", async () => {
    const prefix = `${PREFIX}${++testNumber}:`;
    const a = await RedisStore.connect({ url: URL_6379, keyPrefix: prefix });
    const b = await RedisStore.connect({ url: URL_6379, keyPrefix: prefix });
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    const outbox = a.alertOutbox({ maxDeadLetters: 3 });
    expect(a.alertOutbox()).toBe(outbox); // one per store
    for (let i = 0; i < 5; i++) await outbox.deadLetter({ error: `e${i}` });
    expect(await b.alertOutbox().deadLetters()).toEqual([{ error: "e2" }, { error: "e3" }, { error: "e4" }]);
    await outbox.put({ id: "n-1", createdAt: T0 });
    await outbox.setState("alert:x", { name: "X" });
    const claim = await outbox.claim(
      { id: "n-1", createdAt: T0, attempts: 0, dedup: { group: "g", signature: "s", windowMs: 60_000 } },
      { leaseMs: 10_000, now: T0 },
    );
    expect(claim).toBe("ok");
    // Another process cannot claim it, and is told when to ask again.
    const held = await b
      .alertOutbox()
      .claim({ id: "n-1", createdAt: T0, attempts: 1 }, { leaseMs: 10_000, now: T0 });
    expect(held).toBe("gone"); // not B's: A owns it while A lives
    expect(await b.alertOutbox().pending()).toEqual([]);
    expect(await b.alertOutbox().loadState()).toEqual({});

    const keys = await admin.keys(`${prefix}alerts:*`);
    expect(keys.length).toBeGreaterThanOrEqual(6);
    for (const key of keys) expect(await admin.pttl(key)).toBeGreaterThan(0);

    // A leaves: B takes over its entry and its alert state.
    await a.close();
    expect((await b.alertOutbox().pending()).map((entry) => entry.id)).toEqual(["n-1"]);
    expect(await b.alertOutbox().loadState()).toEqual({ "alert:x": { name: "X" } });
  });
});
