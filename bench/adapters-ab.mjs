// Paired before/after of the adapters' overhead (issue 18): two builds of core and the adapters loaded side
// by side in one process, every scenario measured against its baseline in interleaved batches (the order of
// the sides rotates each round, so load that comes and goes hits all of them), CPU and wall time per call,
// medians of the per-round differences. A build is a directory with the repository's layout holding
// core/dist and adapters/{ai-sdk,openai,langchain}/dist (with their node_modules links), e.g. a copy of a
// worktree's built packages. Not a unit test: it measures time.
// Usage: node bench/adapters-ab.mjs --before DIR --after DIR [--only generate,piped,read,perpart,openai,langchain] [--rounds N]
import { createRequire } from "node:module";
import { cpus, loadavg } from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chatBody, chatClientOf, OUT_OF_REACH } from "./fixtures.mjs";
import { median } from "./harness.mjs";
import { langChainRequests, langChainSides } from "./langchain-fixture.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : fallback;
};
const here = new URL("..", import.meta.url).pathname;
const roots = { before: resolve(option("before", here)), after: resolve(option("after", here)) };
const only = option("only", undefined)?.split(",");
const roundsOption = Number(option("rounds", "0"));
const want = (name) => only === undefined || only.includes(name);

const load = (root, path) => import(pathToFileURL(`${root}/${path}`).href);
const builds = {};
for (const [side, root] of Object.entries(roots)) {
  builds[side] = {
    core: await load(root, "core/dist/index.js"),
    aiSdk: await load(root, "adapters/ai-sdk/dist/index.js"),
    openai: await load(root, "adapters/openai/dist/index.js"),
    langchain: await load(root, "adapters/langchain/dist/index.js"),
  };
}
const sides = Object.keys(builds);

const cpuNow = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) * 1000;
};
const wallNow = () => Number(process.hrtime.bigint());

/**
 * Runs each of `runs` (name → fn) in batches, round after round (order rotated each round), and returns the
 * median CPU and wall ns per call of each, and for each pair [a, b] the median of the per-round b − a.
 */
async function interleaved(runs, pairs, { batch, batches = {}, rounds, warmupRounds = 4 }) {
  const names = Object.keys(runs);
  const cpu = Object.fromEntries(names.map((n) => [n, []]));
  const wall = Object.fromEntries(names.map((n) => [n, []]));
  let i = 0;
  // No gc() between batches: a forced full GC makes the next batch of engine calls ~10× slower (V8 drops
  // optimized code and feedback), which swamps what is measured.
  const timed = async (n) => {
    const fn = runs[n];
    const size = batches[n] ?? batch;
    const c = cpuNow();
    const w = wallNow();
    for (let end = i + size; i < end; i++) await fn(i);
    return [(cpuNow() - c) / size, (wallNow() - w) / size];
  };
  for (let round = 0; round < warmupRounds; round++) for (const n of names) await timed(n);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const n = names[(k + round) % names.length];
      const [c, w] = await timed(n);
      cpu[n].push(c);
      wall[n].push(w);
    }
  }
  const diff = (series, a, b) => median(series[b].map((v, r) => v - series[a][r]));
  return {
    cpu,
    wall,
    medians: Object.fromEntries(names.map((n) => [n, { cpu: median(cpu[n]), wall: median(wall[n]) }])),
    pairs: pairs.map(([a, b]) => ({ a, b, cpu: diff(cpu, a, b), wall: diff(wall, a, b) })),
  };
}

const lines = [];
const print = (line) => {
  lines.push(line);
  console.log(line);
};
const fmt = (ns) => (Math.abs(ns) >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(0)} ns`);

/** One table row per pair: CPU and wall medians of b − a. */
function report(title, result, labels = {}) {
  print(`\n### ${title}`);
  print("| | CPU median | wall median |\n|---|---:|---:|");
  for (const [n, m] of Object.entries(result.medians)) print(`| ${n} | ${fmt(m.cpu)} | ${fmt(m.wall)} |`);
  for (const p of result.pairs) {
    print(`| **${labels[`${p.a}>${p.b}`] ?? `${p.b} − ${p.a}`}** | ${fmt(p.cpu)} | ${fmt(p.wall)} |`);
  }
}

const adapterRequire = (name) => createRequire(new URL(`../adapters/${name}/package.json`, import.meta.url));
const rounds = (n) => roundsOption || n;
/** For each side, the pairs [baseline, side] and the A/B pair [before, after]. */
const againstBase = (base) => [...sides.map((s) => [base, s]), ["before", "after"]];
const labelsAgainst = (base) =>
  Object.fromEntries([
    [`${base}>one then per chunk`, "one then per chunk: added (the floor)"],
    ...sides.map((s) => [`${base}>${s}`, `${s}: added`]),
    ["before>after", "A/B: after − before"],
  ]);

