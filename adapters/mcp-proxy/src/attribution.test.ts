// Breakers attribute failures in the proxy: an upstream (a real low-level SDK `Server`, as servers that
// validate their own parameters are written) answering an agent's bad request with JSON-RPC -32602 counts
// against that agent only; the upstream failing (-32603, a crash) counts against the shared tool and
// upstream breakers, for every agent.
import { AgentSRE, ManualClock } from "@agent-sre/core";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "./logger.js";
import { McpProxy } from "./proxy.js";
import { DECISION_META_KEY } from "./refusal.js";
import { connectClient } from "./test-utils/client.js";

const FAILURES = 3;
const proxies: McpProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

/** An upstream with one tool, `lookup {id: number}`, that checks its own parameters. */
function strictUpstream() {
  const state = { down: false, calls: 0 };
  const connect = async () => {
    const server = new Server({ name: "strict", version: "1.0.0" }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [
        {
          name: "lookup",
          inputSchema: { type: "object", properties: { id: { type: "number" } }, required: ["id"] },
        },
      ],
    }));
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      state.calls++;
      const id = request.params.arguments?.id;
      if (typeof id !== "number") throw new McpError(ErrorCode.InvalidParams, "id must be a number");
      if (state.down) throw new McpError(ErrorCode.InternalError, "database unavailable");
      // The tool's own answer about the request: there is no such record.
      if (id < 0) return { content: [{ type: "text", text: `no record ${id}` }], isError: true };
      return { content: [{ type: "text", text: `record ${id}` }] };
    });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    return clientSide;
  };
  return { state, spec: { type: "custom" as const, connect } };
}

function codeOf(result: { _meta?: Record<string, unknown> }): string | undefined {
  return (result._meta?.[DECISION_META_KEY] as { code?: string } | undefined)?.code;
}

function setup(isErrorClass?: "caller" | "provider" | "ignore") {
  const sre = new AgentSRE({
    clock: new ManualClock(),
    breakers: { defaults: { failureThreshold: FAILURES, recoveryTimeoutMs: "1h" } },
  });
  const up = strictUpstream();
  const proxy = new McpProxy({
    upstreams: [{ name: "up", transport: up.spec, ...(isErrorClass === undefined ? {} : { isErrorClass }) }],
    sre,
    logger: silentLogger,
  });
  proxies.push(proxy);
  return { sre, up, proxy };
}

describe("the proxy attributes failures", () => {
  it("an agent's invalid params (-32602) count against its own breaker, not the tool's or the upstream's", async () => {
    const { sre, up, proxy } = setup();
    const sloppy = await connectClient(proxy, { name: "sloppy" });
    const careful = await connectClient(proxy, { name: "careful" });
    for (let i = 0; i < FAILURES; i++) {
      await expect(sloppy.client.callTool({ name: "lookup", arguments: { id: "x" } })).rejects.toThrow(
        /-32602/,
      );
    }
    expect(sre.breakers.get("tool:lookup").state).toBe("CLOSED");
    expect(sre.breakers.get("upstream:up").state).toBe("CLOSED");
    expect(sre.breakers.get("agent:sloppy").state).toBe("OPEN");
    const refused = await sloppy.client.callTool({ name: "lookup", arguments: { id: 1 } });
    expect(codeOf(refused)).toBe("CIRCUIT_OPEN");
    const calls = up.state.calls;
    const answer = await careful.client.callTool({ name: "lookup", arguments: { id: 7 } });
    expect(answer.isError).not.toBe(true);
    expect(up.state.calls).toBe(calls + 1);
  });

  it("an isError result is the caller's by default: the agent's own breaker opens, the tool stays up for others", async () => {
    const { sre, up, proxy } = setup();
    const sloppy = await connectClient(proxy, { name: "sloppy" });
    const careful = await connectClient(proxy, { name: "careful" });
    for (let i = 0; i < FAILURES; i++) {
      const answer = await sloppy.client.callTool({ name: "lookup", arguments: { id: -1 - i } });
      expect(answer.isError).toBe(true);
      expect(codeOf(answer)).toBeUndefined(); // the tool's own answer, passed through
    }
    expect(sre.breakers.get("tool:lookup").state).toBe("CLOSED");
    expect(sre.breakers.get("upstream:up").state).toBe("CLOSED");
    expect(sre.breakers.get("agent:sloppy").state).toBe("OPEN");
    const calls = up.state.calls;
    expect((await careful.client.callTool({ name: "lookup", arguments: { id: 7 } })).isError).not.toBe(true);
    expect(up.state.calls).toBe(calls + 1);
  });

  it("isErrorClass provider (a server that reports its outages as isError): the shared tool breaker opens", async () => {
    const { sre, up, proxy } = setup("provider");
    const first = await connectClient(proxy, { name: "first" });
    const second = await connectClient(proxy, { name: "second" });
    for (let i = 0; i < FAILURES; i++) {
      expect((await first.client.callTool({ name: "lookup", arguments: { id: -1 - i } })).isError).toBe(true);
    }
    expect(sre.breakers.get("tool:lookup").state).toBe("OPEN");
    expect(sre.breakers.get("upstream:up").state).toBe("CLOSED");
    expect(sre.breakers.get("agent:first").state).toBe("CLOSED");
    const calls = up.state.calls;
    expect(codeOf(await second.client.callTool({ name: "lookup", arguments: { id: 1 } }))).toBe(
      "CIRCUIT_OPEN",
    );
    expect(up.state.calls).toBe(calls);
  });

  it("isErrorClass ignore: isError results open no breaker, and still fail the call for SLOs", async () => {
    const { sre, proxy } = setup("ignore");
    const agent = await connectClient(proxy, { name: "agent" });
    for (let i = 0; i < FAILURES + 1; i++) {
      expect((await agent.client.callTool({ name: "lookup", arguments: { id: -1 - i } })).isError).toBe(true);
    }
    expect(sre.breakers.openCircuits()).toEqual([]);
    expect(sre.status().agents.agent?.failed).toBe(FAILURES + 1);
  });

  it("the upstream failing (-32603) opens the shared breakers for every agent", async () => {
    const { sre, up, proxy } = setup();
    const first = await connectClient(proxy, { name: "first" });
    const second = await connectClient(proxy, { name: "second" });
    up.state.down = true;
    for (let i = 0; i < FAILURES; i++) {
      await expect(first.client.callTool({ name: "lookup", arguments: { id: i } })).rejects.toThrow(/-32603/);
    }
    expect(sre.breakers.get("tool:lookup").state).toBe("OPEN");
    expect(sre.breakers.get("agent:first").state).toBe("CLOSED");
    const calls = up.state.calls;
    const refused = await second.client.callTool({ name: "lookup", arguments: { id: 1 } });
    expect(codeOf(refused)).toBe("CIRCUIT_OPEN");
    expect(up.state.calls).toBe(calls);
  });
});
