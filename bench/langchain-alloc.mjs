// Heap bytes the LangChain hooks allocate over a bare `sre.guard` of the same call (issue 18, session 17):
// counted, not timed. Each scenario of bench/langchain-fixture.mjs's `langChainSides` (modelGuard, modelHook,
// toolGuard, toolHook) runs in a fresh `node --trace-gc-nvp` process: both sides of its kind warmed up
// alternately (the engine's shared code compiles as in the check), then `calls` calls of the scenario between
// two markers, and the bytes V8 reports allocated since the GC before (`allocated=` of each GC line between the
// markers, the last one the forced full GC that closes the window) are summed, on a clock that moves with the calls. The hook's own share in bytes is
// hook − guard. Deterministic for a build (as bench/alloc-count.mjs), so this is the figure to compare builds
// with. ROOT is a directory with the repository's layout holding core/dist and adapters/langchain/dist (with
// their node_modules links), e.g. a copy of a worktree's built packages; LC_DIST (relative to ROOT) names another
// adapter build, e.g. a copy adapters/langchain/dist-main (it must live under adapters/langchain to resolve).
// Usage: node bench/langchain-alloc.mjs [ROOT=.] [calls=300000] [scenario,...]
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { OUT_OF_REACH } from "./fixtures.mjs";
import { printAllocationsPerCall } from "./harness.mjs";
import { langChainRequests, langChainSides } from "./langchain-fixture.mjs";

const SCENARIOS = {
  modelGuard: { kind: "model", baseline: undefined, about: "sre.guard of the hook's model call" },
  modelHook: { kind: "model", baseline: "modelGuard", about: "middleware.wrapModelCall" },
  toolGuard: { kind: "tool", baseline: undefined, about: "sre.guard of the hook's tool call" },
  toolHook: { kind: "tool", baseline: "toolGuard", about: "middleware.wrapToolCall" },
};

const [rootArg, callsArg = "300000", only] = process.argv.slice(2);
const root = resolve(rootArg ?? new URL("..", import.meta.url).pathname);

if (process.env.ALLOC_CHILD) {
  // The engine's time-driven work (windows, ticks) allocates per elapsed millisecond, not per call: on a clock
  // that moves 1 ms per 1,000 reads it falls on the same calls in every process (±30 B a call on the real one).
  const t0 = Date.now();
  let reads = 0;
  Date.now = () => t0 + Math.floor(reads++ / 1000);
  const load = (path) => import(pathToFileURL(`${root}/${path}`).href);
  const { AgentSRE } = await load("core/dist/index.js");
  const { agentSREMiddleware } = await load(`${process.env.LC_DIST ?? "adapters/langchain/dist"}/index.js`);
  const messages = await import("@langchain/core/messages");
  const { BaseChatModel } = await import("@langchain/core/language_models/chat_models");
  const sre = new AgentSRE({ budget: { ...OUT_OF_REACH, anomalyDetection: false } });
  const middleware = agentSREMiddleware(sre, { agentId: "bench" });
  const sides = langChainSides(sre, middleware, langChainRequests({ BaseChatModel, ...messages }));
  const name = process.env.ALLOC_CHILD;
  const kind = SCENARIOS[name].kind;
  const guard = sides[`${kind}Guard`];
  const hook = sides[`${kind}Hook`];
  for (let i = 0; i < 50_000; i++) {
    await guard();
    await hook();
  }
  const run = sides[name];
  for (let i = 0; i < 50_000; i++) await run();
  globalThis.gc();
  console.log("ALLOC-BEGIN");
  const calls = Number(callsArg);
  for (let i = 0; i < calls; i++) await run();
  globalThis.gc();
  console.log("ALLOC-END");
} else {
  await printAllocationsPerCall({
    script: fileURLToPath(import.meta.url),
    scenarios: SCENARIOS,
    names: only ? only.split(",") : Object.keys(SCENARIOS),
    flags: ["--predictable"],
    args: [root, callsArg],
    calls: Number(callsArg),
    label: root,
  });
}
