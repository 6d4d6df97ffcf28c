// The LangChain hooks' calls of bench/check.mjs's langchain group, one side at a time, for profilers
// (`node --cpu-prof`, `--trace-deopt`, `valgrind --tool=callgrind`): the middleware's hook or the bare
// `sre.guard` it is measured against, `count` calls awaited one by one after as many warm-up calls.
// Instructions per call of a side: (instructions at count N2 − at N1) / (N2 − N1) under callgrind.
// Not a unit test. Usage: node bench/langchain-prof.mjs <model|tool> <hook|guard|G:H> <count> [ROOT]
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { OUT_OF_REACH } from "./fixtures.mjs";
import { langChainRequests, langChainSides } from "./langchain-fixture.mjs";

const [kind = "model", side = "hook", countText = "100000", rootArg] = process.argv.slice(2);
const count = Number(countText);
const root = resolve(rootArg ?? new URL("..", import.meta.url).pathname);
const load = (path) => import(pathToFileURL(`${root}/${path}`).href);
const { AgentSRE } = await load("core/dist/index.js");
const { agentSREMiddleware } = await load("adapters/langchain/dist/index.js");
const messages = await import("@langchain/core/messages");
const { BaseChatModel } = await import("@langchain/core/language_models/chat_models");
const sre = new AgentSRE({ budget: { ...OUT_OF_REACH, anomalyDetection: false } });
const middleware = agentSREMiddleware(sre, { agentId: "bench" });
const sides = langChainSides(sre, middleware, langChainRequests({ BaseChatModel, ...messages }));
const runs = {
  "model guard": sides.modelGuard,
  "model hook": sides.modelHook,
  "tool guard": sides.toolGuard,
  "tool hook": sides.toolHook,
};
// Both sides warm up the same way whichever is measured (the engine's code is shared, as in the check).
const guard = runs[`${kind} guard`];
const hook = runs[`${kind} hook`];
if (guard === undefined) throw new Error(`unknown kind: ${kind}`);
for (let i = 0; i < 20_000; i++) {
  await guard();
  await hook();
}
// `side`: "hook" or "guard" measures that side alone; "G:H" runs rounds of G guarded then H hooked calls
// (the check's alternation; instructions per call of a side from runs that differ in its batch only).
const [guardBatch, hookBatch] =
  side === "hook" ? [0, 1] : side === "guard" ? [1, 0] : side.split(":").map(Number);
if (process.env.ALLOC !== undefined) {
  // Bytes allocated per call (run with --expose-gc --max-semi-space-size=128: no GC inside the window).
  const { getHeapStatistics } = await import("node:v8");
  const perCall = [];
  for (let rep = 0; rep < 5; rep++) {
    globalThis.gc();
    const before = getHeapStatistics().used_heap_size;
    for (let round = 0; round < count; round++) {
      for (let i = 0; i < guardBatch; i++) await guard();
      for (let i = 0; i < hookBatch; i++) await hook();
    }
    perCall.push((getHeapStatistics().used_heap_size - before) / (count * (guardBatch + hookBatch)));
  }
  perCall.sort((a, b) => a - b);
  console.log(`${kind} ${side}: ${perCall[2].toFixed(0)} B/call (median of 5)`);
  process.exit(0);
}
const started = process.cpuUsage();
for (let round = 0; round < count; round++) {
  for (let i = 0; i < guardBatch; i++) await guard();
  for (let i = 0; i < hookBatch; i++) await hook();
}
const used = process.cpuUsage(started);
if (process.env.QUIET === undefined)
  console.log(
    `${kind} ${side}: ${(((used.user + used.system) * 1000) / Math.max(count * (guardBatch + hookBatch), 1)).toFixed(0)} CPU ns/call`,
  );
