// AI SDK adapter benchmarks: what agentSREMiddleware adds to a model call (generate) and to a streamed call
// (fixed cost per call, and per stream part), against the SDK's mock model without the middleware, in one run.
// The model is called the way generateText/streamText call it (doGenerate / doStream), so the SDK's own
// overhead (tens of µs per call) does not hide the middleware's.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { AgentSRE } from "@agent-sre/core";
import { formatTable, runScenarios } from "./harness.mjs";
import { perItemInProcesses } from "./stream-items.mjs";

// `ai` (ai@6) and the adapter are resolved from the adapter's package (its devDependency).
const adapterRequire = createRequire(new URL("../adapters/ai-sdk/package.json", import.meta.url));
const ai = await import(pathToFileURL(adapterRequire.resolve("ai")).href);
const aiTest = await import(pathToFileURL(adapterRequire.resolve("ai/test")).href);
const { agentSREMiddleware, guardModel } = await import(
  new URL("../adapters/ai-sdk/dist/index.js", import.meta.url).href
);

const usage = {
  inputTokens: { total: 1200, noCache: 1200, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 300, text: 300, reasoning: undefined },
};
const generateResult = {
  content: [{ type: "text", text: "ok" }],
  finishReason: { unified: "stop", raw: "stop" },
  usage,
  warnings: [],
};
const params = {
  prompt: [
    { role: "system", content: "You are a helpful assistant. Answer briefly." },
    { role: "user", content: [{ type: "text", text: "What is the capital of France? ".repeat(8) }] },
  ],
  maxOutputTokens: 512,
};
// A new prompt array per call, as generateText builds per step: the adapter counts a call with the
// same array as a retry of it (and the retry budget would refuse the bench after 10).
const step = () => ({ ...params, prompt: params.prompt.slice() });

function partsFor(deltas) {
  const parts = [
    { type: "stream-start", warnings: [] },
    { type: "text-start", id: "t" },
  ];
  for (let i = 0; i < deltas; i++) parts.push({ type: "text-delta", id: "t", delta: "word " });
  parts.push(
    { type: "text-end", id: "t" },
    { type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage },
  );
  return parts;
}

/** A stream of prebuilt parts, enqueued synchronously on pull (as cheap as a stream can be). */
function streamOf(parts) {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < parts.length) controller.enqueue(parts[i++]);
      else controller.close();
    },
  });
}

function mockModel(parts) {
  return new aiTest.MockLanguageModelV3({
    provider: "openai.chat",
    modelId: "gpt-4.1",
    doGenerate: async () => generateResult,
    doStream: async () => ({ stream: streamOf(parts) }),
  });
}

function newSre() {
  return new AgentSRE({
    budget: {
      perTaskLimitUsd: 1e9,
      perAgentDailyLimitUsd: 1e12,
      orgMonthlyBudgetUsd: 1e15,
      anomalyDetection: false,
    },
    rogue: false,
  });
}

/** The mock records every call: keep its arrays short so both sides pay the same. */
function trim(mock, i) {
  if ((i & 1023) === 0) {
    mock.doGenerateCalls.length = 0;
    mock.doStreamCalls.length = 0;
  }
}

async function drain(stream) {
  const reader = stream.getReader();
  for (;;) {
    const { done } = await reader.read();
    if (done) return;
  }
}

