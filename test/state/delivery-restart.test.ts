import { join } from "node:path";
import { AgentSRE, Delivery, type DeliveryRolloutOptions, ManualClock } from "@agent-sre/core";
import { SqliteStore } from "@agent-sre/store-sqlite";
import { describe, expect, it } from "vitest";
import { tempDir } from "../mcp/helpers.js";

/**
 * A rollout's step, assignment seed and decisions live in a real SQLite file: an engine that is closed and
 * built again on the same file (a restart) carries on from the step it reached, assigns tasks as before,
 * and keeps an automatic rollback.
 */

const MINUTE = 60_000;
const rollout = (seed: string): DeliveryRolloutOptions => ({
  id: "gpt-upgrade",
  baseline: { id: "v1", model: "gpt-4o" },
  candidate: { id: "v2", model: "gpt-4.1" },
  strategy: {
    type: "canary",
    steps: [{ percent: 10, holdMs: "5m" }, { percent: 40, holdMs: "5m" }, { percent: 100 }],
  },
  analysis: { minCalls: 10, minTasks: 3, latencyP99: false },
  seed,
});

function engine(file: string, clock: ManualClock, seed: string) {
  const store = new SqliteStore(file);
  const sre = new AgentSRE({ clock, store });
  const delivery = new Delivery(sre, { rollouts: [rollout(seed)] });
  return { store, sre, delivery, rollout: delivery.rollout("gpt-upgrade") };
}

async function traffic(sre: AgentSRE, clock: ManualClock, minutes: number, prefix: string, failing = false) {
  for (let m = 0; m < minutes; m++) {
    for (let i = 0; i < 20; i++) {
      const taskId = `${prefix}-${m}-${i}`;
      const model = sre.delivery?.route("writer", taskId, "gpt-4o")?.model ?? "gpt-4o";
      await sre
        .guard(
          {
            kind: "model",
            agentId: "writer",
            taskId,
            name: model,
            usage: () => ({ inputTokens: 500, outputTokens: 50 }),
          },
          () => {
            if (failing && model === "gpt-4.1") throw new Error("candidate 500");
            return "ok";
          },
        )
        .catch(() => undefined);
    }
    clock.advance(MINUTE);
  }
}

describe("delivery state in SQLite survives a restart", () => {
  it("resumes at the reached step with the saved seed and decisions, then keeps an automatic rollback", async () => {
    const file = join(tempDir("agent-sre-delivery-"), "state.db");
    const clock = new ManualClock();
    const first = engine(file, clock, "seed-A");
    await traffic(first.sre, clock, 7, "before");
    expect(first.rollout?.stepIndex).toBe(1);
    const keys = Array.from({ length: 200 }, (_, i) => `probe-${i}`);
    const before = keys.map((key) => first.rollout?.variantOf(key)?.id ?? first.rollout?.assign(key).id);
    await first.store.close?.();

    // The restarted process is configured with another seed: the saved one wins, so tasks keep their side.
    const second = engine(file, clock, "seed-B");
    expect(second.rollout).toMatchObject({
      restored: true,
      state: "progressing",
      stepIndex: 1,
      seed: "seed-A",
    });
    expect(second.rollout?.status().decisions.map((d) => `${d.action}@${d.percent}`)).toEqual([
      "start@10",
      "promote@40",
    ]);
    expect(keys.map((key) => second.rollout?.assign(key).id)).toEqual(before);

    await traffic(second.sre, clock, 4, "after", true);
    expect(second.rollout?.state).toBe("rolled_back");
    await second.store.close?.();

    const third = engine(file, clock, "seed-A");
    expect(third.rollout?.state).toBe("rolled_back");
    expect(third.rollout?.status().lastTransition).toMatchObject({ action: "rollback", automatic: true });
    for (let i = 0; i < 100; i++)
      expect(third.sre.delivery?.route("writer", `t-${i}`, "gpt-4o")?.model).toBe("gpt-4o");
    await third.store.close?.();
  });
});
