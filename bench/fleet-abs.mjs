// Absolute CPU cost of a default-config tool call with one agent and with 10,000 agents (issue 18's
// "10,000 agents vs 1" row: fleet-row.mjs, the calls of `pnpm bench` and bench:check), per build. Each build
// runs in its OWN child process, so two builds' heaps never share the caches; builds are run in turn, `passes`
// times (A B A B …), each pass a fresh process. A child times `rounds` pairs of batches of 20,000 calls (one
// agent, then 10,000 agents; CPU time, a minor GC before each batch) and reports the medians.
// `--random`: the 10,000 agents are called in a random order (a fixed random sequence, every agent called as often),
// where bench/check.mjs calls them in turn: in turn, the agents' records are met in the order they were allocated,
// which the hardware prefetchers follow; a fleet's calls come in no such order.
// The default 10 rounds are bench/check.mjs's: each of the 10,000 agents then ends with 32 calls in its loop
// window (2 + 2 per batch), a table of 32 entries, as in the check (12 rounds: 36 calls, a chained table of 64).
// `--pace <ms>`: the engines run on a manual clock that each batch moves on by that much, so every agent makes
// two calls per `ms` (2000: 60 calls a minute, a busy agent; 4000: 30) and its tables are in their steady state
// (warmed up over two minutes of that clock: entries recycled as they leave the 60 s loop window), where
// without it every call of the run falls in one window and the tables keep growing.
// `--agents <n>` (default 10,000): fewer agents (each then makes more calls: its tables grow further).
// `--one-tool`: the one agent calls one tool, as each of the 10,000 does (by default it cycles through five: its
// entropy is in band, where a one-tool agent's window is low-entropy and the detector scores it every call).
// `--ref`: every call carries its agent's `agentRef` (bound once, as the adapters do), where without it the
// engine looks each call's agent up by id (a direct caller of `guard`).
//   node --expose-gc bench/fleet-abs.mjs <dist> [<dist> …] [--rounds 10] [--passes 2] [--random] [--pace <ms>] [--ref]
import { loadavg } from "node:os";
import { fleetFigureInProcess } from "./fleet-row.mjs";
import { takeNumberOption } from "./harness.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => takeNumberOption(args, name, fallback);
const flag = (name) => {
  const at = args.indexOf(name);
  if (at >= 0) args.splice(at, 1);
  return at >= 0;
};
const random = flag("--random");
const byRef = flag("--ref");
const oneTool = flag("--one-tool");
const paceMs = option("--pace", 0);
const agents = option("--agents", 10_000);
const rounds = option("--rounds", 10);
const passes = option("--passes", 2);
if (args.length === 0) {
  console.error("usage: node --expose-gc bench/fleet-abs.mjs <dist> [<dist> …] [--rounds 10] [--passes 2]");
  process.exit(2);
}
const options = { byRef, random, agents, rounds, paceMs, oneTool };
const results = new Map(args.map((dist) => [dist, []]));
for (let pass = 0; pass < passes; pass++) {
  for (const dist of args) {
    const figures = await fleetFigureInProcess(options, dist);
    results.get(dist).push(figures);
    console.log(
      `pass ${pass + 1} ${dist}: one ${figures.oneNs.toFixed(0)} ns, ${agents} agents ${figures.manyNs.toFixed(0)} ns, extra ${figures.extraNs.toFixed(0)} ns, ratio ${figures.ratio.toFixed(2)}× (load ${figures.load.toFixed(1)})`,
    );
  }
}
console.log(
  "\n| build | one agent ns | 10,000 agents ns | extra ns | ratio (median of rounds) |\n|---|---:|---:|---:|---:|",
);
for (const [dist, list] of results) {
  const col = (key, digits = 0) => list.map((f) => f[key].toFixed(digits)).join(" / ");
  console.log(`| ${dist} | ${col("oneNs")} | ${col("manyNs")} | ${col("extraNs")} | ${col("ratio", 2)} |`);
}
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" / ")}`,
);
