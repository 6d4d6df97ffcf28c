/**
 * SLO error budgets aggregated across a fleet on one Redis: each process saves its own counts as a part, and
 * every process evaluates its counts plus the others' — so an agent whose errors all happen in one process
 * exhausts the budget everywhere. A restarted process reads its previous part as a peer and starts a new
 * one: the fleet's counts survive, none counted twice. Real Redis, own key prefix.
 */
import { AgentSRE, ErrorRate, ManualClock, SLO, type StateChange } from "@agent-sre/core";
import { RedisStore } from "@agent-sre/store-redis";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";

const URL_6379 = process.env.AGENT_SRE_TEST_REDIS ?? "redis://127.0.0.1:6379";
const PREFIX = `agent-sre-test:slo-fleet:${process.pid}:${Date.now()}:`;
const admin = new Redis(URL_6379);

afterAll(async () => {
  const keys = await admin.keys(`${PREFIX}*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

const slo = () =>
  new SLO({
    name: "checkout/calls",
    agentId: "checkout",
    indicators: [new ErrorRate({ name: "errors" })],
    errorBudget: { total: 0.1, windowMs: "1d", exhaustionAction: "FREEZE_DEPLOYMENTS" },
  });

/** Resolves on the next part of an SLO's counts another process saves, as this store hears it. */
function nextPart(store: RedisStore): Promise<StateChange> {
  return new Promise((resolve) => {
    const off = store.subscribe((change) => {
      if (change.kind !== "slo-part") return;
      off();
      resolve(change);
    });
  });
}

describe("SLO error budgets across a fleet on Redis", { timeout: 60_000 }, () => {
  it("every process evaluates the fleet's counts; a restart keeps them and counts nothing twice", async () => {
    // Records expire with the SLO window from the (manual) clock's now, so it starts at the real time.
    const clock = new ManualClock(Math.floor(Date.now() / 60_000) * 60_000);
    const stores: RedisStore[] = [];
    const engine = async () => {
      const store = await RedisStore.connect({ url: URL_6379, keyPrefix: PREFIX });
      stores.push(store);
      return { store, sre: new AgentSRE({ clock, store, slos: [slo()], rogue: false }) };
    };
    const call = { kind: "tool", agentId: "checkout", name: "pay" } as const;
    try {
      const a = await engine();
      const b = await engine();
      for (let i = 0; i < 10; i++) await a.sre.guard(call, async () => "ok");
      for (let i = 0; i < 3; i++) await b.sre.guard(call, async () => "ok");
      for (let i = 0; i < 2; i++)
        await b.sre.guard(call, async () => Promise.reject(new Error("declined"))).catch(() => {});
      clock.advance(1_000);

      const heardByA = nextPart(a.store);
      const heardByB = nextPart(b.store);
      a.sre.flush();
      b.sre.flush();
      await Promise.all([heardByA, heardByB]);
      const fleet = { events: 15, badEvents: 2, status: "EXHAUSTED" };
      expect(a.sre.slos.get("checkout/calls")?.peek()).toMatchObject(fleet);
      expect(b.sre.slos.get("checkout/calls")?.peek()).toMatchObject(fleet);
      // A saw no error itself, yet its evaluation acts on the fleet's exhausted budget.
      a.sre.slos.evaluateAll();
      expect(a.sre.deploymentsFrozen).toBe(true);

      // A restarts: its old part is read as a peer, its new events go to a new part.
      a.sre.flush();
      await a.store.close();
      const a2 = await engine();
      expect(a2.sre.slos.get("checkout/calls")?.peek()).toMatchObject(fleet);
      for (let i = 0; i < 10; i++) await a2.sre.guard(call, async () => "ok");
      const heardByB2 = nextPart(b.store);
      a2.sre.flush();
      await heardByB2;
      const after = { events: 25, badEvents: 2 };
      expect(a2.sre.slos.get("checkout/calls")?.peek()).toMatchObject(after);
      expect(b.sre.slos.get("checkout/calls")?.peek()).toMatchObject(after);
      b.sre.slos.evaluateAll();
      // 2 errors in 25 calls: within the 10 % budget again, for the whole fleet.
      expect(b.sre.slos.get("checkout/calls")?.peek().status).not.toBe("EXHAUSTED");

      // Three parts (A's two lives and B's), each expiring with the SLO window.
      const parts = await admin.keys(`${PREFIX}s:slo-part:*`);
      expect(parts).toHaveLength(3);
      for (const key of parts) expect(await admin.pttl(key)).toBeGreaterThan(0);
    } finally {
      for (const store of stores) await store.close();
    }
  });
});
