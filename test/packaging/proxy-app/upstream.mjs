// A small stdio MCP server: the upstream the installed `agent-sre proxy` guards.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const server = new McpServer({ name: "upstream", version: "1.0.0" });
server.registerTool("echo", { inputSchema: { text: z.string() } }, async ({ text }) => ({
  content: [{ type: "text", text: `echo: ${text}` }],
}));
server.registerTool("shell_exec", { inputSchema: { command: z.string() } }, async () => ({
  content: [{ type: "text", text: "the shell ran" }],
}));
await server.connect(new StdioServerTransport());
