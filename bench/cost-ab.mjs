// Paired A/B of two builds of @agent-sre/core in ONE process, for the model call's parts (issue 18): the
// cost guard alone (reserve + the engine's commit, as the engine calls them), an SLO fed one observation, and
// the full guarded model call (budget + price + SLO). Both orders (A then B, B then A; CPU time, medians of
// per-round differences), averaged. Copy a build before changing code (see ab-builds.mjs), then:
//   node --expose-gc bench/cost-ab.mjs <distA> <distB> [guard,slo,model] [reps]
import { loadavg } from "node:os";
import { bMinusA, loadBuild, modelCall, ns, OUT_OF_REACH, sloOf } from "./fixtures.mjs";
import { pairedAdded } from "./harness.mjs";

const [distA, distB, which = "guard,slo,model", repsArg = "3"] = process.argv.slice(2);
if (distA === undefined || distB === undefined) {
  console.error("usage: node --expose-gc bench/cost-ab.mjs <distA> <distB> [guard,slo,model] [reps]");
  process.exit(2);
}
const builds = { A: await loadBuild(distA), B: await loadBuild(distB) };
const reps = Number(repsArg);
const fn = async (x) => x;

const parts = {
  async guard() {
    const guards = {
      A: new builds.A.CostGuard({ ...OUT_OF_REACH }),
      B: new builds.B.CostGuard({ ...OUT_OF_REACH }),
    };
    let t = Date.now();
    // The engine's calls: reserve with the request's fields, commit without reading the alerts.
    const run = (k) => () => {
      const guard = guards[k];
      t += 1;
      const r = guard.reserveCall("bench", "task-1", 0.013, 2200, t);
      guard.commitUnread(r, 0.006, 1500, t + 1);
    };
    const options = { batch: 5_000, rounds: 40 };
    return `cost guard reserve + commit: B − A ${ns(await bMinusA(run("A"), run("B"), options))}`;
  },
  async slo() {
    const slos = { A: sloOf(builds.A), B: sloOf(builds.B) };
    let t = Date.now();
    const observation = {
      at: t,
      agentId: "bench",
      taskId: "task-1",
      kind: "model",
      name: "gpt-4o",
      ok: true,
      durationMs: 3,
      costUsd: 0.006,
      inputTokens: 1200,
      outputTokens: 300,
      errorCode: undefined,
    };
    const run = (k) => () => {
      t += 1;
      observation.at = t;
      slos[k].observe(observation);
    };
    const options = { batch: 5_000, rounds: 40 };
    return `SLO observe: B − A ${ns(await bMinusA(run("A"), run("B"), options))}`;
  },
  async model() {
    const sre = {
      A: new builds.A.AgentSRE({ budget: OUT_OF_REACH, slos: [sloOf(builds.A)] }),
      B: new builds.B.AgentSRE({ budget: OUT_OF_REACH, slos: [sloOf(builds.B)] }),
    };
    const run = (k) => () => sre[k].guard(modelCall, fn);
    const options = { batch: 2_000, rounds: 40 };
    const a = await pairedAdded(() => fn(0), run("A"), options);
    const b = await pairedAdded(() => fn(0), run("B"), options);
    return `model call: A ${ns(a.addedNs)}, B ${ns(b.addedNs)} over await fn(); B − A ${ns(await bMinusA(run("A"), run("B"), options))}`;
  },
};

for (let rep = 0; rep < reps; rep++) {
  for (const part of which.split(",")) console.log(await parts[part]());
}
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" / ")}`,
);
