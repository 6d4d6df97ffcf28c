// The synchronous lease path of @agent-sre/store-redis. The main thread posts a lease request and blocks on
// Atomics.wait (bounded); this thread runs the Lua script on its own connection and writes the reply into the
// shared buffer. A reply that arrives after the main thread stopped waiting is also posted as a message, so
// the lease is used instead of lost. A request that failed may still have run in Redis: its grant record is
// given back (RECONCILE) on this same connection, in order, once Redis answers again.
import { parentPort, workerData } from "node:worker_threads";
import { Redis } from "ioredis";

const { url, leaseScript, reconcileScript, commandTimeoutMs, buffer } = workerData;
const header = new Int32Array(buffer, 0, 2);
const body = new Uint8Array(buffer, 8);
const encoder = new TextEncoder();
const redis = new Redis(url, {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  commandTimeout: commandTimeoutMs,
  retryStrategy: (times) => Math.min(50 * times, 500),
  lazyConnect: false,
});
redis.on("error", () => {}); // reported per request; the client reconnects by itself
redis.defineCommand("agentSreLease", { lua: leaseScript });
redis.defineCommand("agentSreReconcile", { numberOfKeys: 1, lua: reconcileScript });
const toReconcile = new Set();

async function reconcile() {
  for (const grantKey of [...toReconcile]) {
    try {
      await redis.agentSreReconcile(grantKey);
      toReconcile.delete(grantKey);
    } catch {
      return; // still down: the next 'ready' tries again
    }
  }
}
redis.on("ready", () => {
  // The main thread's `connected` includes this connection: a new lease needs it.
  parentPort.postMessage({ type: "connection", ready: true });
  void reconcile();
});
redis.on("close", () => parentPort.postMessage({ type: "connection", ready: false }));

function reply(message) {
  const bytes = encoder.encode(JSON.stringify(message));
  if (bytes.length <= body.length) {
    body.set(bytes);
    Atomics.store(header, 1, bytes.length);
  } else {
    const error = encoder.encode(JSON.stringify({ id: message.id, error: "reply too large" }));
    body.set(error);
    Atomics.store(header, 1, error.length);
  }
  Atomics.store(header, 0, message.id);
  Atomics.notify(header, 0);
  parentPort.postMessage(message);
}

parentPort.on("message", async (request) => {
  if (request.type === "close") {
    await reconcile();
    redis.disconnect();
    parentPort.close();
    return;
  }
  const { id, keys, args, grantKey } = request;
  try {
    const result = await redis.agentSreLease(keys.length, ...keys, ...args);
    reply({ id, result });
  } catch (error) {
    toReconcile.add(grantKey);
    if (redis.status === "ready") void reconcile();
    reply({ id, error: String(error?.message ?? error) });
  }
});
// Ready once connected (or once the first attempt failed: requests then fail until it reconnects).
await new Promise((resolve) => {
  if (redis.status === "ready") resolve();
  redis.once("ready", resolve);
  redis.once("error", resolve);
});
parentPort.postMessage({ type: "started", ready: redis.status === "ready" });
