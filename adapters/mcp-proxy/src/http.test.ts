import { request as httpRequest } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  LoggingMessageNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import type { HttpListener } from "./http.js";
import { silentLogger } from "./logger.js";
import { McpProxy, type McpProxyOptions } from "./proxy.js";
import { flush } from "./test-utils/client.js";
import { type HttpUpstream, startHttpUpstream } from "./test-utils/http-upstream.js";
import { fakeUpstream } from "./test-utils/upstream.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const TOKEN = "a-very-long-test-token-0123456789";

async function serve(options: Partial<McpProxyOptions> = {}, listen: Parameters<McpProxy["listen"]>[0] = {}) {
  const up = fakeUpstream();
  const proxy = new McpProxy({
    upstreams: [{ name: "up", transport: up.spec }],
    logger: silentLogger,
    ...options,
  });
  cleanups.push(() => proxy.close());
  const listener = await proxy.listen(listen);
  return { up, proxy, listener };
}

async function httpClient(
  url: string,
  options: { token?: string; headers?: Record<string, string>; name?: string } = {},
) {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  const client = new Client(
    { name: options.name ?? "http-client", version: "1" },
    { capabilities: { sampling: {} } },
  );
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({
    role: "assistant",
    model: "m",
    content: { type: "text", text: "sampled over http" },
  }));
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { client, transport };
}

/** A raw request with full control of the Host and Origin headers. */
function raw(
  listener: HttpListener,
  options: { path?: string; method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port: listener.port,
        path: options.path ?? "/mcp",
        method: options.method ?? "GET",
        headers: options.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            headers: res.headers,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});
const POST_HEADERS = { "Content-Type": "application/json", Accept: "application/json, text/event-stream" };

