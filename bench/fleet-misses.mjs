// Cache lines a guarded call misses with 10,000 agents, against one agent (issue 18's "10,000 agents vs 1"
// row), counted by cachegrind's cache simulation instead of timed: the row's time follows the VM's memory
// system (the same build read 1.28× and 1.74× an hour apart, session 13), a simulated miss count does not.
// Callgrind runs this script with a simulated D1 of 32 KB and a last level of `LL_BYTES` (default 1 MB, this
// VM's L2 a core: with 10,000 agents their state is ~15 MB, so a call's per-agent lines come from L3 or
// memory), dumping its counts at each `process.cpuUsage()`; a window is `CALLS` calls of one agent, or of
// 10,000 agents in turn, each after a minor GC. Per call: instructions, data reads and writes, D1 misses
// and last-level misses (reads + writes). The simulation has no prefetcher: a miss counted is a line the call
// needs that was not in the cache, whether the hardware could have fetched it ahead or not.
//   node bench/fleet-misses.mjs [core-dist] [--warm N] [--table N] [--ref]
//     --warm: calls per agent before the windows (default 12, as bench:check's row: each agent in its first
//     calls); --table: the detector's loopTableSize (default 256); --ref: every call carries its agent's
//     `agentRef` (as the adapters' calls do), where by default the engine looks each call's agent up by id.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { countingFlags, underCallgrind } from "./callgrind.mjs";
import { loadBuild, toolCall } from "./fixtures.mjs";
import { takeNumberOption } from "./harness.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const args = process.argv.slice(2);
const running = args[0] === "--run";
if (running) args.shift();
const warm = takeNumberOption(args, "--warm", 12);
const table = takeNumberOption(args, "--table", 256);
const refAt = args.indexOf("--ref");
const byRef = refAt >= 0;
if (byRef) args.splice(refAt, 1);
const llBytes = Number(process.env.LL_BYTES ?? 1 << 20);
const [distArg = resolve(here, "../core/dist")] = args;
const AGENTS = 10_000;
const CALLS = 20_000;
const EVENTS = ["Ir", "Dr", "Dw", "D1mr", "D1mw", "DLmr", "DLmw"];

if (!running) {
  underCallgrind(
    {
      prefix: "fleet-misses",
      script: fileURLToPath(import.meta.url),
      scriptArgs: [
        "--run",
        resolve(distArg),
        "--warm",
        String(warm),
        "--table",
        String(table),
        ...(byRef ? ["--ref"] : []),
      ],
      valgrindFlags: ["--cache-sim=yes", "--D1=32768,8,64", `--LL=${llBytes},16,64`],
      // KEEP=1: costs per instruction too, uncompressed (bench/fleet-lines.mjs reads them by function).
      keepFlags: ["--dump-instr=yes", "--compress-pos=no", "--compress-strings=no"],
      nodeFlags: countingFlags(),
    },
    (dumps) => {
      const windows = ["one agent", "10,000 agents in turn", "10,000 agents, random order"];
      const calls = byRef ? "calls with their agent's ref" : "calls by agent id";
      console.log(
        `LL ${llBytes / 1024} KB, warm ${warm} calls an agent, loopTableSize ${table}, ${calls}; per call:`,
      );
      console.log(`| window | ${EVENTS.join(" | ")} |`);
      console.log(`|---|${EVENTS.map(() => "---:").join("|")}|`);
      // Dump 0 holds the setup; window k's calls are in dump 2k + 1 (from its opening cpuUsage to its closing one).
      windows.forEach((name, k) => {
        const counts = dumps[2 * k + 1]?.counts;
        if (counts === undefined) return;
        console.log(`| ${name} | ${EVENTS.map((e) => ((counts[e] ?? 0) / CALLS).toFixed(1)).join(" | ")} |`);
      });
    },
  );
} else {
  const { AgentSRE } = await loadBuild(distArg);
  const fn = async (x) => x;
  const agents = Array.from({ length: AGENTS }, (_, i) => `agent-${i}`);
  // A clock of its own per engine, 1 µs a read from a fixed start: the simulated run takes minutes of real
  // time, and on the real clock its windows would end wherever the simulator's speed put them (frequency
  // windows, loop windows): two runs of one build read 12.7 and 13.9 lines. On this clock a run repeats.
  const clockFrom = (startMs) => {
    let nowMs = startMs;
    return { now: () => (nowMs += 0.001) };
  };
  const one = new AgentSRE({ rogue: { loopTableSize: table }, clock: clockFrom(1.8e12) });
  const many = new AgentSRE({ rogue: { loopTableSize: table }, clock: clockFrom(1.8e12) });
  const refs = agents.map((id) => (byRef ? many.agentRef(id) : undefined));
  const soloRef = byRef ? one.agentRef("solo") : undefined;
  for (let i = 0; i < warm * AGENTS; i++)
    await many.guard(toolCall(agents[i % AGENTS], i, refs[i % AGENTS]), fn);
  for (let i = 0; i < CALLS; i++) await one.guard(toolCall("solo", i, soloRef), fn);
  let seed = 7;
  const random = Array.from({ length: CALLS }, () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % AGENTS;
  });
  const window = async (call) => {
    globalThis.gc({ type: "minor" });
    process.cpuUsage();
    for (let i = 0; i < CALLS; i++) await call(i);
    process.cpuUsage();
  };
  await window((i) => one.guard(toolCall("solo", i, soloRef), fn));
  await window((i) => many.guard(toolCall(agents[i % AGENTS], i, refs[i % AGENTS]), fn));
  await window((i) => many.guard(toolCall(agents[random[i]], random[i], refs[random[i]]), fn));
}
