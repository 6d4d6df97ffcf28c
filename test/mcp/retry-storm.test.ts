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

const { children, clients } = closeAfterEach();

describe("a retry storm against a failing MCP upstream", { timeout: 90_000 }, () => {
  it("three agents retrying every failure reach the upstream only within its retry budget", async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      mcpServers: { flaky: { command: NODE, args: [FLAKY], "x-agentSre": { shared: true } } },
      agentSre: {
        // The breakers stay out of it (they would cut the storm too): this measures the budget alone.
        breakers: { defaults: { failureThreshold: 1_000 } },
        retryBudget: { ratio: 0.2, minRetries: 2, windowMs: "10m" },
        // Retrying the same call is what this test does: keep the loop rule out of it too.
        loops: { scope: "off" },
      },
    });
    const proxy = startNode([CLI, "proxy", "--config", config, "--no-stdio", "--http", "127.0.0.1:0"]);
    children.push(proxy);
    const url = (await proxy.waitFor(/serving Streamable HTTP on (http:\S+\/mcp)/))[1] as string;
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
    const admin = await connect("admin");
    await admin.callTool({ name: "set_broken", arguments: { broken: true } });
    const callsBefore = JSON.parse(textOf(await admin.callTool({ name: "stats", arguments: {} })))
      .calls as number;

    const TASKS = 10;
    const MAX_ATTEMPTS = 4;
    const refusals: string[] = [];
    let attempts = 0;
    // Each agent works through its tasks; every failed call is retried up to 3 times, tagged as a retry.
    const agent = async (name: string) => {
      const client = await connect(name);
      for (let task = 0; task < TASKS; task++) {
        for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
          attempts++;
          const result = await client.callTool({
            name: "flaky",
            arguments: { n: task },
            _meta: { "io.github.agent-sre/attempt": attempt, "io.github.agent-sre/task": `${name}-${task}` },
          });
          if (!result.isError) break;
          const code = decisionOf(result).code;
          if (typeof code === "string") refusals.push(code);
        }
      }
    };
    await Promise.all(["agent-a", "agent-b", "agent-c"].map(agent));

    const reached =
      (JSON.parse(textOf(await admin.callTool({ name: "stats", arguments: {} }))).calls as number) -
      callsBefore;
    const firstAttempts = 3 * TASKS;
    // 30 first attempts + at most 2 + 0.2 × 30 = 8 retries, of the 90 retries the agents tried.
    expect(attempts).toBe(3 * TASKS * MAX_ATTEMPTS);
    expect(reached).toBeLessThanOrEqual(firstAttempts + 8);
    expect(reached).toBeGreaterThanOrEqual(firstAttempts);
    expect(refusals.filter((c) => c === "RETRY_BUDGET_EXCEEDED")).toHaveLength(attempts - reached);
    console.log(
      `retry storm: ${attempts} attempts (${firstAttempts} first, ${attempts - firstAttempts} retries) → ${reached} reached the upstream; ${refusals.length} retries refused (RETRY_BUDGET_EXCEEDED)`,
    );
  });
});
