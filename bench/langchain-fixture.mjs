// The LangChain hooks' calls that bench/check.mjs (langchain-share.mjs), langchain-prof.mjs and adapters-ab.mjs
// measure: a chat model request with a fresh messages array per call (as each agent step has; the same array
// again is a retry) and a tool request with fresh arguments, each answered by a trivial handler, beside the
// bare `sre.guard` call the middleware's own share is measured against.

/** A chat model the hooks see (never generates: each hook is given its own handler). */
function benchModelClass(BaseChatModel) {
  return class Model extends BaseChatModel {
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
  };
}

/**
 * The requests and handlers, built with the given `@langchain/core` classes (`BaseChatModel`, `AIMessage`,
 * `HumanMessage`, `SystemMessage`, `ToolMessage`).
 */
export function langChainRequests({ BaseChatModel, AIMessage, HumanMessage, SystemMessage, ToolMessage }) {
  const Model = benchModelClass(BaseChatModel);
  const model = new Model({});
  const human = new HumanMessage("What is the status of order 1234?");
  const systemMessage = new SystemMessage("");
  const runtime = Object.freeze({ context: undefined, configurable: { thread_id: "t" }, signal: undefined });
  const answer = new AIMessage({
    content: "It shipped.",
    usage_metadata: { input_tokens: 1200, output_tokens: 300, total_tokens: 1500 },
  });
  const stateMessages = [human];
  let sequence = 0;
  return {
    modelRequest: () => {
      const messages = [human];
      return { model, messages, systemPrompt: "", systemMessage, tools: [], state: { messages }, runtime };
    },
    modelHandler: async () => answer,
    /** The engine's model call the hook makes of `modelRequest()`. */
    engineModelCall: {
      kind: "model",
      agentId: "bench",
      taskId: "t",
      name: "gpt-4o-mini",
      provider: "openai",
      estimate: { inputTokens: 20, outputTokens: 4096 },
      usage: () => ({ inputTokens: 1200, outputTokens: 300 }),
    },
    toolRequest: () => ({
      toolCall: { name: "lookup_order", args: { orderId: sequence++ }, id: `call_${sequence}` },
      state: { messages: stateMessages },
      runtime,
    }),
    toolHandler: async (request) =>
      new ToolMessage({ content: "shipped", tool_call_id: request.toolCall.id, name: "lookup_order" }),
  };
}

/**
 * The four sides for one engine and its middleware: each hook, and the bare `sre.guard` of the same call. Each
 * side is a function literal of its own (V8 keeps feedback per literal).
 */
export function langChainSides(sre, middleware, requests) {
  const { modelRequest, modelHandler, engineModelCall, toolRequest, toolHandler } = requests;
  return {
    modelGuard: () => {
      const request = modelRequest();
      return sre.guard(engineModelCall, () => modelHandler(request));
    },
    modelHook: () => middleware.wrapModelCall(modelRequest(), modelHandler),
    toolGuard: () => {
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
    toolHook: () => middleware.wrapToolCall(toolRequest(), toolHandler),
  };
}
