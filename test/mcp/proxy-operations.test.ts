import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ProxyStatus } from "@agent-sre/mcp-proxy";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { describe, expect, it } from "vitest";
import {
  type Child,
  CLI,
  closeAfterEach,
  decisionOf,
  eventually,
  FLAKY,
  NODE,
  newClient,
  startNode,
  tempDir,
  textOf,
  writeConfig,
} from "./helpers.js";

// An operator's view of the proxy: upstreams that restart, clients that leak sessions or go away, wrappers
// that die. Everything here is a real process on real sockets.

const { children, clients } = closeAfterEach();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function track(child: Child): Child {
  children.push(child);
  return child;
}

async function httpProxy(config: string, env: Record<string, string> = {}) {
  const proxy = track(
    startNode([CLI, "proxy", "--config", config, "--no-stdio", "--http", "127.0.0.1:0"], env),
  );
  const url = (
    await proxy.waitFor(/serving Streamable HTTP on (http:\/\/127\.0\.0\.1:\d+\/mcp)/)
  )[1] as string;
  return { proxy, url, base: url.replace(/\/mcp$/, "") };
}

async function connect(url: string, name = "ops-client") {
  const { client } = newClient(name);
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  clients.push(client);
  return client;
}

async function status(base: string): Promise<ProxyStatus> {
  return (await (await fetch(`${base}/status`)).json()) as ProxyStatus;
}

