import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it, vi } from "vitest";
import { RedisStore } from "./redis-store.js";

const REDIS_PORT = Number(new URL(process.env.AGENT_SRE_TEST_REDIS ?? "redis://127.0.0.1:6379").port || 6379);
const PREFIX = `agent-sre-test:lease-connection:${process.pid}:${Date.now()}:`;
const admin = new Redis(REDIS_PORT, "127.0.0.1");

afterAll(async () => {
  const keys = await admin.keys(`${PREFIX}*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

/**
 * A TCP forwarder in front of Redis that numbers the connections it accepts, can cut one of them and can
 * refuse new ones: so one of the store's three connections goes down while the other two stay up. It runs in
 * its own thread, because a lease blocks this one (Atomics.wait) until the worker's reply has crossed it.
 */
const FORWARDER = `
const { parentPort, workerData } = require("node:worker_threads");
const net = require("node:net");
const pairs = [];
let refusing = false;
const server = net.createServer((client) => {
  if (refusing) return client.destroy();
  const upstream = net.connect(workerData.redisPort, "127.0.0.1");
  client.pipe(upstream).pipe(client);
  const end = () => { client.destroy(); upstream.destroy(); };
  client.on("error", end).on("close", end);
  upstream.on("error", end).on("close", end);
  pairs.push([client, upstream]);
  parentPort.postMessage({ accepted: pairs.length });
});
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
parentPort.on("message", (message) => {
  if ("refusing" in message) refusing = message.refusing;
  if ("cut" in message) for (const socket of pairs[message.cut]) socket.destroy();
  if ("close" in message) {
    refusing = true;
    for (const pair of pairs) for (const socket of pair) socket.destroy();
    server.close(() => process.exit(0));
  }
});
`;

class Forwarder {
  accepted = 0;
  readonly #worker: Worker;
  readonly url: string;

  private constructor(worker: Worker, port: number) {
    this.#worker = worker;
    this.url = `redis://127.0.0.1:${port}`;
    worker.on("message", (message: { accepted?: number }) => {
      if (message.accepted !== undefined) this.accepted = message.accepted;
    });
  }

  static async start(): Promise<Forwarder> {
    const worker = new Worker(FORWARDER, { eval: true, workerData: { redisPort: REDIS_PORT } });
    const [{ port }] = (await once(worker, "message")) as [{ port: number }];
    return new Forwarder(worker, port);
  }

  refuse(refusing: boolean): void {
    this.#worker.postMessage({ refusing });
  }

  cut(index: number): void {
    this.#worker.postMessage({ cut: index });
  }

  async close(): Promise<void> {
    this.#worker.postMessage({ close: true });
    await once(this.#worker, "exit");
  }
}

const line = (key: string, amount: number, limit: number) => ({
  key,
  amount,
  limit,
  expiresAtMs: Date.now() + 60_000,
});

describe("RedisStore.connected and the lease worker's own connection", { timeout: 60_000 }, () => {
  it("is false while only the lease connection is down, refuses new leases then, and recovers", async () => {
    const forwarder = await Forwarder.start();
    const store = await RedisStore.connect({
      url: forwarder.url,
      keyPrefix: PREFIX,
      leaseTimeoutMs: 2_000,
    });
    try {
      // connect() opens the command connection, then the pub/sub one, then the lease worker's.
      await vi.waitFor(() => expect(forwarder.accepted).toBe(3), { timeout: 20_000, interval: 5 });
      expect(store.connected).toBe(true);
      expect(store.reserve([line("first", 10, 1_000)]).ok).toBe(true);
      expect(store.leaseRequests).toBe(1);

      forwarder.refuse(true);
      forwarder.cut(2);
      await vi.waitFor(() => expect(store.connected).toBe(false), { timeout: 20_000, interval: 5 });
      // The command connection is still up: a state write reaches Redis; only the lease path is down.
      store.putState("kill", "agent-1", { reason: "operator", at: 1 }, Number.POSITIVE_INFINITY);
      await vi.waitFor(async () => expect(await admin.exists(`${PREFIX}s:kill:agent-1`)).toBe(1), {
        timeout: 20_000,
        interval: 5,
      });
      // A key with no lease yet needs the worker's connection: refused, typed and retryable, not granted.
      expect(() => store.reserve([line("second", 10, 1_000)])).toThrow(
        expect.objectContaining({ code: "STORE_UNAVAILABLE", retryable: true }),
      );

      forwarder.refuse(false);
      await vi.waitFor(() => expect(store.connected).toBe(true), { timeout: 20_000, interval: 5 });
      await vi.waitFor(() => expect(forwarder.accepted).toBe(4), { timeout: 20_000, interval: 5 });
      expect(store.reserve([line("second", 10, 1_000)]).ok).toBe(true);
    } finally {
      await store.close();
      await forwarder.close();
    }
  });
});
