// The output-cap rule end to end through the real ChatOpenAI and createAgent: the local fake OpenAI server
// answers a cap above the model's maximum output with HTTP 400, as the real API does. The middleware sends a
// cap only when the budget binds, and then never above the model's maximum (models.dev catalog).
import { AgentSRE } from "@agent-sre/core";
import { agentSREMiddleware } from "@agent-sre/langchain";
import { ChatOpenAI } from "@langchain/openai";
import { createAgent } from "langchain";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FAKE_MAX_OUTPUT_TOKENS, type FakeOpenAI, startFakeOpenAI } from "../openai/fake-openai-server.js";

let server: FakeOpenAI;
beforeAll(async () => {
  server = await startFakeOpenAI();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.requests.length = 0;
  server.reply({ text: "Hello!", usage: { input: 10, output: 3 } });
});

function sentCap(): number | undefined {
  const body = server.requests[0]?.body ?? {};
  return (body.max_tokens ?? body.max_completion_tokens) as number | undefined;
}

async function run(sre: AgentSRE, model: string, maxTokens?: number) {
  const chat = new ChatOpenAI({
    model,
    apiKey: "sk-test",
    maxRetries: 0,
    ...(maxTokens === undefined ? {} : { maxTokens }),
    configuration: { baseURL: server.baseURL },
  });
  const agent = createAgent({
    model: chat,
    tools: [],
    middleware: [agentSREMiddleware(sre, { agentId: "a" })],
  });
  return agent.invoke({ messages: [{ role: "user", content: "Hello" }] }, {
    context: { agentSRE: { taskId: "t" } },
  } as never);
}

describe("LangChain middleware: output caps a real provider accepts", () => {
  for (const model of ["gpt-4.1", "gpt-4o-mini"]) {
    it(`${model}: no cap when the budget does not bind`, async () => {
      const result = await run(new AgentSRE({ budget: { perTaskLimitUsd: 1 } }), model);
      expect(result.messages.at(-1)?.content).toBe("Hello!");
      expect(sentCap()).toBeUndefined();
    });

    it(`${model}: the allowance, at most the model's maximum, when the budget binds`, async () => {
      const usd = model === "gpt-4.1" ? 0.01 : 0.002;
      const result = await run(new AgentSRE({ budget: { perTaskLimitUsd: usd } }), model);
      expect(result.messages.at(-1)?.content).toBe("Hello!");
      const cap = sentCap() as number;
      expect(cap).toBeGreaterThan(64);
      expect(cap).toBeLessThanOrEqual(FAKE_MAX_OUTPUT_TOKENS[model] as number);
      expect(cap).toBeLessThan(model === "gpt-4.1" ? 1_250 : 3_334);
    });
  }

  it("a configured cap is kept unless the budget binds below it", async () => {
    await run(new AgentSRE({ budget: { perTaskLimitUsd: 1 } }), "gpt-4.1", 300);
    expect(sentCap()).toBe(300);
  });
});
