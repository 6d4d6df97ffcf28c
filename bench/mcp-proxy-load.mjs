// MCP proxy under load: 2,000 concurrent tools/call over Streamable HTTP through one proxy process, against
// the same server called directly over HTTP: wall time per burst (median of rounds), the CPU each process
// spends per call (from /proc: steadier than wall time on a shared machine) and the proxy's peak RSS.
//
// Real process trees: one SDK client session → (agent-sre proxy --http) → our test MCP server, over stdio
// (the proxy's default: a child per session) and over HTTP.
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { PerformanceObserver } from "node:perf_hooks";
import {
  delta,
  gcIn,
  httpClient,
  keepConnections,
  memoryMb,
  nextCall,
  probe,
  startHttpProxy,
  startHttpServer,
  tcpStates,
} from "./mcp-shared.mjs";

// The client's (this process's) own GC pauses, for --trace.
const clientGc = { count: 0, ms: 0 };

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

/**
 * `trace`: per burst, each process's CPU, runqueue wait, involuntary switches, sockets and GC pauses
 * (`--trace-gc`), and the TCP connections of the server's and proxy's ports; printed per round.
 * `paths`: indices of the scenarios to run (0 direct, 1 stdio, 2 HTTP, 3 HTTP with the default young generation).
 */
export async function run({
  quick = false,
  trace = false,
  paths = [0, 1, 2, 3],
  rounds: roundsWanted,
  churn = false,
} = {}) {
  const concurrency = 2_000;
  const rounds = roundsWanted ?? (quick ? 3 : 9);
  const cleanups = [];
  if (!churn) cleanups.push(await keepConnections());
  const gcFlags = trace ? ["--trace-gc"] : [];
  if (trace) {
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        clientGc.count++;
        clientGc.ms += entry.duration;
      }
    });
    observer.observe({ entryTypes: ["gc"] });
    cleanups.push(() => observer.disconnect());
  }
  try {
    const server = await startHttpServer({ nodeOptions: gcFlags });
    cleanups.push(() => server.kill());
    const stdioProxy = await startHttpProxy({ nodeOptions: gcFlags });
    cleanups.push(() => stdioProxy.kill());
    const httpProxy = await startHttpProxy({ upstreamUrl: server.url, nodeOptions: gcFlags });
    cleanups.push(() => httpProxy.kill());
    // The same proxy given V8's default young generation back (the CLI keeps it at its initial size for a
    // lower peak): what the memory cap costs in CPU.
    const leanProxy = await startHttpProxy({
      upstreamUrl: server.url,
      nodeOptions: ["--semi-space-growth-factor=2", ...gcFlags],
    });
    cleanups.push(() => leanProxy.kill());

    const serverPid = server.child.pid;
    const all = [
      {
        name: "client → server over HTTP (direct)",
        client: await httpClient(server.url),
        pids: [serverPid],
        procs: { server },
      },
      {
        name: "client → proxy (HTTP) → server (stdio)",
        client: await httpClient(stdioProxy.url),
        pid: stdioProxy.child.pid,
        pids: [stdioProxy.child.pid],
        procs: { proxy: stdioProxy },
      },
      {
        name: "client → proxy (HTTP) → server (HTTP)",
        client: await httpClient(httpProxy.url),
        pid: httpProxy.child.pid,
        pids: [httpProxy.child.pid, serverPid],
        procs: { proxy: httpProxy, server },
      },
      {
        name: "client → proxy (HTTP, node --semi-space-growth-factor=2) → server (HTTP)",
        client: await httpClient(leanProxy.url),
        pid: leanProxy.child.pid,
        pids: [leanProxy.child.pid, serverPid],
        procs: { proxy: leanProxy, server },
      },
    ];
    const scenarios = all.filter((_, i) => paths.includes(i));
    if (scenarios[0] !== all[0]) throw new Error("--paths must include 0 (direct)");
    const traces = [];
    for (const s of scenarios) cleanups.push(() => s.client.close());
    for (const s of scenarios) {
      s.samples = [];
      s.cpu = [];
      await burst(s.client, 200, []); // warm-up
    }
    // The stdio path's server is the proxy's child (one per session): counted in the path's total CPU.
    const stdio = all[1];
    if (scenarios.includes(stdio)) {
      const children = readFileSync(`/proc/${stdio.pid}/task/${stdio.pid}/children`, "utf8").trim();
      if (children !== "") stdio.pids.push(...children.split(" ").map(Number));
    }
    // Each round runs every path once, in an order that rotates from round to round (no path always follows
    // the same one); a path's ratio to direct is taken within each round, then the median over rounds: the
    // machine's load drifts between rounds, and the direct burst it is compared with ran next to it.
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < scenarios.length; k++) {
        const s = scenarios[(round + k) % scenarios.length];
        try {
          const before = trace ? snapshot(s) : undefined;
          const { ms, cpu } = await burst(s.client, concurrency, [process.pid, ...s.pids]);
          if (trace) traces.push({ round, path: all.indexOf(s), ms, ...since(s, before) });
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
      "| path | burst ms (median) | × direct (median of rounds) | per round | total CPU × direct | CPU ms/call: client | proxy | server | proxy peak RSS MB | target |",
      "|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ];
    for (const s of scenarios) {
      const ms = median(s.samples);
      const proxied = s.pid !== undefined;
      const rss = proxied ? memoryMb(s.pid).peak.toFixed(0) : "—";
      const proxyCpu = proxied ? cpuOf(s, 1).toFixed(2) : "—";
      const serverCpu = proxied ? cpuOf(s, 2).toFixed(2) : cpuOf(s, 1).toFixed(2);
      const total = (cpu) => cpu.reduce((sum, each) => sum + each, 0);
      const cpuRatio = median(s.cpu.map((cpu, round) => total(cpu) / total(scenarios[0].cpu[round])));
      const target = proxied ? "≤ 1.3× direct, ≤ 150 MB" : "";
      const ratios = s.samples.map((sample, round) => sample / direct[round]);
      const perRound = proxied ? ratios.map((r) => r.toFixed(2)).join(" ") : "";
      lines.push(
        `| ${s.name} | ${ms.toFixed(0)} | ${median(ratios).toFixed(2)}× | ${perRound} | ${cpuRatio.toFixed(2)}× | ${cpuOf(s, 0).toFixed(2)} | ${proxyCpu} | ${serverCpu} | ${rss} | ${target} |`,
      );
    }
    lines.push(
      "",
      "× direct: each round's burst time over the direct burst of the same round, median over the rounds.",
      "CPU per call is the median over rounds of each process's user + system time during a burst ÷ 2,000 (Linux /proc).",
      "Total CPU × direct: client + proxy + server CPU of a burst over the direct burst's client + server CPU of the",
      "same round, median over rounds. When the machine is loaded, wall time follows it (the three processes",
      "compete for the cores with everything else), so it is the ratio to read on a shared machine.",
      `Load average at the end: ${loadavg()
        .map((load) => load.toFixed(1))
        .join(", ")} (1, 5, 15 min) on ${availableParallelism()} CPUs.`,
    );
    if (trace) lines.push("", ...traceTable(traces, scenarios));
    return { sections: [lines.join("\n")] };
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {});
  }
}