export async function run({ quick = false } = {}) {
  const sections = [];
  let generate;

  // ---- generate ------------------------------------------------------------------------------
  {
    const inner = mockModel(partsFor(1));
    const noop = ai.wrapLanguageModel({ model: inner, middleware: { specificationVersion: "v3" } });
    const sre = newSre();
    const guarded = ai.wrapLanguageModel({
      model: inner,
      middleware: agentSREMiddleware(sre, { agentId: "bench", taskId: "task-1" }),
    });
    const direct = guardModel(inner, newSre(), { agentId: "bench", taskId: "task-1" });
    const rows = await runScenarios(
      [
        {
          name: "mock model doGenerate (no middleware)",
          run: (_, i) => {
            trim(inner, i);
            return inner.doGenerate(step());
          },
        },
        {
          name: "wrapLanguageModel, empty middleware",
          baseline: "mock model doGenerate (no middleware)",
          run: (_, i) => {
            trim(inner, i);
            return noop.doGenerate(step());
          },
        },
        {
          name: "wrapLanguageModel + agentSREMiddleware (budget enforced)",
          baseline: "mock model doGenerate (no middleware)",
          target: "≤ +1.5 µs",
          run: (_, i) => {
            trim(inner, i);
            return guarded.doGenerate(step());
          },
        },
        {
          name: "guardModel (same guard, no wrapLanguageModel)",
          baseline: "mock model doGenerate (no middleware)",
          target: "≤ +1.5 µs",
          run: (_, i) => {
            trim(inner, i);
            return direct.doGenerate(step());
          },
        },
      ],
      { iterations: quick ? 20_000 : 100_000, rounds: quick ? 3 : 7, warmup: quick ? 20_000 : 50_000 },
    );
    sections.push(formatTable("AI SDK: per generate call (ns)", rows));
    generate = rows;
  }

  // ---- streams: fixed cost per call (5 parts) and cost per part (1,000 deltas) -------------------
  // Read two ways: with a reader (as a caller of doStream would), and piped through a TransformStream, as
  // streamText does (ai@6 and ai@7 both `pipeThrough` the model's stream).
  const streamed = async (deltas, iterations) => {
    const inner = mockModel(partsFor(deltas));
    const guarded = ai.wrapLanguageModel({
      model: inner,
      middleware: agentSREMiddleware(newSre(), { agentId: "bench", taskId: "task-1" }),
    });
    const n = deltas + 4;
    return runScenarios(
      [
        {
          name: `mock doStream + read ${n} parts (no middleware)`,
          run: async (_, i) => {
            trim(inner, i);
            await drain((await inner.doStream(step())).stream);
          },
        },
        {
          name: `agentSREMiddleware doStream + read ${n} parts`,
          baseline: `mock doStream + read ${n} parts (no middleware)`,
          run: async (_, i) => {
            trim(inner, i);
            await drain((await guarded.doStream(step())).stream);
          },
        },
        {
          name: `mock doStream, piped, ${n} parts (no middleware)`,
          run: async (_, i) => {
            trim(inner, i);
            await drain((await inner.doStream(step())).stream.pipeThrough(new TransformStream()));
          },
        },
        {
          name: `agentSREMiddleware doStream, piped, ${n} parts`,
          baseline: `mock doStream, piped, ${n} parts (no middleware)`,
          run: async (_, i) => {
            trim(inner, i);
            await drain((await guarded.doStream(step())).stream.pipeThrough(new TransformStream()));
          },
        },
      ],
      { iterations, rounds: quick ? 5 : 7, warmup: Math.max(200, iterations / 2) },
    );
  };
  const short = await streamed(1, quick ? 5_000 : 30_000);
  const long = await streamed(1_000, quick ? 100 : 600);
  const derived = (index) => {
    const fixed = short[index].addedCpuNs;
    return { fixed, perPart: (long[index].addedCpuNs - fixed) / 1_000 };
  };
  const read = derived(1);
  const piped = derived(3);
  // The difference of two runs above shares one read loop between the baseline and the guarded stream, so
  // each side's time depends on the other's feedback; bench:check's method reads each side in its own loop.
  const own = await perItemInProcesses("ai-sdk", quick ? 1 : 5);
  sections.push(formatTable("AI SDK: per streamed call (ns)", [...short, ...long]));
  sections.push(
    [
      "| derived (CPU time) | read with a reader | piped (as streamText) | target |",
      "|---|---:|---:|---|",
      `| added per streamed call (fixed, 5-part stream) | ${(read.fixed / 1000).toFixed(2)} µs | ${(piped.fixed / 1000).toFixed(2)} µs | ≤ 2 µs |`,
      `| added per stream part ((1,004-part − 5-part) / 1,000) | ${read.perPart.toFixed(1)} ns | ${piped.perPart.toFixed(1)} ns | ≤ 50 ns |`,
      `| added per stream part, each side in its own read loop (stream-items.mjs, median of ${own.each.length} processes: ${own.each.map((e) => e.addedNs.toFixed(0)).join(" ")}) | ${own.addedNs.toFixed(1)} ns | | ≤ 50 ns |`,
    ].join("\n"),
  );
  return { sections, generate, stream: { read, piped } };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { sections } = await run({ quick: process.argv.includes("--quick") });
  console.log(sections.join("\n\n"));
}
