import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import type { ProxyStatus } from "@agent-sre/mcp-proxy";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Child,
  CLI,
  decisionOf,
  EVERYTHING,
  eventually,
  FLAKY,
  NODE,
  newClient,
  runCli,
  startNode,
  tempDir,
  textOf,
  writeConfig,
} from "./helpers.js";

const TOKEN = "e2e-bearer-token-0123456789abcdef";

function rawStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = request(
      { host: target.hostname, port: target.port, path: target.pathname, method: "GET", headers },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("the proxy over Streamable HTTP in front of stdio and HTTP upstreams", { timeout: 60_000 }, () => {
  let upstream: Child;
  let upstreamPort: string;
  let proxy: Child;
  let url: string;
  let base: string;
  let audit: string;
  const dir = tempDir();

  beforeAll(async () => {
    upstream = startNode([FLAKY, "--http", "0"]);
    const listening = await upstream.waitFor(/listening (http:\/\/127\.0\.0\.1:(\d+)\/mcp)/);
    upstreamPort = listening[2] as string;
    audit = join(dir, "audit.jsonl");
    const config = writeConfig(dir, {
      mcpServers: {
        everything: { command: NODE, args: [EVERYTHING] },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the proxy expands ${VAR} in configs
        remote: { url: listening[1], headers: { "X-Upstream-Key": "${UPSTREAM_KEY}" } },
        shadow: { command: NODE, args: [FLAKY], "x-agentSre": { prefix: "remote" } },
      },
      agentSre: {
        agents: { "read-only": { allowedTools: ["everything__echo", "everything__get-*"] } },
        tools: { costs: { "everything__get-sum": 0.01 } },
        budgets: { perTaskLimitUsd: 1, perAgentDailyLimitUsd: 0.025, orgMonthlyBudgetUsd: 10 },
        listen: { token: TOKEN },
      },
    });
    proxy = startNode(
      [CLI, "proxy", "--config", config, "--no-stdio", "--http", "127.0.0.1:0", "--audit", audit],
      {
        UPSTREAM_KEY: "k-42",
      },
    );
    const serving = await proxy.waitFor(/serving Streamable HTTP on (http:\/\/127\.0\.0\.1:\d+\/mcp)/);
    url = serving[1] as string;
    base = url.replace(/\/mcp$/, "");
  });

  afterAll(async () => {
    proxy?.kill();
    upstream?.kill();
    await Promise.all([proxy?.exited, upstream?.exited]);
  });

  async function connect(name: string, headers: Record<string, string> = {}) {
    const { client, state } = newClient(name);
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { Authorization: `Bearer ${TOKEN}`, ...headers } },
      }),
    );
    return { client, state };
  }

  it("aggregates everything behind one endpoint with collision-free names", async () => {
    const { client } = await connect("http-e2e");
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain("everything__echo");
    expect(names).toContain("remote__flaky");
    expect(new Set(names).size).toBe(names.length);
    // "shadow" asked for the "remote" prefix too: its colliding names are hidden, "remote" keeps them.
    expect(textOf(await client.callTool({ name: "remote__echo", arguments: { text: "hi" } }))).toBe(
      "echo: hi",
    );
    const progress: number[] = [];
    await client.callTool(
      { name: "everything__trigger-long-running-operation", arguments: { duration: 0.3, steps: 3 } },
      CallToolResultSchema,
      { onprogress: (p) => progress.push(p.progress) },
    );
    // The last progress may race the result in the SDK client (directly too): the first ones must arrive.
    expect(progress.slice(0, 2)).toEqual([1, 2]);
    await client.close();
  });

  it("enforces per-agent allow-lists and per-tool costs against the agent's budget", async () => {
    const { client } = await connect("http-e2e", { "X-Agent-SRE-Agent": "read-only" });
    const visible = (await client.listTools()).tools.map((t) => t.name);
    expect(visible.every((n) => n === "everything__echo" || n.startsWith("everything__get-"))).toBe(true);
    const denied = await client.callTool({ name: "remote__echo", arguments: { text: "x" } });
    expect(decisionOf(denied).code).toBe("TOOL_NOT_ALLOWED");
    await client.callTool({ name: "everything__get-sum", arguments: { a: 1, b: 1 } });
    await client.callTool({ name: "everything__get-sum", arguments: { a: 1, b: 2 } });
    const broke = await client.callTool({ name: "everything__get-sum", arguments: { a: 1, b: 3 } });
    expect(decisionOf(broke).code).toBe("BUDGET_EXCEEDED");
    await client.close();
  });

  it("re-initialises an HTTP upstream that lost the session (restarted on the same port)", async () => {
    const { client } = await connect("http-e2e");
    const before = JSON.parse(textOf(await client.callTool({ name: "remote__stats", arguments: {} })));
    upstream.kill();
    await upstream.exited;
    upstream = startNode([FLAKY, "--http", upstreamPort]);
    await upstream.waitFor(/listening/);
    const after = JSON.parse(textOf(await client.callTool({ name: "remote__stats", arguments: {} })));
    expect(after.pid).not.toBe(before.pid);
    await client.close();
  });

  it("rejects a foreign Host and requests without the token; serves /status and /metrics", async () => {
    expect(
      await rawStatus(`${base}/status`, { Host: "attacker.example", Authorization: `Bearer ${TOKEN}` }),
    ).toBe(403);
    expect(await rawStatus(`${base}/status`, {})).toBe(401);
    const response = await fetch(`${base}/status`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    const status = (await response.json()) as ProxyStatus;
    expect(status.upstreams.map((u) => u.server)).toEqual(["everything", "remote", "shadow"]);
    expect(status.collisions.length).toBeGreaterThan(0);
    expect(status.sre.agents["read-only"]).toMatchObject({ refused: 2 });
    const metrics = await (
      await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } })
    ).text();
    expect(metrics).toMatch(
      /agent_sre_mcp_tool_calls_total\{server="everything",tool="everything__get-sum",decision="allowed",outcome="ok"\} 2/,
    );
  });

  it("agent-sre status prints a readable table", async () => {
    const result = await runCli(["status", "--url", base, "--token", TOKEN]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/UPSTREAMS/);
    expect(result.stdout).toMatch(/everything\s+stdio: /);
    // calls, in flight (open reservations), refused, failed
    expect(result.stdout).toMatch(/read-only\s+2\s+0\s+2\s+0\s+CLOSED/);
    const unauthorized = await runCli(["status", "--url", base]);
    expect(unauthorized.code).toBe(1);
    expect(unauthorized.stderr).toMatch(/needs a bearer token/);
  });

  it("shuts down cleanly on SIGTERM with every audit line written", async () => {
    const { client } = await connect("last-client");
    await client.callTool({ name: "remote__echo", arguments: { text: "last", apiKey: "sk-secret" } });
    proxy.kill("SIGTERM");
    expect(await proxy.exited).toBe(0);
    const lines = readFileSync(audit, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const last = lines.at(-1);
    expect(last).toMatchObject({
      agent: "last-client",
      server: "remote",
      tool: "remote__echo",
      outcome: "ok",
    });
    expect(JSON.stringify(lines)).not.toMatch(/sk-secret/);
    expect(lines.filter((l) => l.decision === "refused").map((l) => l.code)).toEqual([
      "TOOL_NOT_ALLOWED",
      "BUDGET_EXCEEDED",
    ]);
    await eventually(async () => (proxy.output().includes("SIGTERM: shutting down") ? true : undefined));
  });
});
