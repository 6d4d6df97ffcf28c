// Compiles against ai@7's own types (the Node 22 package's `typecheck`) and runs on ai@7.
import { agentSREMiddleware, agentSREStopWhen, guardModel, guardTools } from "@agent-sre/ai-sdk";
import { AgentSRE } from "@agent-sre/core";
import {
  generateText,
  type LanguageModelMiddleware,
  stepCountIs,
  type ToolSet,
  tool,
  wrapLanguageModel,
} from "ai";
import { MockLanguageModelV3, MockLanguageModelV4 } from "ai/test";
import { describe, expect, it } from "vitest";
import { z } from "zod";

const result = {
  content: [{ type: "text" as const, text: "hello" }],
  finishReason: { unified: "stop" as const, raw: "stop" },
  usage: {
    inputTokens: { total: 3, noCache: 3, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: 1, text: 1, reasoning: undefined },
  },
  warnings: [],
};

describe("ai@7 types", () => {
  it("the middleware is an ai@7 LanguageModelMiddleware (v3 default and v4 literal), tools keep their ToolSet type", async () => {
    const sre = new AgentSRE();
    const v3: LanguageModelMiddleware = agentSREMiddleware(sre, { agentId: "a" });
    const v4 = agentSREMiddleware(sre, { agentId: "a", specificationVersion: "v4" });
    expect(v4.specificationVersion).toBe("v4");
    const tools = {
      add: tool({
        inputSchema: z.object({ a: z.number(), b: z.number() }),
        execute: async ({ a, b }) => a + b,
      }),
    } satisfies ToolSet;
    const guarded: typeof tools = guardTools(tools, sre, { agentId: "a" });
    for (const middleware of [v3, v4]) {
      const model = wrapLanguageModel({
        model: new MockLanguageModelV4({ modelId: "gpt-4.1", doGenerate: async () => result }),
        middleware,
      });
      const out = await generateText({
        model,
        tools: guarded,
        stopWhen: [stepCountIs(2), agentSREStopWhen(sre, { agentId: "a" })],
        prompt: "hi",
      });
      expect(out.text).toBe("hello");
    }
  });

  it("a V3 model under ai@7: wrapLanguageModel converts it; guardModel keeps v3", async () => {
    const sre = new AgentSRE();
    const calls: number[] = [];
    sre.on("call.completed", (e) => calls.push(e.inputTokens));
    const inner = new MockLanguageModelV3({ modelId: "gpt-4.1", doGenerate: async () => result });
    const wrapped = wrapLanguageModel({
      model: inner,
      middleware: agentSREMiddleware(sre, { agentId: "a" }),
    });
    expect(wrapped.specificationVersion).toBe("v4");
    const direct = guardModel(inner, sre, { agentId: "a" });
    expect(direct.specificationVersion).toBe("v3");
    await generateText({ model: wrapped, prompt: "x" });
    await generateText({ model: direct, prompt: "x" });
    expect(calls).toEqual([3, 3]);
  });
});
