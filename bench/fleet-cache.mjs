// Simulated cache misses of bench/check.mjs's "10,000 agents vs 1" calls (issue 18, session 11 "fleet"), for
// valgrind: the check's warm-up (20,000 calls over 10,000 agents, then `warm` rounds of one batch per side),
// then `calls` calls of ONE side (`one`: the single agent; `many`: the 10,000 agents in turn, or in a fixed
// random order with `random`) between two `process.cpuUsage()`. Under callgrind with
// `--dump-before=uv_getrusage` the dump taken at the second holds exactly those calls; run once per side and
// subtract (many − one) per call. A clock that moves with the calls (1 ms per 1,000 reads, as model-icount.mjs)
// keeps time-driven work (frequency windows, table turnovers) as at full speed.
//   valgrind --tool=callgrind --cache-sim=yes --D1=49152,12,64 --LL=1048576,16,64 \
//     --dump-before=uv_getrusage --callgrind-out-file=/tmp/cg.%p \
//     node --expose-gc --predictable --random-seed=1 --hash-seed=1 bench/fleet-cache.mjs <dist> one|many [turn|random] [calls] [warm]
import { loadBuild, toolCall } from "./fixtures.mjs";

const [dist = "core/dist", side = "many", order = "turn", callsArg = "20000", warmArg = "12"] =
  process.argv.slice(2);
const t0 = Date.now();
let reads = 0;
Date.now = () => t0 + Math.floor(reads++ / 1000);
const core = await loadBuild(dist);
const fn = async (x) => x;
const BATCH = 20_000;
const agents = Array.from({ length: 10_000 }, (_, i) => `agent-${i}`);
const turn = Array.from({ length: BATCH }, (_, k) => k % 10_000);
if (order === "random") {
  let seed = 12345;
  for (let k = turn.length - 1; k > 0; k--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = seed % (k + 1);
    [turn[k], turn[j]] = [turn[j], turn[k]];
  }
}
const one = new core.AgentSRE({});
const many = new core.AgentSRE({});
for (let i = 0; i < 20_000; i++) await many.guard(toolCall(agents[i % 10_000], i), fn);
const oneCall = (k) => one.guard(toolCall("solo", k), fn);
const manyCall = (k) => {
  const agent = turn[k % BATCH];
  return many.guard(toolCall(agents[agent], agent), fn);
};
let i = 0;
const batch = async (call, n) => {
  for (let end = i + n; i < end; i++) await call(i);
};
for (let round = 0; round < Number(warmArg); round++) {
  await batch(oneCall, BATCH);
  await batch(manyCall, BATCH);
}
// The measured side runs last in the warm-up too (its working set in the caches, as in a timed batch).
const measured = side === "one" ? oneCall : manyCall;
await batch(measured, BATCH);
const calls = Number(callsArg);
globalThis.gc?.({ type: "minor" });
const start = process.cpuUsage();
await batch(measured, calls);
const used = process.cpuUsage(start);
console.log(`${side} ${order}: ${(((used.user + used.system) * 1000) / calls).toFixed(0)} ns CPU per call`);
