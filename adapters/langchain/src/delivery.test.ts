import { Delivery, type DeliveryRolloutOptions, MemoryStore } from "@agent-sre/core";
import { type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { createAgent } from "langchain";
import { describe, expect, it } from "vitest";
import { agentSREMiddleware } from "./index.js";
import { addTool, engine } from "./test-utils/harness.js";
import { reply, ScriptedChatModel } from "./test-utils/scripted-model.js";

const MINUTE = 60_000;

const rollout = (overrides: Partial<DeliveryRolloutOptions> = {}): DeliveryRolloutOptions => ({
  id: "large-model",
  baseline: { id: "small", model: "scripted-1" },
  candidate: { id: "large", model: "scripted-1-large" },
  strategy: { type: "canary", steps: [{ percent: 30, holdMs: 5 * MINUTE }, { percent: 100 }] },
  analysis: { minCalls: 10, minTasks: 3, latencyP99: false, costPerTask: false },
  seed: 5,
  ...overrides,
});

/** Two steps per task: call `add`, then answer. Remembers which task each call served. */
function calculator(model: string) {
  const tasks: string[] = [];
  const taskOf = (messages: BaseMessage[]) =>
    String(messages.find((m) => HumanMessage.isInstance(m))?.content ?? "?");
  const chat = new ScriptedChatModel({
    model,
    script: [
      (messages) => {
        tasks.push(taskOf(messages));
        return messages.some((m) => ToolMessage.isInstance(m))
          ? reply("3", { input: 100, output: 10 })
          : reply("", { input: 100, output: 10 }, [
              { name: "add", args: { a: 1, b: 2 }, id: `c-${tasks.length}` },
            ]);
      },
    ],
  });
  return { chat, tasks };
}

describe("agentSREMiddleware: progressive delivery", () => {
  it("createAgent: each task runs every step on its variant, and a good candidate is promoted", async () => {
    const { sre, clock } = engine();
    const steps: string[] = [];
    const startedAt = clock.now();
    let completedAtMs = 0;
    sre.on("rollout.transition", (e) => {
      steps.push(`${e.action}@${e.percent}`);
      if (e.action === "complete") completedAtMs = e.at - startedAt;
    });
    new Delivery(sre, { rollouts: [rollout()] });
    const small = calculator("scripted-1");
    const large = calculator("scripted-1-large");
    const { add } = addTool();
    const agent = createAgent({
      model: small.chat,
      tools: [add],
      middleware: [agentSREMiddleware(sre, { agentId: "calc", models: { "scripted-1-large": large.chat } })],
    });
    // Tasks are routed by their message ids (random), so the candidate's share of a step varies from run to
    // run: run until the step has its samples (a few minutes past the hold), not a fixed number of minutes.
    let n = 0;
    for (let minute = 0; minute < 30 && completedAtMs === 0; minute++) {
      for (let i = 0; i < 6; i++, n++) {
        const result = await agent.invoke({ messages: [{ role: "user", content: `task-${n}` }] });
        expect(result.messages.at(-1)?.content).toBe("3");
      }
      clock.advance(MINUTE);
    }
    expect(steps).toEqual(["start@30", "complete@100"]);
    expect(completedAtMs).toBeGreaterThanOrEqual(5 * MINUTE);
    expect(large.tasks.length).toBeGreaterThan(0);
    expect(large.tasks.filter((t) => small.tasks.includes(t))).toEqual([]);
    // Both steps of a task on one model: every task appears twice on exactly one side.
    for (const task of new Set(large.tasks)) expect(large.tasks.filter((t) => t === task)).toHaveLength(2);
    const status = sre.status().delivery?.rollouts[0];
    expect(status?.routed).toEqual({ baseline: small.tasks.length, candidate: large.tasks.length });
  });

  it("a candidate that costs more per task is rolled back, and later runs stay on the baseline", async () => {
    const { sre, clock } = engine();
    new Delivery(sre, {
      rollouts: [rollout({ analysis: { minCalls: 10, minTasks: 3, latencyP99: false } })],
    });
    const small = calculator("scripted-1");
    const large = calculator("scripted-1-large");
    const agent = createAgent({
      model: small.chat,
      tools: [addTool().add],
      middleware: [
        agentSREMiddleware(sre, {
          agentId: "calc",
          // Routed by the task's text, not the message's random id: with 30 % on the candidate, 32 random
          // tasks left it under the analysis' 10 calls about 1 run in 50.
          taskId: ({ messages }) => String(messages.find((m) => HumanMessage.isInstance(m))?.content),
          models: (id) => (id === "scripted-1-large" ? large.chat : small.chat),
        }),
      ],
    });
    let n = 0;
    for (let minute = 0; minute < 4; minute++) {
      for (let i = 0; i < 8; i++, n++)
        await agent.invoke({ messages: [{ role: "user", content: `task-${n}` }] });
      clock.advance(MINUTE);
    }
    const status = sre.status().delivery?.rollouts[0];
    expect(status?.state).toBe("rolled_back");
    expect(status?.lastTransition?.reason).toMatch(/cost per task/);
    const reached = large.tasks.length;
    for (let i = 0; i < 10; i++) await agent.invoke({ messages: [{ role: "user", content: `later-${i}` }] });
    expect(large.tasks.length).toBe(reached);
  });

  it("mirrors a call to the candidate outside the agent: the run sees only the baseline, and pays only for it", async () => {
    const { sre } = engine({ budget: { perTaskLimitUsd: 1 } });
    const delivery = new Delivery(sre, {
      rollouts: [
        rollout({
          strategy: { type: "blueGreen", validateForTasks: 50, validationPercent: 1 },
          mirrorPercent: 100,
        }),
      ],
      maxConcurrentMirrors: 50,
    });
    const small = calculator("scripted-1");
    const large = calculator("scripted-1-large");
    const agent = createAgent({
      model: small.chat,
      tools: [addTool().add],
      // A fixed task id: the default (the human message's random id) lands on the 1 % candidate share 1 run in 100.
      middleware: [
        agentSREMiddleware(sre, {
          agentId: "calc",
          taskId: "task-m",
          models: { "scripted-1-large": large.chat },
        }),
      ],
    });
    const result = await agent.invoke({ messages: [{ role: "user", content: "task-m" }] });
    await delivery.settled();
    expect(result.messages.map((m: BaseMessage) => m.type)).toEqual(["human", "ai", "tool", "ai"]);
    expect(small.tasks).toEqual(["task-m", "task-m"]);
    expect(large.tasks).toEqual(["task-m", "task-m"]); // the shadow copies
    const mirror = delivery.status().rollouts[0]?.mirror;
    expect(mirror?.calls).toBe(2);
    // scripted-1-large: $100 / $400 per M → 2 × (100 × 100 + 10 × 400) / 1e6.
    expect(mirror?.costUsd).toBeCloseTo(0.028, 12);
    // scripted-1: $10 / $40 per M → 2 × (100 × 10 + 10 × 40) / 1e6 on the agent's budget.
    expect(sre.budget.agentStatus("calc").spentTodayUsd).toBeCloseTo(0.0028, 12);
  });

  it("a restarted process keeps the rollout's step from the store", async () => {
    const store = new MemoryStore();
    const first = engine({ store });
    new Delivery(first.sre, { rollouts: [rollout()] }).rollout("large-model")?.rollback("eval regressed");
    const second = engine({ store });
    new Delivery(second.sre, { rollouts: [rollout()] });
    const small = calculator("scripted-1");
    const agent = createAgent({
      model: small.chat,
      tools: [addTool().add],
      middleware: [agentSREMiddleware(second.sre, { agentId: "calc" })],
    });
    for (let i = 0; i < 10; i++) await agent.invoke({ messages: [{ role: "user", content: `t-${i}` }] });
    expect(small.tasks).toHaveLength(20);
  });
});
