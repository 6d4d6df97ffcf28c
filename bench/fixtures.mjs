// Shared fixtures of the A/B and profiling scripts (issue 18): the bench's model call (budget + price + SLO),
// a default-config tool call with fresh arguments, its SLO, budget limits no call reaches, the paired
// "B − A in both orders" helper, and the OpenAI scripts' streamed chat completion.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { pairedAdded } from "./harness.mjs";

/** Loads a build of @agent-sre/core from its dist directory. */
export const loadBuild = async (dist) => import(pathToFileURL(resolve(dist, "index.js")).href);

/** Budget limits the bench never reaches: every call is checked and charged, none refused. */
export const OUT_OF_REACH = { perTaskLimitUsd: 1e9, perAgentDailyLimitUsd: 1e12, orgMonthlyBudgetUsd: 1e15 };

const usage = { inputTokens: 1200, outputTokens: 300 };
/** A priced model call with an estimate (reserved) and its usage (committed). */
export const modelCall = {
  kind: "model",
  agentId: "bench",
  taskId: "task-1",
  name: "gpt-4o",
  provider: "openai",
  estimate: { inputTokens: 1200, outputTokens: 1000 },
  usage: () => usage,
};

const TOOLS = ["search", "lookup_order", "send_email", "fetch_page", "summarise"];
const FIELDS = ["status", "eta"];
/**
 * Fresh tool arguments per call (a baseline builds the same object): the loop detector must see no repeats,
 * and five tool names in turn keep the action entropy normal, so a default-config engine never quarantines
 * the bench's agent. The sequence runs across rounds and scripts (a harness restarts its `i` every round).
 */
let sequence = 0;
export const toolArgs = () => ({ orderId: sequence++, fields: FIELDS });
/**
 * A default-config tool call of agent `agentId`, the `i`-th of its run; with the agent's `agentRef` if given
 * (the property is always there, as an adapter's calls have it: one object shape either way).
 */
export const toolCall = (agentId, i, agentRef = undefined) => ({
  kind: "tool",
  agentId,
  agentRef,
  taskId: "task-1",
  name: TOOLS[i % 5],
  input: toolArgs(),
});

/**
 * `length` agent numbers, each of `agents` agents as often (`length / agents` turns), in a fixed random order
 * (a seeded shuffle): a fleet's calls come in no order, where agents called in turn meet their records in the
 * order they were allocated, which the hardware prefetchers follow.
 */
export function shuffledTurns(agents, length) {
  const order = Array.from({ length }, (_, k) => k % agents);
  let seed = 12345;
  for (let k = order.length - 1; k > 0; k--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = seed % (k + 1);
    [order[k], order[j]] = [order[j], order[k]];
  }
  return order;
}

/**
 * A lean engine (no detector, no retry budget) under a running chaos experiment whose fault never fires
 * (rate 0), built with the given core build: bench:check's chaos row.
 */
export function idleChaosEngine(core) {
  const sre = new core.AgentSRE({ rogue: false, retryBudget: false });
  sre.startExperiment(
    new core.ChaosExperiment({
      name: "idle",
      faults: [core.Fault.latencyInjection("*", { delayMs: 100, rate: 0 })],
      durationMs: "24h",
    }),
  );
  return sre;
}

/** The bench's SLO, built with the given core build: task success and p99 latency over 30 days. */
export const sloOf = (core) =>
  new core.SLO({
    name: "success",
    indicators: [
      new core.TaskSuccessRate(),
      new core.LatencyPercentile({ percentile: 0.99, thresholdMs: 5_000 }),
    ],
    errorBudget: { total: 0.01, windowMs: "30d" },
  });

export const ns = (value, digits = 0) => `${value >= 0 ? "+" : ""}${value.toFixed(digits)} ns`;

/** B − A measured in both orders (A then B, B then A) and averaged: cancels either position's advantage. */
export async function bMinusA(runA, runB, options) {
  const ab = await pairedAdded(runA, runB, options);
  const ba = await pairedAdded(runB, runA, options);
  return (ab.addedNs - ba.addedNs) / 2;
}

/** The OpenAI scripts' request: a streamed chat completion. */
export const chatBody = {
  model: "gpt-4.1",
  stream: true,
  messages: [{ role: "user", content: "What is the capital of France?" }],
};
const chatDelta = {
  id: "c",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4.1",
  choices: [{ index: 0, delta: { content: "word " }, finish_reason: null }],
};
const chatLast = {
  ...chatDelta,
  choices: [],
  usage: { prompt_tokens: 120, completion_tokens: 300, total_tokens: 420 },
};

/**
 * A client-like whose `chat.completions.create` answers with the SDK's `Stream` (the class passed in) over
 * `deltas` content chunks and a final usage chunk, in memory. Each stream gets a new async generator function,
 * as the SDK's `fromSSEResponse` makes one per response (so each stream's iterator has a map of its own).
 */
export function chatClientOf(Stream, deltas) {
  const chunks = [...Array.from({ length: deltas }, () => chatDelta), chatLast];
  const streamOf = () => {
    const controller = new AbortController();
    void controller.signal; // the SDK hands it to fetch
    return new Stream(async function* () {
      for (const chunk of chunks) yield chunk;
    }, controller);
  };
  return { chat: { completions: { create: async () => streamOf() } } };
}

/** The AI SDK (LanguageModelV3) usage the bench's model calls report. */
export const aiSdkUsage = {
  inputTokens: { total: 1200, noCache: 1200, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 300, text: 300, reasoning: undefined },
};
/** The prompt of the bench's AI SDK model calls: a system message and a question. */
export const aiSdkPrompt = [
  { role: "system", content: "You are a helpful assistant. Answer briefly." },
  { role: "user", content: [{ type: "text", text: "What is the capital of France? ".repeat(8) }] },
];
/**
 * The call options of an AI SDK model call with `prompt`, a new prompt array per call as generateText /
 * streamText build per step: the adapter counts a call with the same array as a retry of it (and the retry
 * budget would refuse the bench after 10).
 */
export const aiSdkStepOf = (prompt) => {
  const params = { prompt, maxOutputTokens: 512 };
  return () => ({ ...params, prompt: prompt.slice() });
};
export const aiSdkStep = aiSdkStepOf(aiSdkPrompt);
/** A streamed text answer of `deltas` text deltas, as a provider's doStream yields it. */
export const aiSdkPartsFor = (deltas) => [
  { type: "stream-start", warnings: [] },
  { type: "text-start", id: "t" },
  ...Array.from({ length: deltas }, () => ({ type: "text-delta", id: "t", delta: "word " })),
  { type: "text-end", id: "t" },
  { type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage: aiSdkUsage },
];
/** A stream of prebuilt parts, enqueued synchronously on pull (as cheap as a stream can be). */
export function pulledStream(parts) {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < parts.length) controller.enqueue(parts[i++]);
      else controller.close();
    },
  });
}
