// bench:check's per-item stream figures (issue 18: AI SDK per part, OpenAI per chunk ≤ 50 ns) and the AI SDK
// stream's fixed cost per call (≤ +2 µs; `pnpm bench` shows the same figures): what each part / chunk of a stream,
// and each streamed call, adds when the adapter observes it. Each figure is measured in several fresh processes
// and the median of theirs is the figure (the spread is printed beside it): within one process a figure is the
// median of 40–60 rounds, and on a shared VM that median still moved by ±30 ns from one process to the next
// (bench/RESULTS.md, "Issue 18, session 9 (streams)").
// Run alone (one process's figure, JSON): node --expose-gc stream-items.mjs <ai-sdk|ai-sdk-fixed|openai>
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { AgentSRE } from "@agent-sre/core";
import {
  aiSdkPartsFor,
  aiSdkPrompt,
  aiSdkStepOf,
  chatBody,
  chatClientOf,
  OUT_OF_REACH,
  pulledStream,
} from "./fixtures.mjs";
import { figuresOfProcesses, median, medianOfFigures, yardstickBatch } from "./harness.mjs";

/** Yardstick units timed per round (as in check.mjs). */
const YARD = 2_000;

/**
 * A read loop of its own (a new function literal: its own V8 feedback; closures of one literal share
 * theirs). With one loop for the baseline and the guarded stream, its call sites saw both sides' readers
 * and each side's time depended on the other's.
 */
const ownLoop = (tag, params, body) =>
  new Function(...params, `return async function ${tag}() {\n${body}\n};`);

/**
 * What each item of a stream adds: short and long streams, guarded and not, all four in every round (the
 * order rotating), each round giving ((long − long base) − (short − short base)) / items, divided by the
 * round's yardstick; the medians of those. Two separate paired runs for short and long, subtracted, read
 * 85–184 ns at load 14 where this read 50–65 ns.
 */
export async function perItemAdded(
  { shortBase, short, longBase, long },
  items,
  { shortBatch, longBatch, rounds, warmupRounds = 5 },
) {
  const cpuNow = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) * 1000;
  };
  const runs = [
    [shortBase, shortBatch],
    [short, shortBatch],
    [longBase, longBatch],
    [long, longBatch],
  ];
  const timed = async ([fn, batch]) => {
    const start = cpuNow();
    for (let i = 0; i < batch; i++) await fn();
    return (cpuNow() - start) / batch;
  };
  for (let round = 0; round < warmupRounds; round++) for (const run of runs) await timed(run);
  const perItem = [];
  const perYard = [];
  const yardsticks = [];
  for (let round = 0; round < rounds; round++) {
    const ns = [0, 0, 0, 0];
    for (let k = 0; k < runs.length; k++) {
      const index = (k + round) % runs.length;
      ns[index] = await timed(runs[index]);
    }
    const yard = await yardstickBatch(YARD);
    yardsticks.push(yard);
    const item = (ns[3] - ns[2] - (ns[1] - ns[0])) / items;
    perItem.push(item);
    perYard.push(item / yard);
  }
  return { addedNs: median(perItem), addedPerYardstick: median(perYard), yardsticks };
}

const adapterRequire = (name) => createRequire(new URL(`../adapters/${name}/package.json`, import.meta.url));

/**
 * The AI SDK's side: models streaming `deltas` text deltas (deltas + 4 parts, prebuilt, enqueued synchronously on
 * pull), bare and wrapped with the middleware (budget enforced), and a new prompt array per call, as streamText
 * builds per step (the same array again is a retry).
 */
async function aiSdkModels() {
  const ai = await import(pathToFileURL(adapterRequire("ai-sdk").resolve("ai")).href);
  const { agentSREMiddleware } = await import(
    new URL("../adapters/ai-sdk/dist/index.js", import.meta.url).href
  );
  // The question alone (the stream rows' workload since they began; generate and the count add a system message).
  const step = aiSdkStepOf(aiSdkPrompt.slice(1));
  const modelWith = (deltas) => {
    const parts = aiSdkPartsFor(deltas);
    const model = {
      specificationVersion: "v3",
      provider: "openai.chat",
      modelId: "gpt-4.1",
      supportedUrls: {},
      doStream: async () => ({ stream: pulledStream(parts) }),
    };
    const sre = new AgentSRE({ budget: { ...OUT_OF_REACH, anomalyDetection: false }, rogue: false });
    const middleware = agentSREMiddleware(sre, { agentId: "bench", taskId: "task-1" });
    return { model, guarded: ai.wrapLanguageModel({ model, middleware }) };
  };
  return { modelWith, step };
}

/** How a streamed call is read: with a reader, or piped through a TransformStream first (as streamText reads). */
const READS = {
  read: "const reader = (await model.doStream(step())).stream.getReader();",
  piped:
    "const reader = (await model.doStream(step())).stream.pipeThrough(new TransformStream()).getReader();",
};

/**
 * AI SDK: a 1,004-part and a 5-part stream read through `getReader()` (`how` "read") or piped through a
 * TransformStream first ("piped", as streamText reads), with and without the middleware.
 */
async function aiSdkPerPart(how) {
  const { modelWith, step } = await aiSdkModels();
  const read = (tag, model) =>
    ownLoop(
      tag,
      ["model", "step"],
      `${READS[how]}\n       while (!(await reader.read()).done) {}`,
    )(model, step);
  const short = modelWith(1);
  const long = modelWith(1_000);
  return perItemAdded(
    {
      shortBase: read("shortBase", short.model),
      short: read("shortGuarded", short.guarded),
      longBase: read("longBase", long.model),
      long: read("longGuarded", long.guarded),
    },
    999,
    { shortBatch: 300, longBatch: 12, rounds: 40 },
  );
}

