/**
 * The alert outbox in the SQLite state file (`SqliteStore.alertOutbox()`): a page that could not be delivered
 * before the process went away is delivered by the next process on the same file, which also remembers the
 * firing alert (no second page) and resolves it with the same dedup_key. Two live processes sharing a file
 * never deliver each other's notifications.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AlertManager } from "@agent-sre/alerts";
import { AgentSRE, ManualClock } from "@agent-sre/core";
import { SqliteStore } from "@agent-sre/store-sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const ROUTING_KEY = "R0UTINGKEY0123456789abcdefABCDEF";
const T0 = Date.UTC(2026, 0, 5, 9);

/** A PagerDuty Events v2 fake on 127.0.0.1:0: answers `status` until told otherwise, keeps every body. */
async function fakePagerDuty() {
  const bodies: Array<Record<string, unknown>> = [];
  let status = 503;
  const server: Server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    req.on("end", () => {
      bodies.push(JSON.parse(text) as Record<string, unknown>);
      res.writeHead(status, { "content-type": "application/json" });
      res.end(
        status === 202 ? '{"status":"success","message":"Event processed"}' : '{"status":"unavailable"}',
      );
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
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let dir: string;
let file: string;
const cleanups: Array<() => unknown> = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "agent-sre-outbox-"));
  file = join(dir, "state.db");
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** One "process": an engine and an AlertManager on the state file. */
async function life(clock: ManualClock, pagerUrl: string) {
  const store = new SqliteStore(file);
  const sre = new AgentSRE({ clock, store, budget: { perAgentDailyLimitUsd: 10 } });
  const manager = new AlertManager({
    sre,
    clock,
    store: store.alertOutbox(),
    random: () => 0.5,
    logger: { warn: () => {} },
    receivers: { pager: { type: "pagerduty", routingKey: ROUTING_KEY, url: pagerUrl } },
    route: { receiver: "pager", groupWaitMs: 0, groupIntervalMs: 60_000, repeatIntervalMs: 3_600_000 },
  });
  await manager.ready;
  const advance = async (ms: number) => {
    await clock.advanceAsync(ms);
    await manager.idle();
  };
  const end = async () => {
    await manager.close();
    store.close();
  };
  return { store, sre, manager, advance, end };
}

describe("alert outbox in the SQLite state file", { timeout: 30_000 }, () => {
  it("a restarted process delivers the queued page, does not page twice, and resolves with the same key", async () => {
    const pd = await fakePagerDuty();
    cleanups.push(pd.close);
    const clock = new ManualClock(T0);
    const first = await life(clock, pd.url);
    first.sre.kill("support-bot", "runaway spend");
    await first.advance(0);
    expect(pd.bodies).toHaveLength(1); // answered 503: stays in the outbox
    await first.end();

    pd.answer(202);
    const second = await life(clock, pd.url);
    cleanups.push(second.end);
    expect(second.sre.budget.isKilled("support-bot")).toBe(true);
    expect(second.manager.alerts().map((alert) => alert.name)).toEqual(["BudgetKill"]);
    expect(second.manager.status().receivers[0]?.delivery).toMatchObject({
      pending: 1,
      nextAttemptAt: T0 + 750,
    });
    // Exactly to the retry time the first process recorded (a larger step of the manual clock would also
    // pass the request's timeout while the real HTTP answer is on its way).
    await second.advance(750);
    expect(pd.bodies).toHaveLength(2);
    expect(pd.bodies[1]).toEqual(pd.bodies[0]);
    expect(pd.bodies[1]).toMatchObject({ event_action: "trigger" });
    await second.advance(120_000); // group intervals pass (the repeat interval is an hour)
    expect(pd.bodies).toHaveLength(2); // it remembered what the first process sent: no second page

    second.sre.revive("support-bot");
    await second.advance(60_000);
    expect(pd.bodies).toHaveLength(3);
    expect(pd.bodies[2]).toEqual({
      routing_key: ROUTING_KEY,
      event_action: "resolve",
      dedup_key: (pd.bodies[0] as { dedup_key: string }).dedup_key,
    });
    expect(await second.store.alertOutbox().pending()).toEqual([]);
  });

  it("two live processes on one file keep their own outboxes; dead letters are shared and bounded", async () => {
    const a = new SqliteStore(file);
    const b = new SqliteStore(file);
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    const entry = (id: string, createdAt: number) => ({ id, receiver: "pager", createdAt, attempts: 0 });
    a.alertOutbox().put(entry("a-1", 2));
    b.alertOutbox().put(entry("b-1", 1));
    expect(
      a
        .alertOutbox()
        .pending()
        .map((e) => e.id),
    ).toEqual(["a-1"]);
    expect(
      b
        .alertOutbox()
        .pending()
        .map((e) => e.id),
    ).toEqual(["b-1"]);
    a.alertOutbox().setState("alert:x", { name: "X" });
    expect(b.alertOutbox().loadState()).toEqual({});

    const bounded = b.alertOutbox({ maxDeadLetters: 3 });
    expect(bounded).toBe(b.alertOutbox()); // one per store
    const small = new SqliteStore(join(dir, "small.db"));
    cleanups.push(() => small.close());
    const outbox = small.alertOutbox({ maxDeadLetters: 3 });
    for (let i = 0; i < 5; i++) outbox.deadLetter({ error: `e${i}` });
    expect(outbox.deadLetters()).toEqual([{ error: "e2" }, { error: "e3" }, { error: "e4" }]);

    // A leaves the file: B adopts its undelivered entry and its alert state.
    a.close();
    expect(
      b
        .alertOutbox()
        .pending()
        .map((e) => e.id),
    ).toEqual(["b-1", "a-1"]);
    expect(b.alertOutbox().loadState()).toEqual({ "alert:x": { name: "X" } });
  });
});
