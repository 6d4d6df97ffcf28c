// biome-ignore-all lint/suspicious/noExplicitAny: one suite drives two majors of `openai`
/**
 * Progressive delivery through the real `openai` client: `guardOpenAI` rewrites each request's `model` to
 * the variant a `Delivery` on the engine chose, against the local fake OpenAI server (which answers per
 * model, so a candidate can be scripted to break). Run with openai@6 (e2e6.test.ts) and openai@7
 * (test-node22/e2e7.test.ts).
 */
import { AgentSRE, Delivery, type DeliveryRolloutOptions, ManualClock } from "@agent-sre/core";
import { guardOpenAI } from "@agent-sre/openai";
import { beforeEach, describe, expect, it } from "vitest";
import { useFakeOpenAI } from "./fake-openai-server.js";

const MINUTE = 60_000;

const rollout = (overrides: Partial<DeliveryRolloutOptions> = {}): DeliveryRolloutOptions => ({
  id: "gpt-upgrade",
  baseline: { id: "v1", model: "gpt-4o" },
  candidate: { id: "v2", model: "gpt-4.1" },
  strategy: {
    type: "canary",
    steps: [{ percent: 25, holdMs: 5 * MINUTE }, { percent: 100 }],
  },
  analysis: { minCalls: 10, minTasks: 3, latencyP99: false },
  seed: 11,
  ...overrides,
});

export function openAIDeliverySuite(stack: { label: string; OpenAI: new (options: any) => any }): void {
  const server = useFakeOpenAI();
  beforeEach(() => {
    server().reply({ text: "Hello!", usage: { input: 1000, output: 200 } });
  });
  const client = () => new stack.OpenAI({ apiKey: "sk-test", baseURL: server().baseURL, maxRetries: 0 });
  const ask = (openai: any, stream = false) =>
    stream
      ? openai.chat.completions
          .create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }], stream: true })
          .then(async (chunks: AsyncIterable<any>) => {
            let model = "";
            for await (const chunk of chunks) model = chunk.model ?? model;
            return model;
          })
      : openai.chat.completions
          .create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] })
          .then((r: any) => r.model as string);

  describe(`${stack.label}: guardOpenAI routes model per request`, () => {
    it("a task keeps its variant for every request; a good candidate is promoted to all traffic", async () => {
      const clock = new ManualClock();
      const sre = new AgentSRE({ clock });
      const steps: string[] = [];
      sre.on("rollout.transition", (e) => steps.push(`${e.action}@${e.percent}`));
      new Delivery(sre, { rollouts: [rollout()] });
      const seen = new Map<string, Set<string>>();
      let n = 0;
      for (let minute = 0; minute < 7; minute++) {
        for (let i = 0; i < 8; i++, n++) {
          const taskId = `task-${n}`;
          // One client per task (as an app makes for a request), sharing the engine.
          const openai = guardOpenAI(client(), sre, { agentId: "support", taskId });
          const models = new Set<string>([await ask(openai), await ask(openai, true)]);
          seen.set(taskId, models);
        }
        clock.advance(MINUTE);
      }
      expect(steps).toEqual(["start@25", "complete@100"]);
      for (const models of seen.values()) expect(models.size).toBe(1);
      // The server saw the rewritten model.
      expect(new Set(server().requests.map((r) => r.body.model))).toEqual(new Set(["gpt-4o", "gpt-4.1"]));
      expect(await ask(guardOpenAI(client(), sre, { agentId: "support", taskId: "later" }))).toBe("gpt-4.1");
    });

    it("a candidate answering 500s is rolled back; later requests never reach it", async () => {
      const clock = new ManualClock();
      const sre = new AgentSRE({ clock });
      new Delivery(sre, { rollouts: [rollout()] });
      server().replyForModel("gpt-4.1", { status: 500 });
      let n = 0;
      for (let minute = 0; minute < 5; minute++) {
        for (let i = 0; i < 12; i++, n++) {
          await ask(guardOpenAI(client(), sre, { agentId: "support", taskId: `t-${n}` })).catch(
            () => undefined,
          );
        }
        clock.advance(MINUTE);
      }
      const status = sre.status().delivery?.rollouts[0];
      expect(status?.state).toBe("rolled_back");
      const reached = server().requests.filter((r) => r.body.model === "gpt-4.1").length;
      for (let i = 0; i < 30; i++) {
        expect(await ask(guardOpenAI(client(), sre, { agentId: "support", taskId: `later-${i}` }))).toBe(
          "gpt-4o",
        );
      }
      expect(server().requests.filter((r) => r.body.model === "gpt-4.1").length).toBe(reached);
    });

    it("near its budget an agent is downgraded, and mirrored requests are costed apart from it", async () => {
      const clock = new ManualClock();
      const sre = new AgentSRE({ clock, budget: { perAgentDailyLimitUsd: 0.05, perTaskLimitUsd: 1 } });
      const delivery = new Delivery(sre, {
        rollouts: [rollout({ mirrorPercent: 100, agents: ["shadowed"] })],
        downgrade: { threshold: 0.5, models: { "gpt-4o": "gpt-4o-mini" }, agents: ["support"] },
      });
      const openai = guardOpenAI(client(), sre, { agentId: "support", taskId: "long-task" });
      const models: string[] = [];
      for (let i = 0; i < 9; i++) models.push(await ask(openai));
      // $0.0045 a gpt-4o request: from 50 % of the $0.05 day the agent calls gpt-4o-mini.
      expect(models).toEqual([...Array(6).fill("gpt-4o"), ...Array(3).fill("gpt-4o-mini")]);
      expect(sre.status().delivery?.downgrade?.active[0]).toMatchObject({ agentId: "support", calls: 3 });

      // Shadow traffic: the caller streams from the baseline; the candidate gets a plain copy.
      const shadowed = guardOpenAI(client(), sre, { agentId: "shadowed", taskId: "s-2" });
      const before = sre.budget.agentStatus("shadowed").spentTodayUsd;
      const model = await ask(shadowed, true);
      await delivery.settled();
      const mirror = delivery.status().rollouts[0]?.mirror;
      expect(model).toBe("gpt-4o"); // task s-2 is on the baseline (seed 11, 25 %)
      expect(mirror?.calls).toBe(1);
      const copy = server().requests.at(-1);
      expect(copy?.body).toMatchObject({ model: "gpt-4.1" });
      expect(copy?.body.stream).toBeUndefined();
      const gpt41 =
        (sre.prices.costMicros("gpt-4.1", { inputTokens: 1000, outputTokens: 200 }, "openai") ?? 0) / 1e6;
      const gpt4o =
        (sre.prices.costMicros("gpt-4o", { inputTokens: 1000, outputTokens: 200 }, "openai") ?? 0) / 1e6;
      expect(mirror?.costUsd).toBeCloseTo(gpt41, 12);
      expect(sre.budget.agentStatus("shadowed").spentTodayUsd - before).toBeCloseTo(gpt4o, 12);
    });
  });
}
