// Paired A/B of two builds of @agent-sre/core in ONE process, for the retry budget's share of a tool call
// (issue 18): a lean engine (no detector) with its retry budget (the default) — B − A, both orders, averaged
// — and, per build, what the retry budget adds over the same engine without one. Five tool names in turn.
// CPU time, median of per-round differences.
//   node --expose-gc bench/retry-ab.mjs <distA> <distB> [reps]
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { pairedAdded } from "./harness.mjs";

const [distA, distB, repsArg = "3"] = process.argv.slice(2);
if (distA === undefined || distB === undefined) {
  console.error("usage: node --expose-gc bench/retry-ab.mjs <distA> <distB> [reps]");
  process.exit(2);
}
const load = async (dist) => import(pathToFileURL(resolve(dist, "index.js")).href);
const builds = { A: await load(distA), B: await load(distB) };
const reps = Number(repsArg);
const fn = async (x) => x;
const TOOLS = ["search", "lookup_order", "send_email", "fetch_page", "summarise"];
const calls = TOOLS.map((name) => ({ kind: "tool", agentId: "bench", name }));
const ns = (value) => `${value >= 0 ? "+" : ""}${value.toFixed(1)} ns`;
const options = { batch: 2_000, rounds: 40 };

async function bothWays(baseline, run) {
  const forward = await pairedAdded(baseline, run, options);
  const backward = await pairedAdded(run, baseline, options);
  return (forward.addedNs - backward.addedNs) / 2;
}

function engines(core) {
  const withBudget = new core.AgentSRE({ rogue: false });
  const without = new core.AgentSRE({ rogue: false, retryBudget: false });
  let i = 0;
  let j = 0;
  return {
    budget: () => withBudget.guard(calls[i++ % 5], fn),
    none: () => without.guard(calls[j++ % 5], fn),
  };
}

for (let rep = 0; rep < reps; rep++) {
  const a = engines(builds.A);
  const b = engines(builds.B);
  const addedA = await bothWays(a.none, a.budget);
  const addedB = await bothWays(b.none, b.budget);
  const bMinusA = await bothWays(a.budget, b.budget);
  console.log(
    `retry budget: A ${ns(addedA)}, B ${ns(addedB)} over the engine without it; lean engine with it B − A ${ns(bMinusA)}`,
  );
}
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" / ")}`,
);
