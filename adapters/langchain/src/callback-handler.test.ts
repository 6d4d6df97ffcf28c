import {
  AgentQuarantinedError,
  type AgentRef,
  type RefusalError,
  TimeoutError,
  TokenLimitExceededError,
} from "@agent-sre/core";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage, HumanMessage, type ToolMessage } from "@langchain/core/messages";
import { StringOutputParser } from "@langchain/core/output_parsers";
import type { ChatResult } from "@langchain/core/outputs";
import { ChatPromptTemplate } from "@langchain/core/prompts";
import { createAgent, tool } from "langchain";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { AgentSRECallbackHandler, agentSREMiddleware, estimateInputTokens } from "./index.js";
import { addTool, engine, priceOf, textOf, transcript } from "./test-utils/harness.js";
import { reply, ScriptedChatModel, StallingChatModel } from "./test-utils/scripted-model.js";

const prompt = ChatPromptTemplate.fromMessages([
  ["system", "You are terse."],
  ["human", "{question}"],
]);

/** A model that reports usage the legacy way only: `llmOutput.tokenUsage`, no `usage_metadata`. */
class LegacyUsageModel extends BaseChatModel {
  _llmType(): string {
    return "legacy";
  }
  async _generate(_messages: BaseMessage[]): Promise<ChatResult> {
    return {
      generations: [{ text: "legacy answer", message: new AIMessage("legacy answer") }],
      llmOutput: { tokenUsage: { promptTokens: 42, completionTokens: 7, totalTokens: 49 } },
    };
  }
  override getLsParams(options: this["ParsedCallOptions"]) {
    return { ...super.getLsParams(options), ls_model_name: "scripted-1" };
  }
}

