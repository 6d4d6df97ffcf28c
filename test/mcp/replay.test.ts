import { spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AgentSRE, parseTrace, Recorder, ReplaySession, type Trace } from "@agent-sre/core";
import { McpProxy, replayUpstream } from "@agent-sre/mcp-proxy";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { describe, expect, it } from "vitest";
import { CLI, FLAKY, NODE, stdioProxy, tempDir, writeConfig } from "./helpers.js";

const text = (result: unknown) =>
  ((result as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text).join("");

async function connect(proxy: McpProxy, name = "replay-client") {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await proxy.connect(serverSide);
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(clientSide);
  return client;
}

/** A session against a real flaky-server process behind the proxy, recorded. */
async function record(stateDir: string): Promise<{ trace: Trace; results: string[] }> {
  const recorder = new Recorder({ source: "mcp-proxy" });
  const proxy = new McpProxy({
    upstreams: [
      {
        name: "flaky",
        transport: { type: "stdio", command: NODE, args: [FLAKY], env: { FLAKY_STATE_DIR: stateDir } },
      },
    ],
    sre: { rogue: false },
    record: recorder,
  });
  const client = await connect(proxy);
  const results = [
    text(await client.callTool({ name: "echo", arguments: { text: "hello" } })),
    text(await client.callTool({ name: "echo", arguments: { text: "world" } })),
    text(await client.callTool({ name: "flaky", arguments: { n: 1 } })),
  ];
  await client.close();
  await proxy.close();
  const run = recorder.last("replay-client");
  return { trace: parseTrace(run?.text ?? ""), results };
}

function replayProxy(trace: Trace, engine: ConstructorParameters<typeof AgentSRE>[0] = {}) {
  const session = new ReplaySession(trace, { onDivergence: "report" });
  const sre = new AgentSRE({ clock: session.clock, rogue: false, ...engine });
  session.attach(sre);
  const proxy = new McpProxy({ upstreams: [replayUpstream(session)], sre, tools: { hideDenied: false } });
  return { session, proxy };
}

describe("MCP proxy: record with a real server process, replay without it", () => {
  it("records tool calls per session and replays them from the trace: same results, no server started", async () => {
    const stateDir = tempDir();
    const { trace, results } = await record(stateDir);
    expect(results).toEqual(["echo: hello", "echo: world", "fine (1)"]);
    expect(trace.header).toMatchObject({ agentId: "replay-client", source: "mcp-proxy" });
    expect(trace.calls.map((c) => [c.seq, c.kind, c.name, c.api, c.decision.outcome])).toEqual([
      [1, "tool", "echo", "mcp", "allowed"],
      [2, "tool", "echo", "mcp", "allowed"],
      [3, "tool", "flaky", "mcp", "allowed"],
    ]);
    expect(trace.calls[0]).toMatchObject({
      request: { text: "hello" },
      response: { content: [{ type: "text", text: "echo: hello" }] },
    });
    expect((trace.header.meta?.tools as Record<string, unknown> | undefined)?.echo).toMatchObject({
      server: "flaky",
      upstreamName: "echo",
    });
    const starts = () => readFileSync(join(stateDir, "starts.log"), "utf8").trim().split("\n").length;
    expect(starts()).toBe(1);

    const { session, proxy } = replayProxy(trace);
    const client = await connect(proxy);
    const listed = await client.listTools();
    expect(listed.tools.map((t) => t.name).sort()).toEqual(["echo", "flaky"]);
    const replayed = [
      text(await client.callTool({ name: "echo", arguments: { text: "hello" } })),
      text(await client.callTool({ name: "echo", arguments: { text: "world" } })),
      text(await client.callTool({ name: "flaky", arguments: { n: 1 } })),
    ];
    await client.close();
    await proxy.close();
    expect(replayed).toEqual(results);
    expect(session.report()).toMatchObject({ ok: true, answered: 3 });
    expect(starts()).toBe(1); // the replay started no server
  });

  it("a changed argument is reported at its step; a what-if deny rule at the call it refuses", async () => {
    const { trace } = await record(tempDir());
    const changed = replayProxy(trace);
    let client = await connect(changed.proxy);
    await client.callTool({ name: "echo", arguments: { text: "hello" } });
    await client.callTool({ name: "echo", arguments: { text: "there" } });
    await client.close();
    await changed.proxy.close();
    expect(changed.session.divergence).toMatchObject({
      seq: 2,
      reason: "request",
      differences: [{ path: "request.text", expected: "world", actual: "there" }],
    });

    const denied = replayProxy(trace, { tools: { deny: ["flaky"] } });
    client = await connect(denied.proxy);
    await client.callTool({ name: "echo", arguments: { text: "hello" } });
    await client.callTool({ name: "echo", arguments: { text: "world" } });
    const refused = await client.callTool({ name: "flaky", arguments: { n: 1 } });
    await client.close();
    await denied.proxy.close();
    expect(refused.isError).toBe(true);
    expect(denied.session.report().whatIf).toEqual([
      expect.objectContaining({
        seq: 3,
        name: "flaky",
        change: "refused",
        replayed: expect.objectContaining({ code: "TOOL_NOT_ALLOWED" }),
      }),
    ]);
  });
});

describe("agent-sre proxy with agentSre.record, then agent-sre replay / diff on its trace files", () => {
  it("writes one trace per session run; replay under the recorded config exits 0, under a deny rule 1", async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      mcpServers: { flaky: { command: NODE, args: [FLAKY] } },
      agentSre: { record: { dir: "traces" }, tools: { costs: { echo: 0.001 } } },
    });
    const session = await stdioProxy(["proxy", "--config", config], { name: "recorded-client" });
    await session.client.callTool({ name: "echo", arguments: { text: "one" } });
    await session.client.callTool({ name: "echo", arguments: { text: "two" } });
    // Closing waits for the proxy process to exit; it writes the run when the session closes, before it exits.
    await session.close();
    const folder = join(dir, "traces", "recorded-client");
    const files = readdirSync(folder).filter((f) => f.endsWith(".jsonl"));
    expect(files).toHaveLength(1);
    const file = join(folder, files[0] as string);
    const trace = parseTrace(readFileSync(file, "utf8"));
    expect(trace.header).toMatchObject({
      source: "mcp-proxy",
      agentId: "recorded-client",
      config: { tools: { costs: { echo: 0.001 } } },
    });
    expect(trace.calls.map((c) => [c.name, c.request])).toEqual([
      ["echo", { text: "one" }],
      ["echo", { text: "two" }],
    ]);

    const same = await runCli(["replay", file]);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/under the config recorded in the trace/);
    const whatIf = join(dir, "what-if.json");
    writeFileSync(whatIf, JSON.stringify({ agentSre: { tools: { deny: ["echo"] } } }));
    const denied = await runCli(["replay", file, "--config", whatIf]);
    expect(denied.code).toBe(1);
    expect(denied.stdout).toMatch(
      /first call the config would have stopped: #1 tool echo \(TOOL_NOT_ALLOWED\)/,
    );
    const diff = await runCli(["diff", file, file]);
    expect(diff.code).toBe(0);
  });
});

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}
