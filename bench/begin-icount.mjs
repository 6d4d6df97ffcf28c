// Instructions of the engine's `begin` + settle (issue 18, session 19 "stream"): what a streaming adapter pays
// the engine for a call, beside `guard()` of the same model call, counted by callgrind, not timed. One process
// (node `--predictable`, fixed seeds, no code-space compaction, 256 MB semi-spaces: no scavenge in a window), the
// engine of bench/ai-sdk-icount.mjs (budget enforced out of reach, no anomaly detection, no rogue detector), a
// new call object a call as the AI SDK middleware makes (agent ref, estimate, task, provider "openai.chat"):
//   bare   `await fn()` (the loop and one await: subtracted from the others);
//   guard  `await sre.guard(call, fn)`, the call's `usage` reading the settled usage;
//   begin  `const c = await sre.begin(call); await fn(); c.succeed(usage)` — the streaming adapters' use;
//   now    the same with `sre.beginNow(call)` (session 19: the call at once, no promise), where the build has it.
// Each side warmed up in turn, then windows of N and 3N calls each (between two `process.cpuUsage()`: with
// `--dump-before=uv_getrusage` callgrind dumps there); a side's marginal figure is (3N − N) / 2N, so late
// compiles a window holds drop out. The engine runs on a clock that moves 1 ms per 1,000 reads.
// KEEP=1 keeps the dumps and node's perf map and prints each side's 3N window by symbol (TOP=n rows).
// Usage: node bench/begin-icount.mjs [core-dist=core/dist] [calls=20000] [sides=bare,guard,begin]
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { countingFlags, symbolCosts, underCallgrind } from "./callgrind.mjs";
import { OUT_OF_REACH } from "./fixtures.mjs";

const [distArg = "core/dist", callsArg = "20000", sidesArg = "bare,guard,begin"] = process.argv.slice(2);
const dist = resolve(distArg);
const calls = Number(callsArg);
const sides = sidesArg.split(",");
const keep = process.env.KEEP === "1";

if (process.env.ICOUNT_CHILD) {
  const t0 = Date.now();
  let reads = 0;
  Date.now = () => t0 + Math.floor(reads++ / 1000);
  const { AgentSRE } = await import(pathToFileURL(`${dist}/index.js`).href);
  const sre = new AgentSRE({ budget: { ...OUT_OF_REACH, anomalyDetection: false }, rogue: false });
  const agentRef = sre.agentRef("bench");
  const usage = { inputTokens: 1200, outputTokens: 300 };
  const estimate = { inputTokens: 62, outputTokens: 512, minOutputTokens: 64 };
  const callOf = () => ({
    kind: "model",
    agentId: "bench",
    agentRef,
    name: "gpt-4.1",
    provider: "openai.chat",
    estimate,
    taskId: "task-1",
    usage: () => usage,
  });
  const fn = async () => 1;
  const run = {
    bare: async () => {
      callOf();
      await fn();
    },
    guard: () => sre.guard(callOf(), fn),
    now: async () => {
      // A build without `beginNow` (before session 19): `begin`, so both builds run the same sides.
      const begun = sre.beginNow === undefined ? sre.begin(callOf()) : sre.beginNow(callOf());
      const inFlight = begun instanceof Promise ? await begun : begun;
      await fn();
      inFlight.succeed(usage);
    },
    begin: async () => {
      const inFlight = await sre.begin(callOf());
      await fn();
      inFlight.succeed(usage);
    },
  };
  const alternate = async (n) => {
    for (let i = 0; i < n; i++) for (const side of sides) await run[side]();
  };
  await alternate(20_000);
  globalThis.gc();
  await alternate(20_000);
  for (const side of sides) {
    for (const size of [calls, 3 * calls]) {
      const go = run[side];
      globalThis.gc({ type: "minor" });
      process.cpuUsage();
      for (let i = 0; i < size; i++) await go();
      process.cpuUsage();
    }
  }
} else {
  underCallgrind(
    {
      prefix: "begin-icount",
      script: fileURLToPath(import.meta.url),
      scriptArgs: [dist, callsArg, sidesArg],
      nodeFlags: [...countingFlags({ semiSpaceMb: 256 }), "--no-compact-code-space"],
      keepFlags: ["--dump-instr=yes", "--dump-line=no"],
      env: { ...process.env, ICOUNT_CHILD: "1" },
      keep,
    },
    (dumps) => {
      // Dumps: 0 setup and warm-up, then each window's start and end; side s's windows are dumps 4s+1 and 4s+3.
      const figures = {};
      sides.forEach((side, s) => {
        const small = dumps[4 * s + 1];
        const large = dumps[4 * s + 3];
        figures[side] = (large.counts.Ir - small.counts.Ir) / (2 * calls);
        if (!keep) return;
        console.log(`${side}, ${3 * calls} calls, instructions a call by symbol:`);
        for (const [symbol, cost] of symbolCosts(large.file, large.pid, 3 * calls).slice(
          0,
          Number(process.env.TOP ?? 40),
        ))
          console.log(`  ${cost.toFixed(1).padStart(8)}  ${symbol}`);
      });
      console.log(`marginal instructions a call (${dist}; windows of ${calls} and ${3 * calls})`);
      console.log("| side | a call | − bare |\n|---|---:|---:|");
      for (const side of sides)
        console.log(
          `| ${side} | ${figures[side].toFixed(0)} | ${figures.bare === undefined ? "" : (figures[side] - figures.bare).toFixed(0)} |`,
        );
    },
  );
}
