import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { AgentSRE } from "@agent-sre/core";
import { RedisStore } from "@agent-sre/store-redis";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, tempDir } from "../mcp/helpers.js";

/** A free TCP port on 127.0.0.1 (asked from the OS, then released for redis-server). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, "close");
  return port;
}

/**
 * Our own redis-server (never the machine's shared one), stopped by its PID mid-run and started again on
 * the same port and data directory (append-only file, so what it acknowledged survives): the documented
 * failure mode holds (leases already held keep serving, new leases fail closed with STORE_UNAVAILABLE,
 * settlements wait in memory) and after recovery nothing is lost and nothing counted twice.
 */
describe("Redis faults", { timeout: 120_000 }, () => {
  const dir = tempDir("agent-sre-redis-");
  let server: ChildProcess | undefined;
  let port = 0;

  async function startRedis(): Promise<void> {
    server = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    server.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    await eventually(async () => (/Ready to accept connections/.test(output) ? true : undefined), 20_000, 20);
  }

  async function stopRedis(): Promise<void> {
    const child = server as ChildProcess;
    process.kill(child.pid as number, "SIGKILL");
    await once(child, "exit");
  }

  afterAll(async () => {
    if (server !== undefined && server.exitCode === null && server.signalCode === null) await stopRedis();
  });

  it("fails closed for new leases while down, and reconciles every settlement once when back", async () => {
    port = await freePort();
    await startRedis();
    const url = `redis://127.0.0.1:${port}`;
    const store = await RedisStore.connect({
      url,
      keyPrefix: "fault:",
      leaseTimeoutMs: 200,
      flushIntervalMs: 10,
    });
    // A $1 daily limit leases $0.02 at a time: four $0.005 calls per lease.
    const sre = new AgentSRE({
      store,
      rogue: false,
      budget: { perAgentDailyLimitUsd: 1, perTaskLimitUsd: 10, autoThrottle: false },
    });
    const call = { kind: "tool", agentId: "a", name: "t", estimate: { costUsd: 0.005 } } as const;
    await sre.guard(call, async () => "ok");
    expect(store.leaseRequests).toBe(1);

    await stopRedis();
    await eventually(async () => (store.connected ? undefined : true), 10_000, 10);
    // Three more calls fit the lease already held: admitted without Redis.
    for (let i = 0; i < 3; i++) await expect(sre.guard(call, async () => "ok")).resolves.toBe("ok");
    // The next one needs a new lease: refused, typed and retryable (fail closed).
    await expect(sre.guard(call, async () => "ok")).rejects.toMatchObject({
      code: "STORE_UNAVAILABLE",
      retryable: true,
    });
    // A kill issued while Redis is down holds here at once and is written when it is back.
    sre.kill("b", "operator stop while Redis was down");
    expect(sre.budget.isKilled("b")).toBe(true);
    // The three settlements go into a batch on the store's next background tick, and stay queued.
    await eventually(async () => (store.pendingBatches > 0 ? true : undefined), 10_000, 10);

    await startRedis();
    await eventually(
      async () => (store.connected && store.pendingBatches === 0 ? true : undefined),
      20_000,
      20,
    );
    const check = new Redis(url);
    const dayKey = (await check.keys("fault:l:agent-day:*:a"))[0] as string;
    // Four calls of $0.005, each counted once: nothing lost, nothing double-counted.
    expect(Number(await check.hget(dayKey, "spent"))).toBe(20_000);
    expect(JSON.parse((await check.get("fault:s:kill:b")) as string)).toMatchObject({
      reason: "operator stop while Redis was down",
    });
    // Back to normal: the next call leases again.
    await expect(sre.guard(call, async () => "ok")).resolves.toBe("ok");
    await store.close();
    expect(Number(await check.hget(dayKey, "spent"))).toBe(25_000);
    expect(Number(await check.hget(dayKey, "reserved"))).toBe(0);
    check.disconnect();
  });
});
