// End to end with the real ChatOpenAI integration (@langchain/openai) against a local fake OpenAI server:
// the usage path of a real provider (usage_metadata with cache reads, the resolved model snapshot, SSE
// streaming with include_usage) through createAgent, the middleware and the callback handler. No network.
import { AgentSRE, type CallCompletedEvent } from "@agent-sre/core";
import { AgentSRECallbackHandler, agentSREMiddleware } from "@agent-sre/langchain";
import { StringOutputParser } from "@langchain/core/output_parsers";
import { ChatPromptTemplate } from "@langchain/core/prompts";
import { ChatOpenAI } from "@langchain/openai";
import { createAgent, modelFallbackMiddleware, tool } from "langchain";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type FakeOpenAIServer, startFakeOpenAI, type Turn } from "./fake-openai.js";

const SNAPSHOT = "gpt-4o-mini-2024-07-18";
let server: FakeOpenAIServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function setup(turns: Turn[], options: { maxTokens?: number } = {}) {
  server = await startFakeOpenAI(turns);
  const model = new ChatOpenAI({
    model: "gpt-4o-mini",
    apiKey: "sk-test",
    maxRetries: 0,
    ...(options.maxTokens === undefined ? {} : { maxTokens: options.maxTokens }),
    configuration: { baseURL: server.baseURL },
  });
  return { model, server };
}

function recorder(sre: AgentSRE): CallCompletedEvent[] {
  const completed: CallCompletedEvent[] = [];
  sre.on("call.completed", (event) => completed.push(event));
  return completed;
}

const weather = tool(async ({ city }: { city: string }) => `Sunny in ${city}, 21°C`, {
  name: "get_weather",
  description: "Current weather for a city.",
  schema: z.object({ city: z.string() }),
});

const TURNS: Turn[] = [
  {
    toolCall: { name: "get_weather", args: { city: "Paris" } },
    usage: { input: 1200, output: 30, cached: 1000 },
    model: SNAPSHOT,
  },
  { text: "It is sunny in Paris, 21°C.", usage: { input: 1300, output: 12, cached: 1024 }, model: SNAPSHOT },
];

describe("ChatOpenAI through agentSREMiddleware", () => {
  it("prices each call from usage_metadata (cache reads included) at the resolved snapshot's rates", async () => {
    const { model, server } = await setup(TURNS);
    const sre = new AgentSRE();
    const completed = recorder(sre);
    const agent = createAgent({
      model,
      tools: [weather],
      middleware: [agentSREMiddleware(sre, { agentId: "travel" })],
    });

    const result = await agent.invoke({ messages: [{ role: "user", content: "Weather in Paris?" }] });

    expect(result.messages.at(-1)?.content).toBe("It is sunny in Paris, 21°C.");
    expect(server.requests).toHaveLength(2);
    const models = completed.filter((event) => event.kind === "model");
    expect(models.map((event) => [event.name, event.inputTokens, event.outputTokens])).toEqual([
      ["gpt-4o-mini", 1200, 30],
      ["gpt-4o-mini", 1300, 12],
    ]);
    const expected = [
      sre.prices.costMicros(
        SNAPSHOT,
        { inputTokens: 1200, outputTokens: 30, cachedInputTokens: 1000 },
        "openai",
      ),
      sre.prices.costMicros(
        SNAPSHOT,
        { inputTokens: 1300, outputTokens: 12, cachedInputTokens: 1024 },
        "openai",
      ),
    ].map((micros) => (micros ?? Number.NaN) / 1_000_000);
    expect(models[0]?.costUsd).toBeCloseTo(expected[0] as number, 12);
    expect(models[1]?.costUsd).toBeCloseTo(expected[1] as number, 12);
    // Cache reads are cheaper: pricing them as plain input would cost more.
    const uncached =
      (sre.prices.costMicros(SNAPSHOT, { inputTokens: 1200, outputTokens: 30 }, "openai") ?? 0) / 1e6;
    expect(models[0]?.costUsd).toBeLessThan(uncached);
    expect(completed.filter((event) => event.kind === "tool").map((event) => event.name)).toEqual([
      "get_weather",
    ]);
  });

  it("clamps max_tokens in the request to what the task can still afford", async () => {
    const { model, server } = await setup(
      [{ text: "Short.", usage: { input: 50, output: 2 }, model: SNAPSHOT }],
      {
        maxTokens: 8000,
      },
    );
    // $0.001 per task at gpt-4o-mini's $0.60 / M output tokens: well under 8,000 tokens.
    const sre = new AgentSRE({ budget: { perTaskLimitUsd: 0.001, perAgentDailyLimitUsd: 1 } });
    const agent = createAgent({
      model,
      tools: [],
      middleware: [agentSREMiddleware(sre, { agentId: "travel" })],
    });

    await agent.invoke({ messages: [{ role: "user", content: "Hi" }] });

    const maxTokens = server.requests[0]?.max_tokens as number;
    expect(maxTokens).toBeGreaterThan(100);
    expect(maxTokens).toBeLessThan(1700);
    expect(model.maxTokens).toBe(8000);
  });

  it("streams with streamMode 'messages' and records usage once per call", async () => {
    const { model, server } = await setup(TURNS);
    const sre = new AgentSRE();
    const completed = recorder(sre);
    const handler = new AgentSRECallbackHandler(sre, { agentId: "travel", enforce: true });
    const agent = createAgent({
      model,
      tools: [weather],
      middleware: [agentSREMiddleware(sre, { agentId: "travel" })],
    });

    let text = "";
    let chunks = 0;
    for await (const [chunk] of await agent.stream(
      { messages: [{ role: "user", content: "Weather in Paris?" }] },
      { streamMode: "messages", callbacks: [handler] },
    )) {
      if (chunk.type === "ai" && typeof chunk.content === "string" && chunk.content !== "") {
        chunks++;
        text += chunk.content;
      }
    }

    expect(server.requests.every((body) => body.stream === true)).toBe(true);
    expect(text).toBe("It is sunny in Paris, 21°C.");
    expect(chunks).toBeGreaterThan(3);
    const models = completed.filter((event) => event.kind === "model");
    expect(models.map((event) => [event.inputTokens, event.outputTokens])).toEqual([
      [1200, 30],
      [1300, 12],
    ]);
    expect(handler.activeRuns).toBe(0);
  });
});

