// LangChain.js adapter benchmarks: what agentSREMiddleware adds to each model and tool call (its hooks
// invoked directly around a trivial handler). Whole createAgent runs (~4 ms each) are not measured here:
// the few µs the guard adds are far below their run-to-run noise.
import { AgentSRE } from "@agent-sre/core";
import { agentSREMiddleware } from "@agent-sre/langchain";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, HumanMessage, SystemMessage, ToolMessage } from "@langchain/core/messages";
import { tool } from "langchain";
import { z } from "zod";
import { formatTable, REFERENCE_YARDSTICK_NS, runScenarios } from "./harness.mjs";
import { langChainSharesInProcesses } from "./langchain-share.mjs";

const usage = (input, output) => ({
  input_tokens: input,
  output_tokens: output,
  total_tokens: input + output,
});

/** A scripted chat model: a tool call, then an answer, with usage, forever. */
class ScriptedModel extends BaseChatModel {
  model = "gpt-4o-mini";
  turn = 0;
  static lc_name() {
    return "ScriptedModel";
  }
  _llmType() {
    return "scripted";
  }
  bindTools() {
    return this;
  }
  async _generate() {
    const first = this.turn++ % 2 === 0;
    const message = first
      ? new AIMessage({
          content: "",
          tool_calls: [
            {
              name: "lookup_order",
              args: { orderId: this.turn },
              id: `call_${this.turn}`,
              type: "tool_call",
            },
          ],
          usage_metadata: usage(320, 18),
          response_metadata: { model_name: "gpt-4o-mini-2024-07-18" },
        })
      : new AIMessage({
          content: "Your order has shipped.",
          usage_metadata: usage(420, 9),
          response_metadata: { model_name: "gpt-4o-mini-2024-07-18" },
        });
    return { generations: [{ text: message.text, message }] };
  }
}

const lookupOrder = tool(async ({ orderId }) => `order ${orderId}: shipped`, {
  name: "lookup_order",
  description: "Looks up an order.",
  schema: z.object({ orderId: z.number() }),
});

/** A production-like engine: budgets enforced (limits out of reach), breakers, rogue detection with loop refusal. */
function engine() {
  return new AgentSRE({
    budget: {
      perTaskLimitUsd: 1e9,
      perAgentDailyLimitUsd: 1e12,
      orgMonthlyBudgetUsd: 1e15,
      anomalyDetection: false,
    },
  });
}

