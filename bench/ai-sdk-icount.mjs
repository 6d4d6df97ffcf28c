// Instructions and heap bytes per streamed call of the AI SDK middleware (issue 18, session 18 "stream"), counted
// by callgrind: the SDK's mock model (`MockLanguageModelV3`, as bench/ai-sdk.mjs) streaming a 5-part and a
// 1,004-part stream (1 and 1,000 text deltas), called three ways:
//   bare     the mock's own `doStream`;
//   noop     `wrapLanguageModel` with an empty middleware (the SDK's own wrapper: two async functions a call);
//   guarded  `wrapLanguageModel` + `agentSREMiddleware` (budget enforced, as in ai-sdk.mjs);
//   floor    `wrapLanguageModel` + the least a guard middleware does: `sre.beginNow(call)` (else `await
//            sre.begin(call)`) with a new call object, `await doStream()`, settle the call with the usage at once and return the stream as it is
//            (no tap): the engine's begin and settle and the hops around them. guarded − floor is the tap's and
//            the translation's own share;
// and read two ways: with a reader (`getReader()` until done) and piped through a `TransformStream` and read, as
// streamText does (ai@6 and ai@7 both `pipeThrough` the model's stream). Fixed per call = the short window /
// streams, guarded − bare (the issue's row: ≤ +2 µs); per part = (long − short) / streams / 999.
// Each window lies between two `process.cpuUsage()`: with `--dump-before=uv_getrusage` callgrind dumps its counts
// there. `--predictable` (one thread: no concurrent compiler or GC) and fixed seeds make a count repeatable;
// 64 MB semi-spaces and a minor GC before each window keep scavenges out of the windows, so a count is the code's
// own and the young generation's growth over a window is what it allocated (its GC cost). Every window runs in
// each of PASSES passes; the first is a warm-up and a window's count is its least over the others (a compilation
// that falls in one pass's window only adds to it). Same pattern as openai-icount.mjs.
//   node bench/ai-sdk-icount.mjs [adapter-dist] [short-streams] [long-streams] [seed]
//     runs the count under valgrind (~5 min) and prints it; adapter-dist (default adapters/ai-sdk/dist) is a
//     build of the adapter to count (a copy of the package's dist next to it, so that it resolves its imports).
//   node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64 bench/ai-sdk-icount.mjs --run [dist] [short] [long]
//     one process, no valgrind: bytes allocated a call / part and the windows' CPU ns (a timing, not a count).
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { getHeapSpaceStatistics } from "node:v8";
import { AgentSRE } from "@agent-sre/core";
import { countingFlags, leastOverPasses, underCallgrind } from "./callgrind.mjs";
import { aiSdkPartsFor, aiSdkStep, OUT_OF_REACH, pulledStream } from "./fixtures.mjs";

/** VARIANTS=bare,guarded (say) counts only those: a quicker run while trying a change. */
const VARIANTS = (process.env.VARIANTS ?? "bare,noop,floor,guarded").split(",");
const READERS = ["read", "piped"];
const LENGTHS = ["short", "long"];
/** The windows run this many times; the first pass is a warm-up, the count takes each window's least after it. */
const PASSES = 3;
const PARTS = 999; // parts the long stream has more than the short one (1,004 − 5)
const SHORT_PARTS = 5;
const here = fileURLToPath(new URL(".", import.meta.url));
const args = process.argv.slice(2);
const running = args[0] === "--run";
if (running) args.shift();
const [distArg = resolve(here, "../adapters/ai-sdk/dist"), shortArg = "40", longArg = "4", seedArg = "1"] =
  args;
const dist = resolve(distArg);
const streamsOf = { short: Number(shortArg), long: Number(longArg) };
/** The windows in the order they run: variant, then reader, then length. */
const WINDOWS = VARIANTS.flatMap((variant) =>
  READERS.flatMap((reader) => LENGTHS.map((length) => ({ variant, reader, length }))),
);
const key = ({ variant, reader, length }) => `${variant} ${reader} ${length}`;

