import { validateToolName } from "@modelcontextprotocol/sdk/shared/toolNameValidation.js";
import { ErrorCode, type McpError } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "./logger.js";
import { McpProxy, type McpProxyOptions } from "./proxy.js";
import { connectClient, flush } from "./test-utils/client.js";
import { fakeUpstream } from "./test-utils/upstream.js";

const proxies: McpProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});
function make(options: McpProxyOptions) {
  const proxy = new McpProxy({ logger: silentLogger, ...options });
  proxies.push(proxy);
  return proxy;
}
function text(result: unknown): string {
  return ((result as { content: Array<{ text?: string }> }).content[0]?.text ?? "") as string;
}

describe("aggregation and naming", () => {
  it("prefixes every upstream's tools with <server>__ and routes each call to its upstream", async () => {
    const a = fakeUpstream({ only: ["echo", "add"] });
    const b = fakeUpstream({ only: ["echo"] });
    const proxy = make({
      upstreams: [
        { name: "alpha", transport: a.spec },
        { name: "beta", transport: b.spec },
      ],
    });
    const c = await connectClient(proxy);
    const names = (await c.client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(["alpha__echo", "alpha__add", "beta__echo"]);
    for (const name of names) expect(validateToolName(name).isValid).toBe(true);
    expect(text(await c.client.callTool({ name: "beta__echo", arguments: { text: "to b" } }))).toBe(
      "echo: to b",
    );
    expect(b.log.calls.map((call) => call.tool)).toEqual(["echo"]);
    expect(a.log.calls).toHaveLength(0);
    // Aggregating: the proxy presents itself, with every upstream's instructions.
    expect(c.client.getServerVersion()?.name).toBe("agent-sre-mcp-proxy");
    expect(c.client.getInstructions()).toBe("## alpha\nUse echo to test.\n\n## beta\nUse echo to test.");
    // Names are routed through a map, never split: "alpha__" + an unknown tool is unknown.
    const unknown = await c.client.callTool({ name: "alpha__nope", arguments: {} }).catch((e: unknown) => e);
    expect((unknown as McpError).code).toBe(ErrorCode.InvalidParams);
  });

  it("hides a colliding name, keeps the first server's, and reports it", async () => {
    const a = fakeUpstream({ only: ["echo"] });
    const b = fakeUpstream({ only: ["echo", "add"] });
    const proxy = make({
      upstreams: [
        { name: "alpha", transport: a.spec, prefix: "" },
        { name: "beta", transport: b.spec, prefix: "" },
      ],
    });
    const c = await connectClient(proxy);
    expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(["echo", "add"]);
    await c.client.callTool({ name: "echo", arguments: { text: "x" } });
    expect(a.log.calls).toHaveLength(1);
    expect(b.log.calls).toHaveLength(0);
    expect(proxy.status().collisions).toEqual([{ name: "echo", kept: "alpha", dropped: "beta" }]);
  });

  it("a configured prefix applies even to a single upstream; 'never' keeps upstream names", async () => {
    const up = fakeUpstream({ only: ["echo"] });
    const always = make({
      upstreams: [{ name: "fs", transport: up.spec }],
      naming: { prefix: "always", separator: "." },
    });
    const c = await connectClient(always);
    expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(["fs.echo"]);
    expect(text(await c.client.callTool({ name: "fs.echo", arguments: { text: "hi" } }))).toBe("echo: hi");

    const custom = make({
      upstreams: [{ name: "fs", transport: fakeUpstream({ only: ["echo"] }).spec, prefix: "files" }],
    });
    const d = await connectClient(custom);
    expect((await d.client.listTools()).tools.map((t) => t.name)).toEqual(["files__echo"]);

    const never = make({
      naming: { prefix: "never" },
      upstreams: [
        { name: "x", transport: fakeUpstream({ only: ["echo"] }).spec },
        { name: "y", transport: fakeUpstream({ only: ["add"] }).spec },
      ],
    });
    const e = await connectClient(never);
    expect((await e.client.listTools()).tools.map((t) => t.name)).toEqual(["echo", "add"]);
  });

  it("a server's allow/deny lists decide which of its tools exist at all", async () => {
    const up = fakeUpstream();
    const proxy = make({
      upstreams: [{ name: "up", transport: up.spec, tools: { allow: ["e*", "a*"], deny: ["add"] } }],
    });
    const c = await connectClient(proxy);
    expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(["echo"]);
    const hidden = await c.client
      .callTool({ name: "add", arguments: { a: 1, b: 1 } })
      .catch((e: unknown) => e);
    expect((hidden as McpError).message).toBe("MCP error -32602: Unknown tool: add");
  });

  it("aggregates prompts (prefixed) and resources (URIs kept), and routes reads and gets", async () => {
    const a = fakeUpstream({ only: ["echo"], withPrompts: true, withResources: true });
    const b = fakeUpstream({ only: ["echo"], withPrompts: true });
    const proxy = make({
      upstreams: [
        { name: "alpha", transport: a.spec },
        { name: "beta", transport: b.spec },
      ],
    });
    const c = await connectClient(proxy);
    expect((await c.client.listPrompts()).prompts.map((p) => p.name)).toEqual([
      "alpha__greet",
      "beta__greet",
    ]);
    const prompt = await c.client.getPrompt({ name: "beta__greet", arguments: { name: "Bo" } });
    expect(prompt.messages[0]?.content).toEqual({ type: "text", text: "Hello Bo" });
    expect((await c.client.listResources()).resources.map((r) => r.uri)).toEqual(["mem://readme"]);
    expect((await c.client.readResource({ uri: "mem://notes/x" })).contents[0]).toEqual({
      uri: "mem://notes/x",
      text: "note x",
    });
    const completion = await c.client.complete({
      ref: { type: "ref/prompt", name: "alpha__greet" },
      argument: { name: "name", value: "Al" },
    });
    expect(completion.completion.values).toEqual(["Alan"]);
  });

  it("forwards logging/setLevel to every upstream and labels log messages with their server", async () => {
    const a = fakeUpstream({ only: ["shout"] });
    const b = fakeUpstream({ only: ["echo"] });
    const proxy = make({
      upstreams: [
        { name: "alpha", transport: a.spec },
        { name: "beta", transport: b.spec },
      ],
    });
    const c = await connectClient(proxy);
    await c.client.setLoggingLevel("debug");
    expect(a.log.levels).toEqual(["debug"]);
    expect(b.log.levels).toEqual(["debug"]);
    await c.client.callTool({ name: "alpha__shout", arguments: {} });
    await flush();
    expect(c.logs).toEqual([{ level: "warning", data: "shouting", logger: "alpha" }]);
  });
});
