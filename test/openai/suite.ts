// biome-ignore-all lint/suspicious/noExplicitAny: one suite drives two majors of `openai` and of the AI SDK
/**
 * End to end, from a provider's HTTP response to the recorded cost: the real `openai` client (through
 * `guardOpenAI`) and the real `@ai-sdk/openai` provider (through `agentSREMiddleware`) against a local fake
 * OpenAI server(). Run with openai@6 + ai@6 on Node 20 (e2e6.test.ts) and openai@7 + ai@7 on Node 22
 * (test-node22/e2e7.test.ts).
 */
import { agentSREMiddleware, guardTools } from "@agent-sre/ai-sdk";
import {
  AgentSRE,
  ChaosExperiment,
  errorInjection,
  ManualClock,
  type RefusalError,
  TimeoutError,
} from "@agent-sre/core";
import { guardOpenAI } from "@agent-sre/openai";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { useFakeOpenAI } from "./fake-openai-server.js";

export interface OpenAIStackUnderTest {
  label: string;
  OpenAI: (new (options: any) => any) & { APIError: any; InternalServerError: any };
  createOpenAI: (options: any) => any;
  generateText: (options: any) => Promise<any>;
  streamText: (options: any) => any;
  wrapLanguageModel: (options: any) => any;
  tool: (definition: any) => any;
  stepCountIs: (count: number) => any;
}

const MODEL = "gpt-4.1";

