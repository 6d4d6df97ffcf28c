// Paired A/B of two builds of @agent-sre/core in ONE process, for what a running chaos experiment adds
// (issue 18): for each build, a rate-0 experiment's added cost over the same engine without one (a lean
// engine: no detector, no retry budget, as `bench:check` measures it), measured in both orders (experiment
// first, then baseline first) and averaged; then B − A of the engine with the experiment and without it, both orders.
// Variants: `idle` (rate 0, no abort condition), `p99` (rate 0, a p99 abort condition: every call is timed),
// `errors` (rate 0, an error-rate abort condition). CPU time, median of per-round differences.
//   node --expose-gc bench/chaos-ab.mjs <distA> <distB> [idle,p99,errors] [reps]
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { pairedAdded } from "./harness.mjs";

const [distA, distB, which = "idle,p99,errors", repsArg = "3"] = process.argv.slice(2);
if (distA === undefined || distB === undefined) {
  console.error("usage: node --expose-gc bench/chaos-ab.mjs <distA> <distB> [idle,p99,errors] [reps]");
  process.exit(2);
}
const load = async (dist) => import(pathToFileURL(resolve(dist, "index.js")).href);
const builds = { A: await load(distA), B: await load(distB) };
const reps = Number(repsArg);
const fn = async (x) => x;
const bare = { kind: "tool", agentId: "bench", name: "ping" };
const ns = (value) => `${value >= 0 ? "+" : ""}${value.toFixed(1)} ns`;
const options = { batch: 2_000, rounds: 40 };

const conditions = {
  idle: [],
  p99: [{ metric: "p99_latency_ms", comparator: "gt", threshold: 5_000 }],
  errors: [{ metric: "error_rate", comparator: "gt", threshold: 0.5 }],
};

/** `run` − `baseline` in both orders, averaged. */
async function bothWays(baseline, run) {
  const forward = await pairedAdded(baseline, run, options);
  const backward = await pairedAdded(run, baseline, options);
  return (forward.addedNs - backward.addedNs) / 2;
}

function engines(core, variant) {
  const lean = new core.AgentSRE({ rogue: false, retryBudget: false });
  const chaos = new core.AgentSRE({ rogue: false, retryBudget: false });
  chaos.startExperiment(
    new core.ChaosExperiment({
      name: "idle",
      faults: [core.Fault.latencyInjection("*", { delayMs: 100, rate: 0 })],
      abortConditions: conditions[variant],
      durationMs: "24h",
    }),
  );
  return { lean: () => lean.guard(bare, fn), chaos: () => chaos.guard(bare, fn) };
}

for (let rep = 0; rep < reps; rep++) {
  for (const variant of which.split(",")) {
    const a = engines(builds.A, variant);
    const b = engines(builds.B, variant);
    const addedA = await bothWays(a.lean, a.chaos);
    const addedB = await bothWays(b.lean, b.chaos);
    const bMinusA = await bothWays(a.chaos, b.chaos);
    // The engine without it too: a build can lower the experiment's share by slowing the engine it is added to.
    const leanBMinusA = await bothWays(a.lean, b.lean);
    console.log(
      `chaos ${variant} at rate 0: A ${ns(addedA)}, B ${ns(addedB)} over the engine without it; engine with it B − A ${ns(bMinusA)}, without it B − A ${ns(leanBMinusA)}`,
    );
  }
}
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" / ")}`,
);
