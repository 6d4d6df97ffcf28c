// The SLO's share of a guarded model call (issue 18, session 8, slo): one build, the same engine with and
// without its SLO (budget + price both), paired in one process, both orders averaged (CPU time).
//   node --expose-gc bench/slo-share.mjs <dist> [reps]
import { loadavg } from "node:os";
import { loadBuild, modelCall, OUT_OF_REACH, sloOf } from "./fixtures.mjs";
import { pairedAdded } from "./harness.mjs";

const [dist = "core/dist", repsArg = "3"] = process.argv.slice(2);
const core = await loadBuild(dist);
const fn = async (x) => x;
const withSlo = new core.AgentSRE({ budget: OUT_OF_REACH, slos: [sloOf(core)] });
const without = new core.AgentSRE({ budget: OUT_OF_REACH });
const options = { batch: 2_000, rounds: 40 };
for (let r = 0; r < Number(repsArg); r++) {
  const ab = await pairedAdded(
    () => without.guard(modelCall, fn),
    () => withSlo.guard(modelCall, fn),
    options,
  );
  const ba = await pairedAdded(
    () => withSlo.guard(modelCall, fn),
    () => without.guard(modelCall, fn),
    options,
  );
  console.log(`SLO share of a model call: +${((ab.addedNs - ba.addedNs) / 2).toFixed(0)} ns`);
}
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" / ")}`,
);
