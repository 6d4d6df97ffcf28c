import { type AgentRef, AgentSRE, ChaosExperiment, ManualClock, timeoutInjection } from "@agent-sre/core";
import {
  APICallError,
  generateText,
  type LanguageModelMiddleware,
  stepCountIs,
  streamText,
  type ToolSet,
  tool,
  wrapLanguageModel,
} from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  AgentSREApiCallError,
  agentSREMiddleware,
  agentSREStopWhen,
  guardModel,
  guardTools,
} from "./index.js";

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

/** A model that answers "x" with one input and one output token. */
const answeringX = () =>
  new MockLanguageModelV3({
    provider: "openai.chat",
    modelId: "gpt-4.1",
    doGenerate: async () => ({
      content: [{ type: "text", text: "x" }],
      finishReason: { unified: "stop", raw: "stop" },
      usage: usage(1, 1),
      warnings: [],
    }),
  });

function streamOf(parts: unknown[]): ReadableStream<never> {
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(part as never);
      controller.close();
    },
  });
}

describe("agentSREMiddleware with ai@6's own types", () => {
  it("is a LanguageModelMiddleware, keeps the ToolSet type and fits stopWhen", async () => {
    const sre = new AgentSRE();
    const middleware: LanguageModelMiddleware = agentSREMiddleware(sre, { agentId: "a" });
    expect(middleware.specificationVersion).toBe("v3");
    const model = wrapLanguageModel({
      model: new MockLanguageModelV3({
        provider: "openai.chat",
        modelId: "gpt-4.1",
        doGenerate: async () => ({
          content: [{ type: "text", text: "hello" }],
          finishReason: { unified: "stop", raw: "stop" },
          usage: usage(3, 1),
          warnings: [],
        }),
      }),
      middleware,
    });
    const tools = {
      add: tool({
        inputSchema: z.object({ a: z.number(), b: z.number() }),
        execute: async ({ a, b }) => a + b,
      }),
    } satisfies ToolSet;
    const guarded: typeof tools = guardTools(tools, sre, { agentId: "a" });
    const result = await generateText({
      model,
      tools: guarded,
      stopWhen: [stepCountIs(3), agentSREStopWhen(sre, { agentId: "a" })],
      prompt: "hi",
    });
    expect(result.text).toBe("hello");
    expect(await guarded.add.execute?.({ a: 2, b: 3 }, { toolCallId: "x", messages: [] })).toBe(5);
  });

  it("injected errors are the SDK's APICallError (retryable), refusals are not", () => {
    const sre = new AgentSRE();
    sre.agentBreaker("a").forceOpen();
    const error = new AgentSREApiCallError(sre.admission("a") as never, 503, 0);
    expect(APICallError.isInstance(error)).toBe(true);
    expect(error.isRetryable).toBe(true);
    expect(error.responseHeaders).toEqual({ "retry-after-ms": "0" });
    expect(new AgentSREApiCallError(sre.admission("a") as never, 400, undefined).isRetryable).toBe(false);
  });

  it("a prompt array sent again after a failure is a retry; after a success it is a first attempt", async () => {
    // No retries allowed: any call counted as a retry is refused.
    const sre = new AgentSRE({ retryBudget: { ratio: 0, minRetries: 0 } });
    let failNext = false;
    const inner = new MockLanguageModelV3({
      provider: "openai.chat",
      modelId: "gpt-4.1",
      doGenerate: async () => {
        if (failNext) {
          failNext = false;
          throw new APICallError({ message: "busy", url: "u", requestBodyValues: {}, statusCode: 503 });
        }
        return {
          content: [{ type: "text", text: "ok" }],
          finishReason: { unified: "stop", raw: "stop" },
          usage: usage(1, 1),
          warnings: [],
        };
      },
    });
    const model = wrapLanguageModel({
      model: inner,
      middleware: agentSREMiddleware(sre, { agentId: "a", retryAfterMs: 0 }),
    });
    const params = { prompt: [{ role: "user" as const, content: [{ type: "text" as const, text: "hi" }] }] };
    await model.doGenerate(params);
    await model.doGenerate(params); // same array, but the first call succeeded: not a retry
    failNext = true;
    await expect(model.doGenerate(params)).rejects.toMatchObject({ statusCode: 503 });
    const retry = await Promise.resolve(model.doGenerate(params)).catch((e: unknown) => e);
    expect(String((retry as Error).message)).toMatch(/retr/i);
    expect(sre.retryBudget?.snapshot().targets["model:gpt-4.1"]?.firstAttempts).toBe(3);
  });

  it("a chaos timeout fault is a retryable 408 the SDK retries", async () => {
    const sre = new AgentSRE();
    sre.startExperiment(
      new ChaosExperiment({ name: "slow", faults: [timeoutInjection("model:*", { delayMs: 1 })] }),
    );
    let attempts = 0;
    sre.on("chaos.fault", () => attempts++);
    const inner = new MockLanguageModelV3({ provider: "openai.chat", modelId: "gpt-4.1" });
    const error = await generateText({
      model: wrapLanguageModel({
        model: inner,
        middleware: agentSREMiddleware(sre, { agentId: "a", retryAfterMs: 0 }),
      }),
      maxRetries: 1,
      prompt: "hi",
    }).catch((e: unknown) => e);
    expect(attempts).toBe(2);
    expect((error as { lastError: AgentSREApiCallError }).lastError.statusCode).toBe(408);
  });

  it("settles a stream that ends without a finish part as a failure, charging prompt estimate + output seen", async () => {
    const sre = new AgentSRE({ budget: { perTaskLimitUsd: 1 } });
    const completed: Array<{ ok: boolean; inputTokens: number; outputTokens: number }> = [];
    sre.on("call.completed", (e) => completed.push(e));
    const inner = new MockLanguageModelV3({
      provider: "openai.chat",
      modelId: "gpt-4.1",
      doStream: async () => ({
        stream: streamOf([
          { type: "stream-start", warnings: [] },
          { type: "text-start", id: "1" },
          { type: "text-delta", id: "1", delta: "12345678" },
          { type: "error", error: new Error("connection reset") },
        ]),
      }),
    });
    const result = streamText({
      model: guardModel(inner, sre, { agentId: "a", estimateInputTokens: () => 40 }),
      prompt: "hi",
      onError: () => {},
    });
    await result.consumeStream();
    expect(completed).toEqual([expect.objectContaining({ ok: false, inputTokens: 40, outputTokens: 2 })]);
    expect(sre.budget.agentStatus("a").reservedTodayUsd).toBe(0);
    expect(sre.breakers.get("model:gpt-4.1").snapshot().failureCount).toBe(1);
  });

  it("a stream whose provider does not answer before the deadline: the request is aborted, a retryable 408", async () => {
    const clock = new ManualClock();
    const sre = new AgentSRE({ clock });
    const completed: Array<{ ok: boolean }> = [];
    sre.on("call.completed", (e) => completed.push(e));
    let started = false;
    const inner = new MockLanguageModelV3({
      provider: "openai.chat",
      modelId: "gpt-4.1",
      // Like fetch: no response yet, and the request rejects with the signal's reason when it aborts.
      doStream: ({ abortSignal }) => {
        started = true;
        return new Promise((_resolve, reject) => {
          abortSignal?.addEventListener("abort", () => reject(abortSignal.reason));
        });
      },
    });
    const errors: unknown[] = [];
    const result = streamText({
      model: guardModel(inner, sre, { agentId: "a", timeoutMs: 5_000 }),
      prompt: "hi",
      maxRetries: 0,
      onError: ({ error }) => {
        errors.push(error);
      },
    });
    const consumed = result.consumeStream();
    while (!started) await new Promise<void>((resolve) => setTimeout(resolve, 0));
    clock.advance(5_100);
    await consumed;
    expect(errors).toHaveLength(1);
    expect(APICallError.isInstance(errors[0])).toBe(true);
    expect(errors[0]).toMatchObject({ statusCode: 408, code: "TIMEOUT", isRetryable: true });
    expect(completed).toEqual([expect.objectContaining({ ok: false })]);
  });

  it("per-request identity comes from providerOptions.agentSre", async () => {
    const sre = new AgentSRE();
    const seen: string[] = [];
    sre.on("call.completed", (e) => seen.push(`${e.agentId}/${e.taskId}`));
    const inner = answeringX();
    const model = wrapLanguageModel({
      model: inner,
      middleware: agentSREMiddleware(sre, { agentId: "default" }),
    });
    await generateText({ model, prompt: "a" });
    await generateText({
      model,
      prompt: "b",
      providerOptions: { agentSre: { agentId: "other", taskId: "t9" } },
    });
    expect(seen).toEqual(["default/undefined", "other/t9"]);
  });

  it("binds its agent once: its calls carry the ref, a per-request agent's none, and count on the agent", async () => {
    const sre = new AgentSRE();
    const seen: Array<[string, AgentRef | undefined]> = [];
    sre.use({ start: (call) => seen.push([call.agentId, call.agentRef]) });
    const inner = answeringX();
    const model = wrapLanguageModel({ model: inner, middleware: agentSREMiddleware(sre, { agentId: "a" }) });
    const tools = guardTools(
      { add: tool({ inputSchema: z.object({ a: z.number() }), execute: async ({ a }) => a }) },
      sre,
      {
        agentId: "a",
      },
    );
    await generateText({ model, prompt: "1" });
    await generateText({ model, prompt: "2" });
    await generateText({ model, prompt: "3", providerOptions: { agentSre: { agentId: "other" } } });
    await tools.add.execute?.({ a: 1 }, { toolCallId: "t1", messages: [] });
    await tools.add.execute?.(
      { a: 1 },
      { toolCallId: "t2", messages: [], experimental_context: { agentSre: { agentId: "other" } } },
    );
    const [first, second, other, toolCall, otherTool] = seen;
    expect(first?.[1]?.agentId).toBe("a");
    expect(second?.[1]).toBe(first?.[1]); // bound once, not per call
    expect(other).toEqual(["other", undefined]);
    expect(toolCall?.[1]?.agentId).toBe("a");
    expect(otherTool).toEqual(["other", undefined]);
    expect(sre.status().agents.a?.calls).toBe(3);
    expect(sre.status().agents.other?.calls).toBe(2);
  });

  it("rejects a missing agent id", () => {
    expect(() => agentSREMiddleware(new AgentSRE(), { agentId: "" })).toThrow(/agentId/);
    expect(() => guardTools({}, new AgentSRE(), { agentId: "" })).toThrow(/agentId/);
  });
});