describe("Streamable HTTP front", () => {
  it("serves tools, progress and sampling over Streamable HTTP on loopback", async () => {
    const { listener } = await serve();
    expect(listener.host).toBe("127.0.0.1");
    const { client } = await httpClient(listener.url);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain("echo");
    expect((await client.callTool({ name: "echo", arguments: { text: "over http" } })).content).toEqual([
      { type: "text", text: "echo: over http" },
    ]);
    const progress: number[] = [];
    await client.callTool({ name: "slow", arguments: { steps: 3 } }, CallToolResultSchema, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(progress).toEqual([1, 2, 3]);
    const sampled = await client.callTool({ name: "summarize", arguments: { text: "t" } });
    expect(sampled.content).toEqual([{ type: "text", text: "LLM said: sampled over http" }]);
  });

  it("names the agent from a header", async () => {
    const { listener, proxy } = await serve({ sre: { agents: { reader: { allowedTools: ["echo"] } } } });
    const { client } = await httpClient(listener.url, { headers: { "X-Agent-SRE-Agent": "reader" } });
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["echo"]);
    expect((await client.callTool({ name: "add", arguments: { a: 1, b: 1 } })).isError).toBe(true);
    expect(Object.keys(proxy.status().sre.agents)).toContain("reader");
  });

  it("rejects a foreign Host (DNS rebinding) and a foreign Origin with 403", async () => {
    const { listener } = await serve();
    const foreign = await raw(listener, {
      method: "POST",
      headers: { ...POST_HEADERS, Host: "evil.example:80" },
      body: INIT,
    });
    expect(foreign.status).toBe(403);
    const origin = await raw(listener, {
      method: "POST",
      headers: { ...POST_HEADERS, Host: `localhost:${listener.port}`, Origin: "https://evil.example" },
      body: INIT,
    });
    expect(origin.status).toBe(403);
    const local = await raw(listener, {
      method: "POST",
      headers: {
        ...POST_HEADERS,
        Host: `localhost:${listener.port}`,
        Origin: `http://localhost:${listener.port}`,
      },
      body: INIT,
    });
    expect(local.status).toBe(200);
  });

  it("tells clients to keep an idle connection 60 s, five less than it keeps one (no reset at the boundary)", async () => {
    const { listener } = await serve();
    const init = await raw(listener, { method: "POST", headers: POST_HEADERS, body: INIT });
    expect(init.status).toBe(200);
    expect(init.headers["keep-alive"]).toBe("timeout=60");
    expect(init.headers.connection).toBe("keep-alive");
    const refused = await raw(listener, {
      method: "POST",
      headers: { ...POST_HEADERS, "Mcp-Session-Id": "x" },
    });
    expect(refused.headers["keep-alive"]).toBe("timeout=60");
  });

  it("answers 404 for an unknown session and 400 for a request without one", async () => {
    const { listener } = await serve();
    const unknown = await raw(listener, {
      method: "POST",
      headers: { ...POST_HEADERS, "Mcp-Session-Id": "nope" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body).error).toEqual({ code: -32001, message: "Session not found" });
    const missing = await raw(listener, {
      method: "POST",
      headers: POST_HEADERS,
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    expect(missing.status).toBe(400);
    const garbage = await raw(listener, { method: "POST", headers: POST_HEADERS, body: "{nope" });
    expect(garbage.status).toBe(400);
  });

  it("requires the bearer token when one is set, and refuses to bind beyond loopback without one", async () => {
    const { listener } = await serve({}, { token: TOKEN });
    expect((await raw(listener, { path: "/status" })).status).toBe(401);
    expect(
      (await raw(listener, { path: "/status", headers: { Authorization: "Bearer wrong-token-wrong-token" } }))
        .status,
    ).toBe(401);
    expect((await raw(listener, { path: "/healthz" })).status).toBe(200);
    const { client } = await httpClient(listener.url, { token: TOKEN });
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await expect(httpClient(listener.url)).rejects.toThrow();

    const proxy = new McpProxy({
      upstreams: [{ name: "up", transport: fakeUpstream().spec }],
      logger: silentLogger,
    });
    cleanups.push(() => proxy.close());
    await expect(proxy.listen({ host: "0.0.0.0" })).rejects.toThrow(
      /refusing to listen on 0\.0\.0\.0 without a bearer token/,
    );
  });

  it("GET /status is sre.status() plus the proxy's view; GET /metrics is Prometheus text", async () => {
    const { listener } = await serve({ sre: { tools: { deny: ["fail"] } } });
    const { client } = await httpClient(listener.url, { name: "dashboard" });
    await client.callTool({ name: "echo", arguments: { text: "x" } });
    await client.callTool({ name: "fail", arguments: {} });
    const status = await raw(listener, { path: "/status" });
    expect(status.status).toBe(200);
    const body = JSON.parse(status.body);
    expect(body.sre.agents.dashboard).toMatchObject({ calls: 1, refused: 1 });
    expect(body.upstreams[0]).toMatchObject({ server: "up", states: { ready: 1 }, tools: 11 });
    expect(body.sessions[0]).toMatchObject({ client: "dashboard", agent: "dashboard" });
    const metrics = await raw(listener, { path: "/metrics" });
    expect(metrics.headers["content-type"]).toMatch(/text\/plain/);
    expect(metrics.body).toMatch(
      /agent_sre_mcp_tool_calls_total\{server="up",tool="echo",decision="allowed",outcome="ok"\} 1/,
    );
    expect(metrics.body).toMatch(/agent_sre_mcp_refusals_total\{code="TOOL_NOT_ALLOWED"\} 1/);
    expect(metrics.body).toMatch(/agent_sre_mcp_upstream_up\{server="up"\} 1/);
    expect(metrics.body).toMatch(/agent_sre_mcp_tool_duration_seconds_bucket/);
    // The live dashboard is on the same front.
    const dashboard = await raw(listener, { path: "/dashboard/api/state" });
    expect(dashboard.status).toBe(200);
    expect(JSON.parse(dashboard.body).agents).toEqual([
      expect.objectContaining({ id: "dashboard", framework: "MCP", calls: 1, refused: 1 }),
    ]);
    expect((await raw(listener, { path: "/dashboard/" })).body).toContain("<title>");
    // The engine's registry is served beside the proxy's own metrics.
    expect(metrics.body).toMatch(/agent_sre_refusals_total\{agent="dashboard",code="TOOL_NOT_ALLOWED"\} 1/);
    expect(metrics.body).toMatch(/agent_sre_calls_total\{agent="dashboard",kind="tool",outcome="ok"\} 1/);
    expect(metrics.body).toMatch(/agent_sre_breaker_state\{breaker="tool:echo"\} 0/);
  });

  it("answers a plain call as JSON, and as an event stream once the upstream streams before its answer", async () => {
    const { listener } = await serve();
    const init = await raw(listener, { method: "POST", headers: POST_HEADERS, body: INIT });
    expect(init.headers["content-type"]).toBe("application/json");
    const session = init.headers["mcp-session-id"] as string;
    const headers = { ...POST_HEADERS, "Mcp-Session-Id": session, "Mcp-Protocol-Version": "2025-06-18" };
    const initialized = JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" });
    expect((await raw(listener, { method: "POST", headers, body: initialized })).status).toBe(202);

    const call = (id: number, name: string, args: Record<string, unknown>, meta?: Record<string, unknown>) =>
      JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: { name, arguments: args, ...(meta === undefined ? {} : { _meta: meta }) },
      });
    const plain = await raw(listener, { method: "POST", headers, body: call(2, "echo", { text: "j" }) });
    expect(plain.status).toBe(200);
    expect(plain.headers["content-type"]).toBe("application/json");
    expect(plain.headers["mcp-session-id"]).toBe(session);
    expect(JSON.parse(plain.body)).toMatchObject({ id: 2, result: { content: [{ text: "echo: j" }] } });

    const streamed = await raw(listener, {
      method: "POST",
      headers,
      body: call(3, "slow", { steps: 2 }, { progressToken: "p" }),
    });
    expect(streamed.headers["content-type"]).toBe("text/event-stream");
    const events = streamed.body
      .split("\n\n")
      .filter((e) => e.startsWith("event: message\ndata: "))
      .map((e) => JSON.parse(e.slice("event: message\ndata: ".length)));
    expect(events.map((e) => e.method ?? e.id)).toEqual([
      "notifications/progress",
      "notifications/progress",
      3,
    ]);
    expect(events[2].result.content).toEqual([{ type: "text", text: "done 2" }]);

    // A batch of two calls is answered as one JSON array, in the order of the requests.
    const batch = await raw(listener, {
      method: "POST",
      headers,
      body: `[${call(5, "echo", { text: "a" })},${call(4, "echo", { text: "b" })}]`,
    });
    expect(batch.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(batch.body).map((m: { id: number }) => m.id)).toEqual([5, 4]);
  });

  it("refuses what the SDK's transport refuses: wrong Accept (406), wrong Content-Type (415), bad version (400)", async () => {
    const { listener } = await serve();
    const init = await raw(listener, { method: "POST", headers: POST_HEADERS, body: INIT });
    const session = init.headers["mcp-session-id"] as string;
    const list = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" });
    const accept = await raw(listener, {
      method: "POST",
      headers: { ...POST_HEADERS, Accept: "application/json", "Mcp-Session-Id": session },
      body: list,
    });
    expect(accept.status).toBe(406);
    const type = await raw(listener, {
      method: "POST",
      headers: { ...POST_HEADERS, "Content-Type": "text/plain", "Mcp-Session-Id": session },
      body: list,
    });
    expect(type.status).toBe(415);
    const version = await raw(listener, {
      method: "POST",
      headers: { ...POST_HEADERS, "Mcp-Session-Id": session, "Mcp-Protocol-Version": "1999-01-01" },
      body: list,
    });
    expect(version.status).toBe(400);
    expect(JSON.parse(version.body).error.message).toMatch(/Unsupported protocol version: 1999-01-01/);
    const again = await raw(listener, {
      method: "POST",
      headers: { ...POST_HEADERS, "Mcp-Session-Id": session },
      body: INIT,
    });
    expect(again.status).toBe(400);
    const notJsonRpc = await raw(listener, {
      method: "POST",
      headers: { ...POST_HEADERS, "Mcp-Session-Id": session },
      body: JSON.stringify({ hello: "world" }),
    });
    expect(notJsonRpc.status).toBe(400);
  });

  it("closing the client's session (DELETE) closes the upstream session", async () => {
    const { listener, proxy, up } = await serve();
    const { client, transport } = await httpClient(listener.url);
    await client.listTools();
    let upstreamClosed = false;
    up.current().server.onclose = () => {
      upstreamClosed = true;
    };
    await transport.terminateSession();
    await flush();
    expect(upstreamClosed).toBe(true);
    expect(proxy.sessions.size).toBe(0);
    expect(listener.sessionCount).toBe(0);
  });
});

describe("Streamable HTTP upstreams", () => {
  async function upstream(): Promise<{ fake: ReturnType<typeof fakeUpstream>; server: HttpUpstream }> {
    const fake = fakeUpstream();
    const server = await startHttpUpstream(fake);
    cleanups.push(() => server.close());
    return { fake, server };
  }

  it("sends only the configured headers upstream, never the client's credentials", async () => {
    const { server } = await upstream();
    const proxy = new McpProxy({
      upstreams: [
        {
          name: "remote",
          transport: { type: "http", url: server.url, headers: { "X-Upstream-Key": "k-123" } },
        },
      ],
      logger: silentLogger,
    });
    cleanups.push(() => proxy.close());
    const listener = await proxy.listen({ token: TOKEN });
    const { client } = await httpClient(listener.url, { token: TOKEN, headers: { Cookie: "session=abc" } });
    await client.callTool({ name: "echo", arguments: { text: "x" } });
    expect(server.headers.length).toBeGreaterThan(0);
    for (const headers of server.headers) {
      expect(headers["x-upstream-key"]).toBe("k-123");
      expect(headers.authorization).toBeUndefined();
      expect(headers.cookie).toBeUndefined();
    }
  });

  it("re-initialises and retries when the upstream answers 'session not found'", async () => {
    const { server, fake } = await upstream();
    const proxy = new McpProxy({
      upstreams: [{ name: "remote", transport: { type: "auto", url: server.url, headers: {} } }],
      logger: silentLogger,
    });
    cleanups.push(() => proxy.close());
    const listener = await proxy.listen();
    const { client } = await httpClient(listener.url);
    expect((await client.callTool({ name: "echo", arguments: { text: "1" } })).content).toEqual([
      { type: "text", text: "echo: 1" },
    ]);
    expect(fake.log.connects).toBe(1);
    server.forgetSessions();
    expect((await client.callTool({ name: "echo", arguments: { text: "2" } })).content).toEqual([
      { type: "text", text: "echo: 2" },
    ]);
    expect(fake.log.connects).toBe(2);
    expect(proxy.status().upstreams[0]?.restarts).toBe(1);
  });

  it("relays progress and sampling of a streaming HTTP upstream, and its plain answers", async () => {
    const { server } = await upstream();
    const proxy = new McpProxy({
      upstreams: [{ name: "remote", transport: { type: "http", url: server.url, headers: {} } }],
      logger: silentLogger,
    });
    cleanups.push(() => proxy.close());
    const listener = await proxy.listen();
    const { client } = await httpClient(listener.url);
    const calls = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client.callTool({ name: "echo", arguments: { text: `${i}` } })),
    );
    expect(calls.map((c) => (c.content as Array<{ text: string }>)[0]?.text)).toEqual(
      Array.from({ length: 20 }, (_, i) => `echo: ${i}`),
    );
    const progress: number[] = [];
    const slow = await client.callTool({ name: "slow", arguments: { steps: 3 } }, CallToolResultSchema, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(progress).toEqual([1, 2, 3]);
    expect(slow.content).toEqual([{ type: "text", text: "done 3" }]);
    const sampled = await client.callTool({ name: "summarize", arguments: { text: "t" } });
    expect(sampled.content).toEqual([{ type: "text", text: "LLM said: sampled over http" }]);
  });

  it("passes a client's cancellation to an HTTP upstream, and relays its log messages", async () => {
    const { server, fake } = await upstream();
    const proxy = new McpProxy({
      upstreams: [{ name: "remote", transport: { type: "http", url: server.url, headers: {} } }],
      logger: silentLogger,
    });
    cleanups.push(() => proxy.close());
    const listener = await proxy.listen();
    const { client } = await httpClient(listener.url);
    const controller = new AbortController();
    const call = client.callTool({ name: "hang", arguments: {} }, CallToolResultSchema, {
      signal: controller.signal,
      timeout: 600_000,
    });
    await expect.poll(() => fake.log.calls.at(-1)?.tool).toBe("hang");
    controller.abort("user pressed stop");
    await expect(call).rejects.toThrow(/user pressed stop/);
    // The proxy's own request id (a string of its own) was cancelled upstream.
    await expect.poll(() => fake.log.aborted).toHaveLength(1);
    expect(fake.log.aborted[0]).toMatch(/^sre-\d+$/);
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      logs.push(notification.params);
    });
    await client.setLoggingLevel("warning");
    expect(fake.log.levels).toEqual(["warning"]);
    expect((await client.callTool({ name: "shout", arguments: {} })).content).toEqual([
      { type: "text", text: "ok" },
    ]);
    await expect.poll(() => logs).toEqual([{ level: "warning", data: "shouting" }]);
  });

  it("terminates the upstream HTTP session when the client's session ends", async () => {
    const { server } = await upstream();
    const proxy = new McpProxy({
      upstreams: [{ name: "remote", transport: { type: "http", url: server.url, headers: {} } }],
      logger: silentLogger,
    });
    cleanups.push(() => proxy.close());
    const listener = await proxy.listen();
    const { client, transport } = await httpClient(listener.url);
    await client.listTools();
    expect(server.sessions()).toBe(1);
    await transport.terminateSession();
    await flush();
    expect(server.deleted).toHaveLength(1);
    expect(server.sessions()).toBe(0);
  });
});
