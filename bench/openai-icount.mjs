// Instructions per chunk of the OpenAI adapter's guarded stream (issue 18, session 12 "openai"), counted by
// callgrind: the bench:check row's streams (stream-items.mjs `openAiPerChunk`: the SDK's `Stream` over 1,001
// and over 2 chat chunks, read with `for await`) for three readers, all warmed in one process as in the row:
//   bare     the SDK's stream as the client returns it;
//   guarded  the stream guardOpenAI hands out (a new SDK `Stream` over the adapter's observer);
//   relay    the floor of any observer that may replace a chunk: a new SDK `Stream` whose iterator passes
//            each item of the source's through one `then` and does nothing else;
//   tap      (only when asked, VARIANTS=bare,tap) an observer that does not chain: the reader awaits the source's
//            own promise, the observer's reaction on it runs first (it could not replace a chunk or turn an end
//            into an error); it counts as the relay does (session 19: 2,306 against 2,310 a chunk).
// Per chunk = (long window − short window) / streams / 999 chunks; guarded − bare is the adapter's cost,
// relay − bare the floor's. Each window lies between two `process.cpuUsage()`: with `--dump-before=uv_getrusage`
// callgrind dumps its counts there. `--predictable` (one thread: no concurrent compiler or GC) and fixed seeds
// make a count repeatable; 64 MB semi-spaces and a minor GC before each window keep scavenges out of the
// windows (a scavenge's cost depends on what happens to be live, not on the code: one in a window moved a
// reader's figure by ~400 instructions a chunk), so the count is the code's own and the bytes it allocates a
// chunk (the young generation's growth) stand for its GC cost.
//   node bench/openai-icount.mjs [adapter-dist] [streams] [seed]
//     runs the count under valgrind (~2 min) and prints it; adapter-dist (default adapters/openai/dist) is a
//     build of the adapter to count (a copy of the package's dist next to it, so that it resolves its imports).
//     VARIANTS=guarded,relay (a comma list, default bare,guarded,relay) counts those readers only. KEEP=1 keeps
//     the dumps (`--dump-instr=yes`) and node's perf map and prints each reader's instructions a chunk by
//     function (long − short window of the last pass; TOP=n rows); NODE_FLAGS adds node flags (e.g.
//     "--print-opt-code --print-opt-code-filter=next": the code's addresses match the dump's).
//   node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64 bench/openai-icount.mjs --run [adapter-dist] [streams]
//     one process, no valgrind: bytes allocated and the windows' CPU ns a chunk (a timing, not a count).
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { getHeapSpaceStatistics } from "node:v8";
import { AgentSRE } from "@agent-sre/core";
import {
  countingFlags,
  eachInstructionCost,
  leastOverPasses,
  perfMapNames,
  underCallgrind,
} from "./callgrind.mjs";
import { chatBody, chatClientOf, OUT_OF_REACH } from "./fixtures.mjs";

const VARIANTS = (process.env.VARIANTS ?? "bare,guarded,relay").split(",");
/** The windows run this many times; the first pass is a warm-up, the count takes each window's least after it. */
const PASSES = 3;
const CHUNKS = 999; // chunks the long stream has more than the short one
const here = fileURLToPath(new URL(".", import.meta.url));
const args = process.argv.slice(2);
const running = args[0] === "--run";
if (running) args.shift();
const [distArg = resolve(here, "../adapters/openai/dist"), streamsArg = "20", seedArg = "1"] = args;
const dist = resolve(distArg);
const streams = Number(streamsArg);

