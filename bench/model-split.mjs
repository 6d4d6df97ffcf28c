// The guarded model call's parts, one build, paired in one process (issue 18, session 9 "model"): each variant
// of the engine against `await fn()` and against the one before it (CPU, medians of per-round differences).
//   node --expose-gc bench/model-split.mjs [dist] [rounds]
import { loadavg } from "node:os";
import { loadBuild, modelCall, ns, OUT_OF_REACH, sloOf } from "./fixtures.mjs";
import { pairedAdded } from "./harness.mjs";

const [dist = "core/dist", roundsArg = "30"] = process.argv.slice(2);
const core = await loadBuild(dist);
const fn = async (x) => x;
const freeCall = { ...modelCall, estimate: undefined, usage: undefined };
const variants = [
  ["no budget, no SLO, no usage (nothing priced)", new core.AgentSRE({}), freeCall],
  ["no budget, no SLO (recordCost)", new core.AgentSRE({}), modelCall],
  ["budget", new core.AgentSRE({ budget: OUT_OF_REACH }), modelCall],
  [
    "budget, no anomaly detection",
    new core.AgentSRE({ budget: { ...OUT_OF_REACH, anomalyDetection: false } }),
    modelCall,
  ],
  ["budget + SLO (the bench)", new core.AgentSRE({ budget: OUT_OF_REACH, slos: [sloOf(core)] }), modelCall],
];
const options = { batch: 2_000, rounds: Number(roundsArg) };
console.log(`load ${loadavg()[0].toFixed(1)}`);
let previous;
for (const [name, sre, call] of variants) {
  const run = () => sre.guard(call, fn);
  const over = await pairedAdded(() => fn(1), run, options);
  const step = previous === undefined ? undefined : await pairedAdded(previous, run, options);
  console.log(
    `${name}: ${ns(over.addedNs)} over await fn()${step === undefined ? "" : `; ${ns(step.addedNs)} over the line before`}`,
  );
  previous = run;
}
