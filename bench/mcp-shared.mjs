// Shared setup of the MCP proxy benchmarks (bench/mcp-proxy.mjs, bench/mcp-proxy-load.mjs): real process
// trees of our test MCP server, the agent-sre proxy in front of it, and SDK clients.
import { spawn } from "node:child_process";
import { setMaxListeners } from "node:events";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

// The SDK's Streamable HTTP client hands one AbortSignal to every fetch; undici unregisters its listener
// only when the request is collected, so concurrent callers trip Node's leak warning. Not a leak: lift it.
setMaxListeners(0);

const here = dirname(fileURLToPath(import.meta.url));
export const CLI = join(here, "..", "packages", "cli", "bin", "agent-sre.js");
export const SERVER = join(here, "..", "test", "mcp", "servers", "flaky-server.mjs");
export const NODE = process.execPath;
const ENV = { PATH: process.env.PATH ?? "" };

// Arguments differ per call: identical calls in a row are what the proxy's loop detection refuses.
let sequence = 0;
export const nextCall = () => ({ name: "echo", arguments: { text: `benchmark payload ${sequence++}` } });

/** A node process whose stdout+stderr can be awaited for a line matching a pattern. */
export function spawnNode(args, nodeOptions = []) {
  const child = spawn(NODE, [...nodeOptions, ...args], {
    env: { ...process.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const waiters = new Set();
  const check = () => {
    for (const waiter of waiters) {
      const match = waiter.pattern.exec(output);
      if (match) {
        waiters.delete(waiter);
        waiter.resolve(match);
      }
    }
  };
  const onData = (chunk) => {
    output += chunk.toString("utf8");
    check();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  child.on("exit", () => {
    for (const waiter of waiters) waiter.reject(new Error(`process exited: ${output}`));
    waiters.clear();
  });
  const waitFor = (pattern, timeoutMs = 30_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${pattern}: ${output}`));
      }, timeoutMs);
      const waiter = {
        pattern,
        resolve: (match) => {
          clearTimeout(timer);
          resolve(match);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      waiters.add(waiter);
      if (child.exitCode !== null) waiter.reject(new Error(`process exited: ${output}`));
      else check();
    });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    child,
    waitFor,
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** Peak and current resident set of a process (Linux /proc), in MB. */
export function memoryMb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name) =>
      Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) / 1024;
    return { peak: field("VmHWM"), now: field("VmRSS") };
  } catch {
    return { peak: Number.NaN, now: Number.NaN };
  }
}

export async function stdioClient(args) {
  const client = new Client({ name: "bench", version: "1" }, { capabilities: {} });
  await client.connect(new StdioClientTransport({ command: NODE, args, env: ENV, stderr: "ignore" }), {
    timeout: 60_000,
  });
  return client;
}

export async function httpClient(url) {
  const client = new Client({ name: "bench", version: "1" }, { capabilities: {} });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)), { timeout: 60_000 });
  return client;
}

/** Our test MCP server over Streamable HTTP, directly. */
export async function startHttpServer() {
  const server = spawnNode([SERVER, "--http", "0"]);
  const url = (await server.waitFor(/listening (http:\S+)/))[1];
  return { ...server, url };
}

/**
 * `agent-sre proxy --http` in front of our test server: over stdio (a child per session, the default) when
 * `upstreamUrl` is undefined, else over HTTP to that URL. `nodeOptions` go to the proxy's node (profiling);
 * `cli` is the agent-sre entry to run (another build's, for paired comparisons).
 */
export async function startHttpProxy({ upstreamUrl, nodeOptions = [], cli = CLI } = {}) {
  const args = ["proxy", "--no-stdio", "--http", "127.0.0.1:0", "--log-level", "info"];
  if (upstreamUrl === undefined) args.push("--", NODE, SERVER);
  else {
    const config = join(mkdtempSync(join(tmpdir(), "agent-sre-bench-")), "agent-sre.config.json");
    writeFileSync(config, JSON.stringify({ mcpServers: { remote: { type: "http", url: upstreamUrl } } }));
    args.push("--config", config);
  }
  const proxy = spawnNode([cli, ...args], nodeOptions);
  const url = (await proxy.waitFor(/serving Streamable HTTP on (http:\S+)/))[1];
  return { ...proxy, url };
}