/**
 * What a streamed call adds before its parts: a 5-part stream with and without the middleware, each in a read
 * loop of its own, in batches of `batch` streams, the order of the two swapped every round (both ways: neither
 * side keeps the advantage of going first), a yardstick batch each round; the medians over the rounds of
 * (guarded − bare) CPU ns, wall ns, and / yardstick. With one read loop for both sides (ai-sdk.mjs before
 * session 18) its call sites saw both readers, and each side's time depended on the other's.
 */
export async function fixedAdded(base, guarded, { batch, rounds, warmupRounds = 5 }) {
  const timed = async (loop) => {
    const wall = process.hrtime.bigint();
    const start = process.cpuUsage();
    await loop(batch);
    const used = process.cpuUsage(start);
    return {
      cpu: ((used.user + used.system) * 1000) / batch,
      wall: Number(process.hrtime.bigint() - wall) / batch,
    };
  };
  for (let round = 0; round < warmupRounds; round++) {
    await timed(base);
    await timed(guarded);
  }
  const added = [];
  const wallAdded = [];
  const baseline = [];
  const perYard = [];
  const yardsticks = [];
  for (let round = 0; round < rounds; round++) {
    let a;
    let b;
    if (round % 2 === 0) {
      a = await timed(base);
      b = await timed(guarded);
    } else {
      b = await timed(guarded);
      a = await timed(base);
    }
    const yard = await yardstickBatch(YARD);
    yardsticks.push(yard);
    added.push(b.cpu - a.cpu);
    wallAdded.push(b.wall - a.wall);
    baseline.push(a.cpu);
    perYard.push((b.cpu - a.cpu) / yard);
  }
  return {
    addedNs: median(added),
    wallAddedNs: median(wallAdded),
    baselineNs: median(baseline),
    addedPerYardstick: median(perYard),
    yardsticks,
  };
}

/** AI SDK: the fixed cost of a 5-part streamed call, read with a reader and piped (as streamText reads). */
async function aiSdkFixed() {
  const { modelWith, step } = await aiSdkModels();
  const short = modelWith(1);
  const loopOf = (tag, how, model) => {
    const loop = ownLoop(
      tag,
      ["model", "step", "n"],
      `for (let i = 0; i < n; i++) {
         ${READS[how]}
         while (!(await reader.read()).done) {}
       }`,
    );
    return (n) => loop(model, step, n)();
  };
  // ~2 ms a batch on each side (a 5-part stream: ~8 µs read, ~40 µs piped on the reference machine).
  const read = await fixedAdded(
    loopOf("readBase", "read", short.model),
    loopOf("readGuarded", "read", short.guarded),
    { batch: 250, rounds: 60 },
  );
  const piped = await fixedAdded(
    loopOf("pipedBase", "piped", short.model),
    loopOf("pipedGuarded", "piped", short.guarded),
    { batch: 50, rounds: 60 },
  );
  return { read, piped };
}

/** OpenAI: the SDK's `Stream` of 1,001 and of 2 chat chunks read with `for await`, guarded and not. */
async function openAiPerChunk() {
  const { Stream } = await import(pathToFileURL(adapterRequire("openai").resolve("openai/streaming")).href);
  const { guardOpenAI } = await import(new URL("../adapters/openai/dist/index.js", import.meta.url).href);
  const body = chatBody;
  const clientOf = (deltas) => chatClientOf(Stream, deltas);
  const guarded = (deltas) =>
    guardOpenAI(clientOf(deltas), new AgentSRE({ budget: OUT_OF_REACH, rogue: false }), { agentId: "bench" });
  const read = (tag, client) =>
    ownLoop(
      tag,
      ["client", "body"],
      `for await (const _ of await client.chat.completions.create(body)) {
       }`,
    )(client, body);
  return perItemAdded(
    {
      shortBase: read("shortBase", clientOf(1)),
      short: read("shortGuarded", guarded(1)),
      longBase: read("longBase", clientOf(1_000)),
      long: read("longGuarded", guarded(1_000)),
    },
    999,
    { shortBatch: 300, longBatch: 10, rounds: 40 },
  );
}

const FIGURES = {
  "ai-sdk": () => aiSdkPerPart("read"),
  "ai-sdk-piped": () => aiSdkPerPart("piped"),
  "ai-sdk-fixed": aiSdkFixed,
  openai: openAiPerChunk,
};

/**
 * The figure measured in `processes` fresh processes one after another: the median of their `addedNs` and of
 * their `addedPerYardstick`, each process's, and every round's yardstick.
 */
export async function perItemInProcesses(which, processes) {
  return medianOfFigures(await figuresOfProcesses(fileURLToPath(import.meta.url), [which], processes));
}

/**
 * The AI SDK's fixed cost per streamed call (`aiSdkFixed`) in `processes` fresh processes: for each way of
 * reading (`read`, `piped`) the medians of the processes' figures, and each process's.
 */
export async function streamFixedInProcesses(processes) {
  const each = await figuresOfProcesses(fileURLToPath(import.meta.url), ["ai-sdk-fixed"], processes);
  return {
    read: medianOfFigures(each.map((e) => e.read)),
    piped: medianOfFigures(each.map((e) => e.piped)),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const figure = FIGURES[process.argv[2]];
  if (figure === undefined) {
    console.error("usage: node --expose-gc stream-items.mjs <ai-sdk|ai-sdk-piped|ai-sdk-fixed|openai>");
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify(await figure())}\n`);
}
