// The model hook called directly with a request as createAgent builds it: the usual call's path (nothing to
// mirror, clamp, record or inject) and the fuller one must hand the handler the same request and settle once.
import { CHAOS_CANARY, ChaosExperiment, promptInjection } from "@agent-sre/core";
import { AIMessage, type BaseMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { agentSREMiddleware } from "./index.js";
import { engine, priceOf } from "./test-utils/harness.js";
import { ScriptedChatModel } from "./test-utils/scripted-model.js";

type Hook = (request: unknown, handler: (request: unknown) => Promise<AIMessage>) => Promise<unknown>;

function requestFor(model: ScriptedChatModel) {
  const messages = [new HumanMessage({ content: "What is the status of order 1234?", id: "turn-1" })];
  return {
    model,
    messages,
    systemPrompt: "",
    systemMessage: new SystemMessage(""),
    tools: [],
    state: { messages },
    runtime: { context: undefined, configurable: { thread_id: "thread-1" }, signal: undefined },
  };
}

const reply = (input: number, output: number) =>
  new AIMessage({
    content: "It shipped.",
    usage_metadata: { input_tokens: input, output_tokens: output, total_tokens: input + output },
  });

describe("wrapModelCall called directly", () => {
  for (const clampMaxTokens of [false, true]) {
    it(`hands the handler the request it got and settles the call once (clampMaxTokens: ${clampMaxTokens})`, async () => {
      const { sre, completed } = engine();
      const hook = agentSREMiddleware(sre, { agentId: "a", clampMaxTokens }).wrapModelCall as unknown as Hook;
      const request = requestFor(new ScriptedChatModel({ script: [] }));
      const answer = reply(100, 20);
      const seen: unknown[] = [];

      const result = await hook(request, async (given) => {
        seen.push(given);
        return answer;
      });

      expect(result).toBe(answer);
      expect(seen).toEqual([request]);
      expect(seen[0]).toBe(request);
      expect(completed.map((event) => [event.kind, event.name, event.agentId, event.taskId])).toEqual([
        ["model", "scripted-1", "a", "turn-1"],
      ]);
      expect(completed[0]?.inputTokens).toBe(100);
      expect(completed[0]?.costUsd).toBeCloseTo(priceOf("scripted-1", 100, 20), 12);
    });
  }

  it("prices a fractional usage count as the rounded tokens", async () => {
    const { sre, completed } = engine();
    const hook = agentSREMiddleware(sre, { agentId: "a" }).wrapModelCall as unknown as Hook;

    await hook(requestFor(new ScriptedChatModel({ script: [] })), async () => reply(99.6, 20.4));

    expect(completed.map((event) => [event.inputTokens, event.outputTokens])).toEqual([[100, 20]]);
    expect(completed[0]?.costUsd).toBeCloseTo(priceOf("scripted-1", 100, 20), 12);
  });

  it("counts a retry of the same request as the next attempt, and a fresh request as a first", async () => {
    const { sre, completed } = engine({ retryBudget: { ratio: 1, minRetries: 10 } });
    const hook = agentSREMiddleware(sre, { agentId: "a" }).wrapModelCall as unknown as Hook;
    const request = requestFor(new ScriptedChatModel({ script: [] }));

    await expect(
      hook(request, async () => {
        throw new Error("503 upstream");
      }),
    ).rejects.toThrow("503 upstream");
    await hook(request, async () => reply(10, 2));
    await hook(requestFor(new ScriptedChatModel({ script: [] })), async () => reply(10, 2));

    expect(completed.map((event) => event.ok)).toEqual([false, true, true]);
    expect(sre.retryBudget?.snapshot().targets["model:scripted-1"]).toMatchObject({
      firstAttempts: 2,
      retries: 1,
    });
  });

  // Without a cap to clamp, the usual call's path is the one that must notice a chaos payload.
  for (const where of ["input", "result"] as const) {
    it(`places a chaos ${where} payload with clampMaxTokens: false`, async () => {
      const { sre, completed } = engine();
      sre.startExperiment(
        new ChaosExperiment({
          name: "injection",
          faults: [promptInjection("model:*", { technique: "system-override", where })],
        }),
      );
      const hook = agentSREMiddleware(sre, { agentId: "a", clampMaxTokens: false })
        .wrapModelCall as unknown as Hook;
      const request = requestFor(new ScriptedChatModel({ script: [] }));
      let sent: readonly BaseMessage[] = [];

      const result = (await hook(request, async (given) => {
        sent = (given as { messages: BaseMessage[] }).messages;
        return reply(10, 2);
      })) as AIMessage;

      // The reply is still the model's AIMessage (the payload placed in its content).
      expect(AIMessage.isInstance(result)).toBe(true);
      const last = String(sent.at(-1)?.content);
      const replied = String(result.content);
      expect(where === "input" ? last : replied).toContain(CHAOS_CANARY);
      expect(where === "input" ? replied : last).not.toContain(CHAOS_CANARY);
      expect(String(request.messages[0]?.content)).not.toContain(CHAOS_CANARY);
      expect(completed.map((event) => [event.inputTokens, event.outputTokens])).toEqual([[10, 2]]);
    });
  }
});
