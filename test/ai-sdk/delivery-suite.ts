// biome-ignore-all lint/suspicious/noExplicitAny: one suite drives two majors of the AI SDK whose types differ
/**
 * Progressive delivery through the AI SDK, written once for ai@6 (test/ai-sdk/ai6.test.ts) and ai@7
 * (test-node22/ai7.test.ts): a `Delivery` on the engine, the real `generateText` / `streamText`, the
 * middleware routing each call to the variant's model; only the LLMs are the SDK's mock models.
 */

import { agentSRECallOptions, agentSREMiddleware, guardModel } from "@agent-sre/ai-sdk";
import { AgentSRE, Delivery, type DeliveryRolloutOptions, ManualClock } from "@agent-sre/core";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { type AiSdkUnderTest, streamOf, usage } from "./suite.js";

const PROVIDER = "openai.chat";
const MINUTE = 60_000;
const stop = { unified: "stop", raw: "stop" };
const toolCalls = { unified: "tool-calls", raw: "tool_calls" };

const rollout = (overrides: Partial<DeliveryRolloutOptions> = {}): DeliveryRolloutOptions => ({
  id: "gpt-upgrade",
  baseline: { id: "v1", model: "gpt-4o" },
  candidate: { id: "v2", model: "gpt-4.1" },
  strategy: {
    type: "canary",
    steps: [{ percent: 20, holdMs: 5 * MINUTE }, { percent: 50, holdMs: 5 * MINUTE }, { percent: 100 }],
  },
  analysis: { minCalls: 10, minTasks: 3, latencyP99: false },
  seed: 3,
  ...overrides,
});

