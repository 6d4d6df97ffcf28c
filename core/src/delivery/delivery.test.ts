import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentSRE } from "../engine/agent-sre.js";
import type { RolloutTransitionEvent } from "../events.js";
import { MemoryStore } from "../store/memory-store.js";
import { Delivery, type DeliveryOptions, type DeliveryRolloutOptions } from "./delivery.js";

const MINUTE = 60_000;

const canary = (overrides: Partial<DeliveryRolloutOptions> = {}): DeliveryRolloutOptions => ({
  id: "gpt-upgrade",
  baseline: { id: "v1", model: "gpt-4o" },
  candidate: { id: "v2", model: "gpt-4.1" },
  strategy: {
    type: "canary",
    steps: [{ percent: 10, holdMs: 5 * MINUTE }, { percent: 50, holdMs: 5 * MINUTE }, { percent: 100 }],
  },
  analysis: { minCalls: 10, minTasks: 3, latencyP99: false },
  seed: 7,
  ...overrides,
});

function setup(options: DeliveryOptions, sreOptions: ConstructorParameters<typeof AgentSRE>[0] = {}) {
  const clock = new ManualClock();
  const sre = new AgentSRE({ clock, ...sreOptions });
  const transitions: RolloutTransitionEvent[] = [];
  sre.on("rollout.transition", (event) => transitions.push(event));
  const delivery = new Delivery(sre, options);
  return { clock, sre, delivery, transitions };
}

type Fails = (model: string, task: number, call: number) => boolean;
const never: Fails = () => false;

/** One task: `calls` model calls routed like an adapter does (ask, then guard the routed model). */
async function task(sre: AgentSRE, n: number, fails: Fails, calls = 2, agentId = "writer") {
  const models = new Set<string>();
  for (let call = 0; call < calls; call++) {
    const route = sre.delivery?.route(agentId, `task-${n}`, "gpt-4o");
    const model = route?.model ?? "gpt-4o";
    models.add(model);
    await sre
      .guard(
        {
          kind: "model",
          agentId,
          taskId: `task-${n}`,
          name: model,
          usage: () => ({ inputTokens: 1000, outputTokens: 200 }),
        },
        () => {
          if (fails(model, n, call)) throw new Error(`${model} failed`);
          return "ok";
        },
      )
      .catch(() => undefined);
  }
  return models;
}

async function minutes(
  sre: AgentSRE,
  clock: ManualClock,
  count: number,
  fails: Fails,
  from: number,
  tasksPerMinute = 20,
) {
  let n = from;
  const candidateTasks: number[] = [];
  for (let m = 0; m < count; m++) {
    for (let i = 0; i < tasksPerMinute; i++, n++) {
      const models = await task(sre, n, fails);
      expect(models.size).toBe(1); // sticky: one task never mixes variants
      if (models.has("gpt-4.1")) candidateTasks.push(n);
    }
    clock.advance(MINUTE);
  }
  return { next: n, candidateTasks };
}

