import { join } from "node:path";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { describe, expect, it } from "vitest";
import {
  CLI,
  closeAfterEach,
  decisionOf,
  FLAKY,
  NODE,
  newClient,
  runCli,
  startNode,
  tempDir,
  textOf,
  writeConfig,
} from "./helpers.js";

// A cost anomaly holds an agent behind the real proxy (`agent-sre proxy`, a real upstream process, a real SDK
// client over HTTP, the proxy's SQLite state file): its tool calls are refused with ANOMALY_HELD — an
// `isError` result whose `_meta` decision carries the anomaly's figures — the hold is in `/status`, in
// `agent-sre status` (live and offline), survives a restart of the proxy, and the on-call lifts it from the
// dashboard's "confirm-anomaly" action.

const { children, clients } = closeAfterEach();

const AGENT = "digest-bot";
const config = {
  mcpServers: { tools: { command: NODE, args: [FLAKY] } },
  agentSre: {
    // echo is the agent's usual cheap call; stats is the one a prompt change made it call, 50× the price.
    tools: { costs: { echo: 0.001, stats: 0.05 } },
    budgets: { perTaskLimitUsd: 1, anomalyDetection: { action: "hold", minSamples: 5 } },
  },
};

async function start(dir: string, file: string) {
  const proxy = startNode([CLI, "proxy", "--config", file, "--no-stdio", "--http", "127.0.0.1:0"], {
    AGENT_SRE_STATE_DIR: dir,
  });
  children.push(proxy);
  const url = (
    await proxy.waitFor(/serving Streamable HTTP on (http:\/\/127\.0\.0\.1:\d+\/mcp)/, 30_000)
  )[1] as string;
  const { client } = newClient("hold-client");
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  clients.push(client);
  const base = url.replace(/\/mcp$/, "");
  let n = 0;
  const call = (name: string) =>
    client.callTool({
      name,
      arguments: name === "echo" ? { text: `note ${n}` } : {},
      _meta: { "io.github.agent-sre/agent": AGENT, "io.github.agent-sre/task": `task-${n++}` },
    });
  return { proxy, base, call };
}

interface AgentView {
  budget: { held: boolean; hold: { costUsd: number; refusedCalls: number; score: number } | null };
}

async function agentStatus(base: string): Promise<AgentView | undefined> {
  const status = (await (await fetch(`${base}/status`)).json()) as {
    sre: { agents: Record<string, AgentView> };
  };
  return status.sre.agents[AGENT];
}

describe("a cost anomaly holds an agent behind the MCP proxy", { timeout: 120_000 }, () => {
  it("refuses its calls with ANOMALY_HELD across a restart until the on-call confirms on the dashboard", async () => {
    const dir = tempDir();
    const file = writeConfig(dir, config);
    const first = await start(dir, file);
    for (let i = 0; i < 6; i++) expect(textOf(await first.call("echo"))).toMatch(/^echo: note/);
    // The spike itself runs (its cost is what is judged); the agent's next calls are held.
    expect((await first.call("stats")).isError).not.toBe(true);
    const held = await first.call("echo");
    expect(held.isError).toBe(true);
    expect(textOf(held)).toMatch(/held after a cost anomaly: \$0\.05.*Do not retry/);
    expect(decisionOf(held)).toMatchObject({
      decision: "refused",
      code: "ANOMALY_HELD",
      retryable: false,
      costUsd: 0.05,
    });
    expect(decisionOf(held).expectedUsd).toBeCloseTo(0.001, 9);
    expect(Number(decisionOf(held).score)).toBeGreaterThan(4);
    expect((await agentStatus(first.base))?.budget).toMatchObject({
      held: true,
      hold: { costUsd: 0.05, refusedCalls: 1 },
    });
    const live = await runCli(["status", "--url", first.base]);
    expect(live.stdout).toMatch(
      new RegExp(`${AGENT}.*held: \\$0\\.05 vs \\$0\\.001 \\(z=\\d+\\.\\d\\), 1 refused`),
    );

    // A restart on the same state file: still held, before the agent's first call there.
    first.proxy.kill("SIGTERM");
    await first.proxy.exited;
    const offline = await runCli(["status", "--state", join(dir, "state.db")]);
    expect(offline.stdout).toMatch(/HELD/);
    expect(offline.stdout).toMatch(
      new RegExp(`${AGENT}.*\\$0\\.05 vs \\$0\\.001 \\(z=\\d+\\.\\d\\), until confirmed`),
    );
    const second = await start(dir, file);
    expect(decisionOf(await second.call("echo")).code).toBe("ANOMALY_HELD");

    const confirm = () =>
      fetch(`${second.base}/dashboard/api/actions/confirm-anomaly`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Agent-SRE-Action": "1" },
        body: JSON.stringify({ agentId: AGENT }),
      });
    const confirmed = await confirm();
    expect(confirmed.status).toBe(200);
    expect(((await confirmed.json()) as { message: string }).message).toMatch(/confirmed the cost anomaly/);
    expect(textOf(await second.call("echo"))).toMatch(/^echo: note/);
    expect((await agentStatus(second.base))?.budget).toMatchObject({ held: false, hold: null });
    expect((await confirm()).status).toBe(409);
  });
});
