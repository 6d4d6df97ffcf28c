// Paired A/B of two builds of @agent-sre/core in ONE process (issue 18): the engine's tool call, model call
// (budget + price + SLO), 10,000 agents vs 1, and the rogue detector alone with 1 / 10,000 agents. Each figure
// is measured in both orders (A then B, B then A; CPU time, median of per-round differences) and the two are
// averaged, which cancels the advantage of either position in a pair. Copy a build before changing code:
//   cp -r core/dist /tmp/core-before/dist   (and core/package.json; symlink core/node_modules next to it)
// then: node --expose-gc bench/ab-builds.mjs /tmp/core-before/dist core/dist [tool,model,fleet,detector] [reps]
import { loadavg } from "node:os";
import { bMinusA, loadBuild, modelCall, ns, OUT_OF_REACH, sloOf, toolArgs, toolCall } from "./fixtures.mjs";
import { pairedAdded } from "./harness.mjs";

const [distA, distB, which = "tool,model,fleet,detector", repsArg = "3"] = process.argv.slice(2);
if (distA === undefined || distB === undefined) {
  console.error(
    "usage: node --expose-gc bench/ab-builds.mjs <distA> <distB> [tool,model,fleet,detector] [reps]",
  );
  process.exit(2);
}
const builds = { A: await loadBuild(distA), B: await loadBuild(distB) };
const reps = Number(repsArg);
const fn = async (x) => x;
const AGENTS = Array.from({ length: 10_000 }, (_, i) => `agent-${i}`);

const parts = {
  async tool() {
    const sre = { A: new builds.A.AgentSRE({}), B: new builds.B.AgentSRE({}) };
    const run = (k) => (i) => sre[k].guard(toolCall("bench", i), fn);
    const options = { batch: 2_000, rounds: 40 };
    const a = await pairedAdded(() => fn(toolArgs()), run("A"), options);
    const b = await pairedAdded(() => fn(toolArgs()), run("B"), options);
    return `tool call: A ${ns(a.addedNs)}, B ${ns(b.addedNs)} over await fn(); B − A ${ns(await bMinusA(run("A"), run("B"), options))}`;
  },
  async model() {
    const sre = {
      A: new builds.A.AgentSRE({ budget: OUT_OF_REACH, slos: [sloOf(builds.A)] }),
      B: new builds.B.AgentSRE({ budget: OUT_OF_REACH, slos: [sloOf(builds.B)] }),
    };
    const run = (k) => () => sre[k].guard(modelCall, fn);
    const options = { batch: 2_000, rounds: 40 };
    const a = await pairedAdded(() => fn(toolArgs()), run("A"), options);
    const b = await pairedAdded(() => fn(toolArgs()), run("B"), options);
    return `model call: A ${ns(a.addedNs)}, B ${ns(b.addedNs)} over await fn(); B − A ${ns(await bMinusA(run("A"), run("B"), options))}`;
  },
  async fleet() {
    const one = { A: new builds.A.AgentSRE({}), B: new builds.B.AgentSRE({}) };
    const many = { A: new builds.A.AgentSRE({}), B: new builds.B.AgentSRE({}) };
    for (const k of ["A", "B"])
      for (let i = 0; i < 20_000; i++) await many[k].guard(toolCall(AGENTS[i % 10_000], i), fn);
    const options = { batch: 20_000, rounds: 10, warmupRounds: 2 };
    const ratio = {};
    for (const k of ["A", "B"]) {
      ratio[k] = await pairedAdded(
        (i) => one[k].guard(toolCall("solo", i), fn),
        (i) => many[k].guard(toolCall(AGENTS[i % 10_000], i), fn),
        options,
      );
    }
    const manyOf = (k) => (i) => many[k].guard(toolCall(AGENTS[i % 10_000], i), fn);
    return `10,000 agents vs 1: A ${ratio.A.ratio.toFixed(2)}×, B ${ratio.B.ratio.toFixed(2)}×; 10,000 agents B − A ${ns(await bMinusA(manyOf("A"), manyOf("B"), options))}`;
  },
  async detector() {
    const lines = [];
    for (const agents of [1, 10_000]) {
      const ids = AGENTS.slice(0, agents);
      const detector = { A: new builds.A.RogueAgentDetector({}), B: new builds.B.RogueAgentDetector({}) };
      const handles = {
        A: ids.map((id) => detector.A.signalsOf(id)),
        B: ids.map((id) => detector.B.signalsOf(id)),
      };
      let nowMs = Date.now();
      const run = (k) => (i) => {
        const a = i % agents;
        const input = toolArgs();
        nowMs += 1;
        detector[k].checkLoopOf(handles[k][a], TOOLS[i % 5], input, "task-1", nowMs);
        detector[k].recordCallOf(
          handles[k][a],
          ids[a],
          TOOLS[i % 5],
          TOOLS[i % 5],
          input,
          "task-1",
          nowMs,
          false,
        );
      };
      lines.push(
        `detector alone, ${agents} agent(s): B − A ${ns(await bMinusA(run("A"), run("B"), { batch: 5_000, rounds: 30 }))}`,
      );
    }
    return lines.join("\n");
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