describe("Delivery on the engine", () => {
  it("routes a good candidate step by step to 100 %, with the split and calls per variant in status()", async () => {
    const { sre, clock, delivery, transitions } = setup({ rollouts: [canary()] });
    await minutes(sre, clock, 16, never, 0);
    expect(transitions.map((t) => `${t.action}@${t.percent}`)).toEqual([
      "start@10",
      "promote@50",
      "complete@100",
    ]);
    const status = sre.status().delivery?.rollouts[0];
    expect(status?.state).toBe("completed");
    expect(status?.percent).toBe(100);
    expect(status?.routed.baseline).toBeGreaterThan(0);
    expect(status?.routed.candidate).toBeGreaterThan(status?.routed.baseline ?? 0);
    expect(status?.decisions.map((d) => d.action)).toEqual(["start", "promote", "complete"]);
    // After completion every new task gets the candidate.
    expect(await task(sre, 10_000, never)).toEqual(new Set(["gpt-4.1"]));
    delivery.close();
    expect(sre.delivery).toBeUndefined();
    expect(sre.status().delivery).toBeUndefined();
  });

  it("rolls back a candidate that fails more often, and no task after the rollback reaches it", async () => {
    const { sre, clock, transitions } = setup({ rollouts: [canary()] });
    const failing: Fails = (model, _task, call) => model === "gpt-4.1" && call === 0;
    const first = await minutes(sre, clock, 5, failing, 0);
    const rollback = transitions.find((t) => t.action === "rollback");
    expect(rollback?.automatic).toBe(true);
    expect(rollback?.reason).toMatch(/error rate/);
    const after = await minutes(sre, clock, 3, failing, first.next);
    expect(after.candidateTasks).toEqual([]);
    expect(sre.status().delivery?.rollouts[0]?.state).toBe("rolled_back");
  });

  it("counts a candidate's loop refusals against it (behaviour, not only failures)", async () => {
    const { sre, clock, transitions } = setup({
      rollouts: [
        canary({
          // Repeated tool calls also raise the agent's rogue risk: judge the refusals alone here.
          analysis: { minCalls: 10, minTasks: 3, latencyP99: false, costPerTask: false, rogue: false },
        }),
      ],
    });
    let n = 0;
    for (let m = 0; m < 4; m++) {
      for (let i = 0; i < 20; i++, n++) {
        const models = await task(sre, n, never, 1);
        if (models.has("gpt-4.1")) {
          // The candidate model makes its agent repeat a tool call until the loop check refuses it.
          for (let k = 0; k < 4; k++) {
            await sre
              .guard(
                {
                  kind: "tool",
                  agentId: "writer",
                  taskId: `task-${n}`,
                  name: "search",
                  input: { q: "same" },
                },
                () => "r",
              )
              .catch(() => undefined);
          }
        }
      }
      clock.advance(MINUTE);
    }
    const rollback = transitions.find((t) => t.action === "rollback");
    expect(rollback?.reason).toMatch(/behavioural refusals/);
    expect(sre.status().delivery?.rollouts[0]?.candidate.refusals).toBeGreaterThanOrEqual(3);
  });

  it("counts a rogue assessment of an agent on the candidate against it", async () => {
    const { sre, clock, transitions } = setup({
      rollouts: [canary({ stickyBy: "agent", agents: ["a-1", "a-2", "a-3", "a-4"] })],
    });
    const rollout = sre.delivery?.rollout("gpt-upgrade");
    // An agent the 10 % step puts on the candidate (the seed makes it a-1), with one call there.
    const agent = ["a-1", "a-2", "a-3", "a-4"].find((a) => rollout?.assign(a).id === "v2");
    expect(agent).toBe("a-1");
    await task(sre, 1, never, 1, "a-1");
    sre.events.emit("rogue.assessment", {
      at: clock.now(),
      agentId: "a-1",
      riskLevel: "HIGH",
      compositeScore: 3,
      quarantineRecommended: false,
      reasons: ["capability violations"],
    });
    clock.advance(2_000);
    rollout?.evaluate();
    expect(transitions.at(-1)?.action).toBe("rollback");
    expect(transitions.at(-1)?.reason).toMatch(/1 rogue assessment at HIGH/);
  });

  it("holds a due promotion while deployments are frozen", async () => {
    const { sre, clock, transitions } = setup({ rollouts: [canary()] });
    sre.freezeDeployments("release-train", "manual freeze");
    await minutes(sre, clock, 8, never, 0);
    expect(transitions.map((t) => t.action)).toEqual(["start"]);
    sre.unfreezeDeployments("release-train");
    await minutes(sre, clock, 1, never, 1000);
    expect(transitions.map((t) => t.action)).toEqual(["start", "promote"]);
  });

  it("downgrades an agent near its daily budget to the cheaper model, and says so in events and status()", async () => {
    const { sre } = setup(
      { downgrade: { threshold: 0.5, models: { "gpt-4o": "gpt-4o-mini" } } },
      { budget: { perAgentDailyLimitUsd: 0.05, perTaskLimitUsd: 1, autoThrottle: false } },
    );
    const downgrades: unknown[] = [];
    sre.on("budget.downgrade", (event) => downgrades.push(event));
    const seen: string[] = [];
    for (let n = 0; n < 12; n++) {
      const route = sre.delivery?.route("writer", `t-${n}`, "gpt-4o");
      const model = route?.model ?? "gpt-4o";
      seen.push(model);
      await sre.guard(
        {
          kind: "model",
          agentId: "writer",
          taskId: `t-${n}`,
          name: model,
          usage: () => ({ inputTokens: 1000, outputTokens: 200 }),
        },
        () => "ok",
      );
    }
    // $0.0045 a gpt-4o call: from 50 % of $0.05 the calls go to gpt-4o-mini instead.
    expect(seen.slice(0, 6)).toEqual(Array(6).fill("gpt-4o"));
    expect(seen.slice(6)).toEqual(Array(6).fill("gpt-4o-mini"));
    expect(downgrades).toHaveLength(1);
    // The per-call read the policy uses agrees with the status.
    expect(sre.budget.utilization("writer")).toBe(sre.budget.agentStatus("writer").utilization);
    expect(sre.budget.utilization("never-seen")).toBe(0);
    const status = sre.status().delivery?.downgrade;
    expect(status?.active).toEqual([
      expect.objectContaining({ agentId: "writer", fromModel: "gpt-4o", toModel: "gpt-4o-mini", calls: 6 }),
    ]);
    expect(sre.status().agents.writer?.budget.killed).toBeFalsy();
  });

  it("mirrors a share of baseline calls to the candidate: analysed, costed apart, never charged to the caller", async () => {
    const { sre, delivery } = setup({
      rollouts: [
        canary({
          strategy: { type: "blueGreen", validationPercent: 1, validateForTasks: 5 },
          mirrorPercent: 50,
        }),
      ],
      maxConcurrentMirrors: 64,
    });
    let mirrored = 0;
    for (let n = 0; n < 40; n++) {
      const route = delivery.route("writer", `t-${n}`, "gpt-4o");
      if (route?.mirror === undefined || route.model !== "gpt-4o") continue;
      mirrored++;
      delivery.mirror(
        route,
        async () => ({ usage: { inputTokens: 1000, outputTokens: 200 } }),
        (result) => result.usage,
      );
    }
    await delivery.settled();
    const status = delivery.status().rollouts[0];
    expect(mirrored).toBeGreaterThan(10);
    expect(status?.mirror.calls).toBe(mirrored);
    // gpt-4.1: $2 / M input, $8 / M output → $0.0036 a mirrored call.
    expect(status?.mirror.costUsd).toBeCloseTo(mirrored * 0.0036, 9);
    expect(status?.candidate.mirrored).toBe(mirrored);
    expect(sre.budget.agentStatus("writer").spentTodayUsd).toBe(0);
  });

  it("skips a mirror over the concurrency bound and counts it", async () => {
    const { delivery } = setup({
      rollouts: [canary({ mirrorPercent: 100 })],
      maxConcurrentMirrors: 1,
    });
    const routes = [0, 1, 2, 3]
      .map((n) => delivery.route("writer", `t-${n}`, "gpt-4o"))
      .filter((r) => r?.mirror);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    for (const route of routes) {
      if (route)
        delivery.mirror(
          route,
          () => gate.then(() => ({})),
          () => undefined,
        );
    }
    release();
    await delivery.settled();
    const mirror = delivery.status().rollouts[0]?.mirror;
    expect(mirror?.calls).toBe(1);
    expect(mirror?.skipped).toBe(routes.length - 1);
  });

  it("restores the step, the seed and the decisions from the store after a restart", async () => {
    const store = new MemoryStore();
    const first = setup({ rollouts: [canary({ seed: 99 })] }, { store });
    await minutes(first.sre, first.clock, 6, never, 0);
    expect(first.sre.status().delivery?.rollouts[0]?.stepIndex).toBe(1);
    first.delivery.close();

    const clock = new ManualClock(first.clock.now());
    const sre = new AgentSRE({ clock, store });
    const delivery = new Delivery(sre, { rollouts: [canary({ seed: 1 })] });
    const rollout = delivery.rollout("gpt-upgrade");
    expect(rollout?.restored).toBe(true);
    expect(rollout?.state).toBe("progressing");
    expect(rollout?.stepIndex).toBe(1);
    expect(rollout?.seed).toBe(99);
    expect(rollout?.status().decisions.map((d) => d.action)).toEqual(["start", "promote"]);
  });

  it("keeps a rollback through a restart: the restarted process routes nobody to the candidate", async () => {
    const store = new MemoryStore();
    const first = setup({ rollouts: [canary()] }, { store });
    first.delivery.rollout("gpt-upgrade")?.rollback("bad eval");
    const sre = new AgentSRE({ clock: new ManualClock(), store });
    new Delivery(sre, { rollouts: [canary()] });
    expect(sre.delivery?.rollout("gpt-upgrade")?.state).toBe("rolled_back");
    for (let n = 0; n < 50; n++)
      expect(sre.delivery?.route("writer", `t-${n}`, "gpt-4o")?.model).toBe("gpt-4o");
  });

  it("rejects unknown options and a duplicate rollout id", () => {
    const sre = new AgentSRE({ clock: new ManualClock() });
    expect(() => new Delivery(sre, { rollout: [] } as never)).toThrow(/rollout/);
    const delivery = new Delivery(sre, { rollouts: [canary()] });
    expect(() => delivery.add(canary())).toThrow(/already/);
    expect(() => new Delivery(sre)).toThrow(/one Delivery per engine/);
    expect(() => delivery.add(canary({ id: "x", mirrorPercent: 120, stickyBy: "user" as never }))).toThrow(
      /2 problems[\s\S]*stickyBy[\s\S]*mirrorPercent|2 problems[\s\S]*mirrorPercent/,
    );
  });
});
