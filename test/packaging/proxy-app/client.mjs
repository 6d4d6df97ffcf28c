// An MCP client of the installed `agent-sre proxy` (from @agent-sre/cli's bin), printing what it saw as JSON.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const bin = new URL("./node_modules/@agent-sre/cli/bin/agent-sre.js", import.meta.url).pathname;
const transport = new StdioClientTransport({
  command: process.execPath,
  args: [bin, "proxy", "--config", "agent-sre.config.json", "--log-level", "error"],
  cwd: new URL(".", import.meta.url).pathname,
});
const client = new Client({ name: "packaging-test", version: "1.0.0" });
await client.connect(transport);
const echo = await client.callTool({ name: "echo", arguments: { text: "hi" } });
const shell = await client.callTool({ name: "shell_exec", arguments: { command: "id" } });
await client.close();
const text = (result) => result.content?.[0]?.text;
console.log(
  JSON.stringify({
    echo: text(echo),
    shell: {
      isError: shell.isError,
      text: text(shell),
      code: shell._meta?.["io.github.agent-sre/decision"]?.code,
    },
  }),
);
