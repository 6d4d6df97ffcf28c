import { createServer as createHttpServer, type IncomingHttpHeaders } from "node:http";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { SseParser } from "./sse-parser.js";
import { RawHttpPool, type UpstreamResponse } from "./upstream-socket.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A TCP server that answers each request it reads (up to its blank line, plus a Content-Length body) with
 * `reply(socket, head, index)`: what is written, how it is split, and whether the connection stays, are the
 * test's.
 */
async function scripted(
  reply: (socket: Socket, request: string, index: number) => unknown,
): Promise<{ url: URL; sockets: Socket[]; requests: string[] }> {
  const sockets: Socket[] = [];
  const requests: string[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.setNoDelay(true);
    let buffer = "";
    socket.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      for (;;) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buffer.slice(0, end))?.[1] ?? 0);
        if (Buffer.byteLength(buffer.slice(end + 4)) < length) return;
        const request = buffer.slice(0, end + 4 + length);
        buffer = buffer.slice(end + 4 + length);
        requests.push(request);
        void reply(socket, request, requests.length - 1);
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
  });
  return {
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`),
    sockets,
    requests,
  };
}

function pool(maxSockets = 64, idleMs = 4_000): RawHttpPool {
  const made = new RawHttpPool(maxSockets, idleMs);
  cleanups.push(() => made.close());
  return made;
}

/** The whole body of a response, as text. */
function body(response: UpstreamResponse): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.read(
      (chunk) => chunks.push(Buffer.from(chunk)),
      () => resolve(Buffer.concat(chunks).toString()),
      reject,
    );
  });
}

/** Writes `text` in pieces of `size` bytes, a turn of the event loop apart (heads and chunks split anywhere). */
async function trickle(socket: Socket, text: string, size: number): Promise<void> {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) {
    socket.write(bytes.subarray(i, i + size));
    await tick();
  }
}

const post = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const event = (message: unknown) => `event: message\ndata: ${JSON.stringify(message)}\n\n`;

describe("RawHttpPool", () => {
  it("reads Content-Length, chunked (with extensions and trailers) and close-delimited bodies, split anywhere", async () => {
    const json = '{"jsonrpc":"2.0","id":1,"result":{"é":true}}';
    const chunked = `HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: 1\r\n\r\n`;
    const responses = [
      `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`,
      chunked,
      `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok`,
      "HTTP/1.1 204 No Content\r\nContent-Type: text/plain\r\n\r\n",
    ];
    for (const size of [1, 3, 7, 1_000]) {
      const { url } = await scripted((socket, _request, index) =>
        trickle(socket, responses[index] as string, size),
      );
      const raw = pool(1);
      const first = await raw.request(url, "POST", post, "{}", undefined);
      expect([first.status, first.statusMessage, first.contentType]).toEqual([200, "OK", "application/json"]);
      expect(await body(first)).toBe(json);
      const second = await raw.request(url, "POST", post, "{}", undefined);
      expect(second.contentType).toBe("text/event-stream");
      expect(await body(second), `pieces of ${size}`).toBe("hello, world!!!");
      const third = await raw.request(url, "GET", {}, undefined, undefined);
      expect([third.status, await body(third)]).toEqual([201, "ok"]);
      const fourth = await raw.request(url, "GET", {}, undefined, undefined);
      expect([fourth.status, await body(fourth)]).toEqual([204, ""]);
      expect(raw.sockets(url)).toBe(1); // all four on one kept connection
    }

    // No length, not chunked: the body runs to the close, and the connection is not kept.
    const { url, sockets } = await scripted((socket) => {
      socket.end("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end");
    });
    const raw = pool();
    expect(await body(await raw.request(url, "GET", {}, undefined, undefined))).toBe("until the end");
    expect(await body(await raw.request(url, "GET", {}, undefined, undefined))).toBe("until the end");
    expect(sockets.length).toBe(2);
  });

  it("streams an SSE body as it arrives, before the response ends", async () => {
    let finish: (() => void) | undefined;
    const { url } = await scripted((socket) => {
      socket.write(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
      );
      const frame = event({ jsonrpc: "2.0", method: "notifications/progress", params: { progress: 1 } });
      socket.write(`${Buffer.byteLength(frame).toString(16)}\r\n${frame}\r\n`);
      finish = () => {
        const last = event({ jsonrpc: "2.0", id: 1, result: {} });
        socket.write(`${Buffer.byteLength(last).toString(16)}\r\n${last}\r\n0\r\n\r\n`);
      };
    });
    const response = await pool().request(url, "POST", post, "{}", undefined);
    const parser = new SseParser();
    const messages: unknown[] = [];
    const ended = new Promise<void>((resolve, reject) =>
      response.read(
        (chunk) => {
          for (const data of parser.push(chunk)) messages.push(JSON.parse(data));
        },
        resolve,
        reject,
      ),
    );
    await expect.poll(() => messages.length).toBe(1);
    finish?.();
    await ended;
    expect(messages).toEqual([
      { jsonrpc: "2.0", method: "notifications/progress", params: { progress: 1 } },
      { jsonrpc: "2.0", id: 1, result: {} },
    ]);
  });

  it("sends the head node:http would: Host, Authorization from URL credentials, keep-alive, the body's length", async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createHttpServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on("end", () => res.writeHead(200, { "Content-Type": "application/json" }).end("{}"));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    cleanups.push(() => server.closeAllConnections());
    const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp?x=1`);
    const raw = pool();
    const headers = { ...post, "content-length": "1", "X-Key": "k" };
    (await raw.request(url, "POST", headers, '{"é":1}', undefined)).resume();
    (await raw.request(url, "POST", headers, '{"éé":1}', undefined)).resume(); // the cached head, a new length
    const withCredentials = new URL(url.href.replace("http://", "http://us%20er:p%40ss@"));
    (await raw.request(withCredentials, "GET", {}, undefined, undefined)).resume();
    (
      await raw.request(
        withCredentials,
        "GET",
        { Host: "example.test", authorization: "Bearer t" },
        undefined,
        undefined,
      )
    ).resume();
    await expect.poll(() => seen.length).toBe(4);
    expect(seen[0]).toMatchObject({
      host: url.host,
      "content-length": "8",
      "x-key": "k",
      connection: "keep-alive",
    });
    expect(seen[1]).toMatchObject({ "content-length": "10" });
    expect(seen[0]?.authorization).toBeUndefined();
    expect(seen[2]).toMatchObject({
      host: url.host,
      authorization: `Basic ${Buffer.from("us er:p@ss").toString("base64")}`,
    });
    expect(seen[2]?.["content-length"]).toBeUndefined();
    expect(seen[3]).toMatchObject({ host: "example.test", authorization: "Bearer t" });
    // A header node:http refuses is refused before anything is sent.
    await expect(raw.request(url, "POST", { "x-bad": "a\r\nb" }, "{}", undefined)).rejects.toMatchObject({
      code: "ERR_INVALID_CHAR",
    });
    expect(seen.length).toBe(4);
  });

  it("keeps at most maxSockets connections and reuses them; queued requests go out as connections free up", async () => {
    const { url, sockets } = await scripted((socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });
    const raw = pool(4);
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => raw.request(url, "POST", post, "{}", undefined).then(body)),
    );
    expect(answers.every((each) => each === "ok")).toBe(true);
    expect(sockets.length).toBe(4);
    for (let i = 0; i < 5; i++)
      expect(await body(await raw.request(url, "POST", post, "{}", undefined))).toBe("ok");
    expect(sockets.length).toBe(4);
  });

  it("closes an idle connection at the server's Keep-Alive hint less 1 s, or after idleMs without one", async () => {
    const plain = await scripted((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    const raw = pool(4, 50);
    await body(await raw.request(plain.url, "GET", {}, undefined, undefined));
    expect(raw.sockets(plain.url)).toBe(1);
    await expect.poll(() => raw.sockets(plain.url)).toBe(0);
    expect(plain.sockets[0]?.readableEnded || plain.sockets[0]?.destroyed).toBe(true);

    // A hint of 1 s leaves 0 s (Node's 1 s margin): not kept at all. One of 2 s is kept past idleMs.
    const hinted = await scripted((socket, request) => {
      const timeout = request.includes("short") ? 1 : 2;
      socket.write(`HTTP/1.1 200 OK\r\nKeep-Alive: timeout=${timeout}\r\nContent-Length: 0\r\n\r\n`);
    });
    const short = new URL(`${hinted.url.href}?short`);
    await body(await raw.request(short, "GET", {}, undefined, undefined));
    await body(await raw.request(short, "GET", {}, undefined, undefined));
    expect(hinted.sockets.length).toBe(2);
    await expect.poll(() => raw.sockets(hinted.url)).toBe(0);
    await body(await raw.request(hinted.url, "GET", {}, undefined, undefined));
    await body(await raw.request(plain.url, "GET", {}, undefined, undefined));
    await expect.poll(() => raw.sockets(plain.url)).toBe(0); // idle past idleMs (50 ms)…
    expect(raw.sockets(hinted.url)).toBe(1); // …but within the hint
  });

  it("never writes onto a connection the server closed, nor keeps one it was told to close", async () => {
    // The server ends each connection shortly after answering (its idle timeout), without a hint.
    const { url, sockets, requests } = await scripted((socket, request) => {
      const close = request.includes("close") ? "Connection: close\r\n" : "";
      socket.write(`HTTP/1.1 200 OK\r\n${close}Content-Length: 2\r\n\r\nok`);
      if (close === "") setTimeout(() => socket.end(), 10);
    });
    const raw = pool(4);
    expect(await body(await raw.request(url, "GET", {}, undefined, undefined))).toBe("ok");
    await expect.poll(() => raw.sockets(url)).toBe(0); // gone as soon as the server's FIN was read
    expect(await body(await raw.request(url, "GET", {}, undefined, undefined))).toBe("ok");
    expect(sockets.length).toBe(2);
    await expect.poll(() => raw.sockets(url)).toBe(0);
    const closing = new URL(`${url.href}?close`);
    expect(await body(await raw.request(closing, "GET", {}, undefined, undefined))).toBe("ok");
    await expect.poll(() => raw.sockets(url)).toBe(0); // Connection: close: dropped (the server keeps it open)
    expect(requests.length).toBe(3);

    // HTTP/1.0 without keep-alive is not kept either.
    const old = await scripted((socket) => socket.write("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    expect(await body(await raw.request(old.url, "GET", {}, undefined, undefined))).toBe("ok");
    await expect.poll(() => raw.sockets(old.url)).toBe(0);
  });

  it("fails like fetch: refused → TypeError with ECONNREFUSED; reset before the head → TypeError; after it → the reader", async () => {
    const raw = pool();
    const refused = await raw
      .request(new URL("http://127.0.0.1:1/mcp"), "POST", post, "{}", undefined)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TypeError);
    expect((refused as { cause?: { code?: string } }).cause?.code).toBe("ECONNREFUSED");

    const { url } = await scripted((socket, request) => {
      if (request.includes("before")) socket.resetAndDestroy();
      else if (request.includes("hangup")) socket.end();
      else {
        socket.write(
          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 100\r\n\r\npartial",
        );
        setTimeout(() => socket.resetAndDestroy(), 10);
      }
    });
    const before = await raw
      .request(new URL(`${url.href}?before`), "POST", post, "{}", undefined)
      .catch((e: unknown) => e);
    expect(before).toMatchObject({ message: "fetch failed", cause: { code: "ECONNRESET" } });
    const hangup = await raw
      .request(new URL(`${url.href}?hangup`), "POST", post, "{}", undefined)
      .catch((e: unknown) => e);
    expect(hangup).toMatchObject({ message: "fetch failed", cause: { message: "socket hang up" } });
    const response = await raw.request(url, "POST", post, "{}", undefined);
    const chunks: string[] = [];
    const error = await new Promise<unknown>((resolve) =>
      response.read(
        (chunk) => chunks.push(chunk.toString()),
        () => resolve("ended"),
        resolve,
      ),
    );
    expect(chunks.join("")).toBe("partial");
    expect(error).toMatchObject({ code: "ECONNRESET" });
    // Garbage instead of HTTP fails the request and drops the connection.
    const bad = await scripted((socket) => socket.write("SSH-2.0-OpenSSH\r\n\r\n"));
    await expect(raw.request(bad.url, "GET", {}, undefined, undefined)).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/invalid status line/) },
    });
  });

  it("an abort takes a queued request out and cuts one in flight; closing the pool fails the rest", async () => {
    const { url, requests } = await scripted(() => {}); // never answers
    const raw = pool(2);
    const controller = new AbortController();
    const busy = [
      raw.request(url, "POST", post, "{}", undefined),
      raw.request(url, "POST", post, "{}", controller.signal),
    ];
    const settled = busy.map((each) => each.catch((error: unknown) => error));
    const queued = raw.request(url, "POST", post, "{}", controller.signal);
    const closed = raw.request(url, "POST", post, "{}", undefined);
    await expect.poll(() => requests.length).toBe(2);
    controller.abort();
    await expect(queued).rejects.toMatchObject({ name: "AbortError" });
    expect(await settled[1]).toMatchObject({ name: "AbortError" });
    // The aborted one's connection was closed: the waiting request got a new one.
    await expect.poll(() => requests.length).toBe(3);
    raw.close();
    await expect(closed).rejects.toBeInstanceOf(TypeError);
    expect(await settled[0]).toBeInstanceOf(TypeError);
    await expect(raw.request(url, "POST", post, "{}", undefined)).rejects.toMatchObject({
      cause: { message: "the pool is closed" },
    });
  });
});
