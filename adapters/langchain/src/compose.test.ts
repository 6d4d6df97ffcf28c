// agentSREMiddleware composed with LangChain's own resilience middleware (toolRetryMiddleware,
// modelFallbackMiddleware) in real createAgent runs, and runs ended through LangChain's jumpTo hooks.
import { type AIMessage, ToolMessage } from "@langchain/core/messages";
import { MemorySaver } from "@langchain/langgraph";
import {
  createAgent,
  createMiddleware,
  MiddlewareError,
  modelFallbackMiddleware,
  modelRetryMiddleware,
  tool,
  toolRetryMiddleware,
  toolStrategy,
} from "langchain";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type AgentSREUsageState,
  agentSREMiddleware,
  refusalFrom,
  retryableError,
  sreMetadata,
} from "./index.js";
import { addTool, engine, textOf, transcript } from "./test-utils/harness.js";
import { reply, ScriptedChatModel } from "./test-utils/scripted-model.js";

const ask = (content: string) => ({ messages: [{ role: "user" as const, content }] });
/** LangChain's retry middleware without waiting between attempts (its delays are real timers). */
const retry = () => toolRetryMiddleware({ maxRetries: 2, initialDelayMs: 0, jitter: false });

/** A lookup tool that fails `failures` times, then answers. */
function flakyLookup(failures: number) {
  const state = { runs: 0 };
  const lookup = tool(
    async ({ id }: { id: number }) => {
      state.runs++;
      if (state.runs <= failures) throw new Error(`upstream 503 (attempt ${state.runs})`);
      return `order ${id}: shipped`;
    },
    { name: "lookup", description: "Looks an order up.", schema: z.object({ id: z.number() }) },
  );
  return { lookup, state };
}

const lookupCall = (id: string) => ({ name: "lookup", args: { id: 7 }, id });

describe("toolRetryMiddleware outside agentSREMiddleware (ours innermost: every attempt guarded)", () => {
  it("retries an ordinary tool error: the tool runs 3 times, each attempt is recorded, no loop", async () => {
    const { sre, completed, refused } = engine();
    const { lookup, state } = flakyLookup(2);
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [lookupCall("c1")]),
        reply("It shipped.", { input: 30, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [lookup],
      middleware: [retry(), agentSREMiddleware(sre, { agentId: "a" })],
    });

    const result = await agent.invoke(ask("where is order 7?"));

    expect(state.runs).toBe(3);
    expect(transcript(result.messages)).toEqual([
      "human:where is order 7?",
      "ai:",
      "tool:order 7: shipped",
      "ai:It shipped.",
    ]);
    const attempts = completed.filter((event) => event.kind === "tool");
    expect(attempts.map((event) => event.ok)).toEqual([false, false, true]);
    // Two failed attempts with the same arguments, then a third: retries of a failure are not a loop.
    expect(refused).toEqual([]);
  });

  it("gives up after the retries and answers the model the way toolRetryMiddleware does", async () => {
    const { sre, completed } = engine();
    const { lookup, state } = flakyLookup(Number.POSITIVE_INFINITY);
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [lookupCall("c1")]),
        reply("The order service is down.", { input: 30, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [lookup],
      middleware: [retry(), agentSREMiddleware(sre, { agentId: "a" })],
    });

    const result = await agent.invoke(ask("where is order 7?"));

    expect(state.runs).toBe(3);
    const answer = result.messages[2] as ToolMessage;
    expect(answer.status).toBe("error");
    expect(textOf(answer)).toBe("Tool 'lookup' failed after 3 attempts with Error");
    expect(completed.filter((event) => event.kind === "tool").map((event) => event.ok)).toEqual([
      false,
      false,
      false,
    ]);
    expect(textOf(result.messages.at(-1) as AIMessage)).toBe("The order service is down.");
  });

  it("does not retry a refusal: it answers the model once and the tool never runs", async () => {
    const { sre, refused } = engine({ agents: { a: { allowedTools: ["add"] } } });
    const { lookup, state } = flakyLookup(0);
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [lookupCall("c1")]),
        reply("I may not look orders up.", { input: 30, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [lookup],
      middleware: [retry(), agentSREMiddleware(sre, { agentId: "a" })],
    });

    const result = await agent.invoke(ask("where is order 7?"));

    expect(state.runs).toBe(0);
    expect(refused.map((event) => event.code)).toEqual(["TOOL_NOT_ALLOWED"]);
    expect(sreMetadata(result.messages[2] as ToolMessage)).toMatchObject({
      action: "continue",
      code: "TOOL_NOT_ALLOWED",
    });
  });

  it("retries an injected tool fault like the tool error it stands for", async () => {
    const { sre, completed } = engine({ chaosSeed: 1 });
    const { ChaosExperiment, errorInjection } = await import("@agent-sre/core");
    sre.startExperiment(
      new ChaosExperiment({ name: "always", faults: [errorInjection("tool:add", { rate: 1 })] }),
    );
    const { add, calls } = addTool();
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [{ name: "add", args: { a: 1, b: 2 }, id: "c1" }]),
        reply("add is down", { input: 30, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [add],
      middleware: [retry(), agentSREMiddleware(sre, { agentId: "a" })],
    });

    const result = await agent.invoke(ask("1+2?"));

    expect(calls).toEqual([]);
    expect(completed.filter((event) => event.kind === "tool")).toHaveLength(3);
    expect((result.messages[2] as ToolMessage).status).toBe("error");
    expect(textOf(result.messages.at(-1) as AIMessage)).toBe("add is down");
  });
});

