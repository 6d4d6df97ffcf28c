// MCP proxy benchmarks: the latency `agent-sre proxy` adds to one tools/call, over stdio and over Streamable
// HTTP, against the same upstream called directly, all in one run; and calls per second through one proxy.
//
// Every scenario is a real process tree: an SDK Client → (agent-sre proxy process) → our test MCP server
// process. Rounds are interleaved across scenarios so machine noise hits them alike; per-call latencies of
// all rounds are pooled and the p50/p99 reported, plus the p50 added over the direct path.
import { McpProxy, silentLogger } from "@agent-sre/mcp-proxy";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import {
  CLI,
  httpClient,
  NODE,
  nextCall,
  SERVER,
  startHttpProxy,
  startHttpServer,
  stdioClient,
} from "./mcp-shared.mjs";

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

/** An in-process upstream and proxy: the proxy's own CPU cost per call, without pipes or sockets. */
async function inMemory(viaProxy) {
  const upstream = () => {
    const server = new McpServer({ name: "mem", version: "1" });
    server.registerTool("echo", { inputSchema: { text: z.string() } }, async ({ text }) => ({
      content: [{ type: "text", text: `echo: ${text}` }],
    }));
    return server;
  };
  const client = new Client({ name: "bench", version: "1" }, { capabilities: {} });
  if (!viaProxy) {
    const [a, b] = InMemoryTransport.createLinkedPair();
    await upstream().connect(b);
    await client.connect(a);
    return { client, close: () => client.close() };
  }
  const proxy = new McpProxy({
    logger: silentLogger,
    upstreams: [
      {
        name: "mem",
        transport: {
          type: "custom",
          connect: async () => {
            const [a, b] = InMemoryTransport.createLinkedPair();
            await upstream().connect(b);
            return a;
          },
        },
      },
    ],
  });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await proxy.connect(b);
  await client.connect(a);
  return {
    client,
    close: async () => {
      await client.close();
      await proxy.close();
    },
  };
}

export async function run({ quick = false } = {}) {
  const calls = quick ? 300 : 2_000;
  const rounds = quick ? 3 : 5;
  const warmup = quick ? 200 : 1_000;
  const sections = [];
  const cleanups = [];
  try {
    // ---- Process trees -------------------------------------------------------------------------------
    const directHttpServer = await startHttpServer();
    cleanups.push(() => directHttpServer.kill());
    const directUrl = directHttpServer.url;
    const proxyHttp = await startHttpProxy();
    cleanups.push(() => proxyHttp.kill());
    const proxyToRemote = await startHttpProxy({ upstreamUrl: directUrl });
    cleanups.push(() => proxyToRemote.kill());

    const scenarios = [
      { name: "stdio: client → server (direct)", client: await stdioClient([SERVER]) },
      {
        name: "stdio: client → agent-sre proxy → server",
        baseline: 0,
        client: await stdioClient([CLI, "proxy", "--", NODE, SERVER]),
        target: "≤ 0.3 ms p50 added",
      },
      { name: "HTTP: client → server over HTTP (direct)", client: await httpClient(directUrl) },
      {
        name: "HTTP: client → proxy (HTTP) → server (stdio)",
        baseline: 2,
        client: await httpClient(proxyHttp.url),
        target: "≤ 1 ms p50 added",
      },
      {
        name: "HTTP: client → proxy (HTTP) → server (HTTP)",
        baseline: 2,
        client: await httpClient(proxyToRemote.url),
        target: "(two HTTP hops)",
      },
    ];
    const memDirect = await inMemory(false);
    const memProxy = await inMemory(true);
    cleanups.push(
      () => memDirect.close(),
      () => memProxy.close(),
    );
    scenarios.push(
      { name: "in-process: client → server (in-memory)", client: memDirect.client },
      {
        name: "in-process: client → McpProxy → server",
        baseline: 5,
        client: memProxy.client,
        target: "proxy CPU per call",
      },
    );
    for (const s of scenarios.slice(0, 5)) cleanups.push(() => s.client.close());

    for (const s of scenarios) {
      for (let i = 0; i < warmup; i++) {
        const result = await s.client.callTool(nextCall());
        if (result.isError) throw new Error(`${s.name}: the call failed: ${JSON.stringify(result.content)}`);
      }
    }
    const samples = scenarios.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < scenarios.length; k++) {
        const client = scenarios[k].client;
        const out = samples[k];
        for (let i = 0; i < calls; i++) {
          const start = process.hrtime.bigint();
          await client.callTool(nextCall());
          out.push(Number(process.hrtime.bigint() - start) / 1e6);
        }
      }
    }
    const stats = samples.map((values) => {
      const sorted = [...values].sort((a, b) => a - b);
      return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
    });
    const lines = [
      "### Latency per tools/call (sequential calls; real processes unless in-process)",
      "",
      "| path | p50 ms | p99 ms | p50 added ms | target |",
      "|---|---:|---:|---:|---|",
    ];
    scenarios.forEach((s, k) => {
      const delta = s.baseline === undefined ? undefined : stats[k].p50 - stats[s.baseline].p50;
      const added = delta === undefined ? "—" : `${delta >= 0 ? "+" : ""}${delta.toFixed(3)}`;
      lines.push(
        `| ${s.name} | ${stats[k].p50.toFixed(3)} | ${stats[k].p99.toFixed(3)} | ${added} | ${s.target ?? ""} |`,
      );
    });
    sections.push(lines.join("\n"));

    // ---- Throughput: concurrent callers through one proxy process ------------------------------------
    const throughputCalls = quick ? 2_000 : 10_000;
    const throughputRows = [
      "### Calls per second through one proxy process",
      "",
      "| path | concurrency | calls/s |",
      "|---|---:|---:|",
    ];
    for (const [name, client] of [
      ["stdio proxy", scenarios[1].client],
      ["HTTP proxy (stdio upstream)", scenarios[3].client],
    ]) {
      for (const concurrency of [1, 16]) {
        let next = 0;
        const start = process.hrtime.bigint();
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next++ < throughputCalls) await client.callTool(nextCall());
          }),
        );
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        throughputRows.push(`| ${name} | ${concurrency} | ${Math.round(throughputCalls / seconds)} |`);
      }
    }
    sections.push(throughputRows.join("\n"));
    return { sections };
  } finally {
    // Also when a call fails: the process trees and clients would otherwise outlive the suite.
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {});
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { sections } = await run({ quick: process.argv.includes("--quick") });
  console.log(sections.join("\n\n"));
  process.exit(0);
}
