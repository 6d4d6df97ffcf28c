import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { SseParser } from "./sse-parser.js";
import { pooledFetch } from "./upstream-fetch.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server answering each POST with the SSE frames `frames` (written one by one), then ending. */
async function sseServer(
  frames: string[],
  handle?: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; sockets: Set<unknown> }> {
  const sockets = new Set<unknown>();
  const server = createServer((req, res) => {
    req.resume();
    if (handle !== undefined) return handle(req, res);
    res.writeHead(200, { "Content-Type": "text/event-stream", "Mcp-Session-Id": "s-1" });
    for (const frame of frames) res.write(frame);
    res.end();
  });
  server.on("connection", (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  cleanups.push(() => server.closeAllConnections());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, sockets };
}

const event = (message: unknown) => `event: message\ndata: ${JSON.stringify(message)}\n\n`;
const answer = { jsonrpc: "2.0", id: 7, result: { content: [] } };
const progress = {
  jsonrpc: "2.0",
  method: "notifications/progress",
  params: { progressToken: 1, progress: 1 },
};
const post = { method: "POST", body: "{}", headers: { "content-type": "application/json" } };

describe("SseParser", () => {
  it("yields the data of message events, whatever the chunking and line endings", () => {
    const text =
      '\uFEFF: keep-alive\r\n\r\nevent: message\r\ndata: {"a":\r\ndata: 1}\r\n\r\nevent: other\ndata: x\n\nid: 9\ndata: \n\ndata: é\r\r\n';
    const bytes = Buffer.from(text);
    for (const size of [1, 2, 3, 7, bytes.length]) {
      const parser = new SseParser();
      const out: string[] = [];
      for (let i = 0; i < bytes.length; i += size) out.push(...parser.push(bytes.subarray(i, i + size)));
      expect(out, `chunks of ${size}`).toEqual(['{"a":\n1}', "é"]);
    }
  });
});

describe("pooledFetch", () => {
  it("sends the headers node:http would: Host, Authorization from URL credentials, the body's content-length", async () => {
    const seen: IncomingMessage["headers"][] = [];
    const { url } = await sseServer([], (req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
    });
    const pool = pooledFetch();
    cleanups.push(() => pool.close());
    const target = new URL(url);
    const headers = { "content-type": "application/json", "content-length": "1" };
    (await pool.request(target, "POST", headers, '{"é":1}', undefined)).resume();
    expect(headers).toEqual({ "content-type": "application/json", "content-length": "1" }); // not changed
    const withCredentials = new URL(url.replace("http://", "http://us%20er:p%40ss@"));
    (await pool.request(withCredentials, "GET", {}, undefined, undefined)).resume();
    (
      await pool.request(
        withCredentials,
        "GET",
        { Host: "example.test", authorization: "Bearer t" },
        undefined,
        undefined,
      )
    ).resume();
    expect(seen[0]).toMatchObject({
      host: target.host,
      "content-length": "8",
      "content-type": "application/json",
    });
    expect(seen[0]?.authorization).toBeUndefined();
    expect(seen[1]).toMatchObject({
      host: target.host,
      authorization: `Basic ${Buffer.from("us er:p@ss").toString("base64")}`,
    });
    expect(seen[1]?.["content-length"]).toBeUndefined();
    expect(seen[2]).toMatchObject({ host: "example.test", authorization: "Bearer t" });
  });

  it("hands an SSE answer whose first message is the response over as JSON; later messages go to late", async () => {
    const { url } = await sseServer([": hi\n\n", event(answer), event(progress)]);
    const pool = pooledFetch();
    cleanups.push(() => pool.close());
    const late: unknown[] = [];
    const response = await pool.fetchFor((m) => late.push(m))(url, post);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get("mcp-session-id")).toBe("s-1");
    expect(await response.json()).toEqual(answer);
    await expect.poll(() => late).toEqual([progress]);
  });

  it("hands a JSON answer over already read: json() or text() once, body as a stream on request", async () => {
    const body = JSON.stringify(answer);
    const { url } = await sseServer([], (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json", "Mcp-Session-Id": "s-2" });
      res.write(body.slice(0, 10)); // in two chunks
      res.end(body.slice(10));
    });
    const pool = pooledFetch();
    cleanups.push(() => pool.close());
    const fetch = pool.fetchFor(() => {});
    const first = await fetch(url, post);
    expect(first).toBeInstanceOf(Response);
    expect(first.ok).toBe(true);
    expect(first.headers.get("mcp-session-id")).toBe("s-2");
    expect(first.bodyUsed).toBe(false);
    expect(await first.json()).toEqual(answer);
    expect(first.bodyUsed).toBe(true);
    await expect(first.text()).rejects.toBeInstanceOf(TypeError);
    const second = await fetch(url, post);
    expect(await new Response(second.body).text()).toBe(body);
  });

  it("passes a stream that streams before its answer through untouched, from its first byte", async () => {
    const frames = [event(progress), event(answer)];
    const { url } = await sseServer(frames);
    const pool = pooledFetch();
    cleanups.push(() => pool.close());
    const late: unknown[] = [];
    const response = await pool.fetchFor((m) => late.push(m))(url, post);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(await response.text()).toBe(frames.join(""));
    expect(late).toEqual([]);
  });

  it("keeps at most maxSockets connections however many requests are in flight", async () => {
    const { url, sockets } = await sseServer([event(answer)]);
    const pool = pooledFetch(4);
    cleanups.push(() => pool.close());
    const fetch = pool.fetchFor(() => {});
    const responses = await Promise.all(Array.from({ length: 50 }, () => fetch(url, post)));
    for (const response of responses) expect(await response.json()).toEqual(answer);
    expect(sockets.size).toBeLessThanOrEqual(4);
  });

  it("holds requests beyond maxSockets unsent: an abort takes one out, closing the pool fails the rest", async () => {
    let received = 0;
    const { url } = await sseServer([], () => {
      received++; // never answers: both connections stay busy
    });
    const pool = pooledFetch(2);
    const fetch = pool.fetchFor(() => {});
    const controller = new AbortController();
    const busy = [fetch(url, post), fetch(url, post)].map((each) => each.catch((error: unknown) => error));
    const aborted = fetch(url, { ...post, signal: controller.signal });
    const closed = fetch(url, post);
    await expect.poll(() => received).toBe(2);
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: "AbortError" });
    pool.close();
    await expect(closed).rejects.toMatchObject({ cause: { message: "the pool is closed" } });
    for (const each of busy) expect(await each).toBeInstanceOf(TypeError);
    expect(received).toBe(2);
  });

  it("closes a kept connection idle longer than the server's Keep-Alive hint, or than idleMs without one", async () => {
    // `Connection: keep-alive` set by hand, as the SDK's server does: Node's server then sends no hint.
    const plain = await sseServer([], (_req, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream", Connection: "keep-alive" });
      res.end(event(answer));
    });
    const pool = pooledFetch(4, 50);
    cleanups.push(() => pool.close());
    const fetch = pool.fetchFor(() => {});
    expect(await (await fetch(plain.url, post)).json()).toEqual(answer);
    const [socket] = plain.sockets as Set<import("node:net").Socket>;
    await expect.poll(() => socket?.destroyed || socket?.readableEnded).toBe(true);

    // A hint of 1 s leaves 0 s (Node's 1 s margin): the connection is not kept at all.
    const hinted = await sseServer([], (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json", "Keep-Alive": "timeout=1" });
      res.end(JSON.stringify(answer));
    });
    expect(await (await fetch(hinted.url, post)).json()).toEqual(answer);
    expect(await (await fetch(hinted.url, post)).json()).toEqual(answer);
    expect(hinted.sockets.size).toBe(2);
  });

  it("rejects like fetch: a refused connection as TypeError with its code, an abort as AbortError", async () => {
    const pool = pooledFetch();
    cleanups.push(() => pool.close());
    const fetch = pool.fetchFor(() => {});
    const refused = await fetch("http://127.0.0.1:1/mcp", post).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TypeError);
    expect((refused as { cause?: { code?: string } }).cause?.code).toBe("ECONNREFUSED");

    const { url } = await sseServer([], () => {}); // never answers
    const controller = new AbortController();
    const pending = [
      fetch(url, { ...post, signal: controller.signal }),
      fetch(url, { ...post, signal: controller.signal }),
    ];
    controller.abort();
    for (const each of pending) await expect(each).rejects.toMatchObject({ name: "AbortError" });
  });
});
