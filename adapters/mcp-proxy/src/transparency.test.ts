import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import {
  CallToolResultSchema,
  ErrorCode,
  McpError,
  ResourceUpdatedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "./logger.js";
import { McpProxy } from "./proxy.js";
import { connectClient, flush } from "./test-utils/client.js";
import { fakeUpstream } from "./test-utils/upstream.js";

const proxies: McpProxy[] = [];
function proxyFor(
  up: ReturnType<typeof fakeUpstream>,
  extra: Partial<ConstructorParameters<typeof McpProxy>[0]> = {},
) {
  const proxy = new McpProxy({
    upstreams: [{ name: "up", transport: up.spec }],
    logger: silentLogger,
    ...extra,
  });
  proxies.push(proxy);
  return proxy;
}

/** The same upstream reached directly, for side-by-side comparisons. */
async function direct(up: ReturnType<typeof fakeUpstream>) {
  const client = new Client({ name: "direct", version: "1" }, { capabilities: {} });
  await client.connect(await up.spec.connect());
  return client;
}

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

describe("transparency (single upstream, names unprefixed)", () => {
  it("lists tools exactly as the upstream does: raw input schemas, output schemas, annotations", async () => {
    const up = fakeUpstream({ only: ["echo", "add", "fail"] });
    const c = await connectClient(proxyFor(up));
    const viaProxy = await c.client.listTools();
    const straight = await (await direct(up)).listTools();
    expect(viaProxy.tools).toEqual(straight.tools);
    const add = viaProxy.tools.find((t) => t.name === "add");
    expect(add?.outputSchema).toMatchObject({ type: "object", properties: { sum: { type: "number" } } });
    expect(viaProxy.tools.find((t) => t.name === "echo")?.annotations).toEqual({ readOnlyHint: true });
  });

  it("passes the upstream's server info, instructions and capabilities (logging included) through", async () => {
    const up = fakeUpstream({ withResources: true, withPrompts: true });
    const c = await connectClient(proxyFor(up));
    expect(c.client.getServerVersion()).toEqual({ name: "fake-upstream", version: "1.2.3" });
    expect(c.client.getInstructions()).toBe("Use echo to test.");
    const caps = c.client.getServerCapabilities();
    expect(caps?.logging).toEqual({});
    expect(caps?.tools?.listChanged).toBe(true);
    expect(caps?.resources).toBeDefined();
    expect(caps?.prompts).toBeDefined();
    expect(caps?.completions).toBeDefined();
  });

  it("returns structured and binary content untouched", async () => {
    const up = fakeUpstream();
    const c = await connectClient(proxyFor(up));
    const add = await c.client.callTool({ name: "add", arguments: { a: 2, b: 3 } });
    expect(add).toEqual({ content: [{ type: "text", text: "5" }], structuredContent: { sum: 5 } });
    const image = await c.client.callTool({ name: "image", arguments: {} });
    expect(image.content).toEqual([
      { type: "image", data: Buffer.from([137, 80, 78, 71]).toString("base64"), mimeType: "image/png" },
      {
        type: "resource",
        resource: { uri: "mem://blob", mimeType: "application/octet-stream", blob: "AAEC" },
      },
    ]);
  });

  it("passes the client's name and sampling/elicitation/roots capabilities to the upstream", async () => {
    const up = fakeUpstream();
    await connectClient(proxyFor(up), { name: "claude-ai" });
    await flush();
    expect(up.log.clientInfo.at(-1)).toEqual({ name: "claude-ai", version: "9.9.9" });
    // As the upstream's SDK reads them (it normalises `elicitation: {}` to form mode), exactly as if direct.
    expect(up.log.clientCapabilities.at(-1)).toEqual({
      sampling: {},
      elicitation: { form: {} },
      roots: { listChanged: true },
    });
  });

  it("relays sampling, elicitation and roots requests to the client", async () => {
    const up = fakeUpstream();
    const c = await connectClient(proxyFor(up));
    const sampled = await c.client.callTool({ name: "summarize", arguments: { text: "a long text" } });
    expect(sampled.content).toEqual([
      { type: "text", text: "LLM said: summary of [Summarize: a long text]" },
    ]);
    const elicited = await c.client.callTool({ name: "confirm", arguments: {} });
    expect(elicited.content).toEqual([{ type: "text", text: 'user said accept {"ok":true}' }]);
    const roots = await c.client.callTool({ name: "roots", arguments: {} });
    expect(roots.content).toEqual([{ type: "text", text: "file:///work" }]);
    await c.client.sendRootsListChanged();
    await flush();
    expect(up.log.levels).toContain("roots-changed");
  });

  it("relays progress with the client's own progress token", async () => {
    const up = fakeUpstream();
    const c = await connectClient(proxyFor(up));
    const seen: Array<{ progress: number; total?: number; message?: string }> = [];
    const result = await c.client.callTool({ name: "slow", arguments: { steps: 4 } }, CallToolResultSchema, {
      onprogress: (p) => seen.push(p),
    });
    expect(result.content).toEqual([{ type: "text", text: "done 4" }]);
    expect(seen.map((p) => `${p.progress}/${p.total} ${p.message}`)).toEqual([
      "1/4 step 1",
      "2/4 step 2",
      "3/4 step 3",
      "4/4 step 4",
    ]);
    // The upstream got a token of the proxy's; the client's own _meta keys other than that pass through.
    expect(up.log.calls.at(-1)?.meta).toMatchObject({ progressToken: expect.anything() });
  });

  it("passes a client's cancellation upstream and imposes no 60 s default timeout", async () => {
    const up = fakeUpstream();
    const c = await connectClient(proxyFor(up));
    const controller = new AbortController();
    const call = c.client.callTool({ name: "hang", arguments: {} }, CallToolResultSchema, {
      signal: controller.signal,
      timeout: 600_000,
    });
    await flush();
    expect(up.log.calls.at(-1)?.tool).toBe("hang");
    controller.abort("user pressed stop");
    await expect(call).rejects.toThrow(/user pressed stop/);
    await flush();
    expect(up.log.aborted).toHaveLength(1);
    // Released calls complete normally (no timeout cut them).
    const second = c.client.callTool({ name: "hang", arguments: {} }, CallToolResultSchema, {
      timeout: 600_000,
    });
    await flush();
    up.release();
    await expect(second).resolves.toMatchObject({ content: [{ type: "text", text: "released" }] });
  });

  it("keeps upstream error messages intact: one prefix, the upstream's code", async () => {
    const up = fakeUpstream();
    const c = await connectClient(proxyFor(up));
    const viaProxy = await c.client.callTool({ name: "add", arguments: { a: "x", b: 1 } });
    const straight = await (await direct(up)).callTool({ name: "add", arguments: { a: "x", b: 1 } });
    expect(viaProxy).toEqual(straight);
    const failure = await c.client.callTool({ name: "fail", arguments: {} });
    expect(failure).toEqual({ content: [{ type: "text", text: "upstream exploded" }], isError: true });

    const unknown = await c.client.callTool({ name: "nope", arguments: {} }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(McpError);
    expect((unknown as McpError).code).toBe(ErrorCode.InvalidParams);
    expect((unknown as McpError).message).toBe("MCP error -32602: Unknown tool: nope");

    const badPrompt = await c.client.getPrompt({ name: "missing" }).catch((e: unknown) => e);
    expect((badPrompt as McpError).message).not.toMatch(/MCP error -?\d+: MCP error/);
  });

  it("forwards logging/setLevel upstream and relays log messages", async () => {
    const up = fakeUpstream();
    const c = await connectClient(proxyFor(up));
    await c.client.setLoggingLevel("warning");
    expect(up.log.levels).toEqual(["warning"]);
    await c.client.callTool({ name: "shout", arguments: {} });
    await flush();
    expect(c.logs).toEqual([{ level: "warning", data: "shouting" }]);
  });

  it("forwards resources, templates, reads, subscriptions, prompts and completions", async () => {
    const up = fakeUpstream({ withResources: true, withPrompts: true });
    const c = await connectClient(proxyFor(up));
    const straight = await direct(up);
    expect(await c.client.listResources()).toEqual(await straight.listResources());
    expect(await c.client.listResourceTemplates()).toEqual(await straight.listResourceTemplates());
    expect(await c.client.readResource({ uri: "mem://readme" })).toEqual({
      contents: [{ uri: "mem://readme", text: "hello from the upstream" }],
    });
    expect(await c.client.readResource({ uri: "mem://notes/7" })).toEqual({
      contents: [{ uri: "mem://notes/7", text: "note 7" }],
    });
    expect(await c.client.listPrompts()).toEqual(await straight.listPrompts());
    expect(await c.client.getPrompt({ name: "greet", arguments: { name: "Ada" } })).toEqual(
      await straight.getPrompt({ name: "greet", arguments: { name: "Ada" } }),
    );
    const completion = await c.client.complete({
      ref: { type: "ref/prompt", name: "greet" },
      argument: { name: "name", value: "A" },
    });
    expect(completion.completion.values).toEqual(["Ada", "Alan"]);
    const resourceCompletion = await c.client.complete({
      ref: { type: "ref/resource", uri: "mem://notes/{id}" },
      argument: { name: "id", value: "b" },
    });
    expect(resourceCompletion.completion.values).toEqual(["beta"]);
  });

  it("relays resource update notifications for subscriptions", async () => {
    // A hand-made upstream that supports subscriptions.
    const spec = {
      type: "custom" as const,
      connect: async () => {
        const server = new McpServer(
          { name: "subs", version: "1" },
          { capabilities: { resources: { subscribe: true } } },
        );
        server.registerResource("r", "mem://r", {}, async (uri) => ({
          contents: [{ uri: uri.href, text: "r" }],
        }));
        server.server.setRequestHandler(
          (await import("@modelcontextprotocol/sdk/types.js")).SubscribeRequestSchema,
          async (request) => {
            setImmediate(() => void server.server.sendResourceUpdated({ uri: request.params.uri }));
            return {};
          },
        );
        const [a, b] = InMemoryTransport.createLinkedPair();
        await server.connect(b);
        return a;
      },
    };
    const proxy = new McpProxy({ upstreams: [{ name: "subs", transport: spec }], logger: silentLogger });
    proxies.push(proxy);
    const c = await connectClient(proxy);
    expect(c.client.getServerCapabilities()?.resources?.subscribe).toBe(true);
    const updates: string[] = [];
    c.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updates.push(n.params.uri);
    });
    await c.client.subscribeResource({ uri: "mem://r" });
    await flush();
    expect(updates).toEqual(["mem://r"]);
  });

  it("relays tools/list_changed once the upstream's tools change", async () => {
    const up = fakeUpstream({ only: ["echo"] });
    const c = await connectClient(proxyFor(up));
    up.rugPull("Echoes its input, now with more words");
    await flush();
    expect(c.listChanged).toBe(1);
    const tools = await c.client.listTools();
    expect(tools.tools[0]?.description).toBe("Echoes its input, now with more words");
  });

  it("closes the upstream session when the client's ends", async () => {
    const up = fakeUpstream({ only: ["echo"] });
    const proxy = proxyFor(up);
    const c = await connectClient(proxy);
    let upstreamClosed = false;
    up.current().server.onclose = () => {
      upstreamClosed = true;
    };
    expect(proxy.sessions.size).toBe(1);
    await c.close();
    await flush();
    expect(upstreamClosed).toBe(true);
    expect(proxy.sessions.size).toBe(0);
  });
});
