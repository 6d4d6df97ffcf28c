import { join } from "node:path";
import type { ProxyStatus } from "@agent-sre/mcp-proxy";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, describe, expect, it } from "vitest";
import {
  type Child,
  CLI,
  decisionOf,
  eventually,
  FLAKY,
  NODE,
  newClient,
  runCli,
  startNode,
  tempDir,
  textOf,
  writeConfig,
} from "../mcp/helpers.js";

/**
 * A real `agent-sre proxy` process with its default state (SQLite under .agent-sre/ beside the config) is
 * killed with SIGKILL and started again: the killed agent stays killed with its spend to the cent, and an
 * open (then half-open) breaker resumes where it was.
 */
describe("restart: a proxy killed with -9 comes back with its decisions", { timeout: 120_000 }, () => {
  const dir = tempDir("agent-sre-restart-");
  const config = writeConfig(dir, {
    // flaky's isError results report an outage of the tool (provider), so they open its breaker.
    mcpServers: { flaky: { command: NODE, args: [FLAKY], "x-agentSre": { isErrorClass: "provider" } } },
    agentSre: {
      tools: { costs: { echo: 0.3 } },
      budgets: {
        perAgentDailyLimitUsd: 1,
        perTaskLimitUsd: 10,
        killSwitchThreshold: 0.5,
        throttleThreshold: 0.5,
        autoThrottle: false,
      },
      // Long enough to outlast a restart on a busy machine: the breaker must still be OPEN after it.
      breakers: { defaults: { failureThreshold: 2, recoveryTimeoutMs: 15_000 } },
      rogue: { refuseLoops: false },
    },
  });
  const env = { AGENT_SRE_STATE_DIR: "" };
  let proxy: Child | undefined;
  let url = "";

  afterAll(async () => {
    proxy?.kill("SIGKILL");
    await proxy?.exited;
  });

  async function start(): Promise<void> {
    clients = new Map();
    proxy = startNode([CLI, "proxy", "--config", config, "--no-stdio", "--http", "127.0.0.1:0"], env);
    const serving = await proxy.waitFor(
      /serving Streamable HTTP on (http:\/\/127\.0\.0\.1:\d+\/mcp)/,
      30_000,
    );
    url = serving[1] as string;
  }

  async function crash(): Promise<void> {
    proxy?.kill("SIGKILL");
    expect(await proxy?.exited).toBeNull();
  }

  // One session per agent per proxy run: a session's stdio upstream keeps its state (set_broken).
  let clients = new Map<string, ReturnType<typeof newClient>["client"]>();
  async function call(agent: string, name: string, args: Record<string, unknown>) {
    let client = clients.get(agent);
    if (client === undefined) {
      client = newClient("restart-e2e").client;
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), {
          requestInit: { headers: { "X-Agent-SRE-Agent": agent } },
        }),
      );
      clients.set(agent, client);
    }
    return await client.callTool({ name, arguments: args });
  }

  async function status(): Promise<ProxyStatus> {
    return (await (await fetch(url.replace(/\/mcp$/, "/status"))).json()) as ProxyStatus;
  }

  function breaker(s: ProxyStatus, id: string) {
    const list = (
      s.sre.breakers as { breakers: Array<{ id: string; state: string; openedAt: number | null }> }
    ).breakers;
    return list.find((b) => b.id === id);
  }

  it("keeps the kill, the spend and the breaker across kill -9", async () => {
    await start();
    expect(proxy?.output()).toContain(`state: SQLite ${join(dir, ".agent-sre", "state.db")}`);
    expect(textOf(await call("spender", "echo", { text: "1" }))).toBe("echo: 1");
    expect(textOf(await call("spender", "echo", { text: "2" }))).toBe("echo: 2");
    expect(decisionOf(await call("spender", "echo", { text: "3" })).code).toBe("AGENT_KILLED");
    const before = (await status()).sre.agents.spender?.budget as { spentTodayUsd: number; killed: boolean };
    expect(before).toMatchObject({ spentTodayUsd: 0.6, killed: true });

    await call("ops", "set_broken", { broken: true });
    await call("ops", "flaky", { n: 1 });
    await call("ops", "flaky", { n: 2 });
    expect(decisionOf(await call("ops", "flaky", { n: 3 })).code).toBe("CIRCUIT_OPEN");
    const opened = breaker(await status(), "tool:flaky");
    expect(opened?.state).toBe("OPEN");

    await crash();
    await start();
    // The upstream came back healthy, but the breaker resumes OPEN from the same opening.
    expect(decisionOf(await call("ops", "flaky", { n: 4 })).code).toBe("CIRCUIT_OPEN");
    expect(breaker(await status(), "tool:flaky")).toMatchObject({
      state: "OPEN",
      openedAt: opened?.openedAt,
    });
    expect(decisionOf(await call("spender", "echo", { text: "4" })).code).toBe("AGENT_KILLED");
    const after = (await status()).sre.agents.spender?.budget as { spentTodayUsd: number; killed: boolean };
    expect(after).toMatchObject({ spentTodayUsd: 0.6, killed: true });

    // Wait out the recovery timeout: HALF_OPEN is written as it happens, and survives another kill -9.
    await eventually(
      async () => (breaker(await status(), "tool:flaky")?.state === "HALF_OPEN" ? true : undefined),
      30_000,
      200,
    );
    await crash();
    const file = join(dir, ".agent-sre", "state.db");
    const halfOpen = JSON.parse((await runCli(["status", "--state", file, "--json"])).stdout) as {
      breakers: Array<{ id: string; state: string }>;
    };
    expect(halfOpen.breakers.find((b) => b.id === "tool:flaky")?.state).toBe("HALF_OPEN");
    await start();
    expect(textOf(await call("ops", "flaky", { n: 5 }))).toBe("fine (5)");
    expect(breaker(await status(), "tool:flaky")?.state).toBe("CLOSED");

    // Read offline, the file says the same.
    await crash();
    const offline = await runCli(["status", "--state", file, "--json"]);
    expect(offline.code).toBe(0);
    const parsed = JSON.parse(offline.stdout) as { agents: Array<Record<string, unknown>> };
    expect(parsed.agents.find((a) => a.agentId === "spender")).toMatchObject({ spentTodayUsd: 0.6 });
    expect(parsed.agents.find((a) => a.agentId === "spender")?.killed).toMatch(/reached 50%/);
  });
});
