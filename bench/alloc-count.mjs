// Heap bytes a guarded call allocates (issue 18, session 17): counted, not timed. Each scenario runs in a fresh
// `node --trace-gc-nvp` process: after a warm-up, `calls` calls between two markers, and the bytes V8 reports
// allocated since the GC before (`allocated=` of each GC line between the markers, the last one the forced full GC that closes the window) are summed.
// Allocation does not depend on the machine's speed or load (deterministic for a build, ±1 B), so this is the
// figure to compare builds with; the time a byte costs (scavenges, their helper threads) is in the timings.
// Each guarded figure is shown over the baseline the bench's row uses (`await fn(args)` / `await fn(x)`).
// Usage: node bench/alloc-count.mjs [dist=core/dist] [calls=1000000] [scenario,...]
import { fileURLToPath } from "node:url";
import { loadBuild, modelCall, OUT_OF_REACH, sloOf, toolArgs, toolCall } from "./fixtures.mjs";
import { printAllocationsPerCall } from "./harness.mjs";

const SCENARIOS = {
  direct: { baseline: undefined, about: "await fn(toolArgs())" },
  bare: { baseline: undefined, about: "await fn(x)" },
  tool: { baseline: "direct", about: "guard tool call, default config (fresh args)" },
  model: { baseline: "bare", about: "guard model call: budget + price + SLO" },
  lean: { baseline: "bare", about: "guard tool call, no detector/retry budget" },
  bound: { baseline: "direct", about: "default config, bound (agentRef), 10,000 agents in turn" },
};

const [dist = "core/dist", callsArg = "1000000", only] = process.argv.slice(2);

if (process.env.ALLOC_CHILD) {
  const core = await loadBuild(dist);
  const fn = async (x) => x;
  const bare = { kind: "tool", agentId: "bench", name: "ping" };
  const tool = new core.AgentSRE({});
  const model = new core.AgentSRE({ budget: OUT_OF_REACH, slos: [sloOf(core)] });
  const lean = new core.AgentSRE({ rogue: false, retryBudget: false });
  const many = new core.AgentSRE({});
  const refs = Array.from({ length: 10_000 }, (_, i) => many.agentRef(`agent-${i}`));
  const runs = {
    direct: () => fn(toolArgs()),
    bare: () => fn(bare),
    tool: (i) => tool.guard(toolCall("bench", i), fn),
    model: () => model.guard(modelCall, fn),
    lean: () => lean.guard(bare, fn),
    bound: (i) => many.guard(toolCall(refs[i % 10_000].agentId, i, refs[i % 10_000]), fn),
  };
  const run = runs[process.env.ALLOC_CHILD];
  for (let i = 0; i < 100_000; i++) await run(i);
  globalThis.gc();
  console.log("ALLOC-BEGIN");
  const calls = Number(callsArg);
  for (let i = 0; i < calls; i++) await run(i);
  globalThis.gc();
  console.log("ALLOC-END");
} else {
  await printAllocationsPerCall({
    script: fileURLToPath(import.meta.url),
    scenarios: SCENARIOS,
    names: only ? only.split(",") : Object.keys(SCENARIOS),
    flags: [],
    args: [dist, callsArg],
    calls: Number(callsArg),
    label: dist,
  });
}