export function aiSdkDeliverySuite(sdk: AiSdkUnderTest): void {
  const { generateText, streamText, wrapLanguageModel, tool, stepCountIs, MockLanguageModel } = sdk;

  /** A scripted model that remembers which task each call came from; two steps per task (tool, answer). */
  const scripted = (modelId: string, behaviour: { fail?: boolean } = {}) => {
    const tasks: string[] = [];
    const steps = new Map<string, number>();
    const answer = (params: any) => {
      const task = String(params.providerOptions?.agentSre?.taskId ?? "-");
      tasks.push(task);
      if (behaviour.fail) throw new Error(`${modelId} is broken`);
      const step = (steps.get(task) ?? 0) + 1;
      steps.set(task, step);
      // As a provider does: the response names the model that answered.
      const response = { id: `r-${tasks.length}`, modelId, timestamp: new Date(0) };
      return step === 1 && params.tools?.length
        ? {
            response,
            content: [{ type: "tool-call", toolCallId: `c-${task}`, toolName: "lookup", input: '{"q":"x"}' }],
            finishReason: toolCalls,
            usage: usage(1000, 50),
            warnings: [],
          }
        : {
            response,
            content: [{ type: "text", text: `answer from ${modelId}` }],
            finishReason: stop,
            usage: usage(1000, 200),
            warnings: [],
          };
    };
    const model = new MockLanguageModel({
      provider: PROVIDER,
      modelId,
      doGenerate: async (params: any) => answer(params),
      doStream: async (params: any) => {
        const result = answer(params);
        const text = (result.content[0] as { text?: string } | undefined)?.text ?? "";
        return {
          stream: streamOf([
            { type: "stream-start", warnings: [] },
            { type: "text-start", id: "t" },
            { type: "text-delta", id: "t", delta: text },
            { type: "text-end", id: "t" },
            { type: "finish", finishReason: stop, usage: result.usage },
          ]),
        };
      },
    });
    return { model, tasks };
  };

  const lookup = tool({
    description: "Look something up",
    inputSchema: z.object({ q: z.string() }),
    execute: async ({ q }: { q: string }) => ({ q, found: true }),
  });

  /** Runs one agent task: a two-step tool loop, charged to agent "writer" and the task. */
  const runTask = (model: any, taskId: string) =>
    generateText({
      model,
      tools: { lookup },
      stopWhen: stepCountIs(4),
      maxRetries: 0,
      prompt: "Find x",
      ...agentSRECallOptions({ agentId: "writer", taskId }),
    });

  describe(`${sdk.label}: progressive delivery`, () => {
    it("generateText: a good candidate walks every step to 100 %, each multi-step task on one model", async () => {
      const clock = new ManualClock();
      const sre = new AgentSRE({ clock });
      const steps: string[] = [];
      sre.on("rollout.transition", (e) => steps.push(`${e.action}@${e.percent}`));
      new Delivery(sre, { rollouts: [rollout()] });
      const baseline = scripted("gpt-4o");
      const candidate = scripted("gpt-4.1");
      const model = wrapLanguageModel({
        model: baseline.model,
        middleware: agentSREMiddleware(sre, { agentId: "writer", models: { "gpt-4.1": candidate.model } }),
      });
      let n = 0;
      for (let minute = 0; minute < 14; minute++) {
        for (let i = 0; i < 6; i++, n++) {
          const result = await runTask(model, `task-${n}`);
          expect(result.steps).toHaveLength(2);
        }
        clock.advance(MINUTE);
      }
      expect(steps).toEqual(["start@20", "promote@50", "complete@100"]);
      // Stickiness across the agent's steps: no task reached both models.
      const both = new Set(baseline.tasks.filter((t) => candidate.tasks.includes(t)));
      expect([...both]).toEqual([]);
      expect(candidate.tasks.length).toBeGreaterThan(0);
      const status = sre.status().delivery?.rollouts[0];
      expect(status?.routed.candidate).toBe(candidate.tasks.length);
      expect(status?.routed.baseline).toBe(baseline.tasks.length);
      // The SDK saw the model that answered.
      const last = await runTask(model, "after");
      expect(last.text).toBe("answer from gpt-4.1");
      expect(last.response.modelId).toBe("gpt-4.1");
    });

    it("streamText: a failing candidate is rolled back, and no task after the rollback reaches it", async () => {
      const clock = new ManualClock();
      const sre = new AgentSRE({ clock });
      new Delivery(sre, { rollouts: [rollout()] });
      const baseline = scripted("gpt-4o");
      const candidate = scripted("gpt-4.1", { fail: true });
      const model = guardModel(baseline.model, sre, {
        agentId: "writer",
        models: (id) => (id === "gpt-4.1" ? candidate.model : baseline.model),
      });
      const stream = async (taskId: string) => {
        const result = streamText({
          model,
          prompt: "hi",
          maxRetries: 0,
          onError: () => {},
          ...agentSRECallOptions({ agentId: "writer", taskId }),
        });
        try {
          return await result.text;
        } catch {
          return undefined;
        }
      };
      let n = 0;
      for (let minute = 0; minute < 6; minute++) {
        for (let i = 0; i < 12; i++, n++) await stream(`task-${n}`);
        clock.advance(MINUTE);
      }
      const state = sre.status().delivery?.rollouts[0];
      expect(state?.state).toBe("rolled_back");
      expect(state?.lastTransition?.reason).toMatch(/error rate/);
      const reached = candidate.tasks.length;
      for (let i = 0; i < 50; i++) expect(await stream(`later-${i}`)).toBe("answer from gpt-4o");
      expect(candidate.tasks.length).toBe(reached);
    });

    it("a near-budget agent's calls go to the cheaper model instead of being killed", async () => {
      const clock = new ManualClock();
      const sre = new AgentSRE({ clock, budget: { perAgentDailyLimitUsd: 0.05, perTaskLimitUsd: 1 } });
      new Delivery(sre, { downgrade: { threshold: 0.5, models: { "gpt-4o": "gpt-4o-mini" } } });
      const big = scripted("gpt-4o");
      const mini = scripted("gpt-4o-mini");
      const model = wrapLanguageModel({
        model: big.model,
        middleware: agentSREMiddleware(sre, { agentId: "writer", models: { "gpt-4o-mini": mini.model } }),
      });
      const answers: string[] = [];
      for (let n = 0; n < 10; n++) {
        const result = await generateText({
          model,
          prompt: "hi",
          maxRetries: 0,
          ...agentSRECallOptions({ agentId: "writer", taskId: `t-${n}` }),
        });
        answers.push(result.response.modelId);
      }
      // $0.0045 a gpt-4o call: from 50 % of the $0.05 day, the rest go to gpt-4o-mini.
      expect(answers.slice(0, 6)).toEqual(Array(6).fill("gpt-4o"));
      expect(answers.slice(6)).toEqual(Array(4).fill("gpt-4o-mini"));
      const status = sre.status();
      expect(status.agents.writer?.budget.killed).toBe(false);
      expect(status.delivery?.downgrade?.active).toEqual([
        expect.objectContaining({ agentId: "writer", fromModel: "gpt-4o", toModel: "gpt-4o-mini", calls: 4 }),
      ]);
    });

    it("mirrors baseline calls to the candidate: the caller gets the baseline, pays only for it", async () => {
      const clock = new ManualClock();
      const sre = new AgentSRE({ clock, budget: { perTaskLimitUsd: 1 } });
      const delivery = new Delivery(sre, {
        rollouts: [
          rollout({
            strategy: { type: "blueGreen", validationPercent: 1, validateForTasks: 3 },
            mirrorPercent: 100,
          }),
        ],
        maxConcurrentMirrors: 100,
      });
      const baseline = scripted("gpt-4o");
      const candidate = scripted("gpt-4.1");
      const model = wrapLanguageModel({
        model: baseline.model,
        middleware: agentSREMiddleware(sre, { agentId: "writer", models: { "gpt-4.1": candidate.model } }),
      });
      let baselineCalls = 0;
      for (let n = 0; n < 20; n++) {
        const result = streamText({
          model,
          prompt: "hi",
          ...agentSRECallOptions({ agentId: "writer", taskId: `t-${n}` }),
        });
        const text = await result.text;
        if (text === "answer from gpt-4o") baselineCalls++;
      }
      await delivery.settled();
      const mirror = delivery.status().rollouts[0]?.mirror;
      expect(baselineCalls).toBeGreaterThan(15);
      expect(mirror?.calls).toBe(baselineCalls);
      const perCall = (m: string) =>
        (sre.prices.costMicros(m, { inputTokens: 1000, outputTokens: 200 }, PROVIDER) ?? 0) / 1e6;
      expect(mirror?.costUsd).toBeCloseTo(baselineCalls * perCall("gpt-4.1"), 12);
      // The caller's budget holds what it called, not the shadow copies.
      const spent = sre.budget.agentStatus("writer").spentTodayUsd;
      expect(spent).toBeCloseTo(
        baselineCalls * perCall("gpt-4o") + (20 - baselineCalls) * perCall("gpt-4.1"),
        12,
      );
      expect(candidate.tasks.length).toBe(20);
    });

    it("a route to a model the middleware was not given is a configuration error naming it", async () => {
      const sre = new AgentSRE({ clock: new ManualClock() });
      new Delivery(sre, { rollouts: [rollout({ strategy: { type: "canary", steps: [{ percent: 100 }] } })] });
      const model = wrapLanguageModel({
        model: scripted("gpt-4o").model,
        middleware: agentSREMiddleware(sre, { agentId: "writer" }),
      });
      await expect(generateText({ model, prompt: "hi", maxRetries: 0 })).rejects.toThrow(
        /models\.gpt-4\.1.*rollout "gpt-upgrade"/,
      );
    });
  });
}
