// OpenAI adapter benchmarks: what guardOpenAI adds to a streamed chat completion, per call and per chunk.
// The stream is the SDK's own `Stream` class over in-memory chunks (no HTTP, no SSE parsing), so the
// adapter's per-chunk work is not lost in the SDK's parsing; the client is a client-like whose
// `chat.completions.create` returns it, as `guardOpenAI` accepts.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { AgentSRE } from "@agent-sre/core";
import { formatTable, runScenarios } from "./harness.mjs";
import { perItemInProcesses } from "./stream-items.mjs";

// `openai` and the adapter are resolved from the adapter's package (its devDependency).
const adapterRequire = createRequire(new URL("../adapters/openai/package.json", import.meta.url));
const { Stream } = await import(pathToFileURL(adapterRequire.resolve("openai/streaming")).href);
const { guardOpenAI } = await import(new URL("../adapters/openai/dist/index.js", import.meta.url).href);

const MODEL = "gpt-4.1";
const delta = {
  id: "c",
  object: "chat.completion.chunk",
  created: 1,
  model: MODEL,
  choices: [{ index: 0, delta: { content: "word " }, finish_reason: null }],
};
const last = {
  id: "c",
  object: "chat.completion.chunk",
  created: 1,
  model: MODEL,
  choices: [],
  usage: { prompt_tokens: 120, completion_tokens: 300, total_tokens: 420 },
};

function chunksFor(deltas) {
  const chunks = [];
  for (let i = 0; i < deltas; i++) chunks.push(delta);
  chunks.push(last);
  return chunks;
}

async function* iterate(chunks) {
  for (let i = 0; i < chunks.length; i++) yield chunks[i];
}

function streamOf(chunks) {
  const controller = new AbortController();
  // The SDK hands the controller's signal to fetch: it exists before the stream is read (~2 µs on Node 20).
  void controller.signal;
  return new Stream(() => iterate(chunks), controller);
}

/** A client-like whose create() answers with the SDK's Stream over `chunks`. */
function clientFor(chunks) {
  return { chat: { completions: { create: async () => streamOf(chunks) } } };
}

function newSre() {
  return new AgentSRE({
    budget: { perTaskLimitUsd: 1e9, perAgentDailyLimitUsd: 1e12, orgMonthlyBudgetUsd: 1e15 },
    rogue: false,
  });
}

const body = {
  model: MODEL,
  stream: true,
  messages: [{ role: "user", content: "What is the capital of France?" }],
};

async function drain(stream) {
  // biome-ignore lint/correctness/noUnusedVariables: reading is the work
  for await (const chunk of stream) {
  }
}

async function streamed(deltas, iterations, quick) {
  const chunks = chunksFor(deltas);
  const plain = clientFor(chunks);
  const guarded = guardOpenAI(clientFor(chunks), newSre(), { agentId: "bench", taskId: "task-1" });
  const parts = deltas + 1;
  return runScenarios(
    [
      {
        name: `SDK Stream, read ${parts} chunks (no guard)`,
        run: async () => drain(await plain.chat.completions.create(body)),
      },
      {
        name: `guardOpenAI stream, read ${parts} chunks`,
        baseline: `SDK Stream, read ${parts} chunks (no guard)`,
        run: async () => drain(await guarded.chat.completions.create(body)),
      },
    ],
    { iterations, rounds: quick ? 5 : 9, warmup: Math.max(200, iterations / 2) },
  );
}

/** Added CPU ns per streamed call (1-chunk stream) and per chunk ((1,001 − 2 chunks) / 999). */
export async function measure({ quick = false } = {}) {
  const short = await streamed(1, quick ? 5_000 : 30_000, quick);
  const long = await streamed(1_000, quick ? 100 : 600, quick);
  const fixedCpuNs = short[1].addedCpuNs;
  const perChunkCpuNs = (long[1].addedCpuNs - fixedCpuNs) / 999;
  return { rows: [...short, ...long], fixedCpuNs, perChunkCpuNs };
}

export async function run({ quick = false } = {}) {
  const { rows, fixedCpuNs, perChunkCpuNs } = await measure({ quick });
  // The difference of two runs shares one read loop between the baseline and the guarded stream, so each
  // side's time depends on the other's feedback; bench:check's method reads each side in its own loop.
  const own = await perItemInProcesses("openai", quick ? 1 : 5);
  return {
    sections: [
      formatTable("guardOpenAI: streamed chat completion (SDK Stream over in-memory chunks)", rows),
      [
        "| derived (CPU time) | value | target |",
        "|---|---:|---|",
        `| added per streamed call (fixed, 2-chunk stream) | ${(fixedCpuNs / 1000).toFixed(2)} µs |  |`,
        `| added per chunk ((1,001-chunk − 2-chunk) / 999) | ${perChunkCpuNs.toFixed(1)} ns | ≤ 50 ns |`,
        `| added per chunk, each side in its own read loop (stream-items.mjs, median of ${own.each.length} processes: ${own.each.map((e) => e.addedNs.toFixed(0)).join(" ")}) | ${own.addedNs.toFixed(1)} ns | ≤ 50 ns |`,
      ].join("\n"),
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { sections } = await run({ quick: process.argv.includes("--quick") });
  console.log(sections.join("\n\n"));
}