describe("the MCP proxy in operation", { timeout: 90_000 }, () => {
  it("recovers every session after an HTTP upstream restart that answers 400 for unknown sessions", async () => {
    const upstreamEnv = { FLAKY_UNKNOWN_SESSION: "400" };
    let upstream = track(startNode([FLAKY, "--http", "0"], upstreamEnv));
    const listening = await upstream.waitFor(/listening http:\/\/127\.0\.0\.1:(\d+)\/mcp/);
    const port = listening[1] as string;
    const dir = tempDir();
    const config = writeConfig(dir, {
      mcpServers: { remote: { url: `http://127.0.0.1:${port}/mcp?api_key=sk-live-0123456789` } },
      agentSre: {
        breakers: { defaults: { failureThreshold: 2, recoveryTimeoutMs: 300 } },
      },
    });
    const { proxy, url, base } = await httpProxy(config);
    const client = await connect(url);
    const before = JSON.parse(textOf(await client.callTool({ name: "stats", arguments: {} })));

    upstream.kill();
    await upstream.exited;
    // Down: nothing reaches a server, so the calls are refused as never sent ("was not called"), not as lost.
    for (let i = 0; i < 3; i++) {
      const refused = await client.callTool({ name: "echo", arguments: { text: `down ${i}` } });
      expect(refused.isError).toBe(true);
      expect(decisionOf(refused)).toMatchObject({ decision: "refused", code: "UPSTREAM_UNAVAILABLE" });
      expect(textOf(refused)).toMatch(/was not called/);
    }

    upstream = track(startNode([FLAKY, "--http", port], upstreamEnv));
    await upstream.waitFor(/listening/);
    // Back on the same port with no memory of our session: it answers 400, the proxy re-initialises (the
    // breaker's half-open probe included) and the same client session works again.
    const recovered = await eventually(async () => {
      const result = await client.callTool({ name: "stats", arguments: {} });
      return result.isError ? undefined : result;
    }, 20_000);
    expect(JSON.parse(textOf(recovered)).pid).not.toBe(before.pid);
    expect(textOf(await client.callTool({ name: "echo", arguments: { text: "again" } }))).toBe("echo: again");

    const output = proxy.output();
    expect(output).toMatch(/agent-sre warn: upstream "remote": unreachable/);
    expect(output).toMatch(
      /agent-sre warn: upstream "remote": session lost \(HTTP 400: .*\); re-initialising/,
    );
    expect(output).not.toMatch(/sk-live-0123456789/);
    const upstreamStatus = (await status(base)).upstreams[0];
    expect(upstreamStatus?.transport).toMatch(/api_key=\*\*\*/);
    expect(upstreamStatus?.lastError).toMatch(/session lost|unreachable/);
    expect(upstreamStatus?.lastErrorAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(JSON.stringify(await status(base))).not.toMatch(/sk-live/);
  });

  it("answers a 10 MB body with 413 and a JSON-RPC error, not a TCP reset", async () => {
    const dir = tempDir();
    const config = writeConfig(dir, { mcpServers: { flaky: { command: NODE, args: [FLAKY] } } });
    const { url } = await httpProxy(config);
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { padding: "x".repeat(10 * 1024 * 1024) },
    });
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body,
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32600 }, id: null });
    // The proxy still serves.
    const client = await connect(url);
    expect(textOf(await client.callTool({ name: "echo", arguments: { text: "ok" } }))).toBe("echo: ok");
  });

  it("one client opening 100 sessions locks out neither others nor itself; a shared upstream is one process", async () => {
    const dir = tempDir();
    const state = join(dir, "flaky-state");
    const config = writeConfig(dir, {
      mcpServers: {
        flaky: {
          command: NODE,
          args: [FLAKY],
          env: { FLAKY_STATE_DIR: state },
          "x-agentSre": { shared: true },
        },
      },
      agentSre: { listen: { maxSessions: 20, maxSessionsPerClient: 4 } },
    });
    const { url, base } = await httpProxy(config);
    const initialize = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "leaky", version: "1" },
      },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
        body: initialize,
      });
      statuses.push(response.status);
      await response.body?.cancel();
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    // Others get in, and so does the leaky client itself.
    const other = await connect(url, "well-behaved");
    expect(textOf(await other.callTool({ name: "echo", arguments: { text: "hi" } }))).toBe("echo: hi");
    const leaky = await connect(url, "leaky");
    expect(textOf(await leaky.callTool({ name: "echo", arguments: { text: "me" } }))).toBe("echo: me");
    const now = await status(base);
    expect(now.sessions.length).toBeLessThanOrEqual(5);
    expect(now.upstreams[0]).toMatchObject({ shared: true, states: { ready: 1 } });
    // 102 sessions, one upstream process.
    expect(readFileSync(join(state, "starts.log"), "utf8").trim().split("\n")).toHaveLength(1);
  });

  it("a polling client is not refused as a loop; a task repeating itself is", async () => {
    const dir = tempDir();
    const config = writeConfig(dir, { mcpServers: { flaky: { command: NODE, args: [FLAKY] } } });
    const { url } = await httpProxy(config);
    const client = await connect(url, "poller");
    for (let i = 0; i < 6; i++) {
      const result = await client.callTool({ name: "echo", arguments: { text: "status?" } });
      expect(result.isError).toBeFalsy();
    }
    const inTask = { "io.github.agent-sre/task": "task-7" };
    await client.callTool({ name: "echo", arguments: { text: "same" }, _meta: inTask });
    await client.callTool({ name: "echo", arguments: { text: "same" }, _meta: inTask });
    const third = await client.callTool({ name: "echo", arguments: { text: "same" }, _meta: inTask });
    expect(decisionOf(third).code).toBe("LOOP_DETECTED");
  });

  it("leaves no orphans when the wrapper that started it is killed (as npx is by MCP clients)", async () => {
    const dir = tempDir();
    const state = join(dir, "flaky-state");
    const config = writeConfig(dir, {
      mcpServers: { flaky: { command: NODE, args: [FLAKY], env: { FLAKY_STATE_DIR: state } } },
    });
    const wrapper = join(dir, "wrapper.mjs");
    // Like `npx agent-sre …`: starts the proxy as a child and dies on SIGTERM without passing it on.
    writeFileSync(
      wrapper,
      `import { spawn } from "node:child_process";
const child = spawn(${JSON.stringify(NODE)}, ${JSON.stringify([CLI, "proxy", "--config", config, "--no-stdio", "--http", "127.0.0.1:0"])}, { stdio: ["ignore", "inherit", "inherit"] });
console.log("proxy pid " + child.pid);
setInterval(() => {}, 1000);
`,
    );
    const parent = track(startNode([wrapper]));
    const proxyPid = Number((await parent.waitFor(/proxy pid (\d+)/))[1]);
    const url = (await parent.waitFor(/serving Streamable HTTP on (http:\S+\/mcp)/))[1] as string;
    const client = await connect(url);
    await client.callTool({ name: "echo", arguments: { text: "up" } });
    const upstreamPid = Number(readFileSync(join(state, "starts.log"), "utf8").trim());
    expect(alive(proxyPid) && alive(upstreamPid)).toBe(true);

    parent.kill("SIGTERM");
    await parent.exited;
    await eventually(async () => (!alive(proxyPid) && !alive(upstreamPid) ? true : undefined), 20_000);
  });

  it("exits with its upstream when the stdio client closes stdin", async () => {
    const dir = tempDir();
    const state = join(dir, "flaky-state");
    const config = writeConfig(dir, {
      mcpServers: { flaky: { command: NODE, args: [FLAKY], env: { FLAKY_STATE_DIR: state } } },
    });
    const child = spawn(NODE, [CLI, "proxy", "--config", config], { stdio: ["pipe", "pipe", "pipe"] });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
    });
    child.stdin.write(
      `${JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-06-18",
          capabilities: {},
          clientInfo: { name: "raw", version: "1" },
        },
      })}\n`,
    );
    // Answered once the proxy has started its upstream.
    await eventually(async () => (stdout.includes('"id":1') ? true : undefined), 20_000);
    const upstreamPid = Number(readFileSync(join(state, "starts.log"), "utf8").trim());
    expect(alive(upstreamPid)).toBe(true);
    child.stdin.end();
    expect(await exited).toBe(0);
    await eventually(async () => (!alive(upstreamPid) ? true : undefined), 20_000);
  });
});