if (!running) {
  // The driver: this script under callgrind, then the dumps of its windows.
  underCallgrind(
    {
      prefix: "openai-icount",
      script: fileURLToPath(import.meta.url),
      scriptArgs: ["--run", dist, streamsArg],
      keepFlags: ["--dump-instr=yes", "--dump-line=no"],
      nodeFlags: countingFlags({ seed: seedArg, semiSpaceMb: 64 }),
    },
    (dumps) => {
      const counts = leastOverPasses(dumps, 2 * VARIANTS.length, PASSES);
      const perChunk = {};
      VARIANTS.forEach((variant, k) => {
        const [short, long] = [counts[2 * k], counts[2 * k + 1]];
        perChunk[variant] = (long - short) / streams / CHUNKS;
        console.log(
          `${variant}: ${(short / streams).toFixed(0)} / ${(long / streams).toFixed(0)} instructions a short / long stream, ${perChunk[variant].toFixed(1)} a chunk`,
        );
      });
      if (process.env.KEEP === "1") byFunction(dumps);
      const over = (variant) => (perChunk[variant] - perChunk.bare).toFixed(1);
      if (perChunk.bare !== undefined) {
        console.log(
          `instructions a chunk over bare: ${VARIANTS.filter((v) => v !== "bare")
            .map((v) => `${v} +${over(v)}`)
            .join(", ")} (relay: one then, the floor)`,
        );
      }
      if (perChunk.guarded !== undefined && perChunk.relay !== undefined) {
        console.log(`guarded − relay ${(perChunk.guarded - perChunk.relay).toFixed(1)} a chunk`);
      }
    },
  );
  process.exit(0);
}

/**
 * Each reader's instructions a chunk by function (`--dump-instr=yes`): JIT code named through node's perf map,
 * else callgrind's name; the last pass's long window minus its short one, per stream and chunk.
 */
function byFunction(dumps) {
  const windows = dumps.slice(-(2 * 2 * VARIANTS.length * PASSES + 1), -1).filter((_, i) => i % 2 === 1);
  const last = (PASSES - 1) * 2 * VARIANTS.length;
  VARIANTS.forEach((variant, k) => {
    const costs = new Map();
    for (const [dump, sign] of [
      [windows[last + 2 * k + 1], 1],
      [windows[last + 2 * k], -1],
    ]) {
      const jitName = perfMapNames(dump.pid);
      eachInstructionCost(dump.file, (address, fn, counts) => {
        const symbol = jitName(address)?.name ?? fn;
        costs.set(symbol, (costs.get(symbol) ?? 0) + sign * counts.Ir);
      });
    }
    const rows = [...costs]
      .map(([symbol, cost]) => [symbol, cost / streams / CHUNKS])
      .filter(([, cost]) => Math.abs(cost) >= 0.5)
      .sort((a, b) => b[1] - a[1]);
    console.log(`${variant}, instructions a chunk by function (last pass):`);
    for (const [symbol, cost] of rows.slice(0, Number(process.env.TOP ?? 40)))
      console.log(`  ${cost.toFixed(1).padStart(8)}  ${symbol}`);
  });
}

// ---- one process: the readers, their warm-up, the windows ------------------------------------------------
const adapterRequire = createRequire(resolve(here, "../adapters/openai/package.json"));
const { Stream } = await import(pathToFileURL(adapterRequire.resolve("openai/streaming")).href);
const { guardOpenAI } = await import(pathToFileURL(join(dist, "index.js")).href);
const body = chatBody;
const clientOf = (deltas) => chatClientOf(Stream, deltas);
const pass = (result) => result;
/**
 * One `then` per item on the source's own promise, nothing else: what observing a replaceable item takes. The
 * source's `next` is read once (as `for await` does): each stream's async generator has a map of its own (a new
 * generator function per stream, as the SDK's `fromSSEResponse` makes), so `source.next` read per item is a
 * megamorphic load (~80 instructions).
 */
class Relay {
  constructor(source) {
    this.source = source;
    this.sourceNext = source.next;
  }
  [Symbol.asyncIterator]() {
    return this;
  }
  next() {
    return this.sourceNext.call(this.source).then(pass);
  }
  return(value) {
    return Promise.resolve(this.source.return?.(value)).then(() => ({ done: true, value }));
  }
}
const guardedOf = (deltas) =>
  guardOpenAI(clientOf(deltas), new AgentSRE({ budget: OUT_OF_REACH, rogue: false }), { agentId: "bench" });
