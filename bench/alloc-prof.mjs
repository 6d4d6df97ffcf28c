// Where a guarded call's heap bytes are allocated (issue 18, session 17): V8's sampling heap profiler, including
// objects the GC already collected, over 200,000 calls after a warm-up; bytes a call per allocating function.
// With V8's inlining an inlined callee's allocations count for the function it was inlined into (and folded
// allocations for one of them): add `--no-turbo-inlining` to attribute them to the callee (then values passed to
// the callees it would have inlined are boxed too: heap numbers that the inlined code does not allocate).
// `mixed`: first 100,000 model and tool calls in turn and a few streams that read their output-token allowance,
// as a process that makes both kinds of call does (a field V8 has seen a double in holds a heap number from then on).
// Usage: node [--no-turbo-inlining] bench/alloc-prof.mjs <direct|bare|tool|model|lean> [mixed]
import { Session } from "node:inspector/promises";
import { AgentSRE } from "@agent-sre/core";
import { modelCall, OUT_OF_REACH, sloOf, toolArgs, toolCall } from "./fixtures.mjs";

const core = await import("@agent-sre/core");
const fn = async (x) => x;
const [which = "tool", mode] = process.argv.slice(2);
const sreDefault = new AgentSRE({});
const sreModel = new AgentSRE({ budget: OUT_OF_REACH, slos: [sloOf(core)] });
const lean = new AgentSRE({ rogue: false, retryBudget: false });
const bare = { kind: "tool", agentId: "bench", name: "ping" };
const runs = {
  direct: () => fn(toolArgs()),
  bare: () => fn(bare),
  tool: (i) => sreDefault.guard(toolCall("bench", i), fn),
  model: () => sreModel.guard(modelCall, fn),
  lean: () => lean.guard(bare, fn),
};
const run = runs[which];
if (run === undefined) throw new Error(`alloc-prof: unknown scenario ${which}`);
if (mode === "mixed") {
  for (let i = 0; i < 100_000; i++) {
    await runs.model(i);
    await runs.tool(i);
  }
  const streams = new AgentSRE({});
  for (let i = 0; i < 1_000; i++) {
    const stream = await streams.begin({ ...modelCall, agentId: "streams" });
    void stream.outputTokenAllowance;
    stream.succeed();
  }
}
for (let i = 0; i < 100_000; i++) await run(i);
const session = new Session();
session.connect();
await session.post("HeapProfiler.startSampling", {
  samplingInterval: 64,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
const N = 200_000;
for (let i = 0; i < N; i++) await run(i);
const { profile } = await session.post("HeapProfiler.stopSampling");
const bytesAt = new Map();
function walk(node) {
  const f = node.callFrame;
  const here = `${f.functionName || "(anonymous)"} ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}`;
  if (node.selfSize) bytesAt.set(here, (bytesAt.get(here) ?? 0) + node.selfSize);
  for (const child of node.children) walk(child);
}
walk(profile.head);
const total = [...bytesAt.values()].reduce((a, b) => a + b, 0);
console.log(`${which}${mode ? ` (${mode})` : ""}: ${(total / N).toFixed(0)} B a call sampled`);
for (const [site, bytes] of [...bytesAt].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  if (bytes / N >= 0.5) console.log(`${(bytes / N).toFixed(1).padStart(7)} ${site}`);
}
