// The LangChain group of bench/check.mjs: the middleware's own share over \`sre.guard\` for a model and a tool
// call, measured in fresh processes (the check takes the median of theirs). One process's figure moved by
// ±40 ns from one process to the next on a shared VM (bench/RESULTS.md, session 10 (langchain)): where GC
// falls and which shape V8 compiles the engine's shared code in differ per process, so one process is one
// sample. Not a unit test: it measures time. Usage (one process): node --expose-gc langchain-share.mjs
import { execFile } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { AgentSRE } from "@agent-sre/core";
import { OUT_OF_REACH } from "./fixtures.mjs";
import { median, pairedAdded } from "./harness.mjs";

/** Yardstick units timed per round (check.mjs's). */
const YARD = 2_000;

/** Paired in both orders and averaged (cancels either position's advantage), per yardstick unit too. */
async function pairedBothWays(baseline, run, options) {
  const forward = await pairedAdded(baseline, run, { ...options, yardstick: YARD });
  const backward = await pairedAdded(run, baseline, { ...options, yardstick: YARD });
  return {
    addedNs: (forward.addedNs - backward.addedNs) / 2,
    addedPerYardstick: (forward.addedPerYardstick - backward.addedPerYardstick) / 2,
    yardsticks: [...forward.yardsticks, ...backward.yardsticks],
  };
}

/** Both own shares in this process. */
export async function langChainShares() {
  const { agentSREMiddleware } = await import("@agent-sre/langchain");
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
  // A new messages array per model call, as each agent step has (the same array again is a retry).
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
  const quick = { batch: 2_000, rounds: 40 };
  const modelShare = await pairedBothWays(
    () => {
      const request = modelRequest();
      return sre.guard(engineModelCall, () => modelHandler(request));
    },
    () => middleware.wrapModelCall(modelRequest(), modelHandler),
    quick,
  );
  const toolShare = await pairedBothWays(
    () => {
      const request = toolRequest();
      // A literal (a spread-built call object has another shape, and the engine's loads go megamorphic).
      const call = {
        kind: "tool",
        agentId: "bench",
        taskId: "t",
        name: "lookup_order",
        input: request.toolCall.args,
      };
      return sre.guard(call, () => toolHandler(request));
    },
    () => middleware.wrapToolCall(toolRequest(), toolHandler),
    quick,
  );
  return { model: modelShare, tool: toolShare };
}

/** Both own shares, each the median of \`processes\` fresh processes' figures (\`each\`: theirs). */
export async function langChainSharesInProcesses(processes) {
  const script = fileURLToPath(import.meta.url);
  const each = [];
  for (let k = 0; k < processes; k++) {
    const stdout = await new Promise((resolve, reject) =>
      execFile(process.execPath, ["--expose-gc", script], (error, out) =>
        error ? reject(error) : resolve(out),
      ),
    );
    each.push(JSON.parse(stdout));
  }
  const figure = (name) => {
    const all = each.map((e) => e[name]);
    return {
      addedNs: median(all.map((e) => e.addedNs)),
      addedPerYardstick: median(all.map((e) => e.addedPerYardstick)),
      each: all,
      yardsticks: all.flatMap((e) => e.yardsticks),
    };
  };
  return { model: figure("model"), tool: figure("tool") };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.stdout.write(`${JSON.stringify(await langChainShares())}\n`);
}
