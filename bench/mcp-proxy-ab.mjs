// Paired A/B of MCP proxy builds or node flags under load: one upstream test server over HTTP, several
// `agent-sre proxy --http` processes side by side (one per variant), bursts of concurrent tools/call sent to
// each in turn, round after round (the order rotates), so every variant sees the same machine load.
// Reports per variant the median CPU per call of the proxy (the figure to compare on a shared machine), the
// median burst time, the server's CPU per call and the proxy's peak RSS after all rounds.
//
// node bench/mcp-proxy-ab.mjs [--rounds 6] [--calls 2000] [--stdio] \
//   --variant 'before=/path/to/other/checkout/packages/cli/bin/agent-sre.js' \
//   --variant 'after' --variant 'after, semi 4=:--max-semi-space-size=4'
// A variant is `label[=cli][:node flag,node flag]`; without a cli, this checkout's.
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import {
  CLI,
  httpClient,
  keepConnections,
  memoryMb,
  nextCall,
  startHttpProxy,
  startHttpServer,
} from "./mcp-shared.mjs";

function cpuMs(pid) {
  if (pid === process.pid) {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  }
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function parseArgs(argv) {
  const options = { rounds: 6, calls: 2_000, stdio: false, variants: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--rounds") options.rounds = Number(argv[++i]);
    else if (arg === "--calls") options.calls = Number(argv[++i]);
    else if (arg === "--stdio") options.stdio = true;
    else if (arg === "--verbose") continue;
    else if (arg === "--variant") {
      const spec = argv[++i];
      const colon = spec.indexOf(":");
      const head = colon < 0 ? spec : spec.slice(0, colon);
      const flags =
        colon < 0
          ? []
          : spec
              .slice(colon + 1)
              .split(",")
              .filter(Boolean);
      const [label, cli] = head.split("=");
      options.variants.push({ label, cli: cli === undefined || cli === "" ? CLI : cli, flags });
    } else throw new Error(`unknown argument ${arg}`);
  }
  if (options.variants.length === 0) options.variants.push({ label: "this checkout", cli: CLI, flags: [] });
  return options;
}

async function burst(client, calls) {
  return Promise.all(
    Array.from({ length: calls }, () => client.callTool(nextCall(), undefined, { timeout: 120_000 })),
  ).then((results) => {
    const failed = results.filter((r) => r.isError);
    if (failed.length > 0) throw new Error(`${failed.length} calls failed: ${JSON.stringify(failed[0])}`);
  });
}

const options = parseArgs(process.argv.slice(2));
await keepConnections(); // the same client connection reuse for every variant (see mcp-shared.mjs)
const cleanups = [];
try {
  const server = await startHttpServer();
  cleanups.push(() => server.kill());
  for (const variant of options.variants) {
    variant.proxy = await startHttpProxy({
      upstreamUrl: options.stdio ? undefined : server.url,
      nodeOptions: variant.flags,
      cli: variant.cli,
    });
    cleanups.push(() => variant.proxy.kill());
    variant.client = await httpClient(variant.proxy.url);
    cleanups.push(() => variant.client.close());
    await burst(variant.client, 200);
    Object.assign(variant, { ms: [], proxyCpu: [], serverCpu: [], clientCpu: [], peaks: [] });
  }
  const n = options.variants.length;
  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < n; k++) {
      const variant = options.variants[(round + k) % n];
      const pids = [process.pid, variant.proxy.child.pid, server.child.pid];
      const before = pids.map(cpuMs);
      const start = process.hrtime.bigint();
      await burst(variant.client, options.calls);
      variant.ms.push(Number(process.hrtime.bigint() - start) / 1e6);
      const used = pids.map((pid, i) => (cpuMs(pid) - before[i]) / options.calls);
      variant.clientCpu.push(used[0]);
      variant.proxyCpu.push(used[1]);
      variant.serverCpu.push(used[2]);
      variant.peaks.push(memoryMb(variant.proxy.child.pid).peak.toFixed(0));
    }
  }
  console.log(
    `${options.calls} concurrent tools/call × ${options.rounds} rounds, ${options.stdio ? "stdio" : "HTTP"} upstream`,
  );
  console.log(
    "| variant | proxy CPU ms/call (median) | min–max | burst ms (median) | server CPU ms/call | client CPU ms/call | proxy peak RSS MB |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|");
  for (const v of options.variants) {
    const range = `${Math.min(...v.proxyCpu).toFixed(2)}–${Math.max(...v.proxyCpu).toFixed(2)}`;
    console.log(
      `| ${v.label} | ${median(v.proxyCpu).toFixed(2)} | ${range} | ${median(v.ms).toFixed(0)} | ${options.stdio ? "(child)" : median(v.serverCpu).toFixed(2)} | ${median(v.clientCpu).toFixed(2)} | ${memoryMb(v.proxy.child.pid).peak.toFixed(0)} |`,
    );
  }
  if (process.argv.includes("--verbose")) {
    for (const v of options.variants) {
      const cpu = v.proxyCpu.map((c) => c.toFixed(2)).join(" ");
      console.log(`${v.label}: proxy CPU ms/call ${cpu}; peak RSS MB after each round ${v.peaks.join(" ")}`);
    }
  }
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(", ")} on ${availableParallelism()} CPUs`,
  );
} finally {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {});
}
process.exit(0);
