import { AgentSRE, ManualClock } from "@agent-sre/core";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigFileError, parseConfig } from "./config/load.js";
import { silentLogger } from "./logger.js";
import { LoopPolicy } from "./loops.js";
import { McpProxy } from "./proxy.js";
import { redactText, redactUrl, urlCredentials } from "./redact.js";
import { DECISION_META_KEY } from "./refusal.js";
import { connectClient } from "./test-utils/client.js";
import { fakeUpstream } from "./test-utils/upstream.js";

const proxies: McpProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

describe("credentials in upstream URLs", () => {
  it("are found and masked in URLs and in free text", () => {
    const url = "https://ada:hunter2@mcp.example.com/mcp?api_key=sk-1&region=eu&access_token=t0k";
    expect(urlCredentials(url)).toEqual([
      "a password in the URL (user:password@)",
      'the query parameter "api_key"',
      'the query parameter "access_token"',
    ]);
    const masked = redactUrl(url);
    expect(masked).toBe("https://ada:***@mcp.example.com/mcp?api_key=***&region=eu&access_token=***");
    expect(redactText(`POST ${url} failed: fetch failed`)).toBe(`POST ${masked} failed: fetch failed`);
    expect(redactUrl("https://mcp.example.com/mcp?page=2")).toBe("https://mcp.example.com/mcp?page=2");
    expect(redactText("no url here")).toBe("no url here");
  });

  it("make validation warn, and never reach /status", async () => {
    const config = parseConfig({
      mcpServers: { remote: { url: "https://mcp.example.com/mcp?token=abc123" } },
    });
    expect(config.warnings).toEqual([
      {
        path: "mcpServers.remote.url",
        message: expect.stringMatching(/carries credentials \(the query parameter "token"\).*"headers"/),
      },
    ]);
    const proxy = new McpProxy({
      upstreams: [
        {
          name: "remote",
          transport: { type: "http", url: "http://u:p4ss@127.0.0.1:1/mcp?key=abc123", headers: {} },
        },
      ],
      logger: silentLogger,
    });
    proxies.push(proxy);
    expect(proxy.status().upstreams[0]?.transport).toBe("http: http://u:***@127.0.0.1:1/mcp?key=***");
  });
});

describe("the proxy's loop policy", () => {
  it("by default refuses repeats within a task only: polling without a task is fine", () => {
    const clock = new ManualClock();
    const loops = new LoopPolicy({}, clock);
    for (let i = 0; i < 10; i++) loops.check("a", "s1", undefined, "status", { id: 1 });
    loops.check("a", "s1", "t1", "status", { id: 1 });
    loops.check("a", "s1", "t1", "status", { id: 1 });
    expect(() => loops.check("a", "s1", "t1", "status", { id: 1 })).toThrow(/loop detected/);
    // Another task, other arguments, or the window passing: allowed.
    loops.check("a", "s1", "t2", "status", { id: 1 });
    loops.check("a", "s1", "t1", "status", { id: 2 });
    clock.advance(60_000);
    loops.check("a", "s1", "t1", "status", { id: 1 });
  });

  it("scope session counts per client session; agent across sessions; off never refuses", () => {
    const clock = new ManualClock();
    const session = new LoopPolicy({ scope: "session", repeats: 2 }, clock);
    session.check("a", "s1", undefined, "x", {});
    session.check("a", "s2", undefined, "x", {});
    expect(() => session.check("a", "s1", undefined, "x", {})).toThrow(/loop/);
    const agent = new LoopPolicy({ scope: "agent", repeats: 2 }, clock);
    agent.check("a", "s1", undefined, "x", {});
    expect(() => agent.check("a", "s2", undefined, "x", {})).toThrow(/loop/);
    const off = new LoopPolicy({ scope: "off" }, clock);
    for (let i = 0; i < 5; i++) off.check("a", "s1", "t", "x", {});
    expect(() => new LoopPolicy({ scope: "sometimes" as never }, clock)).toThrow(/loops.scope/);
    const bounded = new LoopPolicy({ maxEntries: 3 }, clock);
    for (let i = 0; i < 10; i++) bounded.check("a", "s", "t", "x", { i });
    expect(bounded.size).toBe(3);
  });

  it("is strict in the config file", () => {
    expect(() =>
      parseConfig({ mcpServers: { a: { command: "x" } }, agentSre: { loops: { scope: "task", every: 2 } } }),
    ).toThrow(ConfigFileError);
    const ok = parseConfig({
      mcpServers: { a: { command: "x", "x-agentSre": { shared: true } } },
      agentSre: { loops: { scope: "session", repeats: 4, windowMs: "2m" } },
    });
    expect(ok.upstreams[0]?.shared).toBe(true);
  });

  it("a proxy-built engine leaves loops to the policy: a client polling without a task is served", async () => {
    const up = fakeUpstream();
    const proxy = new McpProxy({ upstreams: [{ name: "up", transport: up.spec }], logger: silentLogger });
    proxies.push(proxy);
    const c = await connectClient(proxy);
    for (let i = 0; i < 5; i++) {
      const result = await c.client.callTool({ name: "echo", arguments: { text: "poll" } });
      expect(result.isError).toBeUndefined();
    }
    const meta = { "io.github.agent-sre/task": "t-1" };
    await c.client.callTool({ name: "echo", arguments: { text: "same" }, _meta: meta });
    await c.client.callTool({ name: "echo", arguments: { text: "same" }, _meta: meta });
    const third = await c.client.callTool({ name: "echo", arguments: { text: "same" }, _meta: meta });
    expect((third._meta as Record<string, { code?: string }>)[DECISION_META_KEY]?.code).toBe("LOOP_DETECTED");
    expect(up.log.calls).toHaveLength(7);
    await c.close();
  });
});

