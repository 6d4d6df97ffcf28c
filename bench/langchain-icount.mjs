// Instructions the LangChain hooks execute over a bare `sre.guard` of the same call (issue 18, session 18):
// counted, not timed. Per kind (model, tool) one process under `valgrind --tool=callgrind
// --dump-before=uv_getrusage` (node `--predictable`, fixed seeds, no code-space compaction) runs
// bench/langchain-fixture.mjs's `langChainSides`: both sides warmed up alternately (the engine's shared code
// compiles as in the check), then four windows, each after a minor GC and between two `process.cpuUsage()`
// (each one dumps the counts so far): guard × N, hook × N, guard × 3N, hook × 3N. A side's marginal figure,
// (its 3N window − its N window) / 2N, leaves out the fixed work (late TurboFan compiles) a window holds; both
// sides in one process share one compiled engine (V8 compiles the budget path in one of two shapes, ~300
// instructions apart, depending on what it compiled first: in separate processes that flipped the figure).
// No scavenge falls in a window (a young generation of 256 MB; the GC's share is the bytes a call allocates,
// bench/langchain-alloc.mjs). The engine runs on a clock that moves 1 ms per 1,000 reads (under valgrind a call
// takes ~50× as long; on the real clock time-driven work would come 50× as often).
// ROOT holds core/dist; LC_DIST (default adapters/langchain/dist under ROOT) is the adapter build, e.g. a copy
// `adapters/langchain/dist-main` (copies must live under adapters/langchain to resolve its dependencies).
// KEEP=1 keeps the dumps (`--dump-instr=yes`) and node's perf map (`--perf-basic-prof`) and prints each
// side's 3N window by symbol (TOP=n rows). NODE_FLAGS adds node flags (e.g. "--print-opt-code
// --print-opt-code-filter=modelCallOf": the code's addresses match the dump's).
// Usage: node bench/langchain-icount.mjs [ROOT=.] [calls=20000] [model,tool]
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { countingFlags, symbolCosts, underCallgrind } from "./callgrind.mjs";
import { OUT_OF_REACH } from "./fixtures.mjs";
import { langChainRequests, langChainSides } from "./langchain-fixture.mjs";

const [rootArg, callsArg = "20000", kindsArg = "model,tool"] = process.argv.slice(2);
const root = resolve(rootArg ?? new URL("..", import.meta.url).pathname);
const lcDist = resolve(root, process.env.LC_DIST ?? "adapters/langchain/dist");
const calls = Number(callsArg);
const keep = process.env.KEEP === "1";

if (process.env.ICOUNT_CHILD) {
  const t0 = Date.now();
  let reads = 0;
  Date.now = () => t0 + Math.floor(reads++ / 1000);
  const { AgentSRE } = await import(pathToFileURL(`${root}/core/dist/index.js`).href);
  const { agentSREMiddleware } = await import(pathToFileURL(`${lcDist}/index.js`).href);
  const messages = await import("@langchain/core/messages");
  const { BaseChatModel } = await import("@langchain/core/language_models/chat_models");
  const sre = new AgentSRE({ budget: { ...OUT_OF_REACH, anomalyDetection: false } });
  const middleware = agentSREMiddleware(sre, { agentId: "bench" });
  const sides = langChainSides(sre, middleware, langChainRequests({ BaseChatModel, ...messages }));
  const kind = process.env.ICOUNT_CHILD;
  const guard = sides[`${kind}Guard`];
  const hook = sides[`${kind}Hook`];
  const alternate = async (n) => {
    for (let i = 0; i < n; i++) {
      await guard();
      await hook();
    }
  };
  await alternate(20_000);
  // A full GC, then calls enough to re-optimize what it threw away: the old generation's limits are then set
  // from the live heap, so no incremental marking starts inside a window (one did: ±500 a call).
  globalThis.gc();
  await alternate(20_000);
  for (const [run, size] of [
    [guard, calls],
    [hook, calls],
    [guard, 3 * calls],
    [hook, 3 * calls],
  ]) {
    globalThis.gc({ type: "minor" });
    process.cpuUsage();
    for (let i = 0; i < size; i++) await run();
    process.cpuUsage();
  }
} else {
  const rows = [];
  for (const kind of kindsArg.split(",")) {
    underCallgrind(
      {
        prefix: `lc-icount-${kind}`,
        script: fileURLToPath(import.meta.url),
        scriptArgs: [root, callsArg],
        nodeFlags: [...countingFlags({ semiSpaceMb: 256 }), "--no-compact-code-space"],
        keepFlags: ["--dump-instr=yes", "--dump-line=no"],
        env: { ...process.env, ICOUNT_CHILD: kind },
        keep,
      },
      (dumps) => {
        // Dumps in order: 0 setup and warm-up, then each window's end (1 3 5 7) after the GC before it.
        const marginal = (small, large) => (dumps[large].counts.Ir - dumps[small].counts.Ir) / (2 * calls);
        const guard = marginal(1, 5);
        const hook = marginal(3, 7);
        rows.push(`| ${kind} | ${guard.toFixed(0)} | ${hook.toFixed(0)} | +${(hook - guard).toFixed(0)} |`);
        if (!keep) return;
        for (const [side, k] of [
          ["guard", 5],
          ["hook", 7],
        ]) {
          console.log(`${kind} ${side}, ${3 * calls} calls, instructions a call by symbol:`);
          const bySymbol = symbolCosts(dumps[k].file, dumps[k].pid, 3 * calls);
          for (const [symbol, cost] of bySymbol.slice(0, Number(process.env.TOP ?? 40)))
            console.log(`  ${cost.toFixed(1).padStart(8)}  ${symbol}`);
        }
      },
    );
  }
  console.log(
    `marginal instructions per call (${root}, adapter ${lcDist}; windows of ${calls} and ${3 * calls})`,
  );
  console.log("| kind | sre.guard | hook | hook − guard |");
  console.log("|---|---:|---:|---:|");
  for (const row of rows) console.log(row);
}
