// What an agent's first calls cost: fleets that name agents per run or per session (`researcher-<runId>`), and
// names that come from models and peers, meet a new agent on every run. Times the first four default-config
// tool calls of 20,000 new agents (called in turn, CPU time; each pass after a full GC), `--reps` times in one
// process (the first rep warms the JIT up and is dropped), and prints the medians. With more than one build, each
// build runs in fresh processes in turn (A B A B …, `--passes` times; both orders over the passes), so two builds'
// heaps never share a process. The ids are hashed before they are timed (a fresh string's first hash is the
// caller's, not the guard's).
//   node --expose-gc bench/new-agents.mjs [<core-dist> …] [--reps 5] [--passes 3]
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadBuild, toolCall } from "./fixtures.mjs";
import { median, takeNumberOption } from "./harness.mjs";

const AGENTS = 20_000;
const CALLS = 4;
const args = process.argv.slice(2);
const option = (name, fallback) => takeNumberOption(args, name, fallback);
const reps = option("--reps", 5);
const passes = option("--passes", 3);
const here = fileURLToPath(new URL(".", import.meta.url));

if (args[0] === "--child") {
  const { AgentSRE } = await loadBuild(args[1]);
  const fn = async (x) => x;
  // maxAgents above every id of the run: no agent is forgotten, each rep's agents are new.
  const sre = new AgentSRE({ memory: { maxAgents: 10_000_000 } });
  const hashed = new Map();
  const perCall = Array.from({ length: CALLS }, () => []);
  for (let rep = 0; rep < reps; rep++) {
    const ids = Array.from({ length: AGENTS }, (_, i) => `run-${rep}-agent-${i}`);
    for (const id of ids) hashed.set(id, 0);
    hashed.clear();
    globalThis.gc();
    for (let call = 0; call < CALLS; call++) {
      const start = process.cpuUsage();
      for (let i = 0; i < AGENTS; i++) await sre.guard(toolCall(ids[i], i), fn);
      const used = process.cpuUsage(start);
      if (rep > 0) perCall[call].push((used.user + used.system) / AGENTS);
    }
  }
  console.log(JSON.stringify(perCall.map(median)));
} else {
  const dists = args.length > 0 ? args : [resolve(here, "../core/dist")];
  const results = new Map(dists.map((dist) => [dist, []]));
  for (let pass = 0; pass < passes; pass++) {
    const order = pass % 2 === 0 ? dists : [...dists].reverse();
    for (const dist of order) {
      const out = execFileSync(
        process.execPath,
        ["--expose-gc", fileURLToPath(import.meta.url), "--child", resolve(dist), "--reps", String(reps)],
        { encoding: "utf8" },
      );
      results.get(dist).push(JSON.parse(out.trim().split("\n").pop()));
    }
  }
  console.log(`| build | ${Array.from({ length: CALLS }, (_, k) => `call ${k + 1} µs`).join(" | ")} |`);
  console.log(`|---|${Array.from({ length: CALLS }, () => "---:").join("|")}|`);
  for (const [dist, runs] of results) {
    const cells = Array.from({ length: CALLS }, (_, k) => runs.map((run) => run[k].toFixed(2)).join(" / "));
    console.log(`| ${dist} | ${cells.join(" | ")} |`);
  }
}
