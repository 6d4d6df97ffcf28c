import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { describe, expect, it } from "vitest";
import {
  CLI,
  closeAfterEach,
  decisionOf,
  FLAKY,
  NODE,
  newClient,
  startNode,
  tempDir,
  textOf,
  writeConfig,
} from "./helpers.js";

// Whose failure an MCP `isError` tool result is, through the real proxy (`agent-sre proxy` over HTTP), a real
// upstream process (the flaky test server, whose `flaky` tool answers isError while broken) and two real SDK
// clients as two agents. By default an isError result is the tool's answer about the caller's request: it
// counts against that agent's breaker only, and the other agent still reaches the tool. A server whose
// isError results report its own outage is configured `"x-agentSre": { "isErrorClass": "provider" }`: then they
// open the shared `tool:<name>` breaker for every agent.

const { children, clients } = closeAfterEach();

async function start(isErrorClass?: "provider") {
  const dir = tempDir();
  const file = writeConfig(dir, {
    mcpServers: {
      tools: {
        command: NODE,
        args: [FLAKY],
        ...(isErrorClass === undefined ? {} : { "x-agentSre": { isErrorClass } }),
      },
    },
    agentSre: { breakers: { defaults: { failureThreshold: 2, recoveryTimeoutMs: "1h" } } },
  });
  const proxy = startNode([CLI, "proxy", "--config", file, "--no-stdio", "--http", "127.0.0.1:0"], {
    AGENT_SRE_STATE_DIR: dir,
  });
  children.push(proxy);
  const url = (
    await proxy.waitFor(/serving Streamable HTTP on (http:\/\/127\.0\.0\.1:\d+\/mcp)/, 30_000)
  )[1] as string;
  const connect = async (agent: string) => {
    const { client } = newClient(agent);
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { "X-Agent-SRE-Agent": agent } },
      }),
    );
    clients.push(client);
    return client;
  };
  const base = url.replace(/\/mcp$/, "");
  const breakers = async () => {
    const status = (await (await fetch(`${base}/status`)).json()) as {
      sre: { breakers: { breakers: Array<{ id: string; state: string }> } };
    };
    return Object.fromEntries(status.sre.breakers.breakers.map((b) => [b.id, b.state]));
  };
  const sloppy = await connect("sloppy");
  const careful = await connect("careful");
  // Each client session has its own upstream process: break the tool in both.
  for (const client of [sloppy, careful])
    await client.callTool({ name: "set_broken", arguments: { broken: true } });
  // The flaky calls that reached careful's upstream process.
  const upstreamCalls = async () =>
    JSON.parse(textOf(await careful.callTool({ name: "stats", arguments: {} }))).calls as number;
  return { sloppy, careful, breakers, upstreamCalls };
}

describe("MCP isError results and the shared tool breaker (real proxy, real upstream)", {
  timeout: 120_000,
}, () => {
  it("by default an isError result counts against the calling agent only: the tool stays up for others", async () => {
    const { sloppy, careful, breakers, upstreamCalls } = await start();
    for (const n of [1, 2]) {
      const answer = await sloppy.callTool({ name: "flaky", arguments: { n } });
      expect(answer.isError).toBe(true);
      expect(textOf(answer)).toBe(`broken (${n})`);
    }
    expect(await breakers()).toMatchObject({ "agent:sloppy": "OPEN", "tool:flaky": "CLOSED" });
    // The agent that failed twice is stopped; the other one still reaches the tool and gets its answer.
    expect(decisionOf(await sloppy.callTool({ name: "flaky", arguments: { n: 3 } }))).toMatchObject({
      code: "CIRCUIT_OPEN",
    });
    const before = await upstreamCalls();
    const answer = await careful.callTool({ name: "flaky", arguments: { n: 4 } });
    expect(textOf(answer)).toBe("broken (4)");
    expect(decisionOf(answer).code).toBeUndefined();
    expect(await upstreamCalls()).toBe(before + 1); // careful's flaky call reached the tool
    expect((await breakers())["tool:flaky"]).toBe("CLOSED");
  });

  it('"x-agentSre": { "isErrorClass": "provider" }: isError results open the shared tool breaker for every agent', async () => {
    const { sloppy, careful, breakers, upstreamCalls } = await start("provider");
    for (const n of [1, 2])
      expect((await sloppy.callTool({ name: "flaky", arguments: { n } })).isError).toBe(true);
    expect(await breakers()).toMatchObject({ "tool:flaky": "OPEN", "agent:sloppy": "CLOSED" });
    const before = await upstreamCalls();
    const refused = await careful.callTool({ name: "flaky", arguments: { n: 3 } });
    expect(decisionOf(refused)).toMatchObject({ code: "CIRCUIT_OPEN", retryable: true });
    expect(await upstreamCalls()).toBe(before); // refused without reaching the server
  });
});