describe("agentSREMiddleware outside toolRetryMiddleware (ours outermost: one logical call)", () => {
  it("guards the retried call once: one reservation, one recorded outcome", async () => {
    const { sre, completed } = engine();
    const { lookup, state } = flakyLookup(2);
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [lookupCall("c1")]),
        reply("It shipped.", { input: 30, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [lookup],
      middleware: [agentSREMiddleware(sre, { agentId: "a" }), retry()],
    });

    const result = await agent.invoke(ask("where is order 7?"));

    expect(state.runs).toBe(3);
    expect(textOf(result.messages[2] as ToolMessage)).toBe("order 7: shipped");
    expect(completed.filter((event) => event.kind === "tool").map((event) => event.ok)).toEqual([true]);
  });
});

describe("modelFallbackMiddleware outside agentSREMiddleware", () => {
  const fallbackSetup = (options: Parameters<typeof engine>[0] = {}) => {
    const harness = engine(options);
    const primary = new ScriptedChatModel({
      model: "scripted-1",
      script: [new Error("503 Service Unavailable")],
      repeatLast: true,
    });
    const fallback = new ScriptedChatModel({
      model: "scripted-1-large",
      script: [reply("Answered by the fallback.", { input: 20, output: 5 })],
    });
    const agent = createAgent({
      model: primary,
      tools: [],
      middleware: [modelFallbackMiddleware(fallback), agentSREMiddleware(harness.sre, { agentId: "a" })],
    });
    return { ...harness, primary, fallback, agent };
  };

  it("reaches the fallback model when the primary's breaker is open (CIRCUIT_OPEN)", async () => {
    const { sre, primary, fallback, agent, refused, completed } = fallbackSetup();
    sre.breakers.get("model:scripted-1").forceOpen("provider incident");

    const result = await agent.invoke(ask("hello"));

    expect(primary.calls).toBe(0);
    expect(fallback.calls).toBe(1);
    expect(textOf(result.messages.at(-1) as AIMessage)).toBe("Answered by the fallback.");
    expect(refused.map((event) => [event.code, event.name])).toEqual([["CIRCUIT_OPEN", "scripted-1"]]);
    expect(completed.map((event) => [event.name, event.ok])).toEqual([["scripted-1-large", true]]);
  });

  it("counts real provider failures on the primary, opens its breaker, then skips it", async () => {
    const { sre, primary, fallback, agent } = fallbackSetup({
      breakers: { defaults: { failureThreshold: 2, recoveryTimeoutMs: "30s" } },
    });

    for (let i = 0; i < 3; i++) {
      const result = await agent.invoke(ask(`hello ${i}`));
      expect(textOf(result.messages.at(-1) as AIMessage)).toBe("Answered by the fallback.");
    }

    // Two provider errors opened the primary's breaker; the third run went straight to the fallback.
    expect(primary.calls).toBe(2);
    expect(fallback.calls).toBe(3);
    expect(sre.breakers.get("model:scripted-1").state).toBe("OPEN");
  });

  it("does not fall back past a refusal that ends the run (out of budget)", async () => {
    const { primary, fallback, agent, refused } = fallbackSetup({
      budget: { perTaskLimitUsd: 0.000001, perAgentDailyLimitUsd: 10 },
    });

    const result = await agent.invoke(ask("hello"));

    expect(primary.calls + fallback.calls).toBe(0);
    expect(sreMetadata(result.messages.at(-1) as AIMessage)).toMatchObject({
      action: "end",
      code: "BUDGET_EXCEEDED",
    });
    expect(refused.map((event) => event.code)).toEqual(["BUDGET_EXCEEDED"]);
  });
});