/** The non-chaining observer: the reader gets the source's own promise, with a reaction of the observer on it. */
class Tap {
  constructor(source) {
    this.source = source;
    this.sourceNext = source.next;
  }
  [Symbol.asyncIterator]() {
    return this;
  }
  next() {
    const read = this.sourceNext.call(this.source);
    read.then(observe, observe);
    return read;
  }
  return(value) {
    return Promise.resolve(this.source.return?.(value)).then(() => ({ done: true, value }));
  }
}
const observe = () => {};
const wrappedBy = (Observer) => (deltas) => {
  const source = clientOf(deltas);
  return {
    chat: {
      completions: {
        create: async () => {
          const stream = await source.chat.completions.create();
          return new Stream(() => new Observer(stream[Symbol.asyncIterator]()), stream.controller);
        },
      },
    },
  };
};
const make = { bare: clientOf, guarded: guardedOf, relay: wrappedBy(Relay), tap: wrappedBy(Tap) };
// A read loop of its own per reader and length (a function literal of its own: its own feedback, as in
// stream-items.mjs), so one reader's shapes never reach another's call sites.
const ownLoop = (tag) =>
  new Function(
    "client",
    "body",
    "n",
    `return async function ${tag}() { for (let i = 0; i < n; i++) for await (const _ of await client.chat.completions.create(body)) {} };`,
  );
const loops = {};
for (const variant of VARIANTS) {
  for (const [length, deltas] of [
    ["short", 1],
    ["long", 1_000],
  ]) {
    const client = make[variant](deltas);
    const read = ownLoop(`${variant}_${length}`);
    loops[`${variant} ${length}`] = (n) => read(client, body, n)();
  }
}
// Warm-up as bench:check's rounds (300 short and 10 long streams of each reader), then a full GC and the same
// again: the GC drops optimized code holding objects it finds dead, and the windows must hold no compilation.
const warmRound = async () => {
  for (const variant of VARIANTS) {
    await loops[`${variant} short`](300);
    await loops[`${variant} long`](10);
  }
};
for (let round = 0; round < 8; round++) await warmRound();
globalThis.gc?.();
for (let round = 0; round < 4; round++) await warmRound();
const cpu = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) * 1000;
};
const newSpace = () =>
  getHeapSpaceStatistics().find((space) => space.space_name === "new_space").space_used_size;
// Each window starts with an empty young generation (a minor GC, which keeps optimized code) and, with the
// 64 MB semi-spaces the driver asks for, has no scavenge in it: its count is the code's own, and the young
// generation's growth over it is what it allocated. The six windows run three times and the first pass does
// not count: the first window of a single pass held ~40,000 instructions of something else (first calls after
// the warm-up), which moved the bare figure by ~20 instructions a chunk between runs. Each window counts its
// least of the other two passes: a function optimized again after the full GC (its code held objects that
// died) was compiled inside one pass's guarded long window (+110 instructions a chunk).
let ns = [];
let bytes = [];
for (let pass = 0; pass < PASSES; pass++) {
  ns = [];
  bytes = [];
  for (const variant of VARIANTS) {
    for (const length of ["short", "long"]) {
      globalThis.gc?.({ type: "minor" });
      const used = newSpace();
      const start = cpu();
      await loops[`${variant} ${length}`](streams);
      const end = cpu();
      const grown = newSpace() - used;
      ns.push(end - start);
      bytes.push(grown);
    }
  }
}
const perChunk = (values, k) => (values[2 * k + 1] - values[2 * k]) / streams / CHUNKS;
VARIANTS.forEach((variant, k) => {
  const allocated =
    bytes[2 * k] < 0 || bytes[2 * k + 1] < 0 ? "a scavenge fell in" : perChunk(bytes, k).toFixed(1);
  console.log(
    `  ${variant}: ${allocated} bytes allocated a chunk; ${perChunk(ns, k).toFixed(0)} CPU ns a chunk in this process's window`,
  );
});
