import { join } from "node:path";
import type { ProxyStatus } from "@agent-sre/mcp-proxy";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { describe, expect, it } from "vitest";
import {
  CLI,
  closeAfterEach,
  FLAKY,
  NODE,
  newClient,
  runCli,
  startNode,
  tempDir,
  textOf,
  writeConfig,
} from "./helpers.js";

// Progressive delivery of an MCP server version through the real `agent-sre proxy` process: two real
// server processes (v1 and v2 of the same server), a real SDK client, the rollout's state in the proxy's
// SQLite file.

const { children, clients } = closeAfterEach();

function config(candidateEnv: Record<string, string> = {}) {
  return {
    // The flaky server's isError results report its tool failing (FLAKY_BROKEN): failures of the tool
    // (provider), not of the calling agent.
    mcpServers: {
      "tools-v1": { command: NODE, args: [FLAKY], "x-agentSre": { isErrorClass: "provider" } },
      "tools-v2": {
        command: NODE,
        args: [FLAKY],
        env: candidateEnv,
        "x-agentSre": { isErrorClass: "provider" },
      },
    },
    agentSre: {
      delivery: {
        rollouts: [
          {
            id: "tools-v2",
            baseline: { id: "tools-v1" },
            candidate: { id: "tools-v2" },
            strategy: { type: "canary", steps: [{ percent: 50, holdTasks: 4 }, { percent: 100 }] },
            analysis: { minCalls: 12, minTasks: 2, latencyP99: false },
            evaluationIntervalMs: 0,
            seed: 1,
          },
        ],
      },
    },
  };
}

async function start(dir: string, file: string) {
  const proxy = startNode([CLI, "proxy", "--config", file, "--no-stdio", "--http", "127.0.0.1:0"], {
    AGENT_SRE_STATE_DIR: dir,
  });
  children.push(proxy);
  const url = (
    await proxy.waitFor(/serving Streamable HTTP on (http:\/\/127\.0\.0\.1:\d+\/mcp)/, 30_000)
  )[1] as string;
  const { client } = newClient("delivery-client");
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  clients.push(client);
  const base = url.replace(/\/mcp$/, "");
  return {
    proxy,
    client,
    status: async () => (await (await fetch(`${base}/status`)).json()) as ProxyStatus,
  };
}

/** One task: which server process answered (its pid), and whether `flaky` worked there. */
async function task(client: Client, taskId: string) {
  const _meta = { "io.github.agent-sre/task": taskId };
  const stats = await client.callTool({ name: "tools-v1__stats", arguments: {}, _meta });
  const pid = (JSON.parse(textOf(stats)) as { pid: number }).pid;
  const flaky = await client.callTool({ name: "tools-v1__flaky", arguments: { n: 1 }, _meta });
  return { pid, ok: flaky.isError !== true };
}

describe("progressive delivery of an MCP server version through the proxy", { timeout: 120_000 }, () => {
  it("lists only the baseline's tools, keeps each task on one server, and promotes a healthy v2", async () => {
    const dir = tempDir();
    const { client, status } = await start(dir, writeConfig(dir, config()));
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain("tools-v1__flaky");
    expect(names.some((n) => n.startsWith("tools-v2__"))).toBe(false);
    // The candidate is not callable by its own name.
    await expect(client.callTool({ name: "tools-v2__echo", arguments: { text: "x" } })).rejects.toThrow(
      /Unknown tool/,
    );

    const pids = new Map<string, Set<number>>();
    for (let n = 0; n < 16; n++) {
      const id = `task-${n}`;
      for (let i = 0; i < 2; i++) {
        const { pid } = await task(client, id);
        pids.set(id, (pids.get(id) ?? new Set()).add(pid));
      }
    }
    for (const seen of pids.values()) expect(seen.size).toBe(1);
    expect(new Set([...pids.values()].flatMap((s) => [...s])).size).toBe(2); // both servers served tasks
    const rollout = (await status()).sre.delivery?.rollouts[0];
    expect(rollout?.state).toBe("completed");
    expect(rollout?.decisions.map((d) => d.action)).toEqual(["start", "complete"]);
    expect((rollout?.routed.baseline ?? 0) + (rollout?.routed.candidate ?? 0)).toBe(64);
  });

  it("rolls back a v2 whose tool fails, and the rollback survives a proxy restart (SQLite)", async () => {
    const dir = tempDir();
    const file = writeConfig(dir, config({ FLAKY_BROKEN: "1" }));
    const first = await start(dir, file);
    const v1 = (await task(first.client, "probe")).pid;
    let n = 0;
    while ((await first.status()).sre.delivery?.rollouts[0]?.state === "progressing" && n < 60) {
      await task(first.client, `task-${n++}`);
    }
    const rolledBack = (await first.status()).sre.delivery?.rollouts[0];
    expect(rolledBack?.state).toBe("rolled_back");
    expect(rolledBack?.lastTransition?.reason).toMatch(/error rate/);
    for (let i = 0; i < 10; i++)
      expect(await task(first.client, `after-${i}`)).toEqual({ pid: v1, ok: true });

    first.proxy.kill("SIGTERM");
    await first.proxy.exited;
    // Offline, from the state file alone: the operator sees the rollback and why.
    const offline = await runCli(["status", "--state", join(dir, "state.db")]);
    expect(offline.stdout).toMatch(/tools-v2\s+rolled_back\s+0\s+0%\s+rollback: error rate/);
    const second = await start(dir, file);
    const restored = (await second.status()).sre.delivery?.rollouts[0];
    expect(restored).toMatchObject({ state: "rolled_back", restored: true });
    expect(restored?.decisions.map((d) => d.action)).toEqual(["start", "rollback"]);
    for (let i = 0; i < 10; i++) expect((await task(second.client, `restarted-${i}`)).ok).toBe(true);
  });

  it("rolls back a v2 whose tools are not compatible (a parameter changed type) before any call", async () => {
    const dir = tempDir();
    const { client, status } = await start(dir, writeConfig(dir, config({ FLAKY_RETYPE: "1" })));
    await client.listTools();
    const rollout = (await status()).sre.delivery?.rollouts[0];
    expect(rollout?.state).toBe("rolled_back");
    expect(rollout?.lastTransition?.reason).toMatch(/tool "flaky": parameter "n" type changed/);
  });
});
