import { AgentSRE, type GuardCall, ManualClock, type StateChange } from "@agent-sre/core";
import { RedisStore } from "@agent-sre/store-redis";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";

const URL_6379 = process.env.AGENT_SRE_TEST_REDIS ?? "redis://127.0.0.1:6379";
const PREFIX = `agent-sre-test:retry-budget:${process.pid}:${Date.now()}:`;

/** Resolves when another engine's retry-budget counts reach `store` (its broadcast) holding `counts`. */
function publication(store: RedisStore, counts: { firsts?: number; retries?: number }): Promise<StateChange> {
  const total = (value: unknown, key: "firsts" | "retries") =>
    ((value as Record<string, number[]> | undefined)?.[key] ?? []).reduce((sum, n) => sum + n, 0);
  return new Promise((resolve) => {
    const off = store.subscribe((change) => {
      if (change.kind !== "retry-budget") return;
      if (counts.firsts !== undefined && total(change.value, "firsts") !== counts.firsts) return;
      if (counts.retries !== undefined && total(change.value, "retries") !== counts.retries) return;
      off();
      resolve(change);
    });
  });
}

/**
 * Two engines (two connections, as two processes would have) on one real Redis see one retry budget per
 * target: the first attempts one engine makes fund the retries of the other, and the retries either makes
 * use up the budget for both.
 */
describe("retry budget across a fleet on one Redis", { timeout: 60_000 }, () => {
  const stores: RedisStore[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    const redis = new Redis(URL_6379);
    const keys = await redis.keys(`${PREFIX}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it("two engines count against one budget", async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 1, 9, 0, 0));
    const engine = async () => {
      const store = await RedisStore.connect({ url: URL_6379, keyPrefix: PREFIX });
      stores.push(store);
      const sre = new AgentSRE({
        clock,
        store,
        rogue: false,
        retryBudget: { ratio: 0.1, minRetries: 0, windowMs: "10s" },
      });
      return { store, sre };
    };
    const a = await engine();
    const b = await engine();
    const call = (agentId: string, attempt: number): GuardCall<string> => ({
      kind: "tool",
      agentId,
      name: "search_orders",
      attempt,
    });
    const run = async () => "ok";

    // Engine A serves 100 first attempts; B has served none.
    const fromA = publication(b.store, { firsts: 100 });
    for (let i = 0; i < 100; i++) await a.sre.guard(call("a-agent", 1), run);
    a.sre.retryBudget?.flush();
    await fromA;

    // B's retries are funded by A's traffic: 0 + 0.1 × 100 = 10, then RETRY_BUDGET_EXCEEDED.
    const codes: string[] = [];
    for (let i = 0; i < 12; i++) {
      await b.sre.guard(call("b-agent", 2), run).then(
        () => codes.push("ok"),
        (error: { code: string }) => codes.push(error.code),
      );
    }
    expect(codes).toEqual([...Array(10).fill("ok"), "RETRY_BUDGET_EXCEEDED", "RETRY_BUDGET_EXCEEDED"]);

    // B's ten retries reach A: the budget is spent for A too.
    const fromB = publication(a.store, { retries: 10 });
    b.sre.retryBudget?.flush();
    await fromB;
    await expect(a.sre.guard(call("a-agent", 2), run)).rejects.toMatchObject({
      code: "RETRY_BUDGET_EXCEEDED",
      retryable: true,
    });
    expect(a.sre.retryBudget?.snapshot()).toMatchObject({
      fleet: { engines: 2 },
      targets: { "tool:search_orders": { firstAttempts: 100, retries: 10, retriesAllowed: 10 } },
    });
  });
});