print(
  `roots: ${JSON.stringify(roots)}; ${cpus().length} CPUs; load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);

// ---- AI SDK ------------------------------------------------------------------------------------------
if (want("generate") || want("piped") || want("read")) {
  const ai = await import(pathToFileURL(adapterRequire("ai-sdk").resolve("ai")).href);
  const usage = {
    inputTokens: { total: 1200, noCache: 1200, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: 300, text: 300, reasoning: undefined },
  };
  const generated = {
    content: [{ type: "text", text: "ok" }],
    finishReason: { unified: "stop", raw: "stop" },
    usage,
    warnings: [],
  };
  const params = {
    prompt: [
      { role: "user", content: [{ type: "text", text: "What is the capital of France? ".repeat(8) }] },
    ],
    maxOutputTokens: 512,
  };
  const step = () => ({ ...params, prompt: params.prompt.slice() });
  const parts = (deltas) => [
    { type: "stream-start", warnings: [] },
    { type: "text-start", id: "t" },
    ...Array.from({ length: deltas }, () => ({ type: "text-delta", id: "t", delta: "word " })),
    { type: "text-end", id: "t" },
    { type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage },
  ];
  const modelOf = (list) => ({
    specificationVersion: "v3",
    provider: "openai.chat",
    modelId: "gpt-4.1",
    supportedUrls: {},
    doGenerate: async () => generated,
    doStream: async () => {
      let i = 0;
      return {
        stream: new ReadableStream({
          pull(controller) {
            if (i < list.length) controller.enqueue(list[i++]);
            else controller.close();
          },
        }),
      };
    },
  });
  const guardedOf = (side, model) => {
    const { core, aiSdk } = builds[side];
    const sre = new core.AgentSRE({ budget: { ...OUT_OF_REACH, anomalyDetection: false }, rogue: false });
    return ai.wrapLanguageModel({
      model,
      middleware: aiSdk.agentSREMiddleware(sre, { agentId: "bench", taskId: "task-1" }),
    });
  };
  const drain = async (stream) => {
    const reader = stream.getReader();
    while (!(await reader.read()).done) {}
  };
  const piped = (stream) => drain(stream.pipeThrough(new TransformStream()));
  const short = modelOf(parts(1));
  const long = modelOf(parts(1_000));
  const guarded = Object.fromEntries(
    sides.map((s) => [s, { short: guardedOf(s, short), long: guardedOf(s, long) }]),
  );
  if (want("generate")) {
    const runs = { base: () => short.doGenerate(step()) };
    // The SDK's own share: wrapLanguageModel with a middleware that does nothing.
    const empty = ai.wrapLanguageModel({ model: short, middleware: { specificationVersion: "v3" } });
    runs["empty middleware"] = () => empty.doGenerate(step());
    for (const s of sides) runs[s] = () => guarded[s].short.doGenerate(step());
    report(
      "AI SDK generate (wrapLanguageModel + agentSREMiddleware, budget enforced; target ≤ +1.5 µs)",
      await interleaved(runs, [["base", "empty middleware"], ...againstBase("base")], {
        batch: 1_000,
        rounds: rounds(30),
      }),
      {
        ...labelsAgainst("base"),
        "base>empty middleware": "wrapLanguageModel, empty middleware: added (the SDK's)",
      },
    );
  }
  if (want("generate")) {
    // The same call with usage the reservation holds (the bench's 1,200 input tokens are far above the
    // ~62-token prompt estimate, so every call above overruns and builds an overrun alert's message).
    const within = {
      ...generated,
      usage: { ...usage, inputTokens: { ...usage.inputTokens, total: 60, noCache: 60 } },
    };
    const fitting = { ...short, doGenerate: async () => within };
    const runs = { base: () => fitting.doGenerate(step()) };
    const models = Object.fromEntries(sides.map((s) => [s, guardedOf(s, fitting)]));
    for (const s of sides) runs[s] = () => models[s].doGenerate(step());
    report(
      "AI SDK generate, usage within the reservation (no overrun alert)",
      await interleaved(runs, againstBase("base"), { batch: 1_000, rounds: rounds(30) }),
      labelsAgainst("base"),
    );
  }
  if (want("piped")) {
    const runs = { base: async () => piped((await short.doStream(step())).stream) };
    for (const s of sides) runs[s] = async () => piped((await guarded[s].short.doStream(step())).stream);
    report(
      "AI SDK stream, 5 parts piped through a TransformStream (as streamText; target fixed ≤ +2 µs)",
      await interleaved(runs, againstBase("base"), { batch: 200, rounds: rounds(30) }),
      labelsAgainst("base"),
    );
  }
  if (want("read")) {
    const runs = { base: async () => drain((await short.doStream(step())).stream) };
    for (const s of sides) runs[s] = async () => drain((await guarded[s].short.doStream(step())).stream);
    report(
      "AI SDK stream, 5 parts read with a reader",
      await interleaved(runs, againstBase("base"), { batch: 200, rounds: rounds(30) }),
      labelsAgainst("base"),
    );
  }
}

if (want("perpart")) {
  // Per part: (1,004-part read − 5-part read) / 999, each against its own baseline in the same rounds.
  const ai = await import(pathToFileURL(adapterRequire("ai-sdk").resolve("ai")).href);
  const finish = {
    type: "finish",
    finishReason: { unified: "stop", raw: "stop" },
    usage: {
      inputTokens: { total: 1200, noCache: 1200, cacheRead: undefined, cacheWrite: undefined },
      outputTokens: { total: 300, text: 300, reasoning: undefined },
    },
  };
  const parts = (deltas) => [
    { type: "stream-start", warnings: [] },
    { type: "text-start", id: "t" },
    ...Array.from({ length: deltas }, () => ({ type: "text-delta", id: "t", delta: "word " })),
    { type: "text-end", id: "t" },
    finish,
  ];
  const modelOf = (list) => ({
    specificationVersion: "v3",
    provider: "openai.chat",
    modelId: "gpt-4.1",
    supportedUrls: {},
    doStream: async () => {
      let i = 0;
      return {
        stream: new ReadableStream({
          pull(controller) {
            if (i < list.length) controller.enqueue(list[i++]);
            else controller.close();
          },
        }),
      };
    },
  });
  const params = {
    prompt: [
      { role: "user", content: [{ type: "text", text: "What is the capital of France? ".repeat(8) }] },
    ],
    maxOutputTokens: 512,
  };
  const step = () => ({ ...params, prompt: params.prompt.slice() });
  const drain = async (stream) => {
    const reader = stream.getReader();
    while (!(await reader.read()).done) {}
  };
  const pass = (result) => result;
  const drainThen = async (stream) => {
    const reader = stream.getReader();
    while (!(await reader.read().then(pass)).done) {}
  };
  // Short (5 parts) and long (1,004 parts) streams of every side in the same rounds: each round gives each
  // side's per part as ((long − long base) − (short − short base)) / 999, and the A/B its difference, so
  // load that comes and goes within a run hits all of them (separate runs for short and long swung ±30 ns).
  const runs = {};
  const batches = {};
  for (const [length, deltas] of [
    ["short", 1],
    ["long", 1_000],
  ]) {
    const model = modelOf(parts(deltas));
    runs[`base ${length}`] = async () => drain((await model.doStream(step())).stream);
    batches[`base ${length}`] = length === "long" ? 4 : 200;
    // The floor of any observer that may replace a part: the same read, each result through one `then`.
    runs[`one then per part ${length}`] = async () => drainThen((await model.doStream(step())).stream);
    batches[`one then per part ${length}`] = length === "long" ? 4 : 200;
    for (const s of sides) {
      const { core, aiSdk } = builds[s];
      const sre = new core.AgentSRE({ budget: { ...OUT_OF_REACH, anomalyDetection: false }, rogue: false });
      const guarded = ai.wrapLanguageModel({
        model,
        middleware: aiSdk.agentSREMiddleware(sre, { agentId: "bench", taskId: "task-1" }),
      });
      runs[`${s} ${length}`] = async () => drain((await guarded.doStream(step())).stream);
      batches[`${s} ${length}`] = length === "long" ? 4 : 200;
    }
  }
  const result = await interleaved(runs, [], { batch: 4, batches, rounds: rounds(40) });
  const perPart = (series, s) =>
    series[`${s} long`].map(
      (v, r) => (v - series["base long"][r] - (series[`${s} short`][r] - series["base short"][r])) / 999,
    );
  print(
    "\n| AI SDK stream per part ((1,004 − 5 parts) / 999, read, per-round differences; target ≤ 50 ns) | CPU | wall |\n|---|---:|---:|",
  );
  const series = {};
  for (const s of ["one then per part", ...sides]) {
    series[s] = { cpu: perPart(result.cpu, s), wall: perPart(result.wall, s) };
    print(
      `| ${s}: added | ${median(series[s].cpu).toFixed(1)} ns | ${median(series[s].wall).toFixed(1)} ns |`,
    );
  }
  const ab = (kind) => median(series.after[kind].map((v, r) => v - series.before[kind][r]));
  print(`| A/B: after − before | ${ab("cpu").toFixed(1)} ns | ${ab("wall").toFixed(1)} ns |`);
}

// ---- OpenAI ------------------------------------------------------------------------------------------
if (want("openai")) {
  const { Stream } = await import(pathToFileURL(adapterRequire("openai").resolve("openai/streaming")).href);
  const body = chatBody;
  const clientOf = (deltas) => chatClientOf(Stream, deltas);
  const read = (client) => async () => {
    for await (const _ of await client.chat.completions.create(body)) {
    }
  };
  const measure = async (deltas, batch, n) => {
    const runs = { base: read(clientOf(deltas)) };
    // The floor of any per-chunk observer: the SDK's Stream over the same source, each item passed through
    // one `then` (what observing an item that may have to be replaced takes, with nothing else done).
    const source = clientOf(deltas);
    const floor = {
      chat: {
        completions: {
          create: async () => {
            const stream = await source.chat.completions.create();
            return new Stream(() => {
              const iterator = stream[Symbol.asyncIterator]();
              // `next` read once, as `for await` and the adapter read it (each SDK stream's generator has a
              // map of its own: read per chunk it is a megamorphic load, ~65 instructions the floor never pays).
              const next = iterator.next;
              const pass = (r) => r;
              return {
                next: () => next.call(iterator).then(pass),
                [Symbol.asyncIterator]() {
                  return this;
                },
              };
            }, stream.controller);
          },
        },
      },
    };
    runs["one then per chunk"] = read(floor);
    for (const s of sides) {
      const { core, openai } = builds[s];
      const sre = new core.AgentSRE({ budget: OUT_OF_REACH, rogue: false });
      runs[s] = read(openai.guardOpenAI(clientOf(deltas), sre, { agentId: "bench", taskId: "task-1" }));
    }
    return interleaved(runs, [["base", "one then per chunk"], ...againstBase("base")], {
      batch,
      rounds: rounds(n),
    });
  };
  const shortResult = await measure(1, 500, 30);
  report("OpenAI stream, 2 chunks", shortResult, labelsAgainst("base"));
  const longResult = await measure(1_000, 5, 20);
  report("OpenAI stream, 1,001 chunks", longResult, labelsAgainst("base"));
  print("\n| OpenAI per chunk ((1,001 − 2 chunks) / 999; target ≤ 50 ns) | CPU | wall |\n|---|---:|---:|");
  for (let k = 0; k < shortResult.pairs.length; k++) {
    const s = shortResult.pairs[k];
    const l = longResult.pairs[k];
    const label = labelsAgainst("base")[`${s.a}>${s.b}`];
    print(
      `| ${label} | ${((l.cpu - s.cpu) / 999).toFixed(1)} ns | ${((l.wall - s.wall) / 999).toFixed(1)} ns |`,
    );
  }
}

// ---- LangChain -----------------------------------------------------------------------------------------
if (want("langchain")) {
  const lcRequire = adapterRequire("langchain");
  const { BaseChatModel } = await import(
    pathToFileURL(lcRequire.resolve("@langchain/core/language_models/chat_models")).href
  );
  const { AIMessage, HumanMessage, SystemMessage, ToolMessage } = await import(
    pathToFileURL(lcRequire.resolve("@langchain/core/messages")).href
  );
  const requests = langChainRequests({ BaseChatModel, AIMessage, HumanMessage, SystemMessage, ToolMessage });
  const modelRuns = {};
  const toolRuns = {};
  for (const s of sides) {
    const { core, langchain } = builds[s];
    const sre = new core.AgentSRE({ budget: { ...OUT_OF_REACH, anomalyDetection: false } });
    const middleware = langchain.agentSREMiddleware(sre, { agentId: "bench" });
    const run = langChainSides(sre, middleware, requests);
    modelRuns[`${s} engine`] = run.modelGuard;
    modelRuns[`${s} wrapModelCall`] = run.modelHook;
    toolRuns[`${s} engine`] = run.toolGuard;
    toolRuns[`${s} wrapToolCall`] = run.toolHook;
  }
  const ownShare = (hook) => sides.map((s) => [`${s} engine`, `${s} ${hook}`]);
  // The A/B of the own shares, per round: (after hook − after engine) − (before hook − before engine).
  const abOwnShare = (result, hook) => {
    const own = (series, s) => series[`${s} ${hook}`].map((v, r) => v - series[`${s} engine`][r]);
    const ab = (series) => median(own(series, "after").map((v, r) => v - own(series, "before")[r]));
    print(
      `| **A/B: after own share − before own share** | ${fmt(ab(result.cpu))} | ${fmt(ab(result.wall))} |`,
    );
  };
  for (const [hook, runs] of [
    ["wrapModelCall", modelRuns],
    ["wrapToolCall", toolRuns],
  ]) {
    const result = await interleaved(runs, ownShare(hook), { batch: 2_000, rounds: rounds(30) });
    report(`LangChain ${hook} own share over sre.guard (target ≤ +150 ns)`, result);
    abOwnShare(result, hook);
  }
}

print(
  `\nload average at the end ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);
