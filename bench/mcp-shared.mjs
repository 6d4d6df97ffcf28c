// Shared setup of the MCP proxy benchmarks (bench/mcp-proxy.mjs, bench/mcp-proxy-load.mjs): real process
// trees of our test MCP server, the agent-sre proxy in front of it, and SDK clients.
import { spawn } from "node:child_process";
import { setMaxListeners } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
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
    /** Everything the process wrote to stdout and stderr so far. */
    output: () => output,
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

/**
 * Keeps every HTTP client connection of this process idle for up to 60 s between bursts, whatever the server
 * says. Node's fetch (undici) keeps an idle connection for the server's `Keep-Alive: timeout=N` hint, or 4 s
 * when there is none: the proxy sends one (65 s), the SDK's server transport sets `Connection: keep-alive`
 * itself, which stops Node's server from adding the hint. Without this, the direct client opens 2,000 fresh
 * connections every burst and closes them 4 s later, in the middle of whichever burst runs then (the
 * "bimodal" rounds of the load bench; see bench/RESULTS.md, issue 17, session 7). Node 20 has no public
 * Agent: the global dispatcher's own class is used, found once a first fetch has made it.
 */
export async function keepConnections(idleMs = 60_000) {
  const key = Symbol.for("undici.globalDispatcher.1");
  if (globalThis[key] === undefined) await fetch("http://127.0.0.1:1/").catch(() => {});
  const previous = globalThis[key];
  const Agent = previous?.constructor;
  if (typeof Agent !== "function") throw new Error("no undici dispatcher to copy");
  const agent = new Agent({ keepAliveTimeout: idleMs, keepAliveMaxTimeout: idleMs });
  globalThis[key] = agent;
  /**
   * Puts the previous dispatcher back and destroys this one: its pools keep a client object per connection
   * ever opened (2,000 a burst) and the connections themselves for a minute, in the shared heap of `pnpm bench`.
   */
  return async () => {
    if (globalThis[key] === agent) globalThis[key] = previous;
    await agent.destroy().catch(() => {});
  };
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
export async function startHttpServer({ nodeOptions = [] } = {}) {
  const server = spawnNode([SERVER, "--http", "0"], nodeOptions);
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

// Per-burst probes of the benchmark's processes (Linux /proc), for `node bench/mcp-proxy-load.mjs --trace`:
// CPU, time spent waiting for a core (runqueue), involuntary switches, open sockets, the TCP connections of a
// port by state, and GC pauses read from a process's `--trace-gc` output.

function read(path) {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** A snapshot of one process: CPU ms, runqueue wait ms of all its threads, switches, sockets. */
export function probe(pid) {
  const stat = read(`/proc/${pid}/stat`).split(") ")[1]?.split(" ") ?? [];
  const cpuMs = (Number(stat[11]) + Number(stat[12])) * 10;
  let waitMs = 0;
  let mainWaitMs = 0;
  let involuntary = 0;
  let threads = [];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {}
  for (const tid of threads) {
    const sched = read(`/proc/${pid}/task/${tid}/schedstat`).split(" ");
    const wait = Number(sched[1]) / 1e6;
    waitMs += wait;
    if (tid === String(pid)) mainWaitMs = wait;
    const status = read(`/proc/${pid}/task/${tid}/status`);
    involuntary += Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }
  let sockets = 0;
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) sockets++;
      } catch {}
    }
  } catch {}
  return { cpuMs, waitMs, mainWaitMs, involuntary, sockets };
}

/** Counts of IPv4 TCP entries whose local or remote port is `port`, by state (ESTABLISHED, TIME_WAIT…). */
export function tcpStates(port) {
  const names = { "01": "est", "06": "timeWait", "08": "closeWait", "0A": "listen" };
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const out = { est: 0, timeWait: 0, closeWait: 0, other: 0 };
  for (const line of read("/proc/net/tcp").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    if (!f[1].endsWith(`:${hex}`) && !f[2].endsWith(`:${hex}`)) continue;
    const name = names[f[3]] ?? "other";
    if (name === "listen") continue;
    out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}

const GC_LINE =
  /(Scavenge|Mark-Compact|Mark-sweep|Mark-Compact \(reduce\)|Minor Mark-Compact)[^\n]*?MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ ([\d.]+) ms/g;

/** GC pauses in `--trace-gc` text: count and total ms of scavenges and of full collections. */
export function gcIn(text) {
  const out = { scavenges: 0, scavengeMs: 0, fulls: 0, fullMs: 0 };
  for (const m of text.matchAll(GC_LINE)) {
    if (m[1] === "Scavenge") {
      out.scavenges++;
      out.scavengeMs += Number(m[2]);
    } else {
      out.fulls++;
      out.fullMs += Number(m[2]);
    }
  }
  return out;
}

/** Difference of two probes (after − before). */
export function delta(after, before) {
  const out = {};
  for (const key of Object.keys(after)) out[key] = after[key] - before[key];
  out.sockets = after.sockets; // a level, not a count
  return out;
}
