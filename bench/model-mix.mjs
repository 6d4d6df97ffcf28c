// The guarded model call (budget + price + SLO) in one build, either alone in its process or after the other
// engines of bench:check ran first (issue 18, session 10 "model"): the gap is what the engine's shared code
// pays for serving several call shapes. One process per run; for --cpu-prof / --trace-deopt as well.
//   node --expose-gc bench/model-mix.mjs <dist> alone|mixed|interleaved [rounds]
import { idleChaosEngine, loadBuild, modelCall, OUT_OF_REACH, sloOf, toolCall } from "./fixtures.mjs";
import { pairedAdded } from "./harness.mjs";

const [dist = "core/dist", mode = "mixed", roundsArg = "40"] = process.argv.slice(2);
const core = await loadBuild(dist);
const fn = async (x) => x;
const bare = { kind: "tool", agentId: "bench", name: "ping" };
const model = new core.AgentSRE({ budget: OUT_OF_REACH, slos: [sloOf(core)] });
if (mode !== "alone") {
  // As bench:check before its model row: 10,000 agents' tool calls, then the default engine's tool calls.
  const many = new core.AgentSRE({});
  const tool = new core.AgentSRE({});
  for (let i = 0; i < 20_000; i++) await many.guard(toolCall(`agent-${i % 10_000}`, i), fn);
  for (let i = 0; i < 90_000; i++) await tool.guard(toolCall("bench", i), fn);
  if (mode === "interleaved") {
    // The engines bench:check runs after the model row (lean, chaos at rate 0), mixed with model calls.
    const lean = new core.AgentSRE({ rogue: false, retryBudget: false });
    const leanChaos = idleChaosEngine(core);
    for (let i = 0; i < 60_000; i++) {
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
const r = await pairedAdded(() => fn(1), measured, {
  batch: 2_000,
  rounds: Number(roundsArg),
});
console.log(
  `${mode}: ${process.env.MEASURE ?? "model"} call +${r.addedNs.toFixed(0)} ns over await fn() (${r.baselineNs.toFixed(0)})`,
);
