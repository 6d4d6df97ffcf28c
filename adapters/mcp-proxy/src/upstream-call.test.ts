import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { DirectCalls, RedirectedError } from "./upstream-call.js";
import { isSessionLoss } from "./upstream-errors.js";
import { pooledFetch } from "./upstream-fetch.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Seen {
  method: string;
  headers: IncomingHttpHeaders;
  body: { id?: unknown; method?: string; params?: unknown } | undefined;
}

/** A real HTTP server; `answer` writes each response, given the request and its parsed body. */
async function upstream(
  answer: (seen: Seen, res: ServerResponse) => void,
): Promise<{ url: URL; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const entry: Seen = {
        method: req.method ?? "",
        headers: req.headers,
        body: text === "" ? undefined : JSON.parse(text),
      };
      seen.push(entry);
      answer(entry, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  cleanups.push(() => server.closeAllConnections());
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`), seen };
}

function calls(url: URL) {
  const pool = pooledFetch();
  cleanups.push(() => pool.close());
  const delivered: unknown[] = [];
  const cancelled: Array<{ id: string; reason: string }> = [];
  const direct = new DirectCalls({
    url,
    headers: { "X-Upstream-Key": "k-1" },
    send: pool.send,
    session: () => ({ sessionId: "s-1", protocolVersion: "2025-06-18" }),
    deliver: (message) => delivered.push(message),
    cancel: (id, reason) => cancelled.push({ id, reason }),
    resumption: { initialDelayMs: 1, maxDelayMs: 1, growFactor: 1, maxRetries: 2 },
  });
  return { direct, delivered, cancelled };
}

const event = (message: unknown, id?: string) =>
  `${id === undefined ? "" : `id: ${id}\n`}event: message\ndata: ${JSON.stringify(message)}\n\n`;
const log = { jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "working" } };
const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
};

describe("DirectCalls (the proxy's own POST of forwarded requests)", () => {
  it("posts the request with the session's headers and reads a JSON answer", async () => {
    const { url, seen } = await upstream((s, res) =>
      json(res, 200, { jsonrpc: "2.0", id: s.body?.id, result: { content: [{ type: "text", text: "hi" }] } }),
    );
    const { direct } = calls(url);
    const result = await direct.call("tools/call", { name: "echo", arguments: { text: "hi" } }, undefined);
    expect(result).toEqual({ content: [{ type: "text", text: "hi" }] });
    const [request] = seen;
    expect(request?.method).toBe("POST");
    expect(request?.body).toMatchObject({ jsonrpc: "2.0", method: "tools/call", params: { name: "echo" } });
    // A string id: never equal to one of the SDK client's numeric ids in the same session.
    expect(request?.body?.id).toMatch(/^sre-\d+$/);
    expect(request?.headers).toMatchObject({
      "mcp-session-id": "s-1",
      "mcp-protocol-version": "2025-06-18",
      "x-upstream-key": "k-1",
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    });
  });

  it("reads an SSE answer: what comes before and after the answer goes to the SDK client", async () => {
    const { url } = await upstream((s, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write(": keep-alive\n\n");
      res.write(event(log));
      res.write(event({ jsonrpc: "2.0", id: s.body?.id, result: { content: [] } }));
      res.end(event({ ...log, params: { level: "info", data: "after" } }));
    });
    const { direct, delivered } = calls(url);
    expect(await direct.call("tools/call", { name: "x" }, undefined)).toEqual({ content: [] });
    await expect.poll(() => delivered.length).toBe(2);
    expect(delivered).toEqual([log, { ...log, params: { level: "info", data: "after" } }]);
  });

  it("resumes a stream cut before its answer with GET and Last-Event-ID", async () => {
    let postId: unknown;
    const { url, seen } = await upstream((s, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      if (s.method === "POST") {
        postId = s.body?.id;
        res.write("id: e-1\nretry: 1\ndata: \n\n"); // priming event: the stream can be resumed
        res.end(event(log, "e-2"));
        return;
      }
      res.end(event({ jsonrpc: "2.0", id: postId, result: { resumed: true } }, "e-3"));
    });
    const { direct, delivered } = calls(url);
    expect(await direct.call("tools/call", { name: "x" }, undefined)).toEqual({ resumed: true });
    expect(delivered).toEqual([log]);
    expect(seen.map((s) => s.method)).toEqual(["POST", "GET"]);
    expect(seen[1]?.headers).toMatchObject({
      "last-event-id": "e-2",
      accept: "text/event-stream",
      "mcp-session-id": "s-1",
    });
  });

  it("a stream that ends before the answer without an event id is a lost connection", async () => {
    const { url } = await upstream((_, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.end(event(log));
    });
    const { direct } = calls(url);
    const error = await direct.call("tools/call", { name: "x" }, undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(ErrorCode.ConnectionClosed);
  });

  it("an error answer is the upstream's McpError; an HTTP 404 is a lost session", async () => {
    const { url } = await upstream((s, res) => {
      if ((s.body?.params as { name?: string })?.name === "gone")
        return json(res, 404, {
          jsonrpc: "2.0",
          error: { code: -32001, message: "Session not found" },
          id: null,
        });
      json(res, 200, {
        jsonrpc: "2.0",
        id: s.body?.id,
        error: { code: -32602, message: "bad", data: { x: 1 } },
      });
    });
    const { direct } = calls(url);
    const error = await direct.call("tools/call", { name: "x" }, undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect(error).toMatchObject({ code: -32602, data: { x: 1 } });
    const lost = await direct.call("tools/call", { name: "gone" }, undefined).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(StreamableHTTPError);
    expect((lost as StreamableHTTPError).code).toBe(404);
    expect(isSessionLoss(lost)).toBe(true);
  });

  it("reads the session-loss answers of common servers (400 naming the session) and others (413) over the raw pool", async () => {
    const { url } = await upstream((s, res) => {
      const name = (s.body?.params as { name?: string })?.name;
      if (name === "big") return json(res, 413, { error: "payload too large" });
      res.writeHead(400, { "Content-Type": "text/plain", Connection: "keep-alive" });
      res.end("Bad Request: No valid session ID provided");
    });
    const { direct } = calls(url);
    const lost = await direct.call("tools/call", { name: "x" }, undefined).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(StreamableHTTPError);
    expect(lost).toMatchObject({ code: 400, message: expect.stringContaining("No valid session ID") });
    expect(isSessionLoss(lost)).toBe(true);
    const big = await direct.call("tools/call", { name: "big" }, undefined).catch((e: unknown) => e);
    expect(big).toMatchObject({ code: 413, message: expect.stringContaining("payload too large") });
    expect(isSessionLoss(big)).toBe(false);
  });

  it("an aborted call is cancelled upstream, rejected and its stream cut; closing rejects the calls still waiting", async () => {
    const held: ServerResponse[] = [];
    const cut: number[] = [];
    const { url, seen } = await upstream((_, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write(": open\n\n");
      const index = held.push(res) - 1;
      res.once("close", () => cut.push(index));
    });
    const { direct, cancelled } = calls(url);
    const controller = new AbortController();
    const aborted = direct.call("tools/call", { name: "x" }, controller.signal).catch((e: unknown) => e);
    const waiting = direct.call("tools/call", { name: "y" }, undefined).catch((e: unknown) => e);
    await expect.poll(() => held.length).toBe(2);
    controller.abort("user pressed stop");
    const error = await aborted;
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).message).toMatch(/user pressed stop/);
    expect(cancelled).toEqual([{ id: seen[0]?.body?.id, reason: "user pressed stop" }]);
    // Its stream, which would never end (nothing answers a cancelled request), is cut: the socket is free.
    await expect.poll(() => cut).toEqual([0]);
    direct.close();
    expect(await waiting).toMatchObject({ code: ErrorCode.ConnectionClosed });
    await expect(direct.call("tools/call", { name: "z" }, undefined)).rejects.toThrow("Not connected");
  });

  it("a redirect is left to the SDK transport: the call fails as redirected and posts stop", async () => {
    const { url } = await upstream((_, res) => {
      res.writeHead(307, { Location: "/elsewhere" });
      res.end();
    });
    const { direct } = calls(url);
    await expect(direct.call("tools/call", { name: "x" }, undefined)).rejects.toBeInstanceOf(RedirectedError);
    expect(direct.usable).toBe(false);
  });
});
