import { AgentSRE, Delivery, type DeliveryRolloutOptions, ManualClock } from "@agent-sre/core";
import { afterEach, describe, expect, it } from "vitest";
import type { Alert } from "./alert.js";
import { AlertManager } from "./manager.js";
import { T0 } from "./test-utils/harness.js";
import { FakeService } from "./test-utils/receiver.js";

let hook: FakeService | undefined;
afterEach(async () => {
  await hook?.close();
});

const MINUTE = 60_000;
const rollout: DeliveryRolloutOptions = {
  id: "gpt-upgrade",
  baseline: { id: "v1", model: "gpt-4o" },
  candidate: { id: "v2", model: "gpt-4.1" },
  strategy: { type: "canary", steps: [{ percent: 50, holdMs: 5 * MINUTE }, { percent: 100 }] },
  analysis: { minCalls: 10, minTasks: 3, latencyP99: false, costPerTask: false },
  seed: 2,
};

/** Tasks routed as an adapter routes them; the candidate's calls fail when `candidateFails`. */
async function traffic(sre: AgentSRE, clock: ManualClock, minutes: number, candidateFails: boolean) {
  for (let m = 0; m < minutes; m++) {
    for (let i = 0; i < 10; i++) {
      const taskId = `t-${m}-${i}`;
      const model = sre.delivery?.route("writer", taskId, "gpt-4o")?.model ?? "gpt-4o";
      await sre
        .guard(
          {
            kind: "model",
            agentId: "writer",
            taskId,
            name: model,
            usage: () => ({ inputTokens: 100, outputTokens: 10 }),
          },
          () => {
            if (candidateFails && model === "gpt-4.1") throw new Error("500");
            return "ok";
          },
        )
        .catch(() => undefined);
    }
    await clock.advanceAsync(MINUTE);
  }
}

async function setup(perAgentDailyLimitUsd = 100) {
  hook = await FakeService.start();
  const clock = new ManualClock(T0);
  const sre = new AgentSRE({
    clock,
    rogue: false,
    budget: { perAgentDailyLimitUsd, perTaskLimitUsd: 1 },
  });
  const manager = new AlertManager({
    sre,
    clock,
    // Requests run on real sockets while the test moves the manual clock: no timeout can fire mid-request.
    receivers: { hook: { type: "webhook", url: hook.url("/alerts"), timeoutMs: "1h" } },
    route: { receiver: "hook", groupWaitMs: 0, groupBy: ["alertname", "rollout"] },
    logger: { warn: () => {} },
  });
  await manager.ready;
  const fired: Alert[] = [];
  const resolved: Alert[] = [];
  manager.on("alert.firing", (a) => fired.push(a));
  manager.on("alert.resolved", (a) => resolved.push(a));
  return { clock, sre, manager, fired, resolved };
}

describe("rollout decisions raise alerts", () => {
  it("an automatic rollback pages with the failed gate; the webhook receives it", async () => {
    const { clock, sre, manager, fired } = await setup();
    new Delivery(sre, { rollouts: [rollout] });
    await traffic(sre, clock, 4, true);
    const rollback = fired.find((a) => a.name === "RolloutRollback");
    expect(rollback).toMatchObject({
      severity: "page",
      labels: expect.objectContaining({ rollout: "gpt-upgrade" }),
    });
    expect(rollback?.summary).toMatch(/^Rollout "gpt-upgrade" rolled back automatically: error rate/);
    await clock.advanceAsync(0);
    await manager.idle();
    const bodies = hook?.requests.map((r) => r.body).join("\n") ?? "";
    expect(bodies).toContain("RolloutRollback");
    await manager.close();
  });

  it("promotions are told (info), a frozen step raises RolloutHeld and the promotion resolves it", async () => {
    const { clock, sre, manager, fired, resolved } = await setup();
    sre.freezeDeployments("change-freeze", "holiday freeze");
    new Delivery(sre, { rollouts: [rollout] });
    await traffic(sre, clock, 6, false);
    expect(fired.map((a) => a.name)).toContain("RolloutHeld");
    sre.unfreezeDeployments("change-freeze");
    await traffic(sre, clock, 1, false);
    const progress = fired.find((a) => a.name === "RolloutProgress");
    expect(progress).toMatchObject({ severity: "info" });
    expect(progress?.summary).toMatch(/completed: the candidate serves 100%/);
    expect(resolved.map((a) => a.name)).toContain("RolloutHeld");
    await manager.close();
  });

  it("a budget downgrade is told once per agent and model (info)", async () => {
    const { clock, sre, manager, fired } = await setup(0.002);
    new Delivery(sre, { downgrade: { threshold: 0.5, models: { "gpt-4o": "gpt-4o-mini" } } });
    await traffic(sre, clock, 1, false);
    const downgrades = fired.filter((a) => a.name === "BudgetDowngrade");
    expect(downgrades).toHaveLength(1);
    expect(downgrades[0]).toMatchObject({ severity: "info", agent: "writer" });
    expect(downgrades[0]?.summary).toMatch(/gpt-4o calls now go to gpt-4o-mini/);
    await manager.close();
  });
});