describe("AgentSRECallbackHandler: observing any runnable", () => {
  it("records usage, cost and latency of a model in a plain chain", async () => {
    const { sre, clock, completed } = engine();
    const model = new ScriptedChatModel({ script: [reply("Paris.", { input: 21, output: 3 })] });
    const slowParser = new StringOutputParser();
    const chain = prompt.pipe(model).pipe(slowParser);
    const handler = new AgentSRECallbackHandler(sre, { agentId: "geo" });
    const started = clock.now();

    const answer = await chain.invoke({ question: "Capital of France?" }, { callbacks: [handler] });

    expect(answer).toBe("Paris.");
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({
      agentId: "geo",
      kind: "model",
      name: "scripted-1",
      ok: true,
      inputTokens: 21,
      outputTokens: 3,
      durationMs: clock.now() - started,
    });
    expect(completed[0]?.costUsd).toBeCloseTo(priceOf("scripted-1", 21, 3), 12);
    expect(sre.budget.agentStatus("geo").spentTodayUsd).toBeCloseTo(priceOf("scripted-1", 21, 3), 12);
    expect(handler.activeRuns).toBe(0);
  });

  it("falls back to llmOutput.tokenUsage when a model reports no usage_metadata", async () => {
    const { sre, completed } = engine();
    const handler = new AgentSRECallbackHandler(sre, { agentId: "legacy" });

    await prompt.pipe(new LegacyUsageModel({})).invoke({ question: "hi" }, { callbacks: [handler] });

    expect(completed[0]).toMatchObject({ name: "scripted-1", inputTokens: 42, outputTokens: 7 });
    expect(completed[0]?.costUsd).toBeCloseTo(priceOf("scripted-1", 42, 7), 12);
  });

  it("measures tool latency on the engine clock and feeds the tool's breaker", async () => {
    const { sre, clock, completed } = engine({ breakers: { defaults: { failureThreshold: 2 } } });
    const handler = new AgentSRECallbackHandler(sre, { agentId: "ops" });
    const slow = tool(
      async ({ fail }: { fail: boolean }) => {
        clock.advance(120);
        if (fail) throw new Error("upstream 500");
        return "ok";
      },
      { name: "slow", description: "Slow.", schema: z.object({ fail: z.boolean() }) },
    );

    await slow.invoke({ fail: false }, { callbacks: [handler] });
    await expect(slow.invoke({ fail: true }, { callbacks: [handler] })).rejects.toThrow("upstream 500");
    await expect(slow.invoke({ fail: true }, { callbacks: [handler] })).rejects.toThrow("upstream 500");

    expect(completed.map((event) => [event.name, event.ok, event.durationMs])).toEqual([
      ["slow", true, 120],
      ["slow", false, 120],
      ["slow", false, 120],
    ]);
    expect(sre.breakers.get("tool:slow").state).toBe("OPEN");
  });

  it("keeps concurrent runs of different agents apart", async () => {
    const { sre, completed } = engine();
    const handler = new AgentSRECallbackHandler(sre, {
      agentId: (run) => run.metadata?.agent as string | undefined,
    });
    const model = (output: number) =>
      new ScriptedChatModel({ script: [reply("x".repeat(output), { input: 10, output })] });

    await Promise.all(
      [5, 50, 500].map((output) =>
        prompt
          .pipe(model(output))
          .invoke({ question: "go" }, { callbacks: [handler], metadata: { agent: `agent-${output}` } }),
      ),
    );

    for (const output of [5, 50, 500]) {
      expect(sre.budget.agentStatus(`agent-${output}`).spentTodayUsd).toBeCloseTo(
        priceOf("scripted-1", 10, output),
        12,
      );
    }
    expect(completed).toHaveLength(3);
    expect(handler.activeRuns).toBe(0);
  });

  it("observes without blocking or holding anything: a call the engine would refuse runs and is recorded once", async () => {
    const { sre, clock, refused, completed } = engine({
      budget: { perTaskLimitUsd: 1, perAgentDailyLimitUsd: 10 },
    });
    sre.quarantine("geo", "manual");
    const reservedDuringRun: number[] = [];
    const model = new ScriptedChatModel({
      script: [
        () => {
          reservedDuringRun.push(sre.budget.agentStatus("geo").reservedTodayUsd);
          clock.advance(75);
          return reply("Paris.", { input: 21, output: 3 });
        },
      ],
    });
    const handler = new AgentSRECallbackHandler(sre, { agentId: "geo" });

    const answer = await prompt
      .pipe(model)
      .pipe(new StringOutputParser())
      .invoke({ question: "?" }, { callbacks: [handler] });

    expect(answer).toBe("Paris.");
    // No pre-flight: nothing refused, nothing reserved while the call ran.
    expect(refused).toEqual([]);
    expect(reservedDuringRun).toEqual([0]);
    // Recorded once, synchronously at the end of the run, with its latency on the engine's clock.
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({ agentId: "geo", ok: true, durationMs: 75, outputTokens: 3 });
    const status = sre.budget.agentStatus("geo");
    expect(status.spentTodayUsd).toBeCloseTo(priceOf("scripted-1", 21, 3), 12);
    expect(status.reservedTodayUsd).toBe(0);
    expect(handler.activeRuns).toBe(0);
  });

  it("feeds a failing model's breaker in observe mode, without asking it for permits", async () => {
    const { sre, completed } = engine({ breakers: { defaults: { failureThreshold: 2 } } });
    const model = new ScriptedChatModel({ script: [new Error("upstream 503")] });
    const handler = new AgentSRECallbackHandler(sre, { agentId: "geo" });

    for (let i = 0; i < 3; i++) {
      await expect(model.invoke("?", { callbacks: [handler] })).rejects.toThrow("upstream 503");
    }

    // The breaker opened after two failures, yet the third call still ran: observe mode never asks it.
    expect(model.calls).toBe(3);
    expect(sre.breakers.get("model:scripted-1").state).toBe("OPEN");
    expect(completed.map((event) => event.ok)).toEqual([false, false, false]);
    expect(sre.budget.agentStatus("geo").spentTodayUsd).toBe(0);
  });
});

