import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { CostGuard } from "../cost/cost-guard.js";
import { ConfigError } from "../errors.js";
import { type BudgetDowngradeEvent, EventBus } from "../events.js";
import { DowngradePolicy } from "./downgrade.js";

function setup() {
  const clock = new ManualClock();
  const events = new EventBus();
  const downgrades: BudgetDowngradeEvent[] = [];
  events.on("budget.downgrade", (event) => downgrades.push(event));
  const budget = new CostGuard({ perAgentDailyLimitUsd: 10, anomalyDetection: false, clock });
  const policy = new DowngradePolicy({
    budget,
    threshold: 0.8,
    models: { "gpt-4o": "gpt-4o-mini" },
    clock,
    events,
  });
  return { clock, budget, policy, downgrades };
}

describe("DowngradePolicy", () => {
  it("routes an agent to the cheaper model from the utilization threshold on, and says so once", () => {
    const { budget, policy, downgrades } = setup();
    expect(policy.modelFor("writer", "gpt-4o")).toBe("gpt-4o");
    budget.recordCost({ agentId: "writer", costUsd: 7.99 });
    expect(policy.modelFor("writer", "gpt-4o")).toBe("gpt-4o");
    budget.recordCost({ agentId: "writer", costUsd: 0.01 });
    expect(policy.modelFor("writer", "gpt-4o")).toBe("gpt-4o-mini");
    expect(policy.modelFor("writer", "gpt-4o")).toBe("gpt-4o-mini");
    // Other agents and unlisted models are untouched.
    expect(policy.modelFor("reader", "gpt-4o")).toBe("gpt-4o");
    expect(policy.modelFor("writer", "claude-sonnet-4")).toBe("claude-sonnet-4");
    expect(downgrades).toHaveLength(1);
    expect(downgrades[0]).toMatchObject({
      agentId: "writer",
      fromModel: "gpt-4o",
      toModel: "gpt-4o-mini",
      threshold: 0.8,
    });
    expect(downgrades[0]?.utilization).toBeCloseTo(0.8, 12);
  });

  it("goes back to the requested model when the day rolls over, and announces the next downgrade again", () => {
    const { clock, budget, policy, downgrades } = setup();
    budget.recordCost({ agentId: "writer", costUsd: 9 });
    expect(policy.modelFor("writer", "gpt-4o")).toBe("gpt-4o-mini");
    clock.advance(24 * 60 * 60 * 1000);
    expect(policy.modelFor("writer", "gpt-4o")).toBe("gpt-4o");
    budget.recordCost({ agentId: "writer", costUsd: 9 });
    expect(policy.modelFor("writer", "gpt-4o")).toBe("gpt-4o-mini");
    expect(downgrades).toHaveLength(2);
  });

  it("only downgrades the listed agents when `agents` is given", () => {
    const budget = new CostGuard({
      perAgentDailyLimitUsd: 1,
      anomalyDetection: false,
      clock: new ManualClock(),
    });
    const policy = new DowngradePolicy({ budget, threshold: 0.5, models: { a: "b" }, agents: ["x"] });
    budget.recordCost({ agentId: "x", costUsd: 0.6 });
    budget.recordCost({ agentId: "y", costUsd: 0.6 });
    expect(policy.modelFor("x", "a")).toBe("b");
    expect(policy.modelFor("y", "a")).toBe("a");
  });

  it("reports every config problem at once", () => {
    const make = () =>
      new DowngradePolicy({ budget: {} as never, threshold: 2, models: { a: "a" }, extra: 1 } as never);
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(/4 problems[\s\S]*extra[\s\S]*budget[\s\S]*threshold[\s\S]*models\.a/);
  });
});
