import { type ReplaySession, reviveError } from "@agent-sre/core";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { ProxyUpstream } from "./proxy.js";

/** How the proxy's tool calls appear in a trace (`api` of their call lines). */
export const MCP_API = { api: "mcp", responseOnError: true } as const;

/** What the proxy records about the tools of a run (header `meta.tools`, by exposed name). */
export interface RecordedTool {
  server: string;
  upstreamName: string;
  description?: string;
  inputSchema?: Tool["inputSchema"];
}

export interface ReplayUpstreamOptions {
  /** The upstream's name in the proxy (default: the recorded server of the first tool, else `"replay"`). */
  name?: string;
}

/**
 * An upstream for the proxy that answers `tools/call` from a recorded trace instead of a server: it lists
 * the recorded tools (definitions from the trace's header, else the names called) and answers each call with
 * its recorded result after comparing its arguments with the recording. A different call or arguments is
 * answered with an MCP error carrying the divergence (and the session reports it). No process is started.
 *
 * ```ts
 * const session = new ReplaySession(trace);
 * const proxy = new McpProxy({ upstreams: [replayUpstream(session)], sre: new AgentSRE({ clock: session.clock }) });
 * ```
 */
export function replayUpstream(session: ReplaySession, options: ReplayUpstreamOptions = {}): ProxyUpstream {
  const recorded = (session.trace.header.meta?.tools ?? {}) as Record<string, RecordedTool>;
  const name = options.name ?? Object.values(recorded)[0]?.server ?? "replay";
  // Upstream name → the exposed name the recording called it by.
  const exposedByUpstream = new Map<string, string>();
  const tools: Tool[] = [];
  for (const [exposed, tool] of Object.entries(recorded)) {
    if (tool.server !== name) continue;
    exposedByUpstream.set(tool.upstreamName, exposed);
    tools.push({
      name: tool.upstreamName,
      ...(tool.description === undefined ? {} : { description: tool.description }),
      inputSchema: tool.inputSchema ?? { type: "object" },
    });
  }
  if (tools.length === 0) {
    for (const step of session.trace.calls) {
      if (step.kind !== "tool" || exposedByUpstream.has(step.name)) continue;
      exposedByUpstream.set(step.name, step.name);
      tools.push({ name: step.name, inputSchema: { type: "object" } });
    }
  }
  const connect = async () => {
    const [client, server] = InMemoryTransport.createLinkedPair();
    const mcp = new Server({ name: `replay:${name}`, version: "1.0.0" }, { capabilities: { tools: {} } });
    mcp.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }));
    mcp.setRequestHandler(CallToolRequestSchema, async (request): Promise<CallToolResult> => {
      const upstreamName = request.params.name;
      const exposed = exposedByUpstream.get(upstreamName) ?? upstreamName;
      let step: ReturnType<ReplaySession["answer"]>;
      try {
        step = session.answer({
          kind: "tool",
          name: exposed,
          request: request.params.arguments ?? {},
          api: MCP_API.api,
        });
      } catch (error) {
        throw new McpError(ErrorCode.InternalError, (error as Error).message);
      }
      if (step.response !== undefined) return step.response as CallToolResult;
      const error = step.error === undefined ? new Error("no recorded result") : reviveError(step.error);
      throw new McpError(ErrorCode.InternalError, error.message);
    });
    await mcp.connect(server);
    return client;
  };
  return { name, transport: { type: "custom", connect } };
}