export function openAISuite(stack: OpenAIStackUnderTest): void {
  const { OpenAI, createOpenAI, generateText, streamText, wrapLanguageModel, tool, stepCountIs } = stack;
  const server = useFakeOpenAI();

  const client = () => new OpenAI({ apiKey: "sk-test", baseURL: server().baseURL, maxRetries: 0 });
  const price = (
    sre: AgentSRE,
    usage: { inputTokens: number; outputTokens: number; cachedInputTokens?: number },
  ) => (sre.prices.costMicros(MODEL, usage, "openai") ?? Number.NaN) / 1e6;
  const spent = (sre: AgentSRE, agentId: string) => sre.budget.agentStatus(agentId).spentTodayUsd;
  const reserved = (sre: AgentSRE, agentId: string) => sre.budget.agentStatus(agentId).reservedTodayUsd;

  describe(`${stack.label}: guardOpenAI`, () => {
    it("chat.completions.create: usage from the response is priced and committed; withResponse() still works", async () => {
      const sre = new AgentSRE({ budget: { perTaskLimitUsd: 1 } });
      const openai = guardOpenAI(client(), sre, { agentId: "support", taskId: "t1" });
      server().reply({ text: "Hi there", usage: { input: 120, output: 30, cached: 100 } });
      const { data, response, request_id } = await openai.chat.completions
        .create({ model: MODEL, messages: [{ role: "user", content: "Hello" }] })
        .withResponse();
      expect(data.choices[0].message.content).toBe("Hi there");
      expect(response.status).toBe(200);
      expect(request_id).toBe("req_fake");
      const expected = price(sre, { inputTokens: 120, outputTokens: 30, cachedInputTokens: 100 });
      expect(expected).toBeGreaterThan(0);
      expect(spent(sre, "support")).toBeCloseTo(expected, 12);
      expect(reserved(sre, "support")).toBe(0);
      // The budget ($1 a task: ~125,000 output tokens) does not bind below gpt-4.1's 32,768: no cap is sent.
      expect(server().requests[0]?.body.max_completion_tokens).toBeUndefined();
    });

    it("chat streaming: include_usage is added, chunks pass through, usage comes from the final chunk", async () => {
      const sre = new AgentSRE();
      const openai = guardOpenAI(client(), sre, { agentId: "support" });
      server().reply({ text: "one two three four", usage: { input: 40, output: 8 }, chunks: 4 });
      const stream = await openai.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "count" }],
        stream: true,
      });
      let text = "";
      let sawUsage = false;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? "";
        if (chunk.usage) sawUsage = true;
      }
      expect(text).toBe("one two three four");
      expect(sawUsage).toBe(true);
      expect((server().requests[0]?.body.stream_options as any)?.include_usage).toBe(true);
      expect(spent(sre, "support")).toBeCloseTo(price(sre, { inputTokens: 40, outputTokens: 8 }), 12);
      expect(typeof stream.tee).toBe("function");
    });

    it("responses.create, plain and streamed: usage from the response and from response.completed", async () => {
      const sre = new AgentSRE();
      const openai = guardOpenAI(client(), sre, { agentId: "support" });
      server().reply({ text: "Plain answer", usage: { input: 50, output: 10 } });
      const plain = await openai.responses.create({ model: MODEL, input: "Question?" });
      expect(plain.output_text).toBe("Plain answer");
      server().reply({ text: "Streamed answer", usage: { input: 60, output: 12 } });
      const stream = await openai.responses.create({ model: MODEL, input: "Question?", stream: true });
      let text = "";
      for await (const event of stream) if (event.type === "response.output_text.delta") text += event.delta;
      expect(text).toBe("Streamed answer");
      const expected =
        price(sre, { inputTokens: 50, outputTokens: 10 }) + price(sre, { inputTokens: 60, outputTokens: 12 });
      expect(spent(sre, "support")).toBeCloseTo(expected, 12);
      // No budget: nothing to clamp to.
      expect(server().requests.map((r) => r.body.max_output_tokens)).toEqual([undefined, undefined]);
    });

    it("the SDK's helpers built on create() are guarded too (chat.completions.parse)", async () => {
      const sre = new AgentSRE();
      const calls: string[] = [];
      sre.on("call.completed", (e) => calls.push(`${e.agentId}:${e.inputTokens}/${e.outputTokens}`));
      const openai = guardOpenAI(client(), sre, { agentId: "parser" });
      server().reply({ text: '{"city":"Paris"}', usage: { input: 30, output: 6 } });
      const parsed = await openai.chat.completions.parse({
        model: MODEL,
        messages: [{ role: "user", content: "city?" }],
      });
      expect(parsed.choices[0].message.content).toBe('{"city":"Paris"}');
      expect(calls).toEqual(["parser:30/6"]);
    });

    it("the SDK's streaming helper (chat.completions.stream) is guarded and priced from the stream's usage", async () => {
      const sre = new AgentSRE();
      const openai = guardOpenAI(client(), sre, { agentId: "helper" });
      server().reply({ text: "streamed by the helper", usage: { input: 21, output: 4 } });
      const runner = openai.chat.completions.stream({
        model: MODEL,
        messages: [{ role: "user", content: "x" }],
      });
      const final = await runner.finalChatCompletion();
      expect(final.choices[0].message.content).toBe("streamed by the helper");
      expect(spent(sre, "helper")).toBeCloseTo(price(sre, { inputTokens: 21, outputTokens: 4 }), 12);
    });

    it("the client passed in is left unguarded", async () => {
      const sre = new AgentSRE();
      const original = client();
      guardOpenAI(original, sre, { agentId: "support" });
      server().reply({ text: "x", usage: { input: 5, output: 1 } });
      await original.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "x" }] });
      expect(spent(sre, "support")).toBe(0);
      expect(server().requests[0]?.body.max_completion_tokens).toBeUndefined();
    });

    it("an injected fault is the SDK's own APIError for the status; an open breaker refuses without a request", async () => {
      const sre = new AgentSRE();
      sre.startExperiment(
        new ChaosExperiment({ name: "503", faults: [errorInjection(`model:${MODEL}`, { status: 503 })] }),
      );
      const openai = guardOpenAI(client(), sre, { agentId: "support" });
      const error: any = await openai.chat.completions
        .create({ model: MODEL, messages: [{ role: "user", content: "x" }] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect(error.status).toBe(503);
      expect((error.cause as RefusalError).code).toBe("CHAOS_INJECTED");
      sre.chaos.stop("503");

      sre.agentBreaker("support").forceOpen("incident");
      const refusal = (await openai.responses
        .create({ model: MODEL, input: "x" })
        .catch((e: unknown) => e)) as RefusalError;
      expect(refusal.code).toBe("CIRCUIT_OPEN");
      expect(server().requests).toHaveLength(0);
    });

    it("abort mid-stream (the caller's signal): the request stops and the reservation settles with what was streamed", async () => {
      const sre = new AgentSRE({ budget: { perTaskLimitUsd: 1 } });
      const openai = guardOpenAI(client(), sre, { agentId: "support", taskId: "t-abort" });
      server().reply({ endless: "abcd" });
      const controller = new AbortController();
      const stream = await openai.chat.completions.create(
        { model: MODEL, messages: [{ role: "user", content: "talk" }], stream: true },
        { signal: controller.signal },
      );
      let pieces = 0;
      const ended = await (async () => {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta?.content) pieces++;
          if (pieces === 5) controller.abort();
        }
      })().catch((e: unknown) => e);
      expect(ended === undefined || (ended as Error).name.includes("Abort")).toBe(true);
      expect(reserved(sre, "support")).toBe(0);
      const tokens = sre.budget.agentStatus("support").tokensToday;
      expect(tokens).toBeGreaterThanOrEqual(5); // 5 pieces of 4 characters, plus the prompt estimate
      expect(spent(sre, "support")).toBeGreaterThan(0);
      await server().requests[0]?.closed;
      expect(server().requests[0]?.aborted).toBe(true);
    });

    it("a stream that outlives the call's timeout (manual clock): the request stops, reading throws a 408 APIError", async () => {
      const clock = new ManualClock();
      const sre = new AgentSRE({ clock, budget: { perTaskLimitUsd: 1 }, timeouts: { modelMs: 30_000 } });
      const completed: Array<{ ok: boolean; outputTokens: number }> = [];
      sre.on("call.completed", (e) => completed.push(e));
      const openai = guardOpenAI(client(), sre, { agentId: "support", taskId: "t-timeout" });
      server().reply({ endless: "abcd" });
      const stream = await openai.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "talk" }],
        stream: true,
      });
      let pieces = 0;
      const error: any = await (async () => {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta?.content && ++pieces === 5) clock.advance(31_000);
        }
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect(error.status).toBe(408);
      expect(error.cause).toBeInstanceOf(TimeoutError);
      expect(completed).toEqual([expect.objectContaining({ ok: false, outputTokens: 5 })]);
      expect(reserved(sre, "support")).toBe(0);
      await server().requests[0]?.closed;
      expect(server().requests[0]?.aborted).toBe(true);
    });

    it("in-flight cap: a runaway chat stream ends with finish_reason length at the budget, and the request stops", async () => {
      const sre = new AgentSRE({ budget: { perTaskLimitUsd: 0.002 } });
      const cutOffs: number[] = [];
      const openai = guardOpenAI(client(), sre, {
        agentId: "writer",
        taskId: "t-cap",
        onCutOff: (i) => cutOffs.push(i.allowance),
      });
      server().reply({ endless: "lorem ipsum " });
      const stream = await openai.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "go on" }],
        stream: true,
      });
      let text = "";
      let finish: string | null = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? "";
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(finish).toBe("length");
      expect(cutOffs).toHaveLength(1);
      expect(text.length).toBe((cutOffs[0] as number) * 4);
      expect(spent(sre, "writer")).toBeLessThanOrEqual(0.002 + 1e-9);
      expect(spent(sre, "writer")).toBeGreaterThan(0.0019);
      expect(reserved(sre, "writer")).toBe(0);
      await server().requests[0]?.closed;
      expect(server().requests[0]?.aborted).toBe(true);
    });
  });

  describe(`${stack.label}: @ai-sdk/openai under agentSREMiddleware`, () => {
    const provider = () => createOpenAI({ apiKey: "sk-test", baseURL: server().baseURL });
    const guarded = (sre: AgentSRE, model: any, extra: Record<string, unknown> = {}) =>
      wrapLanguageModel({ model, middleware: agentSREMiddleware(sre, { agentId: "researcher", ...extra }) });

    it("generateText over chat completions: the provider's usage is what gets priced", async () => {
      const sre = new AgentSRE();
      server().reply({ text: "Paris.", usage: { input: 25, output: 2, cached: 0 } });
      const result = await generateText({
        model: guarded(sre, provider().chat(MODEL)),
        prompt: "Capital of France?",
      });
      expect(result.text).toBe("Paris.");
      expect(spent(sre, "researcher")).toBeCloseTo(price(sre, { inputTokens: 25, outputTokens: 2 }), 12);
    });

    it("streamText over the responses API: usage from the finish part, with cached tokens", async () => {
      const sre = new AgentSRE();
      server().reply({ text: "Streaming works.", usage: { input: 300, output: 4, cached: 256 } });
      const result = streamText({
        model: guarded(sre, provider().responses(MODEL)),
        prompt: "Say something",
      });
      expect(await result.text).toBe("Streaming works.");
      expect(spent(sre, "researcher")).toBeCloseTo(
        price(sre, { inputTokens: 300, outputTokens: 4, cachedInputTokens: 256 }),
        12,
      );
    });

    it("a multi-step tool loop through the real provider: each step and the tool are recorded", async () => {
      const sre = new AgentSRE();
      const calls: string[] = [];
      sre.on("call.completed", (e) => calls.push(`${e.kind}:${e.name}:${e.inputTokens}/${e.outputTokens}`));
      server().reply(
        { toolCall: { name: "weather", arguments: '{"city":"Oslo"}' }, usage: { input: 50, output: 10 } },
        { text: "Cold in Oslo.", usage: { input: 80, output: 5 } },
      );
      const weather = tool({
        description: "Weather",
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }: { city: string }) => ({ city, temperature: -3 }),
      });
      const result = streamText({
        model: guarded(sre, provider().chat(MODEL)),
        tools: guardTools({ weather }, sre, { agentId: "researcher" }),
        stopWhen: stepCountIs(3),
        prompt: "Weather in Oslo?",
      });
      expect(await result.text).toBe("Cold in Oslo.");
      expect(calls).toEqual([`model:${MODEL}:50/10`, "tool:weather:0/0", `model:${MODEL}:80/5`]);
      const toolMessage = JSON.stringify(server().requests[1]?.body.messages);
      expect(toolMessage).toContain("-3");
    });

    it("a stream through the real provider that outlives timeoutMs (manual clock) ends with a retryable 408", async () => {
      const clock = new ManualClock();
      const sre = new AgentSRE({ clock, budget: { perTaskLimitUsd: 1 } });
      const completed: Array<{ ok: boolean; outputTokens: number }> = [];
      sre.on("call.completed", (e) => completed.push(e));
      server().reply({ endless: "xyzw" });
      const errors: any[] = [];
      const result = streamText({
        model: guarded(sre, provider().chat(MODEL), { taskId: "t-ai-timeout", timeoutMs: 30_000 }),
        prompt: "Talk forever",
        onError: ({ error }: any) => errors.push(error),
      });
      let deltas = 0;
      const thrown = await (async () => {
        for await (const part of result.fullStream) {
          if (part.type === "text-delta" && ++deltas === 4) clock.advance(31_000);
        }
      })().catch((e: unknown) => e);
      const error = thrown ?? errors[0];
      expect(error).toMatchObject({ statusCode: 408, code: "TIMEOUT", isRetryable: true });
      expect(completed).toEqual([expect.objectContaining({ ok: false, outputTokens: 4 })]);
      expect(reserved(sre, "researcher")).toBe(0);
      await server().requests[0]?.closed;
      expect(server().requests[0]?.aborted).toBe(true);
    });

    it("abort mid-stream through the real provider: the request stops and the reservation settles", async () => {
      const sre = new AgentSRE({ budget: { perTaskLimitUsd: 1 } });
      server().reply({ endless: "xyzw" });
      const controller = new AbortController();
      const result = streamText({
        model: guarded(sre, provider().chat(MODEL), { taskId: "t-ai-abort" }),
        prompt: "Talk forever",
        abortSignal: controller.signal,
        onError: () => {},
      });
      let deltas = 0;
      await (async () => {
        for await (const part of result.fullStream) {
          if (part.type === "text-delta" && ++deltas === 4) controller.abort();
        }
      })().catch(() => {});
      expect(reserved(sre, "researcher")).toBe(0);
      expect(spent(sre, "researcher")).toBeGreaterThan(0);
      expect(sre.budget.agentStatus("researcher").tokensToday).toBeGreaterThanOrEqual(4);
      await server().requests[0]?.closed;
      expect(server().requests[0]?.aborted).toBe(true);
    });
  });
}
