// The LangChain hooks' calls of bench/check.mjs's langchain group, one side at a time, for profilers
// (`node --cpu-prof`, `--trace-deopt`, `valgrind --tool=callgrind`): the middleware's hook or the bare
// `sre.guard` it is measured against, `count` calls awaited one by one after as many warm-up calls.
// Instructions per call of a side: (instructions at count N2 − at N1) / (N2 − N1) under callgrind.
// Not a unit test. Usage: node bench/langchain-prof.mjs <model|tool> <hook|guard|G:H> <count> [ROOT]
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { OUT_OF_REACH } from "./fixtures.mjs";

const [kind = "model", side = "hook", countText = "100000", rootArg] = process.argv.slice(2);
const count = Number(countText);
const root = resolve(rootArg ?? new URL("..", import.meta.url).pathname);
const load = (path) => import(pathToFileURL(`${root}/${path}`).href);
const { AgentSRE } = await load("core/dist/index.js");
const { agentSREMiddleware } = await load("adapters/langchain/dist/index.js");
const { BaseChatModel } = await import("@langchain/core/language_models/chat_models");
const { AIMessage, HumanMessage, SystemMessage, ToolMessage } = await import("@langchain/core/messages");

class Model extends BaseChatModel {
  model = "gpt-4o-mini";
  static lc_name() {
    return "BenchModel";
  }
  _llmType() {
    return "bench";
  }
  async _generate() {
    throw new Error("the hooks are called with their own handler");
  }
}
const sre = new AgentSRE({ budget: { ...OUT_OF_REACH, anomalyDetection: false } });
const middleware = agentSREMiddleware(sre, { agentId: "bench" });
const model = new Model({});
const human = new HumanMessage("What is the status of order 1234?");
const systemMessage = new SystemMessage("");
const runtime = Object.freeze({ context: undefined, configurable: { thread_id: "t" }, signal: undefined });
const modelRequest = () => {
  const messages = [human];
  return { model, messages, systemPrompt: "", systemMessage, tools: [], state: { messages }, runtime };
};
const answer = new AIMessage({
  content: "It shipped.",
  usage_metadata: { input_tokens: 1200, output_tokens: 300, total_tokens: 1500 },
});
const modelHandler = async () => answer;
const engineModelCall = {
  kind: "model",
  agentId: "bench",
  taskId: "t",
  name: "gpt-4o-mini",
  provider: "openai",
  estimate: { inputTokens: 20, outputTokens: 4096 },
  usage: () => ({ inputTokens: 1200, outputTokens: 300 }),
};
const stateMessages = [human];
let sequence = 0;
const toolRequest = () => ({
  toolCall: { name: "lookup_order", args: { orderId: sequence++ }, id: `call_${sequence}` },
  state: { messages: stateMessages },
  runtime,
});
const toolHandler = async (request) =>
  new ToolMessage({ content: "shipped", tool_call_id: request.toolCall.id, name: "lookup_order" });

const runs = {
  "model guard": () => {
    const request = modelRequest();
    return sre.guard(engineModelCall, () => modelHandler(request));
  },
  "model hook": () => middleware.wrapModelCall(modelRequest(), modelHandler),
  "tool guard": () => {
    const request = toolRequest();
    const call = {
      kind: "tool",
      agentId: "bench",
      taskId: "t",
      name: "lookup_order",
      input: request.toolCall.args,
    };
    return sre.guard(call, () => toolHandler(request));
  },
  "tool hook": () => middleware.wrapToolCall(toolRequest(), toolHandler),
};
// Both sides warm up the same way whichever is measured (the engine's code is shared, as in the check).
const guard = runs[`${kind} guard`];
const hook = runs[`${kind} hook`];
if (guard === undefined) throw new Error(`unknown kind: ${kind}`);
for (let i = 0; i < 20_000; i++) {
  await guard();
  await hook();
}
// `side`: "hook" or "guard" measures that side alone; "G:H" runs rounds of G guarded then H hooked calls
// (the check's alternation; instructions per call of a side from runs that differ in its batch only).
const [guardBatch, hookBatch] =
  side === "hook" ? [0, 1] : side === "guard" ? [1, 0] : side.split(":").map(Number);
if (process.env.ALLOC !== undefined) {
  // Bytes allocated per call (run with --expose-gc --max-semi-space-size=128: no GC inside the window).
  const { getHeapStatistics } = await import("node:v8");
  const perCall = [];
  for (let rep = 0; rep < 5; rep++) {
    globalThis.gc();
    const before = getHeapStatistics().used_heap_size;
    for (let round = 0; round < count; round++) {
      for (let i = 0; i < guardBatch; i++) await guard();
      for (let i = 0; i < hookBatch; i++) await hook();
    }
    perCall.push((getHeapStatistics().used_heap_size - before) / (count * (guardBatch + hookBatch)));
  }
  perCall.sort((a, b) => a - b);
  console.log(`${kind} ${side}: ${perCall[2].toFixed(0)} B/call (median of 5)`);
  process.exit(0);
}
const started = process.cpuUsage();
for (let round = 0; round < count; round++) {
  for (let i = 0; i < guardBatch; i++) await guard();
  for (let i = 0; i < hookBatch; i++) await hook();
}
const used = process.cpuUsage(started);
if (process.env.QUIET === undefined)
  console.log(
    `${kind} ${side}: ${(((used.user + used.system) * 1000) / Math.max(count * (guardBatch + hookBatch), 1)).toFixed(0)} CPU ns/call`,
  );
