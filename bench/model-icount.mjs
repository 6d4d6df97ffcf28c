// Instruction counts of the guarded model call (issue 18, session 10 "model"), for valgrind: after the mode's
// warm-up (alone | mixed: bench:check's tool engines first | interleaved: its lean and chaos engines too),
// `calls` model calls between two `process.cpuUsage()`: under callgrind with `--dump-before=uv_getrusage`, the
// dump taken at the second holds the instructions of exactly those calls (`/tmp/...` icount script).
//   valgrind --tool=callgrind --smc-check=all-non-file --dump-before=uv_getrusage \
//     node --expose-gc --predictable bench/model-icount.mjs <dist> <mode> <calls>
import { idleChaosEngine, loadBuild, modelCall, OUT_OF_REACH, sloOf, toolCall } from "./fixtures.mjs";

const [dist = "core/dist", mode = "mixed", callsArg = "20000"] = process.argv.slice(2);
if (process.env.FAKE_CLOCK === "1") {
  // Under valgrind a call takes ~50× as long: time-driven work (windows, ticks) would come 50× as often per
  // call. A clock that moves 1 ms per 1,000 reads (~2 reads a call, as at full speed) keeps it as it is.
  const t0 = Date.now();
  let reads = 0;
  Date.now = () => t0 + Math.floor(reads++ / 1000);
}
const core = await loadBuild(dist);
const fn = async (x) => x;
const bare = { kind: "tool", agentId: "bench", name: "ping" };
const model = new core.AgentSRE({ budget: OUT_OF_REACH, slos: [sloOf(core)] });
const warm = Number(process.env.WARM ?? 1);
if (mode !== "alone") {
  const many = new core.AgentSRE({});
  const tool = new core.AgentSRE({});
  for (let i = 0; i < 20_000 * warm; i++) await many.guard(toolCall(`agent-${i % 10_000}`, i), fn);
  for (let i = 0; i < 40_000 * warm; i++) await tool.guard(toolCall("bench", i), fn);
  if (mode === "interleaved") {
    const lean = new core.AgentSRE({ rogue: false, retryBudget: false });
    const leanChaos = idleChaosEngine(core);
    for (let i = 0; i < 30_000 * warm; i++) {
      await tool.guard(toolCall("bench", i), fn);
      if (i % 3 === 0) await lean.guard(bare, fn);
      if (i % 3 === 1) await leanChaos.guard(bare, fn);
      if (i % 2 === 0) await model.guard(modelCall, fn);
    }
  }
}
// MEASURE=tool: the default engine's tool call instead (what a change for the model call must not slow).
const toolEngine = new core.AgentSRE({});
const measured =
  process.env.MEASURE === "tool"
    ? (i) => toolEngine.guard(toolCall("bench", i), fn)
    : () => model.guard(modelCall, fn);
for (let i = 0; i < 30_000 * warm; i++) await measured(i);
const calls = Number(callsArg);
// The window valgrind counts: `--dump-before=uv_getrusage` dumps the counts at each `process.cpuUsage()`.
globalThis.gc?.();
const start = process.cpuUsage();
for (let i = 0; i < calls; i++) await measured(i);
const used = process.cpuUsage(start);
console.log(`${(((used.user + used.system) * 1000) / calls).toFixed(0)} ns CPU per call`);
