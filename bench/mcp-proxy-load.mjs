// MCP proxy under load: 2,000 concurrent tools/call over Streamable HTTP, through one proxy process, against
// the same server called directly over HTTP; wall time per burst (median of rounds) and the proxy's peak RSS.
//
// Real process trees: one SDK client session → (agent-sre proxy --http) → our test MCP server, over stdio
// (the proxy's default: a child per session) and over HTTP.
import { spawn } from "node:child_process";
import { setMaxListeners } from "node:events";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

setMaxListeners(0);

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, "..", "packages", "cli", "bin", "agent-sre.js");
const SERVER = join(here, "..", "test", "mcp", "servers", "flaky-server.mjs");
const NODE = process.execPath;
let sequence = 0;

function spawnNode(args) {
  const child = spawn(NODE, args, { env: { ...process.env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const onData = (chunk) => {
    output += chunk.toString("utf8");
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const waitFor = (pattern, timeoutMs = 30_000) =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const poll = () => {
        const match = pattern.exec(output);
        if (match) return resolve(match);
        if (child.exitCode !== null) return reject(new Error(`process exited: ${output}`));
        if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${pattern}`));
        setTimeout(poll, 20);
      };
      poll();
    });
  return { child, waitFor, kill: () => child.exitCode === null && child.kill("SIGTERM") };
}

/** Peak and current resident set of a process (Linux /proc), in MB. */
function memoryMb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name) =>
      Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) / 1024;
    return { peak: field("VmHWM"), now: field("VmRSS") };
  } catch {
    return { peak: Number.NaN, now: Number.NaN };
  }
}

async function httpClient(url) {
  const client = new Client({ name: "bench-load", version: "1" }, { capabilities: {} });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)), { timeout: 60_000 });
  return client;
}

async function burst(client, concurrency) {
  const start = process.hrtime.bigint();
  const results = await Promise.all(
    Array.from({ length: concurrency }, () =>
      client.callTool({ name: "echo", arguments: { text: `load ${sequence++}` } }, undefined, {
        timeout: 120_000,
      }),
    ),
  );
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const failed = results.filter((r) => r.isError).length;
  if (failed > 0)
    throw new Error(
      `${failed} of ${concurrency} calls failed: ${JSON.stringify(results.find((r) => r.isError))}`,
    );
  return ms;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function run({ quick = false } = {}) {
  const concurrency = 2_000;
  const rounds = quick ? 3 : 7;
  const cleanups = [];
  try {
    const direct = spawnNode([SERVER, "--http", "0"]);
    cleanups.push(() => direct.kill());
    const directUrl = (await direct.waitFor(/listening (http:\S+)/))[1];

    const stdioProxy = spawnNode([CLI, "proxy", "--no-stdio", "--http", "127.0.0.1:0", "--", NODE, SERVER]);
    cleanups.push(() => stdioProxy.kill());
    const stdioProxyUrl = (await stdioProxy.waitFor(/serving Streamable HTTP on (http:\S+)/))[1];

    const dir = mkdtempSync(join(tmpdir(), "agent-sre-bench-load-"));
    const config = join(dir, "agent-sre.config.json");
    writeFileSync(config, JSON.stringify({ mcpServers: { remote: { type: "http", url: directUrl } } }));
    const httpProxy = spawnNode([CLI, "proxy", "--config", config, "--no-stdio", "--http", "127.0.0.1:0"]);
    cleanups.push(() => httpProxy.kill());
    const httpProxyUrl = (await httpProxy.waitFor(/serving Streamable HTTP on (http:\S+)/))[1];

    const scenarios = [
      { name: "client → server over HTTP (direct)", client: await httpClient(directUrl) },
      {
        name: "client → proxy (HTTP) → server (stdio)",
        client: await httpClient(stdioProxyUrl),
        pid: stdioProxy.child.pid,
      },
      {
        name: "client → proxy (HTTP) → server (HTTP)",
        client: await httpClient(httpProxyUrl),
        pid: httpProxy.child.pid,
      },
    ];
    for (const s of scenarios) cleanups.push(() => s.client.close());
    for (const s of scenarios) {
      s.samples = [];
      await burst(s.client, 200); // warm-up
    }
    for (let round = 0; round < rounds; round++) {
      for (const s of scenarios) {
        try {
          s.samples.push(await burst(s.client, concurrency));
        } catch (error) {
          throw new Error(`${s.name}: ${error.message} (${error.cause?.code ?? ""})`);
        }
      }
    }
    const base = median(scenarios[0].samples);
    const lines = [
      `### ${concurrency.toLocaleString("en")} concurrent tools/call over Streamable HTTP (one client session)`,
      "",
      "| path | burst ms (median) | × direct | proxy peak RSS MB | target |",
      "|---|---:|---:|---:|---|",
    ];
    for (const s of scenarios) {
      const ms = median(s.samples);
      const rss = s.pid === undefined ? "—" : memoryMb(s.pid).peak.toFixed(0);
      const target = s.pid === undefined ? "" : "≤ 1.3× direct, ≤ 150 MB";
      lines.push(`| ${s.name} | ${ms.toFixed(0)} | ${(ms / base).toFixed(2)}× | ${rss} | ${target} |`);
    }
    return { sections: [lines.join("\n")] };
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {});
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { sections } = await run({ quick: process.argv.includes("--quick") });
  console.log(sections.join("\n\n"));
  process.exit(0);
}