function portOf(url) {
  return url === undefined ? undefined : Number(new URL(url).port);
}

function snapshot(s) {
  const out = { client: probe(process.pid), gc: { ...clientGc } };
  for (const [role, proc] of Object.entries(s.procs)) {
    out[role] = probe(proc.child.pid);
    out[`${role}Text`] = proc.output().length;
    out[`${role}Tcp`] = tcpStates(portOf(proc.url));
  }
  return out;
}

function since(s, before) {
  const out = {
    client: delta(probe(process.pid), before.client),
    clientGc: { count: clientGc.count - before.gc.count, ms: clientGc.ms - before.gc.ms },
  };
  for (const [role, proc] of Object.entries(s.procs)) {
    out[role] = delta(probe(proc.child.pid), before[role]);
    out[`${role}Gc`] = gcIn(proc.output().slice(before[`${role}Text`]));
    out[`${role}Tcp`] = { before: before[`${role}Tcp`], after: tcpStates(portOf(proc.url)) };
  }
  return out;
}

function traceTable(traces, scenarios) {
  const fmt = (p) =>
    p === undefined
      ? "—"
      : `${p.cpuMs} / ${p.waitMs.toFixed(0)} (${p.mainWaitMs.toFixed(0)}) / ${p.involuntary} / ${p.sockets}`;
  const gc = (g) =>
    g === undefined
      ? "—"
      : `${g.scavenges}×${(g.scavengeMs / Math.max(1, g.scavenges)).toFixed(1)} + ${g.fulls}×${(g.fullMs / Math.max(1, g.fulls)).toFixed(0)}`;
  const tcp = (t) =>
    t === undefined ? "—" : `est ${t.before.est}→${t.after.est}, tw ${t.before.timeWait}→${t.after.timeWait}`;
  const direct = new Map(traces.filter((t) => t.path === 0).map((t) => [t.round, t.ms]));
  return [
    "Per burst (--trace): CPU ms / runqueue wait ms all threads (main thread) / involuntary switches / sockets open; GC: scavenges×mean ms + full×mean ms.",
    "",
    "| round | path | ms | × direct | client | client GC n/ms | proxy | proxy GC | server | server GC | server port TCP | proxy port TCP |",
    "|---:|---:|---:|---:|---|---|---|---|---|---|---|---|",
    ...traces.map(
      (t) =>
        `| ${t.round} | ${t.path} | ${t.ms.toFixed(0)} | ${(t.ms / direct.get(t.round)).toFixed(2)} | ${fmt(t.client)} | ${t.clientGc.count}/${t.clientGc.ms.toFixed(0)} | ${fmt(t.proxy)} | ${gc(t.proxyGc)} | ${fmt(t.server)} | ${gc(t.serverGc)} | ${tcp(t.serverTcp)} | ${tcp(t.proxyTcp)} |`,
    ),
    "",
    `paths: ${scenarios.map((s) => s.name).join("; ")}`,
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv;
  const pathsAt = argv.indexOf("--paths");
  const roundsAt = argv.indexOf("--rounds");
  const { sections } = await run({
    quick: argv.includes("--quick"),
    trace: argv.includes("--trace"),
    paths: pathsAt < 0 ? undefined : argv[pathsAt + 1].split(",").map(Number),
    rounds: roundsAt < 0 ? undefined : Number(argv[roundsAt + 1]),
    churn: argv.includes("--churn"),
  });
  console.log(sections.join("\n\n"));
  process.exit(0);
}
