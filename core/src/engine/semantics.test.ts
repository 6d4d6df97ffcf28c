import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { LoopDetectedError } from "../errors.js";
import { AgentSRE, type AgentSREOptions } from "./agent-sre.js";

function engine(options: AgentSREOptions = {}) {
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 9));
  return { clock, sre: new AgentSRE({ clock, budget: { perTaskLimitUsd: 1 }, ...options }) };
}

describe("an already-aborted signal", () => {
  it("is never run and never charged, by guard() and begin()", async () => {
    const { sre } = engine();
    const controller = new AbortController();
    const reason = new Error("user went away");
    controller.abort(reason);
    let ran = 0;
    const call = {
      kind: "model" as const,
      agentId: "a",
      taskId: "t",
      name: "gpt-4o",
      estimate: { costUsd: 0.1 },
    };
    await expect(sre.guard(call, () => ran++, { signal: controller.signal })).rejects.toBe(reason);
    await expect(sre.begin(call, { signal: controller.signal })).rejects.toBe(reason);
    expect(ran).toBe(0);
    const budget = sre.budget.agentStatus("a");
    expect(budget.spentTodayUsd).toBe(0);
    expect(budget.reservedTodayUsd).toBe(0);
    expect(sre.breakers.get("model:gpt-4o").snapshot().state).toBe("CLOSED");
    expect(sre.status().agents.a?.calls ?? 0).toBe(0);
  });
});

describe("loop detection is per task", () => {
  const poll = (taskId: string | undefined) => ({
    kind: "tool" as const,
    agentId: "poller",
    name: "check_queue",
    ...(taskId === undefined ? {} : { taskId }),
  });

  it("a polling tool with no arguments, once per task across many tasks, is not a loop", async () => {
    const { sre } = engine();
    for (let i = 0; i < 20; i++) await sre.guard(poll(`task-${i}`), () => "empty");
    expect(sre.status().agents.poller?.refused).toBe(0);
  });

  it("repeats within one task are a loop; another task starts afresh", async () => {
    const { sre } = engine();
    await sre.guard(poll("t1"), () => 1);
    await sre.guard(poll("t1"), () => 1);
    await expect(sre.guard(poll("t1"), () => 1)).rejects.toBeInstanceOf(LoopDetectedError);
    expect(await sre.guard(poll("t2"), () => 2)).toBe(2);
  });

  it("calls without a task count within the loop window only", async () => {
    const { sre, clock } = engine({ rogue: { quarantineAt: "never" } });
    await sre.guard(poll(undefined), () => 1);
    await sre.guard(poll(undefined), () => 1);
    await expect(sre.guard(poll(undefined), () => 1)).rejects.toBeInstanceOf(LoopDetectedError);
    clock.advance(61_000);
    expect(await sre.guard(poll(undefined), () => 3)).toBe(3);
  });
});

describe("quarantine is on by default at CRITICAL risk", () => {
  async function driveToCritical(sre: AgentSRE) {
    // Forbidden tools and loops push the composite risk up; stop at the first refusal of any kind.
    for (let i = 0; i < 40 && !sre.isQuarantined("rogue"); i++) {
      await sre
        .guard({ kind: "tool", agentId: "rogue", taskId: "t", name: "shell_exec", input: { i } }, () => 1)
        .catch(() => undefined);
      await sre
        .guard({ kind: "tool", agentId: "rogue", taskId: "t", name: "search", input: {} }, () => 1)
        .catch(() => undefined);
    }
  }

  it("quarantines without configuration, and not with quarantineAt: never", async () => {
    const tools = { deny: ["shell_*"] };
    const { sre } = engine({ tools });
    const levels: string[] = [];
    sre.on("rogue.assessment", (a) => levels.push(a.riskLevel));
    await driveToCritical(sre);
    expect(levels).toContain("CRITICAL");
    expect(sre.isQuarantined("rogue")).toBe(true);

    const { sre: detectOnly } = engine({ tools, rogue: { quarantineAt: "never" } });
    await driveToCritical(detectOnly);
    expect(detectOnly.detector?.riskLevel("rogue")).toBe("CRITICAL");
    expect(detectOnly.isQuarantined("rogue")).toBe(false);
  });
});