/** Per streamed call (short window) and per part ((long − short) windows) of one variant and reader. */
function derive(values, variant, reader) {
  const at = (length) => values[WINDOWS.findIndex((w) => key(w) === key({ variant, reader, length }))];
  const call = at("short") / streamsOf.short;
  const perPart = (at("long") / streamsOf.long - call) / PARTS;
  return { call, perPart, fixed0: call - SHORT_PARTS * perPart };
}

if (!running) {
  // The driver: this script under callgrind, then the dumps of its windows.
  underCallgrind(
    {
      prefix: "ai-sdk-icount",
      script: fileURLToPath(import.meta.url),
      scriptArgs: ["--run", dist, shortArg, longArg],
      nodeFlags: countingFlags({ seed: seedArg, semiSpaceMb: 64 }),
      // KEEP=1: per-instruction costs too, which a script can name through the perf map (JIT code).
      keepFlags: ["--dump-instr=yes"],
    },
    (dumps) => {
      const counts = leastOverPasses(dumps, WINDOWS.length, PASSES);
      console.log("instructions (callgrind, least of the passes after the first):");
      console.log(
        "| reader | variant | a 5-part call | a part | fixed (5-part − 5 parts) |\n|---|---|---:|---:|---:|",
      );
      const derived = {};
      for (const reader of READERS) {
        for (const variant of VARIANTS) {
          const d = derive(counts, variant, reader);
          derived[`${variant} ${reader}`] = d;
          console.log(
            `| ${reader} | ${variant} | ${d.call.toFixed(0)} | ${d.perPart.toFixed(1)} | ${d.fixed0.toFixed(0)} |`,
          );
        }
      }
      for (const reader of READERS) {
        const { bare, noop, floor, guarded } = Object.fromEntries(
          VARIANTS.map((v) => [v, derived[`${v} ${reader}`]]),
        );
        const over = (a, b) =>
          `${(a.call - b.call).toFixed(0)} a 5-part call (${(a.fixed0 - b.fixed0).toFixed(0)} fixed), ${(a.perPart - b.perPart).toFixed(1)} a part`;
        if (bare && guarded) console.log(`${reader}: guarded − bare ${over(guarded, bare)}`);
        if (noop && guarded)
          console.log(`${reader}: guarded − noop (the middleware alone) ${over(guarded, noop)}`);
        if (floor && guarded)
          console.log(`${reader}: guarded − floor (tap and translation) ${over(guarded, floor)}`);
        if (noop && floor)
          console.log(`${reader}: floor − noop (begin, settle, two awaits) ${over(floor, noop)}`);
        if (bare && noop) console.log(`${reader}: noop − bare (wrapLanguageModel) ${over(noop, bare)}`);
      }
    },
  );
  process.exit(0);
}

// ---- one process: the models, their warm-up, the windows ------------------------------------------------
const adapterRequire = createRequire(resolve(here, "../adapters/ai-sdk/package.json"));
const ai = await import(pathToFileURL(adapterRequire.resolve("ai")).href);
const { MockLanguageModelV3 } = await import(pathToFileURL(adapterRequire.resolve("ai/test")).href);
const { agentSREMiddleware } = await import(pathToFileURL(join(dist, "index.js")).href);

const step = aiSdkStep;
/** Prebuilt parts enqueued synchronously on pull (as cheap as a stream can be), as in ai-sdk.mjs. */
const mockOf = (parts) =>
  new MockLanguageModelV3({
    provider: "openai.chat",
    modelId: "gpt-4.1",
    doStream: async () => ({ stream: pulledStream(parts) }),
  });
