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
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
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
    const out = mkdtempSync(join(tmpdir(), `lc-icount-${kind}-`));
    try {
      execFileSync(
        "valgrind",
        [
          "--tool=callgrind",
          "--smc-check=all-non-file",
          "--dump-before=uv_getrusage",
          `--callgrind-out-file=${join(out, "cg.%p")}`,
          ...(keep ? ["--dump-instr=yes", "--dump-line=no"] : []),
          process.execPath,
          ...(keep ? ["--perf-basic-prof"] : []),
          "--expose-gc",
          "--predictable",
          "--random-seed=1",
          "--hash-seed=1",
          "--no-compact-code-space",
          "--min-semi-space-size=256",
          "--max-semi-space-size=256",
          ...(process.env.NODE_FLAGS ? process.env.NODE_FLAGS.split(" ") : []),
          fileURLToPath(import.meta.url),
          root,
          callsArg,
        ],
        { env: { ...process.env, ICOUNT_CHILD: kind }, stdio: ["ignore", "inherit", "ignore"] },
      );
      // Dumps in order: .1 setup and warm-up, then each window's end (.2 .4 .6 .8) after the GC before it.
      const dumps = readdirSync(out)
        .filter((file) => /\.\d+$/.test(file))
        .sort((a, b) => Number(a.split(".").pop()) - Number(b.split(".").pop()));
      const total = (k) =>
        Number(
          /^(?:summary|totals): (\d+)/m.exec(readFileSync(join(out, dumps[k]), "utf8"))?.[1] ?? Number.NaN,
        );
      const marginal = (small, large) => (total(large) - total(small)) / (2 * calls);
      const guard = marginal(1, 5);
      const hook = marginal(3, 7);
      rows.push(`| ${kind} | ${guard.toFixed(0)} | ${hook.toFixed(0)} | +${(hook - guard).toFixed(0)} |`);
      if (keep) {
        const pid = dumps[0].split(".")[1];
        for (const [side, k] of [
          ["guard", 5],
          ["hook", 7],
        ]) {
          console.log(`${kind} ${side}, ${3 * calls} calls, instructions a call by symbol:`);
          const bySymbol = symbolCosts(join(out, dumps[k]), `/tmp/perf-${pid}.map`, 3 * calls);
          for (const [symbol, cost] of bySymbol.slice(0, Number(process.env.TOP ?? 40)))
            console.log(`  ${cost.toFixed(1).padStart(8)}  ${symbol}`);
        }
      }
    } finally {
      if (keep) console.log(`${kind}: dumps in ${out}`);
      else rmSync(out, { recursive: true, force: true });
    }
  }
  console.log(
    `marginal instructions per call (${root}, adapter ${lcDist}; windows of ${calls} and ${3 * calls})`,
  );
  console.log("| kind | sre.guard | hook | hook − guard |");
  console.log("|---|---:|---:|---:|");
  for (const row of rows) console.log(row);
}

/**
 * A dump's instruction costs (`--dump-instr=yes --dump-line=no`) summed per symbol, per call: JIT code named
 * by node's perf map (the entry written last that covers an address: code space is reused), else callgrind's
 * function name. Sorted, highest first.
 */
function symbolCosts(dump, perfMap, perCall) {
  const entries = readFileSync(perfMap, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line, order) => {
      const [start, size, ...rest] = line.split(" ");
      return {
        start: Number.parseInt(start, 16),
        end: Number.parseInt(start, 16) + Number.parseInt(size, 16),
        name: rest.join(" "),
        order,
      };
    })
    .sort((a, b) => a.start - b.start);
  const maxSize = Math.max(...entries.map((e) => e.end - e.start));
  const jitName = (address) => {
    let lo = 0;
    let hi = entries.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (entries[mid].start <= address) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    let best;
    for (let k = at; k >= 0 && entries[k].start > address - maxSize; k--) {
      const e = entries[k];
      if (address < e.end && (best === undefined || e.order > best.order)) best = e;
    }
    return best?.name;
  };
  const names = new Map();
  const costs = new Map();
  let fn = "?";
  let last = 0;
  let skipNext = false;
  const named = (text) => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(text);
    if (m === null) return text;
    if (m[2] !== undefined) names.set(m[1], m[2]);
    return names.get(m[1]) ?? text;
  };
  for (const line of readFileSync(dump, "utf8").split("\n")) {
    if (line.startsWith("fn=")) fn = named(line.slice(3));
    else if (line.startsWith("cfn=")) named(line.slice(4));
    else if (line.startsWith("calls=")) skipNext = true;
    else if (/^[0-9+*-]/.test(line)) {
      const [position, cost] = line.split(" ");
      if (position.startsWith("+")) last += Number(position.slice(1));
      else if (position.startsWith("-")) last -= Number(position.slice(1));
      else if (position !== "*") last = Number(position);
      if (skipNext) {
        skipNext = false;
        continue;
      }
      const symbol = jitName(last) ?? fn;
      costs.set(symbol, (costs.get(symbol) ?? 0) + Number(cost ?? 0));
    }
  }
  return [...costs].map(([symbol, cost]) => [symbol, cost / perCall]).sort((a, b) => b[1] - a[1]);
}
