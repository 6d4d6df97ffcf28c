// Paired A/B of two builds' guarded model call (budget + price + SLO) in bench:check's setting (issue 18,
// session 9 "model"): each build first runs check's other engines (the default tool call, the lean engine, a
// chaos experiment at rate 0), so the engine's shared functions are optimized for all of them, as in
// `bench:check`; then B − A of the model call in both orders (CPU time, medians of per-round differences).
//   node --expose-gc bench/model-check-ab.mjs <distA> <distB> [reps]
import { loadavg } from "node:os";
import {
  bMinusA,
  idleChaosEngine,
  loadBuild,
  modelCall,
  ns,
  OUT_OF_REACH,
  sloOf,
  toolCall,
} from "./fixtures.mjs";
import { pairedAdded } from "./harness.mjs";

const [distA, distB, repsArg = "3"] = process.argv.slice(2);
const builds = { A: await loadBuild(distA), B: await loadBuild(distB) };
const fn = async (x) => x;
const bare = { kind: "tool", agentId: "bench", name: "ping" };
const sre = {};
for (const k of ["A", "B"]) {
  const core = builds[k];
  const tool = new core.AgentSRE({});
  const lean = new core.AgentSRE({ rogue: false, retryBudget: false });
  const leanChaos = idleChaosEngine(core);
  sre[k] = new core.AgentSRE({ budget: OUT_OF_REACH, slos: [sloOf(core)] });
  // As bench:check runs them before and after the model call: the engine's code sees every kind of call.
  for (let i = 0; i < 60_000; i++) {
    await tool.guard(toolCall("bench", i), fn);
    if (i % 3 === 0) await lean.guard(bare, fn);
    if (i % 3 === 1) await leanChaos.guard(bare, fn);
    if (i % 2 === 0) await sre[k].guard(modelCall, fn);
  }
}
const run = (k) => () => sre[k].guard(modelCall, fn);
const options = { batch: 2_000, rounds: 40 };
for (let rep = 0; rep < Number(repsArg); rep++) {
  const a = await pairedAdded(() => fn(1), run("A"), options);
  const b = await pairedAdded(() => fn(1), run("B"), options);
  console.log(
    `model call (check's setting): A ${ns(a.addedNs)}, B ${ns(b.addedNs)} over await fn(); B − A ${ns(await bMinusA(run("A"), run("B"), options))}`,
  );
}
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" / ")}`,
);
