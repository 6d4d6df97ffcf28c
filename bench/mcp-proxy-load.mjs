// MCP proxy under load: 2,000 concurrent tools/call over Streamable HTTP through one proxy process, against
// the same server called directly over HTTP: wall time per burst (median of rounds), the CPU each process
// spends per call (from /proc: steadier than wall time on a shared machine) and the proxy's peak RSS.
//
// Real process trees: one SDK client session → (agent-sre proxy --http) → our test MCP server, over stdio
// (the proxy's default: a child per session) and over HTTP.
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { httpClient, memoryMb, nextCall, startHttpProxy, startHttpServer } from "./mcp-shared.mjs";

/** CPU time (user + system) a process has used so far, in ms (Linux /proc; NaN elsewhere). */
function cpuMs(pid) {
  if (pid === process.pid) {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  }
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
  } catch {
    return Number.NaN;
  }
}

async function burst(client, concurrency, pids) {
  const before = pids.map(cpuMs);
  const start = process.hrtime.bigint();
  const results = await Promise.all(
    Array.from({ length: concurrency }, () => client.callTool(nextCall(), undefined, { timeout: 120_000 })),
  );
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const cpu = pids.map((pid, i) => (cpuMs(pid) - before[i]) / concurrency);
  const failed = results.filter((r) => r.isError).length;
  if (failed > 0)
    throw new Error(
      `${failed} of ${concurrency} calls failed: ${JSON.stringify(results.find((r) => r.isError))}`,
    );
  return { ms, cpu };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function run({ quick = false } = {}) {
  const concurrency = 2_000;
  const rounds = quick ? 3 : 9;
  const cleanups = [];
  try {
    const server = await startHttpServer();
    cleanups.push(() => server.kill());
    const stdioProxy = await startHttpProxy();
    cleanups.push(() => stdioProxy.kill());
    const httpProxy = await startHttpProxy({ upstreamUrl: server.url });
    cleanups.push(() => httpProxy.kill());
    // The same proxy given V8's default young generation back (the CLI keeps it at its initial size for a
    // lower peak): what the memory cap costs in CPU.
    const leanProxy = await startHttpProxy({
      upstreamUrl: server.url,
      nodeOptions: ["--semi-space-growth-factor=2"],
    });
    cleanups.push(() => leanProxy.kill());

    const serverPid = server.child.pid;
    const scenarios = [
      { name: "client → server over HTTP (direct)", client: await httpClient(server.url), pids: [serverPid] },
      {
        name: "client → proxy (HTTP) → server (stdio)",
        client: await httpClient(stdioProxy.url),
        pid: stdioProxy.child.pid,
        pids: [stdioProxy.child.pid],
      },
      {
        name: "client → proxy (HTTP) → server (HTTP)",
        client: await httpClient(httpProxy.url),
        pid: httpProxy.child.pid,
        pids: [httpProxy.child.pid, serverPid],
      },
      {
        name: "client → proxy (HTTP, node --semi-space-growth-factor=2) → server (HTTP)",
        client: await httpClient(leanProxy.url),
        pid: leanProxy.child.pid,
        pids: [leanProxy.child.pid, serverPid],
      },
    ];
    for (const s of scenarios) cleanups.push(() => s.client.close());
    for (const s of scenarios) {
      s.samples = [];
      s.cpu = [];
      await burst(s.client, 200, []); // warm-up
    }
    // Each round runs every path once, in an order that rotates from round to round (no path always follows
    // the same one); a path's ratio to direct is taken within each round, then the median over rounds: the
    // machine's load drifts between rounds, and the direct burst it is compared with ran next to it.
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < scenarios.length; k++) {
        const s = scenarios[(round + k) % scenarios.length];
        try {
          const { ms, cpu } = await burst(s.client, concurrency, [process.pid, ...s.pids]);
          s.samples.push(ms);
          s.cpu.push(cpu);
        } catch (error) {
          throw new Error(`${s.name}: ${error.message} (${error.cause?.code ?? ""})`);
        }
      }
    }
    const direct = scenarios[0].samples;
    const cpuOf = (s, i) => median(s.cpu.map((c) => c[i]));
    const lines = [
      `### ${concurrency.toLocaleString("en")} concurrent tools/call over Streamable HTTP (one client session)`,
      "",
      "| path | burst ms (median) | × direct (median of rounds) | per round | CPU ms/call: client | proxy | server | proxy peak RSS MB | target |",
      "|---|---:|---:|---|---:|---:|---:|---:|---|",
    ];
    for (const s of scenarios) {
      const ms = median(s.samples);
      const proxied = s.pid !== undefined;
      const rss = proxied ? memoryMb(s.pid).peak.toFixed(0) : "—";
      const proxyCpu = proxied ? cpuOf(s, 1).toFixed(2) : "—";
      const serverCpu = proxied
        ? s.pids.length > 1
          ? cpuOf(s, 2).toFixed(2)
          : "(child)"
        : cpuOf(s, 1).toFixed(2);
      const target = proxied ? "≤ 1.3× direct, ≤ 150 MB" : "";
      const ratios = s.samples.map((sample, round) => sample / direct[round]);
      const perRound = proxied ? ratios.map((r) => r.toFixed(2)).join(" ") : "";
      lines.push(
        `| ${s.name} | ${ms.toFixed(0)} | ${median(ratios).toFixed(2)}× | ${perRound} | ${cpuOf(s, 0).toFixed(2)} | ${proxyCpu} | ${serverCpu} | ${rss} | ${target} |`,
      );
    }
    lines.push(
      "",
      "× direct: each round's burst time over the direct burst of the same round, median over the rounds.",
      "CPU per call is the median over rounds of each process's user + system time during a burst ÷ 2,000 (Linux /proc).",
      `Load average at the end: ${loadavg()
        .map((load) => load.toFixed(1))
        .join(", ")} (1, 5, 15 min) on ${availableParallelism()} CPUs.`,
    );
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
