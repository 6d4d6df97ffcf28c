import { describe, expect, it } from "vitest";
import { ChaosExperiment, errorInjection, latencyInjection } from "../chaos/index.js";
import { ManualClock } from "../clock.js";
import { AgentThrottledError, BudgetExceededError, ChaosInjectedError } from "../errors.js";
import { AgentSRE, type AgentSREOptions } from "./agent-sre.js";
import { GuardedCall } from "./guarded-call.js";
import type { GuardCall } from "./types.js";

const START = Date.UTC(2026, 10, 23, 9, 0, 0);

function engine(options: AgentSREOptions = {}) {
  const clock = new ManualClock(START);
  return { clock, sre: new AgentSRE({ clock, ...options }) };
}

const model = (extra: Partial<GuardCall<unknown>> = {}): GuardCall<unknown> => ({
  kind: "model",
  agentId: "a",
  taskId: "t1",
  name: "gpt-4o",
  provider: "openai",
  estimate: { inputTokens: 1_000, outputTokens: 1_000 },
  ...extra,
});

const open = (sre: AgentSRE) => sre.budget.agentStatus("a").openReservations;

describe("AgentSRE.beginNow", () => {
  it("gives the usual call at once, settled once and charged exactly what guard() charges", async () => {
    const usage = { inputTokens: 1_234, outputTokens: 567 };
    const { sre } = engine({ budget: { perAgentDailyLimitUsd: 10 } });
    const begun = sre.beginNow(model());
    expect(begun).toBeInstanceOf(GuardedCall);
    const inFlight = begun as GuardedCall;
    expect(open(sre)).toBe(1);
    inFlight.succeed(usage);
    inFlight.succeed(usage);
    inFlight.fail(new Error("late"));
    expect(open(sre)).toBe(0);

    const guarded = engine({ budget: { perAgentDailyLimitUsd: 10 } }).sre;
    await guarded.guard({ ...model(), usage: () => usage }, async () => 1);
    const spent = sre.budget.agentStatus("a").spentTodayUsd;
    expect(spent).toBe(guarded.budget.agentStatus("a").spentTodayUsd);
    // gpt-4o: $2.50 / $10 per million tokens, in exact micro-dollars.
    expect(spent).toBe((1_234 * 2.5 + 567 * 10) / 1_000_000);
    expect(sre.status().agents.a?.calls).toBe(1);
  });

  it("a streamed call that overruns its hold is charged exactly and told once (budget.overrun)", () => {
    const { sre } = engine({ budget: { perAgentDailyLimitUsd: 10 } });
    const overruns: Array<{ reservedUsd: number; actualUsd: number }> = [];
    sre.on("budget.overrun", (event) => overruns.push(event));
    const inFlight = sre.beginNow(model({ estimate: { inputTokens: 62, outputTokens: 512 } })) as GuardedCall;
    inFlight.succeed({ inputTokens: 1_200, outputTokens: 300 });
    inFlight.succeed({ inputTokens: 1_200, outputTokens: 300 });
    expect(overruns).toEqual([
      expect.objectContaining({
        reservedUsd: (62 * 2.5 + 512 * 10) / 1_000_000,
        actualUsd: (1_200 * 2.5 + 300 * 10) / 1_000_000,
      }),
    ]);
    expect(sre.budget.agentStatus("a").spentTodayUsd).toBe((1_200 * 2.5 + 300 * 10) / 1_000_000);
    expect(open(sre)).toBe(0);
  });

  it("throws a refusal where begin() rejects with it (begin never throws), holding nothing", async () => {
    const { sre } = engine({ budget: { perTaskLimitUsd: 0.001 } });
    const call = model();
    expect(() => sre.beginNow(call)).toThrow(BudgetExceededError);
    let pending: Promise<GuardedCall> | undefined;
    expect(() => {
      pending = sre.begin(call);
    }).not.toThrow();
    await expect(pending).rejects.toBeInstanceOf(BudgetExceededError);
    expect(sre.status().agents.a?.refused).toBe(2);
    expect(open(sre)).toBe(0);

    const controller = new AbortController();
    const reason = new Error("caller gone");
    controller.abort(reason);
    expect(() => sre.beginNow(model(), { signal: controller.signal })).toThrow(reason);
    await expect(sre.begin(model(), { signal: controller.signal })).rejects.toBe(reason);
    expect(open(sre)).toBe(0);
  });

  it("waits for a chaos latency fault: a promise of the call, which holds its reservation", async () => {
    const { sre, clock } = engine({ budget: { perAgentDailyLimitUsd: 10 } });
    sre.startExperiment(
      new ChaosExperiment({
        name: "slow",
        faults: [latencyInjection("model:*", { delayMs: 2_000, rate: 1 })],
        seed: 1,
      }),
    );
    const begun = sre.beginNow(model());
    expect(begun).toBeInstanceOf(Promise);
    let resolvedAt = -1;
    void (begun as Promise<GuardedCall>).then(() => {
      resolvedAt = clock.now();
    });
    await clock.advanceAsync(1_999);
    expect(resolvedAt).toBe(-1);
    expect(open(sre)).toBe(1);
    await clock.advanceAsync(1);
    const inFlight = await begun;
    expect(resolvedAt).toBe(START + 2_000);
    inFlight.succeed({ inputTokens: 10, outputTokens: 10 });
    expect(open(sre)).toBe(0);
  });

  it("an injected error rejects the promise and gives the reservation back once", async () => {
    const { sre } = engine({ budget: { perAgentDailyLimitUsd: 10 } });
    sre.startExperiment(
      new ChaosExperiment({ name: "errors", faults: [errorInjection("model:*", { rate: 1 })], seed: 1 }),
    );
    const begun = sre.beginNow(model());
    expect(begun).toBeInstanceOf(Promise);
    await expect(begun).rejects.toBeInstanceOf(ChaosInjectedError);
    expect(open(sre)).toBe(0);
    expect(sre.budget.agentStatus("a").reservedTodayUsd).toBe(0);
  });

  describe("a throttled agent in delay mode", () => {
    const throttled = async (maxDelayMs: number) => {
      const { sre, clock } = engine({
        budget: {
          perAgentDailyLimitUsd: 1,
          throttleThreshold: 0.5,
          throttleTasksPerMinute: 1,
          killSwitchThreshold: 0.99,
        },
        throttle: { mode: "delay", maxDelayMs },
      });
      await sre.guard(
        { kind: "tool", agentId: "a", name: "paid", estimate: { costUsd: 0.6 } },
        async () => 1,
      );
      expect(sre.budget.isThrottled("a")).toBe(true);
      const tool = (i: number): GuardCall<unknown> => ({
        kind: "tool",
        agentId: "a",
        name: "free",
        input: i,
      });
      // The bucket's one admission a minute: the first call takes it.
      const first = sre.beginNow(tool(0));
      (first instanceof Promise ? await first : first).succeed();
      return { sre, clock, tool };
    };

    it("waits for its next admission: a promise, resolved once the clock gets there", async () => {
      const { sre, clock, tool } = await throttled(120_000);
      const begun = sre.beginNow(tool(1));
      expect(begun).toBeInstanceOf(Promise);
      let settled = false;
      void (begun as Promise<GuardedCall>).then(() => {
        settled = true;
      });
      await clock.advanceAsync(0);
      expect(settled).toBe(false);
      await clock.advanceAsync(60_000);
      const inFlight = await begun;
      inFlight.succeed();
      expect(sre.status().agents.a?.refused).toBe(0);
    });

    it("is refused with the throttle's error when even its first wait passes maxDelayMs", async () => {
      const { sre, tool } = await throttled(1_000);
      const begun = sre.beginNow(tool(1));
      expect(begun).toBeInstanceOf(Promise);
      await expect(begun).rejects.toBeInstanceOf(AgentThrottledError);
      expect(sre.status().agents.a?.refused).toBe(1);
      await expect(sre.begin(tool(2))).rejects.toBeInstanceOf(AgentThrottledError);
      expect(sre.status().agents.a?.refused).toBe(2);
    });
  });
});