describe("retries recognised as retries (the retry budget)", () => {
  it("toolRetryMiddleware's retries count against the tool's retry budget; one over it is refused", async () => {
    const { sre, completed, refused } = engine({ retryBudget: { ratio: 0, minRetries: 1 } });
    const { lookup, state } = flakyLookup(Number.POSITIVE_INFINITY);
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [lookupCall("c1")]),
        reply("The order service is down.", { input: 30, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [lookup],
      middleware: [retry(), agentSREMiddleware(sre, { agentId: "a" })],
    });

    const result = await agent.invoke(ask("where is order 7?"));

    // The first attempt and one retry (the budget: 1) ran; the second retry was refused, and the refusal
    // (an answer, not an error) ended LangChain's retrying.
    expect(state.runs).toBe(2);
    expect(completed.filter((event) => event.kind === "tool")).toHaveLength(2);
    expect(refused.map((event) => event.code)).toEqual(["RETRY_BUDGET_EXCEEDED"]);
    expect(sreMetadata(result.messages[2] as ToolMessage)).toMatchObject({ code: "RETRY_BUDGET_EXCEEDED" });
    expect(sre.retryBudget?.snapshot().targets["tool:lookup"]).toEqual({
      firstAttempts: 1,
      retries: 1,
      retriesAllowed: 1,
    });
  });

  it("modelRetryMiddleware's retries count against the model's retry budget; the next step is a first attempt", async () => {
    const { sre } = engine({ retryBudget: { ratio: 0, minRetries: 1 } });
    const model = new ScriptedChatModel({
      script: [
        new Error("503 Service Unavailable"),
        reply("", { input: 10, output: 5 }, [{ name: "add", args: { a: 1, b: 2 }, id: "c1" }]),
        reply("3", { input: 20, output: 2 }),
      ],
    });
    const { add } = addTool();
    const agent = createAgent({
      model,
      tools: [add],
      middleware: [
        modelRetryMiddleware({ maxRetries: 2, initialDelayMs: 0, jitter: false }),
        agentSREMiddleware(sre, { agentId: "a" }),
      ],
    });

    const result = await agent.invoke(ask("1 + 2?"));

    expect(textOf(result.messages.at(-1) as AIMessage)).toBe("3");
    // Step 1: a failed first attempt and a retry; step 2: a first attempt.
    expect(sre.retryBudget?.snapshot().targets["model:scripted-1"]).toMatchObject({
      firstAttempts: 2,
      retries: 1,
    });
  });
});