describe("AgentSRECallbackHandler: enforcement", () => {
  // LangChain logs every error a raiseError handler throws with console.error before re-throwing it.
  let logged: string[] = [];
  beforeEach(() => {
    logged = [];
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
      logged.push(args.map(String).join(" "));
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("blocks a model call before it runs (the chain rejects with the typed refusal)", async () => {
    const { sre } = engine();
    sre.quarantine("geo", "incident 7");
    const model = new ScriptedChatModel({ script: [reply("Paris.", { input: 21, output: 3 })] });
    const handler = new AgentSRECallbackHandler(sre, { agentId: "geo", enforce: true });

    const error = await prompt
      .pipe(model)
      .invoke({ question: "?" }, { callbacks: [handler] })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AgentQuarantinedError);
    expect(model.calls).toBe(0);
    expect(handler.activeRuns).toBe(0);
    expect(logged).toEqual([
      expect.stringContaining("Error in handler AgentSRECallbackHandler, handleLLMStart"),
    ]);
  });

  it("binds a fixed agent once (its calls carry the ref); an agent picked per run is looked up by id", async () => {
    const { sre } = engine();
    const seen: Array<[string, AgentRef | undefined]> = [];
    sre.use({ start: (call) => seen.push([call.agentId, call.agentRef]) });
    const fixed = new AgentSRECallbackHandler(sre, { agentId: "geo", enforce: true });
    const perRun = new AgentSRECallbackHandler(sre, {
      agentId: (run) => run.metadata?.agent as string | undefined,
      enforce: true,
    });
    const model = new ScriptedChatModel({
      script: [
        reply("a", { input: 1, output: 1 }),
        reply("b", { input: 1, output: 1 }),
        reply("c", { input: 1, output: 1 }),
      ],
    });
    const chain = prompt.pipe(model);

    await chain.invoke({ question: "1" }, { callbacks: [fixed] });
    await chain.invoke({ question: "2" }, { callbacks: [fixed] });
    await chain.invoke({ question: "3" }, { callbacks: [perRun], metadata: { agent: "geo" } });

    const ref = seen[0]?.[1];
    expect(ref?.agentId).toBe("geo");
    expect(seen).toEqual([
      ["geo", ref],
      ["geo", ref],
      ["geo", undefined],
    ]);
    expect(sre.status().agents.geo?.calls).toBe(3);
  });

  it("blocks a tool invoked directly", async () => {
    const { sre } = engine({ agents: { ops: { deniedTools: ["add"] } } });
    const { add, calls } = addTool();
    const handler = new AgentSRECallbackHandler(sre, { agentId: "ops", enforce: true });

    const error = await add.invoke({ a: 1, b: 2 }, { callbacks: [handler] }).catch((e: unknown) => e);

    expect((error as RefusalError).code).toBe("TOOL_NOT_ALLOWED");
    expect(calls).toHaveLength(0);
  });

  it("inside createAgent (no middleware): a blocked tool becomes an error ToolMessage and the run goes on", async () => {
    const { sre } = engine({ agents: { ops: { allowedTools: ["lookup"] } } });
    const { add, calls } = addTool();
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 10, output: 5 }, [{ name: "add", args: { a: 1, b: 2 }, id: "c1" }]),
        reply("Not allowed to add.", { input: 20, output: 5 }),
      ],
    });
    const agent = createAgent({ model, tools: [add] });
    const handler = new AgentSRECallbackHandler(sre, { agentId: "ops", enforce: true });

    const result = await agent.invoke(
      { messages: [{ role: "user", content: "1+2" }] },
      { callbacks: [handler] },
    );

    expect(calls).toHaveLength(0);
    const toolMessage = result.messages[2] as ToolMessage;
    expect(toolMessage.status).toBe("error");
    expect(textOf(toolMessage)).toMatch(/^ToolNotAllowedError: Tool "add" is not allowed/);
    expect(textOf(toolMessage)).toContain("Please fix your mistakes.");
    expect(textOf(result.messages.at(-1) as AIMessage)).toBe("Not allowed to add.");
  });

  it("inside createAgent: a blocked model call aborts the run", async () => {
    const { sre } = engine();
    sre.agentBreaker("ops").forceOpen("incident");
    const model = new ScriptedChatModel({ script: [reply("hi", { input: 10, output: 2 })] });
    const agent = createAgent({ model, tools: [] });
    const handler = new AgentSRECallbackHandler(sre, { agentId: "ops", enforce: true });

    const error = await agent
      .invoke({ messages: [{ role: "user", content: "hi" }] }, { callbacks: [handler] })
      .catch((e: unknown) => e);

    expect((error as RefusalError).code).toBe("CIRCUIT_OPEN");
    expect(model.calls).toBe(0);
  });

  it("cuts a stream off once it passes what the task can afford, and charges what was streamed", async () => {
    // $0.0004 for the task at $40/M output: fewer than 10 output tokens may be streamed.
    const { sre, completed } = engine({ budget: { perTaskLimitUsd: 0.0004, perAgentDailyLimitUsd: 10 } });
    const model = new ScriptedChatModel({ script: [reply("y".repeat(400), { input: 0, output: 100 })] });
    const handler = new AgentSRECallbackHandler(sre, {
      agentId: "writer",
      taskId: "essay",
      enforce: true,
      defaultMaxOutputTokens: 5,
    });

    let received = "";
    const error = await (async () => {
      for await (const chunk of await model.stream("write", { callbacks: [handler] }))
        received += chunk.content;
    })().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TokenLimitExceededError);
    const allowance = (error as TokenLimitExceededError).limitTokens;
    // Each chunk counts as at least one token (a provider streams about a token a chunk): the stream stops
    // at the first chunk past the allowance.
    expect(received.length).toBe(allowance + 1);
    // The cut is the guard's own refusal, not a model failure: no breaker outcome, no completed event,
    // but every streamed token is charged.
    expect(completed).toHaveLength(0);
    expect(sre.breakers.get("model:scripted-1").failureCount).toBe(0);
    const promptTokens = estimateInputTokens([new HumanMessage("write")]);
    expect(sre.budget.agentStatus("writer").tokensToday).toBe(promptTokens + allowance + 1);
  });
  it("fails a stalled stream with TIMEOUT at its deadline and stops it at its next token", async () => {
    const { sre, clock, completed } = engine({ timeouts: { modelMs: 1_000 } });
    let resume = () => {};
    const gate = new Promise<void>((resolve) => {
      resume = resolve;
    });
    const model = new StallingChatModel({ before: "ab", after: "cd", gate });
    const handler = new AgentSRECallbackHandler(sre, { agentId: "writer", enforce: true });

    let received = "";
    const consumed = (async () => {
      for await (const chunk of await model.stream("write", { callbacks: [handler] }))
        received += chunk.content;
    })().catch((e: unknown) => e);
    while (received.length < 2) await new Promise<void>((resolve) => setImmediate(resolve));

    // The provider stalls; the engine's deadline passes on its clock.
    clock.advance(1_100);
    expect(completed).toEqual([
      expect.objectContaining({ agentId: "writer", kind: "model", ok: false, outputTokens: 2 }),
    ]);
    expect(sre.breakers.get("model:scripted-1").failureCount).toBe(1);
    const promptTokens = estimateInputTokens([new HumanMessage("write")]);
    expect(sre.budget.agentStatus("writer").tokensToday).toBe(promptTokens + 2);

    // A callback cannot cancel the request; the stream is stopped when it resumes, with the typed error.
    resume();
    const error = await consumed;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe("TIMEOUT");
    // LangChain models yield a chunk before its callback runs: the first chunk after the stall gets through.
    expect(received).toBe("abc");
    expect(completed).toHaveLength(1);
    expect(handler.activeRuns).toBe(0);
  });
});

