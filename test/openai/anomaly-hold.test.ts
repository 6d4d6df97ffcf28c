// A cost anomaly that holds the agent (`anomalyDetection.action: "hold"`), through the three model adapters
// against the local fake OpenAI server: an agent on a steady cost pattern, then one reply that costs 100× (a
// prompt change). The spike is detected when that call settles; the agent's next call in the same run — a
// tool call or the next model call — is refused with ANOMALY_HELD, which every adapter treats like the other
// agent-level refusals (the run ends; nothing more reaches the provider or the tool) until the on-call
// confirms. Only the LLM is fake.

import { agentSREStopWhen, agentSREMiddleware as aiSdkMiddleware, guardTools } from "@agent-sre/ai-sdk";
import { AgentSRE, AnomalyHeldError, type RefusalError } from "@agent-sre/core";
import { agentSREMiddleware, sreMetadata } from "@agent-sre/langchain";
import { guardOpenAI } from "@agent-sre/openai";
import { createOpenAI } from "@ai-sdk/openai";
import { tool as lcTool } from "@langchain/core/tools";
import { ChatOpenAI } from "@langchain/openai";
import { generateText, stepCountIs, tool, wrapLanguageModel } from "ai";
import { createAgent } from "langchain";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { useFakeOpenAI } from "./fake-openai-server.js";

const MODEL = "gpt-4o-mini";
const AGENT = "summarizer";
const STEADY = { text: "Done.", usage: { input: 400, output: 60 } };
/** The same task after a prompt change: a tool call whose prompt is 100× the usual. */
const SPIKE = { toolCall: { name: "lookup", arguments: '{"q":"x"}' }, usage: { input: 40_000, output: 60 } };

const server = useFakeOpenAI();

function engine(): AgentSRE {
  return new AgentSRE({
    budget: { perTaskLimitUsd: 5, anomalyDetection: { action: "hold", minSamples: 5 } },
  });
}

/** Six steady tasks: the agent's baseline. */
async function steady(run: (taskId: string) => Promise<unknown>): Promise<void> {
  server().reply(STEADY);
  for (let i = 0; i < 6; i++) await run(`steady-${i}`);
  server().requests.length = 0;
}

function expectHeld(sre: AgentSRE): void {
  expect(sre.budget.isHeld(AGENT)).toBe(true);
  const hold = sre.budget.agentStatus(AGENT).hold;
  expect(hold?.score).toBeGreaterThan(4);
  expect((hold?.costUsd ?? 0) / (hold?.expectedUsd ?? 1)).toBeGreaterThan(10);
}

describe("ANOMALY_HELD through the model adapters (fake OpenAI server)", () => {
  it("OpenAI: the call after the spike is refused with the typed refusal and no request is sent", async () => {
    const sre = engine();
    const openai = guardOpenAI(
      new OpenAI({ apiKey: "sk-test", baseURL: server().baseURL, maxRetries: 0 }),
      sre,
      {
        agentId: AGENT,
      },
    );
    const ask = () =>
      openai.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "Hi" }] });
    await steady(ask);
    server().reply(SPIKE);
    await ask();
    expectHeld(sre);
    const refused = await ask().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(AnomalyHeldError);
    expect(refused).toMatchObject({ code: "ANOMALY_HELD", agentId: AGENT, retryable: false });
    expect(server().requests).toHaveLength(1);
    expect(sre.budget.agentStatus(AGENT).hold?.refusedCalls).toBe(1);
    // The on-call confirms: the agent continues.
    expect(sre.budget.confirmAnomaly(AGENT)).toBe(true);
    server().reply(STEADY);
    await ask();
    expect(server().requests).toHaveLength(2);
  });

  it("AI SDK: the held tool call ends the run between steps (agentSREStopWhen), the tool never runs", async () => {
    const sre = engine();
    const provider = createOpenAI({ apiKey: "sk-test", baseURL: server().baseURL });
    let lookups = 0;
    let stoppedBy: RefusalError | undefined;
    const run = (taskId: string) =>
      generateText({
        model: wrapLanguageModel({
          model: provider.chat(MODEL),
          middleware: aiSdkMiddleware(sre, { agentId: AGENT, taskId }),
        }),
        prompt: "Summarize",
        maxRetries: 0,
        tools: guardTools(
          {
            lookup: tool({
              description: "Looks something up",
              inputSchema: z.object({ q: z.string() }),
              execute: async () => {
                lookups++;
                return "found";
              },
            }),
          },
          sre,
          { agentId: AGENT, taskId },
        ),
        stopWhen: [
          stepCountIs(5),
          agentSREStopWhen(sre, { agentId: AGENT, taskId, onStop: (refusal) => (stoppedBy = refusal) }),
        ],
      });
    await steady(run);
    server().reply(SPIKE, STEADY);
    const result = await run("changed-prompt");
    expectHeld(sre);
    expect(result.steps).toHaveLength(1);
    expect(stoppedBy?.code).toBe("ANOMALY_HELD");
    const toolError = result.steps[0]?.content.find((part: { type: string }) => part.type === "tool-error") as
      | { error: unknown }
      | undefined;
    expect((toolError?.error as RefusalError | undefined)?.code).toBe("ANOMALY_HELD");
    expect(lookups).toBe(0);
    expect(server().requests).toHaveLength(1);

    expect(sre.budget.confirmAnomaly(AGENT)).toBe(true);
    server().reply(STEADY);
    await run("after-confirm");
    expect(server().requests).toHaveLength(2);
  });

  it("LangChain createAgent: the held tool call ends the run (default mode), the tool never runs", async () => {
    const sre = engine();
    let lookups = 0;
    const lookup = lcTool(
      async () => {
        lookups++;
        return "found";
      },
      { name: "lookup", description: "Looks something up", schema: z.object({ q: z.string() }) },
    );
    const run = (taskId: string) =>
      createAgent({
        model: new ChatOpenAI({
          model: MODEL,
          apiKey: "sk-test",
          maxRetries: 0,
          configuration: { baseURL: server().baseURL },
        }),
        tools: [lookup],
        middleware: [agentSREMiddleware(sre, { agentId: AGENT, taskId })],
      }).invoke({ messages: [{ role: "user", content: "Summarize" }] });
    await steady(run);
    server().reply(SPIKE, STEADY);
    const result = await run("changed-prompt");
    expectHeld(sre);
    const last = result.messages.at(-1);
    expect(last === undefined ? undefined : sreMetadata(last)).toMatchObject({
      action: "end",
      code: "ANOMALY_HELD",
      kind: "tool",
      agentId: AGENT,
    });
    expect(lookups).toBe(0);
    expect(server().requests).toHaveLength(1);

    expect(sre.budget.confirmAnomaly(AGENT)).toBe(true);
    server().reply(STEADY);
    await run("after-confirm");
    expect(server().requests).toHaveLength(2);
  });
});