describe("modelRetryMiddleware outside agentSREMiddleware", () => {
  it("retries a retryable refusal and not a budget one, with retryOn: retryableError", async () => {
    const { sre, refused } = engine({ budget: { perTaskLimitUsd: 0.000001, perAgentDailyLimitUsd: 10 } });
    const model = new ScriptedChatModel({ script: [reply("hi", { input: 10, output: 2 })] });
    const agent = createAgent({
      model,
      tools: [],
      middleware: [
        modelRetryMiddleware({ maxRetries: 2, initialDelayMs: 0, jitter: false, retryOn: retryableError }),
        agentSREMiddleware(sre, { agentId: "a", onViolation: "error" }),
      ],
    });

    const result = await agent.invoke(ask("hello"));

    // A budget refusal is not retryable: refused once, then modelRetryMiddleware's own "continue" answer.
    expect(refused.map((event) => event.code)).toEqual(["BUDGET_EXCEEDED"]);
    expect(textOf(result.messages.at(-1) as AIMessage)).toMatch(/failed after 1 attempt/);
    expect(model.calls).toBe(0);
    expect(retryableError(new Error("network down"))).toBe(true);
  });

  it("retries an open breaker's refusal (retryable) until the retries run out", async () => {
    const { sre, refused } = engine();
    sre.breakers.get("model:scripted-1").forceOpen("incident");
    const model = new ScriptedChatModel({ script: [reply("hi", { input: 10, output: 2 })] });
    const agent = createAgent({
      model,
      tools: [],
      middleware: [
        modelRetryMiddleware({ maxRetries: 2, initialDelayMs: 0, jitter: false, retryOn: retryableError }),
        agentSREMiddleware(sre, { agentId: "a" }),
      ],
    });

    await agent.invoke(ask("hello"));

    expect(refused.map((event) => event.code)).toEqual(["CIRCUIT_OPEN", "CIRCUIT_OPEN", "CIRCUIT_OPEN"]);
    expect(model.calls).toBe(0);
  });
});