describe("AgentSRECallbackHandler with agentSREMiddleware", () => {
  it("records each call once when both are installed", async () => {
    const { sre, completed } = engine();
    const { add } = addTool();
    const model = new ScriptedChatModel({
      script: [
        reply("", { input: 100, output: 20 }, [{ name: "add", args: { a: 1, b: 2 }, id: "c1" }]),
        reply("3", { input: 150, output: 5 }),
      ],
    });
    const handler = new AgentSRECallbackHandler(sre, { agentId: "a", enforce: true });
    const agent = createAgent({
      model,
      tools: [add],
      middleware: [agentSREMiddleware(sre, { agentId: "a" })],
    });

    const result = await agent.invoke(
      { messages: [{ role: "user", content: "1+2" }] },
      { callbacks: [handler] },
    );
    let streamed = 0;
    for await (const _ of await agent.stream(
      { messages: [{ role: "user", content: "again" }] },
      { streamMode: "messages", callbacks: [handler] },
    )) {
      streamed++;
    }

    expect(transcript(result.messages)).toEqual(["human:1+2", "ai:", "tool:3", "ai:3"]);
    expect(streamed).toBeGreaterThan(0);
    expect(completed.map((event) => event.kind)).toEqual([
      "model",
      "tool",
      "model",
      "model",
      "tool",
      "model",
    ]);
    expect(sre.budget.agentStatus("a").spentTodayUsd).toBeCloseTo(2 * priceOf("scripted-1", 250, 25), 12);
    expect(handler.activeRuns).toBe(0);
  });

  it("validates its options", () => {
    const { sre } = engine();
    expect(() => new AgentSRECallbackHandler(sre, {} as never)).toThrow(/agentId/);
    expect(() => new AgentSRECallbackHandler({} as never, { agentId: "a" })).toThrow(/sre/);
    expect(new AgentSRECallbackHandler(sre, { agentId: "a", enforce: true }).raiseError).toBe(true);
    expect(new AgentSRECallbackHandler(sre, { agentId: "a" }).raiseError).toBe(false);
  });
});
