import type { StateChange } from "@agent-sre/core";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisStore } from "./redis-store.js";

const URL_6379 = process.env.AGENT_SRE_TEST_REDIS ?? "redis://127.0.0.1:6379";
const PREFIX = `agent-sre-test:store:${process.pid}:${Date.now()}:`;
const admin = new Redis(URL_6379);

afterAll(async () => {
  const keys = await admin.keys(`${PREFIX}*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

const line = (key: string, amount: number, limit: number) => ({
  key,
  amount,
  limit,
  expiresAtMs: Date.now() + 60_000,
});

describe("RedisStore (real Redis, own key prefix)", () => {
  it("serves reservations from leased chunks and refuses exactly at the shared limit", async () => {
    const prefix = `${PREFIX}lease:`;
    const a = await RedisStore.connect({ url: URL_6379, keyPrefix: prefix, leaseFraction: 0.1 });
    const b = await RedisStore.connect({ url: URL_6379, keyPrefix: prefix, leaseFraction: 0.1 });
    // A limit of 1000: a lease is 100 (10 %); 10 reservations of 10 cost one round trip.
    for (let i = 0; i < 10; i++) expect(a.reserve([line("k", 10, 1000)]).ok).toBe(true);
    expect(a.leaseRequests).toBe(1);
    // B takes the rest of the limit, lease by lease; A's lease counts against it.
    let admitted = 0;
    while (b.reserve([line("k", 10, 1000)]).ok) admitted++;
    expect(admitted).toBe(90);
    const refused = b.reserve([line("k", 10, 1000)]);
    expect(refused).toEqual({ ok: false, index: 0, used: 1000 });
    // A settles below what it held: the rest stays in its lease for its next calls.
    a.settle([{ key: "k", reserved: 100, actual: 60 }]);
    expect(a.reserve([line("k", 40, 1000)]).ok).toBe(true);
    expect(a.leaseRequests).toBe(1);
    a.settle([{ key: "k", reserved: 40, actual: 40 }]);
    b.settle([{ key: "k", reserved: 900, actual: 900 }]);
    await a.close();
    await b.close();
    const [spent, reserved] = (await admin.hmget(`${prefix}l:k`, "spent", "reserved")).map(Number);
    expect({ spent, reserved }).toEqual({ spent: 1000, reserved: 0 });
  });

  it("does not lease keys without a limit, and records their spend", async () => {
    const prefix = `${PREFIX}free:`;
    const store = await RedisStore.connect({ url: URL_6379, keyPrefix: prefix });
    expect(store.reserve([line("month", 500, Number.POSITIVE_INFINITY)]).ok).toBe(true);
    store.settle([{ key: "month", reserved: 500, actual: 450 }]);
    store.add("month", 50, Date.now() + 60_000);
    expect(store.leaseRequests).toBe(0);
    expect(store.read("month")).toEqual({ spent: 500, reserved: 0 });
    await store.close();
    expect(Number(await admin.hget(`${prefix}l:month`, "spent"))).toBe(500);
    expect(await admin.pttl(`${prefix}l:month`)).toBeGreaterThan(0);
  });

  it("broadcasts state to the other processes and keeps it in Redis", async () => {
    const prefix = `${PREFIX}state:`;
    const a = await RedisStore.connect({ url: URL_6379, keyPrefix: prefix });
    const b = await RedisStore.connect({ url: URL_6379, keyPrefix: prefix });
    const seen: StateChange[] = [];
    const arrived = new Promise<void>((resolve) =>
      b.subscribe((change) => {
        seen.push(change);
        if (seen.length === 2) resolve();
      }),
    );
    a.putState("kill", "agent-1", { reason: "operator", at: 1 }, Number.POSITIVE_INFINITY);
    a.deleteState("quarantine", "agent-2");
    await arrived;
    expect(seen).toEqual([
      { kind: "kill", id: "agent-1", value: { reason: "operator", at: 1 } },
      { kind: "quarantine", id: "agent-2", value: undefined },
    ]);
    expect(b.getState("kill", "agent-1")).toEqual({ reason: "operator", at: 1 });
    const c = await RedisStore.connect({ url: URL_6379, keyPrefix: prefix });
    expect(c.listState("kill")).toEqual([["agent-1", { reason: "operator", at: 1 }]]);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it("rejects a bad URL and options with the config path", async () => {
    await expect(RedisStore.connect({ url: "http://x" })).rejects.toThrow(/state\.redis\.url/);
    await expect(RedisStore.connect({ url: URL_6379, onUnavailable: "maybe" as never })).rejects.toThrow(
      /onUnavailable/,
    );
  });
});
