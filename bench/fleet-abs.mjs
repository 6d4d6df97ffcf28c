// Absolute CPU cost of a default-config tool call with one agent and with 10,000 agents (issue 18's
// "10,000 agents vs 1" row, the same calls as bench/check.mjs `engineFigures`), per build. Each build runs in
// its OWN child process, so two builds' heaps never share the caches; builds are run in turn, `passes` times
// (A B A B …), each pass a fresh process. A child times `rounds` pairs of batches of 20,000 calls (one agent,
// then 10,000 agents; CPU time, a minor GC before each batch) and reports the medians.
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
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { loadBuild, shuffledTurns } from "./fixtures.mjs";
import { median, takeNumberOption } from "./harness.mjs";

const BATCH = 20_000;
/** As bench/check.mjs (`pairedAdded`'s default): the agents' first windows and log entries fall in these. */
const WARMUP_ROUNDS = 5;
const args = process.argv.slice(2);
const option = (name, fallback) => takeNumberOption(args, name, fallback);

const randomAt = args.indexOf("--random");
const random = randomAt >= 0;
if (random) args.splice(randomAt, 1);
const refAt = args.indexOf("--ref");
const byRef = refAt >= 0;
if (byRef) args.splice(refAt, 1);

const paceMs = option("--pace", 0);
const AGENTS = option("--agents", 10_000);
const oneToolAt = args.indexOf("--one-tool");
const oneTool = oneToolAt >= 0;
if (oneTool) args.splice(oneToolAt, 1);

if (args[0] === "--child") {
  const [, dist, roundsArg] = args;
  console.log(JSON.stringify(await measure(dist, Number(roundsArg), random, paceMs, byRef)));
} else {
  const rounds = option("--rounds", 10);
  const passes = option("--passes", 2);
  if (args.length === 0) {
    console.error("usage: node --expose-gc bench/fleet-abs.mjs <dist> [<dist> …] [--rounds 10] [--passes 2]");
    process.exit(2);
  }
  const self = fileURLToPath(import.meta.url);
  const results = new Map(args.map((dist) => [dist, []]));
  for (let pass = 0; pass < passes; pass++) {
    for (const dist of args) {
      const childArgs = [
        "--expose-gc",
        self,
        "--child",
        dist,
        String(rounds),
        ...(random ? ["--random"] : []),
        ...(byRef ? ["--ref"] : []),
        ...(paceMs > 0 ? ["--pace", String(paceMs)] : []),
        "--agents",
        String(AGENTS),
        ...(oneTool ? ["--one-tool"] : []),
      ];
      const out = execFileSync(process.execPath, childArgs, {
        encoding: "utf8",
      });
      const figures = JSON.parse(out.trim().split("\n").at(-1));
      results.get(dist).push(figures);
      console.log(
        `pass ${pass + 1} ${dist}: one ${figures.oneNs.toFixed(0)} ns, ${AGENTS} agents ${figures.manyNs.toFixed(0)} ns, extra ${figures.extraNs.toFixed(0)} ns, ratio ${figures.ratio.toFixed(2)}× (load ${figures.load.toFixed(1)})`,
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
}

async function measure(dist, rounds, random, paceMs, byRef) {
  const core = await loadBuild(dist);
  const fn = async (x) => x;
  const TOOLS = ["search", "lookup_order", "send_email", "fetch_page", "summarise"];
  const FIELDS = ["status", "eta"];
  let sequence = 0;
  const toolCall = (agentId, i, agentRef) => ({
    kind: "tool",
    agentId,
    agentRef,
    taskId: "task-1",
    name: TOOLS[i % 5],
    input: { orderId: sequence++, fields: FIELDS },
  });
  const agents = Array.from({ length: AGENTS }, (_, i) => `agent-${i}`);
  // Agent k of each batch: in turn, or a fixed random permutation of two turns (each agent twice a batch).
  const order = random ? shuffledTurns(AGENTS, BATCH) : Array.from({ length: BATCH }, (_, k) => k % AGENTS);
  const oneClock = paceMs > 0 ? new core.ManualClock(Date.now()) : undefined;
  const manyClock = paceMs > 0 ? new core.ManualClock(Date.now()) : undefined;
  const one = new core.AgentSRE(oneClock === undefined ? {} : { clock: oneClock });
  const many = new core.AgentSRE(manyClock === undefined ? {} : { clock: manyClock });
  // `--ref`: each agent's calls carry its ref (as an adapter made for one agent passes them), else none.
  const refs = agents.map((id) => (byRef ? many.agentRef(id) : undefined));
  const soloRef = byRef ? one.agentRef("solo") : undefined;
  for (let i = 0; i < 20_000; i++) await many.guard(toolCall(agents[i % AGENTS], i, refs[i % AGENTS]), fn);
  const warmupRounds = paceMs > 0 ? Math.max(WARMUP_ROUNDS, Math.ceil(120_000 / paceMs)) : WARMUP_ROUNDS;
  const cpuNow = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) * 1000;
  };
  let i = 0;
  const timed = async (call, clock) => {
    clock?.advance(paceMs);
    globalThis.gc?.({ type: "minor" });
    const start = cpuNow();
    for (let end = i + BATCH; i < end; i++) await call(i);
    return (cpuNow() - start) / BATCH;
  };
  const oneCall = (k) => one.guard(toolCall("solo", oneTool ? 0 : k, soloRef), fn);
  // The tool follows the agent (k % 5 as in turn: each agent always calls the same tool).
  const manyCall = (k) => {
    const agent = order[k % BATCH];
    return many.guard(toolCall(agents[agent], agent, refs[agent]), fn);
  };
  const oneNs = [];
  const manyNs = [];
  const ratios = [];
  for (let round = -warmupRounds; round < rounds; round++) {
    const a = await timed(oneCall, oneClock);
    const b = await timed(manyCall, manyClock);
    if (round < 0) continue; // warm-up
    oneNs.push(a);
    manyNs.push(b);
    ratios.push(b / a);
  }
  const extra = manyNs.map((b, k) => b - oneNs[k]);
  return {
    oneNs: median(oneNs),
    manyNs: median(manyNs),
    extraNs: median(extra),
    ratio: median(ratios),
    load: loadavg()[0],
  };
}