describe("ChatOpenAI with modelFallbackMiddleware around agentSREMiddleware", () => {
  it("falls back on provider 503s, opens the primary's breaker, then skips the primary", async () => {
    const primary = await setup([{ status: 503, usage: { input: 0, output: 0 } }]);
    const backup = await startFakeOpenAI([
      {
        text: "Answered by the fallback.",
        usage: { input: 40, output: 6 },
        model: "gpt-4.1-mini-2025-04-14",
      },
    ]);
    try {
      const fallbackModel = new ChatOpenAI({
        model: "gpt-4.1-mini",
        apiKey: "sk-test",
        maxRetries: 0,
        configuration: { baseURL: backup.baseURL },
      });
      const sre = new AgentSRE({ breakers: { defaults: { failureThreshold: 2, recoveryTimeoutMs: "30s" } } });
      const completed = recorder(sre);
      const refused: string[] = [];
      sre.on("call.refused", (event) => refused.push(`${event.code} ${event.name}`));
      const agent = createAgent({
        model: primary.model,
        tools: [],
        middleware: [modelFallbackMiddleware(fallbackModel), agentSREMiddleware(sre, { agentId: "a" })],
      });

      for (let i = 0; i < 3; i++) {
        const result = await agent.invoke({ messages: [{ role: "user", content: `hello ${i}` }] });
        expect(result.messages.at(-1)?.text).toBe("Answered by the fallback.");
      }

      // Two real 503s counted against gpt-4o-mini's breaker; the third run never reached the primary.
      expect(primary.server.requests).toHaveLength(2);
      expect(backup.requests).toHaveLength(3);
      expect(refused).toEqual(["CIRCUIT_OPEN gpt-4o-mini"]);
      expect(sre.breakers.get("model:gpt-4o-mini").state).toBe("OPEN");
      expect(completed.map((event) => [event.name, event.ok])).toEqual([
        ["gpt-4o-mini", false],
        ["gpt-4.1-mini", true],
        ["gpt-4o-mini", false],
        ["gpt-4.1-mini", true],
        ["gpt-4.1-mini", true],
      ]);
    } finally {
      await backup.close();
    }
  });
});

describe("ChatOpenAI with AgentSRECallbackHandler", () => {
  it("records a chain's model call with the real integration's usage", async () => {
    const { model } = await setup([{ text: "Bonjour !", usage: { input: 18, output: 4 }, model: SNAPSHOT }]);
    const sre = new AgentSRE();
    const completed = recorder(sre);
    const chain = ChatPromptTemplate.fromMessages([["human", "Say hello in {language}"]])
      .pipe(model)
      .pipe(new StringOutputParser());

    const answer = await chain.invoke(
      { language: "French" },
      { callbacks: [new AgentSRECallbackHandler(sre, { agentId: "greeter" })] },
    );

    expect(answer).toBe("Bonjour !");
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({
      agentId: "greeter",
      name: "gpt-4o-mini",
      inputTokens: 18,
      outputTokens: 4,
    });
    const expected =
      (sre.prices.costMicros(SNAPSHOT, { inputTokens: 18, outputTokens: 4 }, "openai") ?? 0) / 1e6;
    expect(expected).toBeGreaterThan(0);
    expect(completed[0]?.costUsd).toBeCloseTo(expected, 12);
  });
});