describe("ending a run through LangChain's jumpTo hooks", () => {
  const Answer = z.object({ answer: z.string() }).meta({ title: "Answer" });
  const structuredReply = (answer: string) =>
    reply("", { input: 20, output: 5 }, [{ name: "Answer", args: { answer }, id: "s1" }]);

  it("keeps structured output working through the middleware", async () => {
    const { sre } = engine();
    const model = new ScriptedChatModel({ script: [structuredReply("42")] });
    const agent = createAgent({
      model,
      tools: [],
      responseFormat: toolStrategy(Answer),
      middleware: [agentSREMiddleware(sre, { agentId: "a", usageStateKey: "sreUsage" })],
    });

    const result = await agent.invoke(ask("the answer?"));

    expect(result.structuredResponse).toEqual({ answer: "42" });
    expect(result.sreUsage?.modelCalls).toBe(1);
    expect(transcript(result.messages)).toEqual([
      "human:the answer?",
      "ai:",
      'tool:{"answer":"42"}',
      'ai:Returning structured response: {"answer":"42"}',
    ]);
  });

  it("with responseFormat, a refusal that would end the run is thrown: never a silent undefined structuredResponse", async () => {
    const { sre } = engine({ budget: { perTaskLimitUsd: 0.000001, perAgentDailyLimitUsd: 10 } });
    const model = new ScriptedChatModel({ script: [structuredReply("42")] });
    const agent = createAgent({
      model,
      tools: [],
      responseFormat: toolStrategy(Answer),
      middleware: [agentSREMiddleware(sre, { agentId: "a" })],
    });

    const error = await agent.invoke(ask("the answer?")).catch((caught: unknown) => caught);

    expect(MiddlewareError.isInstance(error)).toBe(true);
    expect(refusalFrom(error)?.code).toBe("BUDGET_EXCEEDED");
    expect(model.calls).toBe(0);
  });

  it("with responseFormat, a tool refusal in end mode is thrown too", async () => {
    const { sre } = engine({ agents: { a: { allowedTools: ["add"] } } });
    const { lookup, state } = flakyLookup(0);
    const model = new ScriptedChatModel({
      script: [reply("", { input: 10, output: 5 }, [lookupCall("c1")]), structuredReply("shipped")],
    });
    const agent = createAgent({
      model,
      tools: [lookup],
      responseFormat: toolStrategy(Answer),
      middleware: [
        agentSREMiddleware(sre, { agentId: "a", onViolation: { tool: { TOOL_NOT_ALLOWED: "end" } } }),
      ],
    });

    const error = await agent.invoke(ask("where is order 7?")).catch((caught: unknown) => caught);

    expect(refusalFrom(error)?.code).toBe("TOOL_NOT_ALLOWED");
    expect(state.runs).toBe(0);
    expect(model.calls).toBe(1);
  });

  it("a tool refusal in end mode ends the run before the next model call; the thread goes on afterwards", async () => {
    const { sre } = engine({ agents: { a: { allowedTools: ["add"] } } });
    const { lookup } = flakyLookup(0);
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [lookupCall("c1")]),
        reply("Hello again.", { input: 10, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [lookup],
      checkpointer: new MemorySaver(),
      middleware: [
        agentSREMiddleware(sre, { agentId: "a", onViolation: { tool: { TOOL_NOT_ALLOWED: "end" } } }),
      ],
    });
    const thread = { configurable: { thread_id: "t-1" } };

    const first = await agent.invoke(ask("where is order 7?"), thread);
    expect(model.calls).toBe(1);
    const [refusal, ending] = first.messages.slice(-2) as [ToolMessage, AIMessage];
    expect(sreMetadata(refusal)).toMatchObject({ action: "end", code: "TOOL_NOT_ALLOWED", kind: "tool" });
    expect(sreMetadata(ending)).toMatchObject({ action: "end", code: "TOOL_NOT_ALLOWED" });
    expect(ending.type).toBe("ai");

    // The ending is consumed: the next turn on the same thread runs normally.
    const second = await agent.invoke(ask("hi"), thread);
    expect(model.calls).toBe(2);
    expect(textOf(second.messages.at(-1) as AIMessage)).toBe("Hello again.");
  });

  it("a model refusal in end mode ends the run without skipping other middleware's end-of-run hooks", async () => {
    const { sre } = engine({ budget: { perTaskLimitUsd: 0.000001, perAgentDailyLimitUsd: 10 } });
    const seen: string[] = [];
    const observer = createMiddleware({
      name: "Observer",
      afterModel: (state) => {
        seen.push(`afterModel:${state.messages.at(-1)?.type}`);
      },
      afterAgent: () => {
        seen.push("afterAgent");
      },
    });
    const model = new ScriptedChatModel({ script: [reply("hi", { input: 10, output: 2 })] });
    const agent = createAgent({
      model,
      tools: [],
      middleware: [observer, agentSREMiddleware(sre, { agentId: "a" })],
    });

    const result = await agent.invoke(ask("hello"));

    expect(model.calls).toBe(0);
    expect(sreMetadata(result.messages.at(-1) as AIMessage)?.code).toBe("BUDGET_EXCEEDED");
    // The other middleware saw the final answer after the model step, and the run's end.
    expect(seen).toEqual(["afterModel:ai", "afterAgent"]);
  });

  it("parallel tool calls refused in end mode end the run once", async () => {
    const { sre } = engine({ agents: { a: { allowedTools: ["add"] } } });
    const { lookup, state } = flakyLookup(0);
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [lookupCall("c1"), { ...lookupCall("c2"), args: { id: 8 } }]),
        reply("unreachable", { input: 10, output: 5 }),
      ],
    });
    const agent = createAgent({
      model,
      tools: [lookup],
      middleware: [
        agentSREMiddleware(sre, { agentId: "a", onViolation: { tool: { TOOL_NOT_ALLOWED: "end" } } }),
      ],
    });

    const result = await agent.invoke(ask("orders 7 and 8?"));

    expect(state.runs).toBe(0);
    expect(model.calls).toBe(1);
    const answers = result.messages.filter((message) => ToolMessage.isInstance(message)) as ToolMessage[];
    expect(answers.map((message) => message.tool_call_id).sort()).toEqual(["c1", "c2"]);
    const endings = result.messages.filter(
      (message) => sreMetadata(message)?.kind === "tool" && message.type === "ai",
    );
    expect(endings).toHaveLength(1);
    expect(result.messages.at(-1)?.type).toBe("ai");
  });

  it("types the usage state and the context on the agent", async () => {
    const { sre } = engine();
    const model = new ScriptedChatModel({ script: [reply("hi", { input: 10, output: 2 })] });
    const agent = createAgent({
      model,
      tools: [],
      middleware: [agentSREMiddleware(sre, { usageStateKey: "sreUsage" })],
    });

    const result = await agent.invoke(ask("hello"), { context: { agentSRE: { agentId: "typed" } } });

    const usage: AgentSREUsageState | undefined = result.sreUsage;
    expect(usage?.modelCalls).toBe(1);
    expect(sre.budget.agentStatus("typed").spentTodayUsd).toBeGreaterThan(0);
    // @ts-expect-error agentId is a string
    const wrong = { context: { agentSRE: { agentId: 42 } } } satisfies Parameters<typeof agent.invoke>[1];
    expect(wrong.context.agentSRE.agentId).toBe(42);
  });
});
