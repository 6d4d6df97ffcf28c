// Profile loop for the guarded model call (budget + price + SLO), issue 18 session 8 (slo):
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/slo-prof.mjs [dist] [calls]
import { loadBuild, modelCall, OUT_OF_REACH, sloOf } from "./fixtures.mjs";

const [dist = "core/dist", callsArg = "2000000"] = process.argv.slice(2);
const core = await loadBuild(dist);
const sre = new core.AgentSRE({
  budget: OUT_OF_REACH,
  slos: [sloOf(core)],
});
const fn = async (x) => x;
const calls = Number(callsArg);
const t0 = process.cpuUsage();
for (let i = 0; i < calls; i++) await sre.guard(modelCall, fn);
const t = process.cpuUsage(t0);
console.log(`${(((t.user + t.system) * 1000) / calls).toFixed(0)} ns CPU per call`);
