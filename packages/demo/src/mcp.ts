/**
 * The MCP gateway of the fleet: our proxy (`@agent-sre/mcp-proxy`, sharing the fleet's engine) in front of
 * two real MCP servers started as child processes over stdio — our inventory server, which can misbehave,
 * and `@modelcontextprotocol/server-everything` from npm. Agents reach the tools through one real MCP client
 * session; each call names its agent and task in `_meta`, as any MCP client can.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AgentSRE } from "@agent-sre/core";
import { DECISION_META_KEY, McpProxy, MemoryAuditSink, silentLogger } from "@agent-sre/mcp-proxy";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { jsonSchema, type Tool, tool } from "ai";

const AGENT_META = "io.github.agent-sre/agent";
const TASK_META = "io.github.agent-sre/task";
const ATTEMPT_META = "io.github.agent-sre/attempt";

/** Path of the built inventory server (also when this module runs from source under a test runner). */
export function inventoryServerPath(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".js")) return join(dirname(here), "servers", "inventory-server.js");
  return join(dirname(here), "..", "dist", "servers", "inventory-server.js");
}

export function everythingServerPath(): string {
  const require = createRequire(import.meta.url);
  return join(
    dirname(require.resolve("@modelcontextprotocol/server-everything/package.json")),
    "dist",
    "index.js",
  );
}

export interface McpCallOutcome {
  ok: boolean;
  text: string;
  /** The guard's decision code when the proxy refused or failed the call (`CIRCUIT_OPEN`, ...). */
  code: string | undefined;
}

export interface Gateway {
  proxy: McpProxy;
  client: Client;
  audit: MemoryAuditSink;
  /** Takes the inventory database down (`true`) or brings it back. */
  setInventoryDown(down: boolean): void;
  /** Calls a tool through the proxy as `agentId` (and `taskId`); `attempt` > 1 tags a retry. */
  call(
    agentId: string,
    name: string,
    args: Record<string, unknown>,
    taskId?: string,
    attempt?: number,
  ): Promise<McpCallOutcome>;
  /** The proxied tools as AI SDK tools of `agentId`; a failed call throws, so the model sees a tool error. */
  aiTools(agentId: string, names: string[], taskId?: () => string | undefined): Promise<Record<string, Tool>>;
  close(): Promise<void>;
}

export async function startGateway(sre: AgentSRE): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), "agent-sre-demo-"));
  const faultFile = join(dir, "inventory.fault");
  writeFileSync(faultFile, "up");
  const audit = new MemoryAuditSink();
  const proxy = new McpProxy({
    upstreams: [
      {
        name: "inventory",
        transport: {
          type: "stdio",
          command: process.execPath,
          args: [inventoryServerPath()],
          env: { INVENTORY_FAULT_FILE: faultFile },
        },
        // Its isError results report its own database being down: failures of the tool, for every agent.
        isErrorClass: "provider",
      },
      {
        name: "everything",
        transport: {
          type: "stdio",
          command: process.execPath,
          args: [everythingServerPath(), "stdio"],
          env: {},
        },
      },
    ],
    sre,
    audit,
    logger: silentLogger,
  });
  const [clientSide, proxySide] = InMemoryTransport.createLinkedPair();
  await proxy.connect(proxySide);
  const client = new Client({ name: "agent-fleet", version: "1.0.0" });
  await client.connect(clientSide);

  const call: Gateway["call"] = async (agentId, name, args, taskId, attempt) => {
    const _meta: Record<string, unknown> = { [AGENT_META]: agentId };
    if (taskId !== undefined) _meta[TASK_META] = taskId;
    if (attempt !== undefined && attempt > 1) _meta[ATTEMPT_META] = attempt;
    const result = await client.callTool({ name, arguments: args, _meta });
    const content = (result.content ?? []) as Array<{ type: string; text?: string }>;
    const text = content.map((part) => part.text ?? "").join("");
    const decision = (result._meta?.[DECISION_META_KEY] ?? undefined) as { code?: string } | undefined;
    return { ok: result.isError !== true, text, code: decision?.code };
  };

  let listed: Awaited<ReturnType<Client["listTools"]>> | undefined;
  return {
    proxy,
    client,
    audit,
    setInventoryDown: (down) => writeFileSync(faultFile, down ? "down" : "up"),
    call,
    async aiTools(agentId, names, taskId) {
      listed ??= await client.listTools();
      const tools: Record<string, Tool> = {};
      for (const name of names) {
        const definition = listed.tools.find((t) => t.name === name);
        if (definition === undefined) throw new Error(`the gateway has no tool "${name}"`);
        tools[name] = tool({
          description: definition.description ?? name,
          inputSchema: jsonSchema(definition.inputSchema as Parameters<typeof jsonSchema>[0]),
          execute: async (args: unknown) => {
            const outcome = await call(agentId, name, args as Record<string, unknown>, taskId?.());
            if (!outcome.ok) throw new Error(outcome.text);
            return outcome.text;
          },
        });
      }
      return tools;
    },
    async close() {
      await client.close().catch(() => {});
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