describe("shared upstreams", () => {
  it("serve every session from one connection that outlives the sessions", async () => {
    const up = fakeUpstream();
    const sre = new AgentSRE({ clock: new ManualClock() });
    const proxy = new McpProxy({
      upstreams: [{ name: "up", transport: up.spec, shared: true }],
      sre,
      logger: silentLogger,
    });
    proxies.push(proxy);
    const clients = [];
    for (let i = 0; i < 5; i++) clients.push(await connectClient(proxy, { name: `c${i}` }));
    for (const [i, c] of clients.entries()) {
      const result = await c.client.callTool({ name: "echo", arguments: { text: `from ${i}` } });
      expect(result.content).toEqual([{ type: "text", text: `echo: from ${i}` }]);
    }
    expect(up.log.connects).toBe(1);
    expect(proxy.status().upstreams[0]).toMatchObject({ shared: true, states: { ready: 1 } });
    for (const c of clients) await c.close();
    const later = await connectClient(proxy, { name: "later" });
    expect((await later.client.callTool({ name: "echo", arguments: { text: "x" } })).isError).toBeUndefined();
    expect(up.log.connects).toBe(1);
    // The upstream saw the proxy as its one client, without sampling/elicitation/roots to relay.
    expect(up.log.clientCapabilities).toEqual([{}]);
    await later.close();
  });
});

describe("the HTTP front's limits", () => {
  it("answers an oversized body inside a session with 413 too, and the session keeps working", async () => {
    const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
    const { StreamableHTTPClientTransport } = await import(
      "@modelcontextprotocol/sdk/client/streamableHttp.js"
    );
    const up = fakeUpstream();
    const proxy = new McpProxy({ upstreams: [{ name: "up", transport: up.spec }], logger: silentLogger });
    proxies.push(proxy);
    const listener = await proxy.listen({ maxBodyBytes: 64 * 1024 });
    const client = new Client({ name: "c", version: "1" });
    const transport = new StreamableHTTPClientTransport(new URL(listener.url));
    await client.connect(transport);
    const response = await fetch(listener.url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        "Mcp-Session-Id": transport.sessionId as string,
        "Mcp-Protocol-Version": "2025-06-18",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 9,
        method: "tools/call",
        params: { name: "echo", arguments: { text: "x".repeat(200_000) } },
      }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: -32600 } });
    const ok = await client.callTool({ name: "echo", arguments: { text: "small" } });
    expect(ok.content).toEqual([{ type: "text", text: "echo: small" }]);
    await client.close();
  });
});