export async function run({ quick = false } = {}) {
  const sections = [];

  // ---- 1. The hooks around a trivial handler ----------------------------------------------------------
  const sre = engine();
  const middleware = agentSREMiddleware(sre, { agentId: "bench" });
  const model = new ScriptedModel({});
  const messages = [new HumanMessage("What is the status of order 1234?")];
  const runtime = Object.freeze({
    context: undefined,
    configurable: { thread_id: "bench-thread" },
    signal: undefined,
  });
  // A new messages array per request, as each step of an agent has: the middleware tells retries (the same
  // request handed back by LangChain's retry middleware) from new calls by it.
  const systemMessage = new SystemMessage("");
  const tools = [lookupOrder];
  const modelRequest = () => ({
    model,
    messages: [...messages],
    systemPrompt: "",
    systemMessage,
    tools,
    state: { messages },
    runtime,
  });
  const answer = new AIMessage({
    content: "It shipped.",
    usage_metadata: usage(1200, 300),
    response_metadata: { model_name: "gpt-4o-mini-2024-07-18" },
  });
  const modelHandler = async () => answer;
  const modelCall = {
    kind: "model",
    agentId: "bench",
    taskId: "bench-thread",
    name: "gpt-4o-mini",
    provider: "openai",
    estimate: { inputTokens: 20, outputTokens: 1024 },
    usage: () => ({ inputTokens: 1200, outputTokens: 300, model: "gpt-4o-mini-2024-07-18" }),
  };
  // Tool calls get fresh arguments every time (a loop detector would refuse repeats, as it should).
  let sequence = 0;
  const toolRequest = () => ({
    toolCall: { name: "lookup_order", args: { orderId: sequence++ }, id: `call_${sequence}` },
    tool: lookupOrder,
    state: { messages },
    runtime,
  });
  const toolHandler = async (request) =>
    new ToolMessage({ content: "shipped", tool_call_id: request.toolCall.id, name: "lookup_order" });

  const hookRows = await runScenarios(
    [
      { name: "model: handler alone", run: () => modelHandler(modelRequest()) },
      {
        name: "model: sre.guard around it (engine only)",
        run: () => sre.guard(modelCall, () => modelHandler(modelRequest())),
        baseline: "model: handler alone",
      },
      {
        name: "model: middleware.wrapModelCall",
        run: () => middleware.wrapModelCall(modelRequest(), modelHandler),
        baseline: "model: handler alone",
        target: "≤ +2 µs",
      },
      {
        name: "model: middleware's own share (over sre.guard)",
        run: () => middleware.wrapModelCall(modelRequest(), modelHandler),
        baseline: "model: sre.guard around it (engine only)",
      },
      { name: "tool: handler alone", run: () => toolHandler(toolRequest()) },
      {
        name: "tool: sre.guard around it (engine only)",
        run: () => {
          const request = toolRequest();
          return sre.guard(
            {
              kind: "tool",
              agentId: "bench",
              taskId: "bench-thread",
              name: "lookup_order",
              input: request.toolCall.args,
            },
            () => toolHandler(request),
          );
        },
        baseline: "tool: handler alone",
      },
      {
        name: "tool: middleware.wrapToolCall",
        run: () => middleware.wrapToolCall(toolRequest(), toolHandler),
        baseline: "tool: handler alone",
        target: "≤ +2 µs",
      },
      {
        name: "tool: middleware's own share (over sre.guard)",
        run: () => middleware.wrapToolCall(toolRequest(), toolHandler),
        baseline: "tool: sre.guard around it (engine only)",
      },
    ],
    { iterations: quick ? 20_000 : 100_000, rounds: quick ? 3 : 7, warmup: quick ? 20_000 : 50_000 },
  );
  sections.push(formatTable("agentSREMiddleware: added time per call (hooks invoked directly)", hookRows));

  // The issue-18 rows: the own share paired with `sre.guard` batch after batch, in both orders, each in fresh
  // processes (bench:check's langchain group; the median of the processes' figures, theirs in brackets): one
  // process's figure moved by ±40 ns from the next, and the rounds above compare medians of separate rounds.
  const processes = quick ? 3 : 5;
  const shares = await langChainSharesInProcesses(processes);
  const shareRow = (name, figure) => {
    const each = figure.each.map((e) => (e.addedPerYardstick * REFERENCE_YARDSTICK_NS).toFixed(0)).join(" ");
    const signed = (ns) => `${ns >= 0 ? "+" : ""}${ns.toFixed(1)}`;
    return `| ${name} | ${signed(figure.wallAddedNs)} | ${signed(figure.addedNs)} | ${signed(figure.addedPerYardstick * REFERENCE_YARDSTICK_NS)} [${each}] | ≤ +150 ns |`;
  };
  sections.push(
    [
      `### agentSREMiddleware's own share over sre.guard, paired (${processes} fresh processes, median)`,
      "",
      "| hook | added (wall) | added (CPU) | added, reference ns [each process] | target |",
      "|---|---:|---:|---:|---|",
      shareRow("wrapModelCall", shares.model),
      shareRow("wrapToolCall", shares.tool),
    ].join("\n"),
  );

  return { sections };
}

// `node bench/langchain.mjs` runs this suite alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { sections } = await run({ quick: process.argv.includes("--quick") });
  console.log(sections.join("\n\n"));
}
