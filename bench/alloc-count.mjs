// Heap bytes a guarded call allocates (issue 18, session 17): counted, not timed. Each scenario runs in a fresh
// `node --trace-gc-nvp` process: after a warm-up, `calls` calls between two markers, and the bytes V8 reports
// allocated since the GC before (`allocated=` of each GC line between the markers, the last one the forced full GC that closes the window) are summed.
// Allocation does not depend on the machine's speed or load (deterministic for a build, ±1 B), so this is the
// figure to compare builds with; the time a byte costs (scavenges, their helper threads) is in the timings.
// Each guarded figure is shown over the baseline the bench's row uses (`await fn(args)` / `await fn(x)`).
// Usage: node bench/alloc-count.mjs [dist=core/dist] [calls=1000000] [scenario,...]
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { loadBuild, modelCall, OUT_OF_REACH, sloOf, toolArgs, toolCall } from "./fixtures.mjs";
import { bytesAllocatedInWindow } from "./harness.mjs";

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
  const script = fileURLToPath(import.meta.url);
  const calls = Number(callsArg);
  const names = only ? only.split(",") : Object.keys(SCENARIOS);
  const wanted = new Set(names.flatMap((name) => [name, SCENARIOS[name]?.baseline].filter(Boolean)));
  const bytes = {};
  for (const name of Object.keys(SCENARIOS)) {
    if (!wanted.has(name)) continue;
    const child = spawnSync(process.execPath, ["--expose-gc", "--trace-gc-nvp", script, dist, callsArg], {
      env: { ...process.env, ALLOC_CHILD: name },
      encoding: "utf8",
      maxBuffer: 64 * 2 ** 20,
    });
    if (child.status !== 0) throw new Error(`alloc-count: ${name} exited ${child.status}: ${child.stderr}`);
    bytes[name] = bytesAllocatedInWindow(child.stdout) / calls;
  }
  console.log(`heap bytes allocated per call (${calls.toLocaleString("en")} calls, ${dist})`);
  for (const name of names) {
    const { baseline, about } = SCENARIOS[name];
    const own = bytes[name];
    const added = baseline ? ` (+${(own - bytes[baseline]).toFixed(0)} B over ${baseline})` : "";
    console.log(`  ${name.padEnd(7)} ${own.toFixed(0).padStart(5)} B${added}  ${about}`);
  }
}