const sre = () => new AgentSRE({ budget: { ...OUT_OF_REACH, anomalyDetection: false }, rogue: false });
const settled = { inputTokens: 1200, outputTokens: 300 };
const modelOf = {
  bare: (mock) => mock,
  noop: (mock) => ai.wrapLanguageModel({ model: mock, middleware: { specificationVersion: "v3" } }),
  floor: (mock) => {
    const engine = sre();
    const agentRef = engine.agentRef("bench");
    return ai.wrapLanguageModel({
      model: mock,
      middleware: {
        specificationVersion: "v3",
        wrapStream: async ({ doStream, model }) => {
          const call = {
            kind: "model",
            agentId: "bench",
            agentRef,
            name: model.modelId,
            provider: model.provider,
            estimate: { inputTokens: 62, outputTokens: 512, minOutputTokens: 64 },
            taskId: "task-1",
          };
          // As the middleware: `beginNow` (no promise for the usual call) where the engine has it (session 19).
          let inFlight;
          if (engine.beginNow === undefined) inFlight = await engine.begin(call);
          else {
            const begun = engine.beginNow(call);
            inFlight = begun instanceof Promise ? await begun : begun;
          }
          const result = await doStream();
          inFlight.succeed(settled);
          return result;
        },
      },
    });
  },
  guarded: (mock) =>
    ai.wrapLanguageModel({
      model: mock,
      middleware: agentSREMiddleware(sre(), { agentId: "bench", taskId: "task-1" }),
    }),
};
// A read loop of its own per window (a function literal of its own: its own feedback, as in stream-items.mjs),
// so one variant's shapes never reach another's call sites.
const BODY = {
  read: "const reader = (await model.doStream(step())).stream.getReader();",
  piped:
    "const reader = (await model.doStream(step())).stream.pipeThrough(new TransformStream()).getReader();",
};
const loops = {};
const mocks = [];
for (const window of WINDOWS) {
  const mock = mockOf(aiSdkPartsFor(window.length === "short" ? 1 : 1_000));
  mocks.push(mock);
  const model = modelOf[window.variant](mock);
  const tag = key(window).replaceAll(" ", "_");
  const read = new Function(
    "model",
    "step",
    "n",
    `return async function ${tag}() { for (let i = 0; i < n; i++) { ${BODY[window.reader]} while (!(await reader.read()).done) {} } };`,
  );
  loops[key(window)] = (n) => read(model, step, n)();
}
// The mock records every call: emptied before each window, so every pass's window pushes the same.
const trim = () => {
  for (const mock of mocks) mock.doStreamCalls.length = 0;
};
// Warm-up: 300 short and 4 long streams of each window a round, 8 rounds, then a full GC and 12 rounds more. The
// GC drops optimized code that held objects it found dead (`--trace-deopt`: "weak objects" for wrapStream, the
// tap's #finish, the engine's begin and settleCost): with 4 rounds after it those were still in baseline code
// in the windows (+~1,500 instructions a call that a long-running process does not pay); with 12 every one of
// them is optimized again before the first pass.
const warmRound = async () => {
  for (const window of WINDOWS) await loops[key(window)](window.length === "short" ? 300 : 4);
  trim();
};
for (let round = 0; round < 8; round++) await warmRound();
globalThis.gc?.();
for (let round = 0; round < 12; round++) await warmRound();
const cpu = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) * 1000;
};
const newSpace = () =>
  getHeapSpaceStatistics().find((space) => space.space_name === "new_space").space_used_size;
let ns = [];
let bytes = [];
for (let pass = 0; pass < PASSES; pass++) {
  ns = [];
  bytes = [];
  for (const window of WINDOWS) {
    trim();
    globalThis.gc?.({ type: "minor" });
    const used = newSpace();
    const start = cpu();
    await loops[key(window)](streamsOf[window.length]);
    const end = cpu();
    const grown = newSpace() - used;
    ns.push(end - start);
    bytes.push(grown);
  }
}
const scavenged = bytes.some((b) => b < 0);
for (const reader of READERS) {
  for (const variant of VARIANTS) {
    const b = derive(bytes, variant, reader);
    const t = derive(ns, variant, reader);
    console.log(
      `  ${reader} ${variant}: ${scavenged ? "(a scavenge fell in)" : `${b.call.toFixed(0)} B a 5-part call, ${b.perPart.toFixed(1)} B a part`}; ${t.call.toFixed(0)} CPU ns a 5-part call, ${t.perPart.toFixed(1)} a part in this process's window`,
    );
  }
}
