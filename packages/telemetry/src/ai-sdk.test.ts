// Through a real adapter: the AI SDK's generateText with its own OpenTelemetry spans, the Agent SRE
// middleware and guarded tools. Our spans must be children of the SDK's spans.
import { agentSREMiddleware, guardTools } from "@agent-sre/ai-sdk";
import { AgentSRE } from "@agent-sre/core";
import { generateText, stepCountIs, tool, wrapLanguageModel } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { instrument } from "./index.js";
import { metric, type OtelHarness, otelHarness, point } from "./test-utils/otel.js";

let otel: OtelHarness;
beforeAll(() => {
  otel = otelHarness();
});
afterAll(async () => {
  await otel.shutdown();
});

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

describe("AI SDK generateText, instrumented", () => {
  it("model and tool spans nest under the SDK's spans and carry the GenAI attributes", async () => {
    const sre = new AgentSRE();
    instrument(sre, { tracer: otel.tracer, meter: otel.meterProvider.getMeter("ai-sdk-test") });
    let step = 0;
    const model = wrapLanguageModel({
      model: new MockLanguageModelV3({
        provider: "openai.chat",
        modelId: "gpt-4.1",
        doGenerate: async () => {
          step++;
          if (step === 1) {
            return {
              content: [{ type: "tool-call", toolCallId: "c1", toolName: "lookup", input: '{"id":7}' }],
              finishReason: { unified: "tool-calls", raw: "tool_calls" },
              usage: usage(120, 15),
              warnings: [],
            };
          }
          return {
            content: [{ type: "text", text: "order 7 shipped" }],
            finishReason: { unified: "stop", raw: "stop" },
            usage: usage(160, 6),
            warnings: [],
          };
        },
      }),
      middleware: agentSREMiddleware(sre, { agentId: "support" }),
    });
    const tools = guardTools(
      {
        lookup: tool({
          inputSchema: z.object({ id: z.number() }),
          execute: async ({ id }) => `order ${id}: shipped`,
        }),
      },
      sre,
      { agentId: "support" },
    );
    const result = await generateText({
      model,
      tools,
      stopWhen: stepCountIs(3),
      prompt: "where is order 7?",
      experimental_telemetry: { isEnabled: true, tracer: otel.tracer },
    });
    expect(result.text).toBe("order 7 shipped");

    const spans = await otel.finished();
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const parentName = (name: string, index = 0) => {
      const span = spans.filter((s) => s.name === name)[index];
      const parent = span?.parentSpanContext?.spanId;
      return parent === undefined ? undefined : byId.get(parent)?.name;
    };
    const chats = spans.filter((s) => s.name === "chat gpt-4.1");
    expect(chats).toHaveLength(2);
    expect(parentName("chat gpt-4.1", 0)).toBe("ai.generateText.doGenerate");
    expect(parentName("chat gpt-4.1", 1)).toBe("ai.generateText.doGenerate");
    expect(parentName("execute_tool lookup")).toBe("ai.toolCall");
    const root = spans.find((s) => s.name === "ai.generateText");
    for (const span of [...chats, ...spans.filter((s) => s.name === "execute_tool lookup")])
      expect(span.spanContext().traceId).toBe(root?.spanContext().traceId);
    expect(chats[0]?.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": "gpt-4.1",
      "gen_ai.response.model": "gpt-4.1",
      "gen_ai.usage.input_tokens": 120,
      "gen_ai.usage.output_tokens": 15,
      "agent_sre.agent.id": "support",
      "agent_sre.decision": "allowed",
    });
    expect(spans.find((s) => s.name === "execute_tool lookup")?.attributes).toMatchObject({
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": "lookup",
      "agent_sre.outcome": "ok",
    });

    const all = await otel.collect();
    const tokens = metric(all, "gen_ai.client.token.usage");
    expect(
      point<{ sum: number }>(tokens, { "gen_ai.token.type": "input", "gen_ai.request.model": "gpt-4.1" })
        .value.sum,
    ).toBe(280);
  });
});
