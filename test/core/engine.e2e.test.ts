// The engine through its public entry, as a user installs it: one fleet, every refusal kind, one status.
import {
  AgentSRE,
  BudgetExceededError,
  ChaosExperiment,
  CircuitOpenError,
  errorInjection,
  LoopDetectedError,
  ManualClock,
  type RefusalError,
  SLO,
  TaskSuccessRate,
  ToolNotAllowedError,
} from "@agent-sre/core";
import { describe, expect, it } from "vitest";

describe("@agent-sre/core public API", () => {
  it("guards a small fleet end to end and reports it as JSON", async () => {
    const clock = new ManualClock(new Date("2026-11-23T12:00:00Z"));
    const sre = new AgentSRE({
      clock,
      budget: { perTaskLimitUsd: 0.5, perAgentDailyLimitUsd: 5, orgMonthlyBudgetUsd: 100 },
      breakers: { defaults: { failureThreshold: 2, recoveryTimeoutMs: "10s" } },
      agents: { writer: { deniedTools: ["shell_exec"] } },
      // This walk-through drives one agent through every refusal; the default quarantine at CRITICAL risk
      // would (rightly) stop it half-way, so it is detection-only here (semantics.test.ts covers quarantine).
      rogue: { quarantineAt: "never" },
      slos: [
        new SLO({
          name: "writer-success",
          agentId: "writer",
          indicators: [new TaskSuccessRate()],
          errorBudget: { total: 0.05, windowMs: "1h" },
        }),
      ],
    });
    const events: string[] = [];
    for (const name of ["breaker.open", "breaker.close", "call.refused"] as const)
      sre.on(name, () => events.push(name));

    const usage = { inputTokens: 2_000, outputTokens: 500 };
    const answer = await sre.guard(
      {
        kind: "model",
        agentId: "writer",
        taskId: "t1",
        name: "gpt-4o-mini",
        provider: "openai",
        usage: () => usage,
      },
      async () => "draft",
    );
    expect(answer).toBe("draft");

    await expect(
      sre.guard(
        {
          kind: "model",
          agentId: "writer",
          taskId: "t2",
          name: "gpt-4o",
          estimate: { inputTokens: 0, outputTokens: 100_000 },
        },
        async () => "too expensive",
      ),
    ).rejects.toBeInstanceOf(BudgetExceededError);
    await expect(
      sre.guard({ kind: "tool", agentId: "writer", name: "shell_exec" }, async () => 0),
    ).rejects.toBeInstanceOf(ToolNotAllowedError);
    const search = { kind: "tool" as const, agentId: "writer", name: "search", input: { q: "same" } };
    await sre.guard(search, async () => 1);
    await sre.guard(search, async () => 1);
    await expect(sre.guard(search, async () => 1)).rejects.toBeInstanceOf(LoopDetectedError);

    for (let i = 0; i < 2; i++) {
      await sre
        .guard({ kind: "tool", agentId: "writer", name: "fetch", input: i }, async () => {
          throw new Error("upstream down");
        })
        .catch(() => undefined);
    }
    const refused = await sre
      .guard({ kind: "tool", agentId: "writer", name: "fetch", input: 9 }, async () => 1)
      .catch((e) => e);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect((refused as RefusalError).code).toBe("CIRCUIT_OPEN");
    clock.advance(10_000);
    await sre.guard({ kind: "tool", agentId: "writer", name: "fetch", input: 10 }, async () => 1);

    const experiment = new ChaosExperiment({
      name: "flaky-model",
      faults: [errorInjection("model:*", { rate: 1 })],
      seed: 3,
    });
    sre.startExperiment(experiment);
    const injected = await sre
      .guard({ kind: "model", agentId: "writer", name: "gpt-4o-mini", usage: () => usage }, async () => "x")
      .catch((e) => e);
    expect((injected as RefusalError).code).toBe("CHAOS_INJECTED");
    expect((injected as RefusalError).retryable).toBe(true);

    const status = JSON.parse(JSON.stringify(sre.status()));
    expect(status.agents.writer.calls).toBeGreaterThan(3);
    expect(status.agents.writer.refused).toBeGreaterThanOrEqual(4);
    expect(status.agents.writer.budget.spentTodayUsd).toBeGreaterThan(0);
    expect(status.slos[0].name).toBe("writer-success");
    expect(status.chaos[0].name).toBe("flaky-model");
    expect(events).toEqual(expect.arrayContaining(["breaker.open", "breaker.close", "call.refused"]));
  });
});
