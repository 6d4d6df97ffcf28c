// AI SDK adapter benchmarks: what agentSREMiddleware adds to a model call (generate) and to a streamed call
// (fixed cost per call, and per stream part), against the model without the middleware: generate in one run,
// the stream figures in fresh processes (stream-items.mjs, as bench:check measures them).
// The model is called the way generateText/streamText call it (doGenerate / doStream), so the SDK's own
// overhead (tens of µs per call) does not hide the middleware's.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { AgentSRE } from "@agent-sre/core";
import { aiSdkPartsFor, aiSdkStep, aiSdkUsage, pulledStream } from "./fixtures.mjs";
import { formatTable, REFERENCE_YARDSTICK_NS, runScenarios } from "./harness.mjs";
import { perItemInProcesses, streamFixedInProcesses } from "./stream-items.mjs";

// `ai` (ai@6) and the adapter are resolved from the adapter's package (its devDependency).
const adapterRequire = createRequire(new URL("../adapters/ai-sdk/package.json", import.meta.url));
const ai = await import(pathToFileURL(adapterRequire.resolve("ai")).href);
const aiTest = await import(pathToFileURL(adapterRequire.resolve("ai/test")).href);
const { agentSREMiddleware, guardModel } = await import(
  new URL("../adapters/ai-sdk/dist/index.js", import.meta.url).href
);

const generateResult = {
  content: [{ type: "text", text: "ok" }],
  finishReason: { unified: "stop", raw: "stop" },
  usage: aiSdkUsage,
  warnings: [],
};
const step = aiSdkStep;

function mockModel(parts) {
  return new aiTest.MockLanguageModelV3({
    provider: "openai.chat",
    modelId: "gpt-4.1",
    doGenerate: async () => generateResult,
    doStream: async () => ({ stream: pulledStream(parts) }),
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

export async function run({ quick = false } = {}) {
  const sections = [];
  let generate;

  // ---- generate ------------------------------------------------------------------------------
  {
    const inner = mockModel(aiSdkPartsFor(1));
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

  // ---- streams: fixed cost per call (5-part stream) and cost per part -----------------------------------
  // Measured as bench:check measures them (stream-items.mjs): each side reads in a read loop of its own, in fresh
  // processes, paired batch after batch with the order swapped every round, CPU time. The rows before session 18
  // subtracted medians of rounds that shared one read loop between the bare and the guarded stream (each side's
  // time then depended on the other's feedback) and read +3.5 / +6.0 µs fixed where callgrind counts the guarded
  // call at +14,300 / −9,700 instructions (read / piped: ~+1.3 / −0.9 µs; bench/ai-sdk-icount.mjs).
  const processes = quick ? 1 : 5;
  const fixed = await streamFixedInProcesses(processes);
  const own = await perItemInProcesses("ai-sdk", processes);
  const ownPiped = await perItemInProcesses("ai-sdk-piped", processes);
  const us = (ns) => `${ns >= 0 && ns !== 0 ? "+" : ""}${(ns / 1000).toFixed(2)} µs`;
  const spread = (values) =>
    values
      .map((v) => v.toFixed(0))
      .sort((a, b) => a - b)
      .join(" ");
  const fixedRow = (name, f) =>
    `| ${name} | ${(f.baselineNs / 1000).toFixed(2)} µs | ${us(f.addedNs)} | ${us(f.wallAddedNs)} | ${us(f.addedPerYardstick * REFERENCE_YARDSTICK_NS)} | ${spread(f.each.map((e) => e.addedNs))} | ≤ +2 µs |`;
  const perPartRow = (name, f) =>
    `| ${name} | | ${f.addedNs.toFixed(1)} ns | | ${(f.addedPerYardstick * REFERENCE_YARDSTICK_NS).toFixed(1)} ns | ${spread(f.each.map((e) => e.addedNs))} | ≤ 50 ns |`;
  sections.push(
    [
      `### AI SDK: per streamed call (each side in its own read loop; medians of ${processes} fresh process${processes === 1 ? "" : "es"}, CPU time)`,
      "",
      "| figure | baseline (no middleware, CPU) | added (CPU) | added (wall) | added (reference ns) | each process's added CPU ns | target |",
      "|---|---:|---:|---:|---:|---|---|",
      fixedRow("fixed per call, 5-part stream, read with a reader", fixed.read),
      fixedRow("fixed per call, 5-part stream, piped (as streamText)", fixed.piped),
      perPartRow("per stream part, read ((1,004-part − 5-part) / 999)", own),
      perPartRow("per stream part, piped (as streamText)", ownPiped),
    ].join("\n"),
  );
  return { sections, generate, stream: { fixed, perPart: own, perPartPiped: ownPiped } };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { sections } = await run({ quick: process.argv.includes("--quick") });
  console.log(sections.join("\n\n"));
}
