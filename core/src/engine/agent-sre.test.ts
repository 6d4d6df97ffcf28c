import { describe, expect, it, vi } from "vitest";
import {
  ChaosExperiment,
  errorInjection,
  latencyInjection,
  promptInjection,
  timeoutInjection,
  toolAbuse,
} from "../chaos/index.js";
import { ManualClock } from "../clock.js";
import {
  AgentKilledError,
  AgentQuarantinedError,
  AgentThrottledError,
  BudgetExceededError,
  ChaosInjectedError,
  CircuitOpenError,
  ConfigError,
  LoopDetectedError,
  ModelNotPricedError,
  type RateLimitedError,
  RefusalError,
  TimeoutError,
  ToolNotAllowedError,
} from "../errors.js";
import { SLO, ToolCallSuccessRate } from "../slo/index.js";
import { AgentSRE, type AgentSREOptions } from "./agent-sre.js";
import type { GuardCall } from "./types.js";

const START = Date.UTC(2026, 10, 23, 9, 0, 0);

function engine(options: AgentSREOptions = {}) {
  const clock = new ManualClock(START);
  const sre = new AgentSRE({ clock, ...options });
  return { clock, sre };
}

interface FakeResult {
  text: string;
  usage: { inputTokens: number; outputTokens: number };
}

function modelCall(agentId: string, extra: Partial<GuardCall<FakeResult>> = {}): GuardCall<FakeResult> {
  return {
    kind: "model",
    agentId,
    name: "gpt-4o",
    provider: "openai",
    usage: (result) => result.usage,
    ...extra,
  };
}

const reply = (inputTokens = 1_000, outputTokens = 500): FakeResult => ({
  text: "ok",
  usage: { inputTokens, outputTokens },
});

async function refusalOf(promise: Promise<unknown>): Promise<RefusalError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RefusalError) return error;
    throw error;
  }
  throw new Error("expected a refusal, the call succeeded");
}

describe("AgentSRE.guard: pricing and budgets", () => {
  it("returns the result and records the real price of the reported usage", async () => {
    const { sre } = engine({ budget: { perAgentDailyLimitUsd: 10 } });
    const result = await sre.guard(modelCall("a"), async () => reply(1_000_000, 100_000));
    expect(result.text).toBe("ok");
    // gpt-4o list price: $2.50 / M input, $10 / M output.
    expect(sre.budget.agentStatus("a").spentTodayUsd).toBeCloseTo(2.5 + 1.0, 6);
  });

  it("refuses a call whose estimate does not fit the task limit before it runs", async () => {
    const { sre } = engine({ budget: { perTaskLimitUsd: 0.05 } });
    const run = vi.fn(async () => reply());
    const error = await refusalOf(
      sre.guard(
        modelCall("a", { taskId: "t1", estimate: { inputTokens: 1_000, outputTokens: 20_000 } }),
        run,
      ),
    );
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect(error.code).toBe("BUDGET_EXCEEDED");
    expect((error as BudgetExceededError).scope).toBe("task");
    expect(run).not.toHaveBeenCalled();
  });

  it("lets thousands of concurrent calls through exactly as far as the money goes (zero overshoot)", async () => {
    const { sre } = engine({
      budget: { perAgentDailyLimitUsd: 1, killSwitchThreshold: 1, autoThrottle: false },
    });
    let ran = 0;
    const calls = Array.from({ length: 2_000 }, (_, i) =>
      sre
        .guard(
          {
            kind: "tool",
            agentId: "a",
            taskId: `t${i}`,
            name: "paid_api",
            input: { i },
            estimate: { costUsd: 0.01 },
          },
          async () => {
            await Promise.resolve();
            ran++;
            return i;
          },
        )
        .then(
          () => "ok",
          (error: unknown) => (error as RefusalError).code,
        ),
    );
    const outcomes = await Promise.all(calls);
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(100);
    expect(ran).toBe(100);
    expect(sre.budget.agentStatus("a").spentTodayUsd).toBeCloseTo(1, 9);
  });

  it("charges the estimate when a model call reports no usage, and says so", async () => {
    const { sre } = engine({ budget: { perAgentDailyLimitUsd: 10 } });
    const missing = vi.fn();
    sre.on("usage.missing", missing);
    await sre.guard(
      { kind: "model", agentId: "a", name: "gpt-4o", estimate: { inputTokens: 0, outputTokens: 100_000 } },
      async () => "no usage here",
    );
    expect(sre.budget.agentStatus("a").spentTodayUsd).toBeCloseTo(1, 6);
    expect(missing).toHaveBeenCalledWith(expect.objectContaining({ agentId: "a", committedUsd: 1 }));
  });

  it("kills an agent at the kill threshold and lets revive() lift it", async () => {
    const { sre } = engine({ budget: { perAgentDailyLimitUsd: 1, autoThrottle: false } });
    const kill = vi.fn();
    sre.on("budget.kill", kill);
    await sre.guard({ kind: "tool", agentId: "a", name: "paid", estimate: { costUsd: 0.96 } }, async () => 1);
    expect(kill).toHaveBeenCalledTimes(1);
    const error = await refusalOf(
      sre.guard({ kind: "tool", agentId: "a", name: "free", input: 1 }, async () => 1),
    );
    expect(error).toBeInstanceOf(AgentKilledError);
    sre.revive("a");
    await expect(
      sre.guard({ kind: "tool", agentId: "a", name: "free", input: 2 }, async () => 2),
    ).resolves.toBe(2);
  });

  it("throttle slows the agent down in delay mode instead of refusing", async () => {
    const { sre, clock } = engine({
      budget: {
        perAgentDailyLimitUsd: 1,
        throttleThreshold: 0.5,
        throttleTasksPerMinute: 2,
        killSwitchThreshold: 0.99,
      },
      throttle: { mode: "delay", maxDelayMs: "5m" },
    });
    await sre.guard({ kind: "tool", agentId: "a", name: "paid", estimate: { costUsd: 0.6 } }, async () => 1);
    expect(sre.budget.isThrottled("a")).toBe(true);

    const finished: number[] = [];
    const pending = [0, 1, 2, 3].map((i) =>
      sre.guard({ kind: "tool", agentId: "a", name: "free", input: { i } }, async () => {
        finished.push(clock.now() - START);
        return i;
      }),
    );
    await clock.advanceAsync(0);
    const admittedAtOnce = finished.length;
    expect(admittedAtOnce).toBeLessThan(4);
    await clock.advanceAsync(120_000);
    await Promise.all(pending);
    expect(finished).toHaveLength(4);
    // The later calls ran only after the clock moved: they were slowed, not refused.
    expect(Math.max(...finished)).toBeGreaterThan(0);
    expect(sre.status().agents.a?.refused).toBe(0);
  });

  it("throttle refuses with retryAfterMs in reject mode", async () => {
    const { sre } = engine({
      budget: {
        perAgentDailyLimitUsd: 1,
        throttleThreshold: 0.5,
        throttleTasksPerMinute: 1,
        killSwitchThreshold: 0.99,
      },
      throttle: { mode: "reject" },
    });
    await sre.guard({ kind: "tool", agentId: "a", name: "paid", estimate: { costUsd: 0.6 } }, async () => 1);
    const outcomes = await Promise.allSettled(
      [1, 2, 3].map((i) =>
        sre.guard({ kind: "tool", agentId: "a", name: "free", input: { i } }, async () => i),
      ),
    );
    const refused = outcomes
      .filter((o) => o.status === "rejected")
      .map((o) => (o as PromiseRejectedResult).reason);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(refused[0]).toBeInstanceOf(AgentThrottledError);
    expect((refused[0] as AgentThrottledError).retryAfterMs).toBeGreaterThan(0);
  });
});

describe("AgentSRE.guard: unknown models", () => {
  it("warns once per model by default and still counts the tokens", async () => {
    const { sre } = engine();
    const unknown = vi.fn();
    sre.on("price.unknown", unknown);
    const call = modelCall("a", { name: "my-private-model-x1" });
    await sre.guard(call, async () => reply(100, 50));
    await sre.guard(call, async () => reply(100, 50));
    expect(unknown).toHaveBeenCalledTimes(1);
    expect(sre.status().agents.a?.unpricedTokens).toBe(300);
  });

  it("refuses with MODEL_NOT_PRICED under the block policy", async () => {
    const { sre } = engine({ unknownModel: "block" });
    const error = await refusalOf(
      sre.guard(modelCall("a", { name: "my-private-model-x1" }), async () => reply()),
    );
    expect(error).toBeInstanceOf(ModelNotPricedError);
  });
});

describe("AgentSRE.guard: breakers", () => {
  it("opens a tool's breaker after its failures, refuses with a truthful retryAfterMs, and recovers via half-open", async () => {
    const { sre, clock } = engine({
      breakers: { defaults: { failureThreshold: 3, recoveryTimeoutMs: 30_000 } },
    });
    const transitions: string[] = [];
    sre.on("breaker.open", (e) => transitions.push(`open:${e.breakerId}`));
    sre.on("breaker.half_open", (e) => transitions.push(`half_open:${e.breakerId}`));
    sre.on("breaker.close", (e) => transitions.push(`close:${e.breakerId}`));
    const failing = async () => {
      throw new Error("upstream 503");
    };
    for (let i = 0; i < 3; i++) {
      await expect(
        sre.guard({ kind: "tool", agentId: "a", name: "search", input: i }, failing),
      ).rejects.toThrow("503");
    }
    const run = vi.fn(async () => "fine");
    const error = await refusalOf(sre.guard({ kind: "tool", agentId: "a", name: "search", input: 9 }, run));
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).breakerId).toBe("tool:search");
    expect((error as CircuitOpenError).retryAfterMs).toBe(30_000);
    expect(run).not.toHaveBeenCalled();
    // Other tools and the agent itself are unaffected.
    await expect(sre.guard({ kind: "tool", agentId: "a", name: "other", input: 1 }, run)).resolves.toBe(
      "fine",
    );

    clock.advance(30_000);
    await expect(sre.guard({ kind: "tool", agentId: "a", name: "search", input: 10 }, run)).resolves.toBe(
      "fine",
    );
    expect(transitions).toEqual(["open:tool:search", "half_open:tool:search", "close:tool:search"]);
    expect(sre.status().openCircuits).toEqual([]);
  });

  it("does not count a caller's abort as a failure of the target", async () => {
    const { sre } = engine({ breakers: { defaults: { failureThreshold: 1 } } });
    const controller = new AbortController();
    controller.abort(new Error("user cancelled"));
    await expect(
      sre.guard(
        { kind: "tool", agentId: "a", name: "search", input: 1 },
        async (signal) => {
          signal?.throwIfAborted();
          return 1;
        },
        { signal: controller.signal },
      ),
    ).rejects.toThrow("user cancelled");
    expect(sre.breakers.get("tool:search").state).toBe("CLOSED");
  });

  it("stops an agent whose own breaker was forced open", async () => {
    const { sre } = engine();
    sre.agentBreaker("a").forceOpen("incident 42");
    const error = await refusalOf(sre.guard(modelCall("a"), async () => reply()));
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).breakerId).toBe("agent:a");
    await expect(sre.guard(modelCall("b"), async () => reply())).resolves.toBeDefined();
  });

  it("emits a cascade when several breakers are open", async () => {
    const { sre } = engine({ breakers: { defaults: { failureThreshold: 1 }, cascadeThreshold: 3 } });
    const cascade = vi.fn();
    sre.on("breaker.cascade", cascade);
    for (const tool of ["a", "b", "c"]) {
      await sre
        .guard({ kind: "tool", agentId: "x", name: tool, input: 1 }, async () => {
          throw new Error("down");
        })
        .catch(() => undefined);
    }
    expect(cascade).toHaveBeenCalledTimes(1);
    expect(cascade.mock.calls[0]?.[0].openBreakers).toHaveLength(3);
  });
});

describe("AgentSRE.guard: timeouts", () => {
  it("fails a hung tool with TIMEOUT on the clock, aborts its signal and counts a failure", async () => {
    const { sre, clock } = engine({
      timeouts: { toolMs: "5s" },
      breakers: { defaults: { failureThreshold: 1 } },
    });
    let seenSignal: AbortSignal | undefined;
    const pending = sre.guard({ kind: "tool", agentId: "a", name: "slow", input: 1 }, (signal) => {
      seenSignal = signal;
      return new Promise<never>(() => {});
    });
    const outcome = refusalOf(pending);
    await clock.advanceAsync(4_999);
    expect(seenSignal?.aborted).toBe(false);
    // Never early, and at most 1 % of the timeout late (calls share deadline slots).
    await clock.advanceAsync(51);
    const error = await outcome;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(seenSignal?.aborted).toBe(true);
    expect(sre.breakers.get("tool:slow").state).toBe("OPEN");
  });

  it("adds no timer per call: fast calls leave nothing scheduled beyond one deadline timer", async () => {
    const { sre, clock } = engine({ timeouts: { toolMs: "5s" } });
    for (let i = 0; i < 100; i++)
      await sre.guard({ kind: "tool", agentId: "a", name: "t", input: i }, async () => i);
    expect(clock.pendingTimers).toBeLessThanOrEqual(1);
  });
});

describe("AgentSRE.guard: tools and rogue agents", () => {
  it("refuses a denied tool without running it, and a tool outside the allow-list", async () => {
    const { sre } = engine({
      tools: { deny: ["shell_*"] },
      agents: { support: { allowedTools: ["lookup_order", "shell_exec"] } },
    });
    const run = vi.fn(async () => "ran");
    const denied = await refusalOf(sre.guard({ kind: "tool", agentId: "support", name: "shell_exec" }, run));
    expect(denied).toBeInstanceOf(ToolNotAllowedError);
    expect((denied as ToolNotAllowedError).reason).toBe("denied");
    const outside = await refusalOf(sre.guard({ kind: "tool", agentId: "support", name: "send_email" }, run));
    expect((outside as ToolNotAllowedError).reason).toBe("not-in-allow-list");
    await expect(sre.guard({ kind: "tool", agentId: "support", name: "lookup_order" }, run)).resolves.toBe(
      "ran",
    );
    expect(run).toHaveBeenCalledTimes(1);
  });

  it("looks an agent's policy up by its own id only: ids named like Object.prototype members have none", async () => {
    // A policy keyed "__proto__" (as JSON.parse makes it, an own key) applies to that agent alone.
    const agents = JSON.parse('{"__proto__": {"deniedTools": ["shell_exec"]}}') as AgentSREOptions["agents"];
    const { sre } = engine({ tools: { allow: ["search", "shell_exec"] }, agents });
    const run = vi.fn(async () => "ran");
    const denied = await refusalOf(
      sre.guard({ kind: "tool", agentId: "__proto__", name: "shell_exec" }, run),
    );
    expect(denied).toBeInstanceOf(ToolNotAllowedError);
    expect((denied as ToolNotAllowedError).code).toBe("TOOL_NOT_ALLOWED");
    for (const agentId of ["constructor", "toString", "hasOwnProperty"]) {
      // The fleet's lists only: no policy read from Object.prototype.
      await expect(sre.guard({ kind: "tool", agentId, name: "shell_exec" }, run)).resolves.toBe("ran");
      const outside = await refusalOf(sre.guard({ kind: "tool", agentId, name: "send_email" }, run));
      expect((outside as ToolNotAllowedError).reason).toBe("not-in-allow-list");
    }
    expect(run).toHaveBeenCalledTimes(3);
  });

  it("stops a tool-call loop at the third identical call", async () => {
    const { sre } = engine();
    const run = vi.fn(async () => ({ status: "shipped" }));
    const call = { kind: "tool" as const, agentId: "a", name: "lookup_order", input: { id: 1234 } };
    await sre.guard(call, run);
    await sre.guard(call, run);
    const error = await refusalOf(sre.guard(call, run));
    expect(error).toBeInstanceOf(LoopDetectedError);
    expect(run).toHaveBeenCalledTimes(2);
    // Different arguments are not a loop.
    await expect(sre.guard({ ...call, input: { id: 99 } }, run)).resolves.toEqual({ status: "shipped" });
  });

  it("records a tool call with the detector at its start, and still times it for a slow-call breaker", async () => {
    const { clock, sre } = engine({
      breakers: {
        overrides: {
          "tool:crawl": {
            slowCallMs: 1_000,
            slowCallRateThreshold: 1,
            window: { type: "count", size: 1, minimumCalls: 1, failureRateThreshold: 1 },
          },
        },
      },
    });
    const slowTool = async () => {
      clock.advance(5_000);
      return "done";
    };
    await sre.guard({ kind: "tool", agentId: "a", name: "crawl", input: { url: "x" } }, slowTool);
    const detector = sre.detector as NonNullable<typeof sre.detector>;
    // Recorded when the call was made, as the loop check before it sees the same call.
    expect(detector.snapshot().agents.a?.lastActionAt).toBe(START);
    // The end time is read when a breaker judges durations: the 5 s call counted as slow and tripped it.
    expect(sre.breakers.get("tool:crawl").state).toBe("OPEN");
    // Without a slow-call rule nothing reads the end time; the detector's record is the same.
    await sre.guard({ kind: "tool", agentId: "b", name: "lookup", input: { id: 1 } }, slowTool);
    expect(detector.snapshot().agents.b?.lastActionAt).toBe(START + 5_000);
    expect(sre.breakers.get("tool:lookup").state).toBe("CLOSED");
  });

  it("quarantines an agent at the configured risk level until release()", async () => {
    const { sre } = engine({ rogue: { quarantineAt: "HIGH" }, tools: { deny: ["shell_exec"] } });
    const quarantined = vi.fn();
    sre.on("agent.quarantine", quarantined);
    await refusalOf(
      sre.guard({ kind: "tool", agentId: "a", name: "shell_exec", input: "rm -rf /" }, async () => 1),
    );
    expect(sre.isQuarantined("a")).toBe(true);
    expect(quarantined).toHaveBeenCalledWith(expect.objectContaining({ agentId: "a", riskLevel: "HIGH" }));
    const error = await refusalOf(sre.guard(modelCall("a"), async () => reply()));
    expect(error).toBeInstanceOf(AgentQuarantinedError);
    sre.release("a");
    await expect(sre.guard(modelCall("a"), async () => reply())).resolves.toBeDefined();
  });
});

describe("AgentSRE.begin: streams settle exactly once", () => {
  it("charges the usage seen so far when a stream is aborted, and holds nothing afterwards", async () => {
    const { sre } = engine({ budget: { perTaskLimitUsd: 100, perAgentDailyLimitUsd: 100 } });
    const inFlight = await sre.begin(
      modelCall("a", { estimate: { inputTokens: 1_000, outputTokens: 1_000_000 } }),
    );
    expect(sre.budget.agentStatus("a").reservedTodayUsd).toBeGreaterThan(9);
    inFlight.reportUsage({ inputTokens: 1_000_000, outputTokens: 200_000 });
    inFlight.fail(new DOMException("aborted", "AbortError"));
    inFlight.fail(new Error("second settle is ignored"));
    inFlight.succeed({ inputTokens: 1, outputTokens: 1 });
    const status = sre.budget.agentStatus("a");
    expect(status.reservedTodayUsd).toBe(0);
    expect(status.spentTodayUsd).toBeCloseTo(2.5 + 2, 6);
  });
});

describe("AgentSRE: SLO exhaustion actions act", () => {
  function failingTools(sre: AgentSRE, count: number) {
    return Promise.all(
      Array.from({ length: count }, (_, i) =>
        sre
          .guard({ kind: "tool", agentId: "a", name: `t${i % 7}`, input: i }, async () => {
            throw new Error("bad");
          })
          .catch(() => undefined),
      ),
    );
  }

  it("THROTTLE throttles the agent, CIRCUIT_BREAK opens its breaker, FREEZE_DEPLOYMENTS sets the flag", async () => {
    for (const action of ["THROTTLE", "CIRCUIT_BREAK", "FREEZE_DEPLOYMENTS"] as const) {
      const slo = new SLO({
        name: `tools-${action}`,
        agentId: "a",
        indicators: [new ToolCallSuccessRate()],
        errorBudget: { total: 0.1, windowMs: "1h", exhaustionAction: action },
      });
      const { sre, clock } = engine({
        slos: [slo],
        sloEvaluationIntervalMs: 0,
        breakers: { defaults: { failureThreshold: 1_000 } },
      });
      const exhausted = vi.fn();
      sre.on("slo.exhausted", exhausted);
      await failingTools(sre, 20);
      clock.advance(1);
      await sre.guard({ kind: "tool", agentId: "b", name: "x", input: 1 }, async () => 1);
      expect(exhausted).toHaveBeenCalledWith(expect.objectContaining({ action }));
      if (action === "THROTTLE") expect(sre.budget.isThrottled("a")).toBe(true);
      if (action === "CIRCUIT_BREAK") {
        const error = await refusalOf(sre.guard(modelCall("a"), async () => reply()));
        expect((error as CircuitOpenError).breakerId).toBe("agent:a");
      }
      if (action === "FREEZE_DEPLOYMENTS") expect(sre.deploymentsFrozen).toBe(true);
    }
  });
});

describe("AgentSRE: chaos faults are really injected", () => {
  it("injects retryable errors that count as failures", async () => {
    const { sre } = engine({ breakers: { defaults: { failureThreshold: 2 } } });
    sre.startExperiment(
      new ChaosExperiment({ name: "errors", faults: [errorInjection("tool:search", { rate: 1 })], seed: 1 }),
    );
    const run = vi.fn(async () => "real");
    const error = await refusalOf(sre.guard({ kind: "tool", agentId: "a", name: "search", input: 1 }, run));
    expect(error).toBeInstanceOf(ChaosInjectedError);
    expect(error.retryable).toBe(true);
    expect(run).not.toHaveBeenCalled();
    await refusalOf(sre.guard({ kind: "tool", agentId: "a", name: "search", input: 2 }, run));
    expect(sre.breakers.get("tool:search").state).toBe("OPEN");
  });

  it("injects latency on the clock before the call runs", async () => {
    const { sre, clock } = engine();
    sre.startExperiment(
      new ChaosExperiment({
        name: "slow",
        faults: [latencyInjection("model:*", { delayMs: 2_000, rate: 1 })],
        seed: 1,
      }),
    );
    let ranAt = -1;
    const pending = sre.guard(modelCall("a"), async () => {
      ranAt = clock.now();
      return reply();
    });
    await clock.advanceAsync(1_999);
    expect(ranAt).toBe(-1);
    await clock.advanceAsync(1);
    await pending;
    expect(ranAt).toBe(START + 2_000);
  });

  it("injects timeouts that never run the call", async () => {
    const { sre, clock } = engine();
    sre.startExperiment(
      new ChaosExperiment({
        name: "hang",
        faults: [timeoutInjection("tool:*", { delayMs: 10_000, rate: 1 })],
        seed: 1,
      }),
    );
    const run = vi.fn(async () => 1);
    const outcome = refusalOf(sre.guard({ kind: "tool", agentId: "a", name: "x", input: 1 }, run));
    await clock.advanceAsync(10_000);
    expect(await outcome).toBeInstanceOf(TimeoutError);
    expect(run).not.toHaveBeenCalled();
  });

  it("puts a prompt-injection payload into the tool result the agent sees", async () => {
    const { sre } = engine();
    sre.startExperiment(
      new ChaosExperiment({
        name: "inject",
        faults: [promptInjection("tool:fetch_page", { technique: "ignore-previous", rate: 1 })],
        seed: 1,
      }),
    );
    const result = await sre.guard(
      { kind: "tool", agentId: "a", name: "fetch_page", input: 1 },
      async () => "page text",
    );
    expect(result).not.toBe("page text");
    expect(String(result)).toContain("page text");
    expect(String(result)).toContain("AGENT-SRE-CHAOS-CANARY");
  });

  it("tool abuse: the forbidden tool is blocked by the pipeline and reported as blocked", async () => {
    const { sre } = engine({ tools: { deny: ["shell_exec"] } });
    const experiment = new ChaosExperiment({
      name: "abuse",
      faults: [toolAbuse("model:*", { toolName: "shell_exec", rate: 1 })],
      seed: 1,
    });
    sre.startExperiment(experiment);
    await sre.guard(modelCall("a"), async () => reply());
    const report = experiment.report();
    expect(report.adversarial.some((entry) => entry.outcome === "blocked" || entry.blocked > 0)).toBe(true);
  });

  it("injects at rate × blastRadius, reproducibly for a seed", async () => {
    async function injectedCount(seed: number) {
      const { sre } = engine({ rogue: false });
      sre.startExperiment(
        new ChaosExperiment({
          name: "rate",
          faults: [errorInjection("tool:*", { rate: 0.5 })],
          blastRadius: 0.4,
          seed,
          durationMs: "1h",
        }),
      );
      let injected = 0;
      for (let i = 0; i < 4_000; i++) {
        await sre
          .guard({ kind: "tool", agentId: "a", name: `t${i % 50}`, input: i }, async () => 1)
          .catch((error: unknown) => {
            if (error instanceof ChaosInjectedError) injected++;
          });
      }
      return injected;
    }
    const first = await injectedCount(7);
    // 4000 × 0.2 = 800 expected; 4 σ of the binomial ≈ 101.
    expect(Math.abs(first - 800)).toBeLessThan(101);
    expect(await injectedCount(7)).toBe(first);
  });
});

describe("AgentSRE: configuration and status", () => {
  it("names the field and the value of a bad option", () => {
    expect(() => new AgentSRE({ unknownModel: "maybe" as never })).toThrow(ConfigError);
    expect(() => new AgentSRE({ unknownModel: "maybe" as never })).toThrow(/unknownModel.*maybe/);
    expect(() => new AgentSRE({ timeouts: { toolMs: "soon" } })).toThrow(/timeouts\.toolMs.*soon/);
    expect(() => new AgentSRE({ budget: { perTaskLimitUsd: -1 } })).toThrow(/perTaskLimitUsd.*-1/);
    expect(() => new AgentSRE({ breakers: { defaults: { failureThreshold: 0 } } })).toThrow(
      /failureThreshold/,
    );
  });

  it("status() is a JSON snapshot of every agent", async () => {
    const { sre } = engine({ budget: { perAgentDailyLimitUsd: 10 } });
    await sre.guard(modelCall("a"), async () => reply());
    await sre.guard({ kind: "tool", agentId: "b", name: "t", input: 1 }, async () => 1);
    const status = JSON.parse(JSON.stringify(sre.status()));
    expect(Object.keys(status.agents).sort()).toEqual(["a", "b"]);
    expect(status.agents.a.calls).toBe(1);
    expect(status.agents.a.breaker).toBe("CLOSED");
    expect(status.agents.a.budget.spentTodayUsd).toBeGreaterThan(0);
  });
});

describe("AgentSRE: admission and the in-flight output allowance", () => {
  it("admission() reports the refusal a new call would get, without reserving", async () => {
    const { sre } = engine({ budget: { perTaskLimitUsd: 1, perAgentDailyLimitUsd: 10 } });
    expect(sre.admission("a", { taskId: "t" })).toBeUndefined();
    await sre.guard(
      { kind: "tool", agentId: "a", taskId: "t", name: "paid", estimate: { costUsd: 1 } },
      async () => 1,
    );
    expect(sre.admission("a", { taskId: "t" })?.code).toBe("BUDGET_EXCEEDED");
    expect(sre.admission("a", { taskId: "other" })).toBeUndefined();
    sre.quarantine("a", "manual");
    expect(sre.admission("a")?.code).toBe("AGENT_QUARANTINED");
    sre.release("a");
    sre.agentBreaker("a").forceOpen("incident");
    expect(sre.admission("a")?.code).toBe("CIRCUIT_OPEN");
    expect(sre.budget.agentStatus("a").reservedTodayUsd).toBe(0);
  });

  it("outputTokenAllowance is what the task can still afford at the model's output price", async () => {
    const { sre } = engine({ budget: { perTaskLimitUsd: 1, perAgentDailyLimitUsd: 100 } });
    // Spend $0.50 of the task first.
    await sre.guard(
      { kind: "tool", agentId: "a", taskId: "t", name: "paid", estimate: { costUsd: 0.5 } },
      async () => 1,
    );
    const inFlight = await sre.begin(
      modelCall("a", { taskId: "t", estimate: { inputTokens: 0, outputTokens: 10_000 } }),
    );
    // $0.50 left at gpt-4o's $10 / M output tokens → 50,000 tokens.
    expect(inFlight.outputTokenAllowance).toBe(50_000);
    inFlight.succeed({ inputTokens: 0, outputTokens: 10_000 });
    const unlimited = await engine().sre.begin(modelCall("a"));
    expect(unlimited.outputTokenAllowance).toBe(Number.POSITIVE_INFINITY);
    unlimited.succeed();
  });

  it("outputTokenAllowance honours token caps", async () => {
    const { sre } = engine({ budget: { perTaskTokenLimit: 5_000 } });
    const inFlight = await sre.begin(
      modelCall("a", { taskId: "t", estimate: { inputTokens: 1_000, outputTokens: 500 } }),
    );
    expect(inFlight.outputTokenAllowance).toBe(4_000);
    inFlight.fail(new Error("stop"));
  });
});

describe("AgentSRE: adversarial outcomes", () => {
  async function deliverHijack(sre: AgentSRE) {
    const experiment = new ChaosExperiment({
      name: "hijack",
      faults: [promptInjection("tool:fetch_page", { technique: "tool-hijack", rate: 1 })],
      seed: 1,
    });
    sre.startExperiment(experiment);
    const page = await sre.guard(
      { kind: "tool", agentId: "a", name: "fetch_page", input: 1 },
      async () => "page",
    );
    // The "model" obeys the injected instruction and calls the tool it names, with the canary in its arguments.
    const command = String(page).match(/"command": "([^"]+)"/)?.[1];
    expect(command).toContain("AGENT-SRE-CHAOS-CANARY");
    return { experiment, command: command as string };
  }

  it("reports blocked when the obeyed injection is refused by the pipeline", async () => {
    const { sre } = engine({ tools: { deny: ["shell_exec"] } });
    const { experiment, command } = await deliverHijack(sre);
    await refusalOf(
      sre.guard({ kind: "tool", agentId: "a", name: "shell_exec", input: { command } }, async () => 0),
    );
    expect(experiment.report().adversarial).toEqual([expect.objectContaining({ blocked: 1, passed: 0 })]);
  });

  it("reports passed when the obeyed injection runs", async () => {
    const { sre } = engine();
    const { experiment, command } = await deliverHijack(sre);
    await sre.guard({ kind: "tool", agentId: "a", name: "shell_exec", input: { command } }, async () => 0);
    expect(experiment.report().adversarial).toEqual([expect.objectContaining({ passed: 1, blocked: 0 })]);
  });
});

describe("AgentSRE: shrinking reservations and cancellation", () => {
  it("reserves what still fits when the estimate allows fewer output tokens", async () => {
    const { sre } = engine({ budget: { perTaskLimitUsd: 0.1, perAgentDailyLimitUsd: 100 } });
    const call = modelCall("a", {
      taskId: "t",
      estimate: { inputTokens: 0, outputTokens: 100_000, minOutputTokens: 1_000 },
    });
    // $1.00 of output does not fit in $0.10: 9,999 tokens do (one token of slack for rounding).
    const inFlight = await sre.begin(call);
    expect(inFlight.outputTokenAllowance).toBeGreaterThanOrEqual(9_999);
    expect(inFlight.outputTokenAllowance).toBeLessThanOrEqual(10_000);
    inFlight.succeed({ inputTokens: 0, outputTokens: 9_000 });
    // Less than the minimum left: refused as usual.
    const error = await refusalOf(sre.begin(call));
    expect(error).toBeInstanceOf(BudgetExceededError);
  });

  it("cancel() charges the usage so far without counting a failure", async () => {
    const { sre } = engine({
      budget: { perTaskLimitUsd: 10 },
      breakers: { defaults: { failureThreshold: 1 } },
    });
    const inFlight = await sre.begin(modelCall("a", { estimate: { inputTokens: 100, outputTokens: 1_000 } }));
    inFlight.cancel(undefined, { inputTokens: 100, outputTokens: 50 });
    expect(sre.breakers.get("model:gpt-4o").state).toBe("CLOSED");
    expect(sre.budget.agentStatus("a").spentTodayUsd).toBeCloseTo((100 * 2.5 + 50 * 10) / 1_000_000, 9);
    expect(sre.budget.agentStatus("a").reservedTodayUsd).toBe(0);
  });

  it("begin() arms the deadline: a stream that stalls past its timeout fails and its signal aborts", async () => {
    const { sre, clock } = engine({ timeouts: { modelMs: "10s" }, budget: { perTaskLimitUsd: 10 } });
    const inFlight = await sre.begin(modelCall("a", { estimate: { inputTokens: 100, outputTokens: 100 } }));
    inFlight.reportUsage({ inputTokens: 100, outputTokens: 20 });
    await clock.advanceAsync(10_200);
    expect(inFlight.settled).toBe(true);
    expect(inFlight.signal?.aborted).toBe(true);
    expect(inFlight.signal?.reason).toBeInstanceOf(TimeoutError);
    expect(sre.budget.agentStatus("a").reservedTodayUsd).toBe(0);
    expect(sre.budget.agentStatus("a").spentTodayUsd).toBeCloseTo((100 * 2.5 + 20 * 10) / 1_000_000, 9);
  });
});

describe("AgentSRE.record: calls observed outside the pipeline", () => {
  it("prices and records spend, feeds breakers and the detector, refuses nothing", () => {
    const { sre } = engine({
      budget: { perAgentDailyLimitUsd: 100 },
      breakers: { defaults: { failureThreshold: 2 } },
    });
    sre.record(modelCall("a"), {
      ok: true,
      durationMs: 120,
      usage: { inputTokens: 1_000_000, outputTokens: 0 },
    });
    expect(sre.budget.agentStatus("a").spentTodayUsd).toBeCloseTo(2.5, 6);
    sre.record(
      { kind: "tool", agentId: "a", name: "search", input: 1 },
      { ok: false, durationMs: 5, error: new Error("x") },
    );
    sre.record(
      { kind: "tool", agentId: "a", name: "search", input: 2 },
      { ok: false, durationMs: 5, error: new Error("x") },
    );
    expect(sre.breakers.get("tool:search").state).toBe("OPEN");
    expect(sre.status().agents.a?.calls).toBe(3);
    expect(() => sre.record(modelCall("a"), { ok: true, durationMs: Number.NaN })).toThrow(/durationMs/);
  });
});

describe("AgentSRE: rate limits, extra breakers, tool listing", () => {
  it("refuses tool calls over a rate rule with RATE_LIMITED and a truthful retryAfterMs", async () => {
    const { sre, clock } = engine({
      rateLimits: [{ tools: "search", limit: 2, per: "1m", scope: "agent+tool" }],
    });
    const call = (i: number) =>
      sre.guard({ kind: "tool", agentId: "a", name: "search", input: i }, async () => i);
    await call(1);
    await call(2);
    const error = await refusalOf(call(3));
    expect(error.code).toBe("RATE_LIMITED");
    expect((error as RateLimitedError).retryAfterMs).toBeGreaterThan(0);
    expect((error as RateLimitedError).retryAfterMs).toBeLessThanOrEqual(30_000);
    // Another agent has its own bucket; other tools are not limited.
    await expect(
      sre.guard({ kind: "tool", agentId: "b", name: "search", input: 1 }, async () => 1),
    ).resolves.toBe(1);
    await expect(
      sre.guard({ kind: "tool", agentId: "a", name: "fetch", input: 1 }, async () => 1),
    ).resolves.toBe(1);
    clock.advance(30_000);
    await expect(call(4)).resolves.toBe(4);
  });

  it("holds extra breakers for a call and records its outcome on them", async () => {
    const { sre } = engine({ breakers: { defaults: { failureThreshold: 2 } } });
    const viaUpstream = (tool: string, i: number) =>
      sre.guard(
        { kind: "tool", agentId: "a", name: tool, input: i, breakers: ["upstream:files"] },
        async () => {
          throw new Error("upstream crashed");
        },
      );
    await viaUpstream("read_file", 1).catch(() => undefined);
    await viaUpstream("list_dir", 2).catch(() => undefined);
    // Each tool failed once; the shared upstream failed twice and is open for every tool behind it.
    expect(sre.breakers.get("tool:read_file").state).toBe("CLOSED");
    const error = await refusalOf(viaUpstream("stat", 3));
    expect((error as CircuitOpenError).breakerId).toBe("upstream:files");
  });

  it("breakerFailure decides what a failed call means to the extra breakers", async () => {
    const { sre } = engine({ breakers: { defaults: { failureThreshold: 2 } } });
    class ToolErrorAnswer extends Error {}
    const call = (i: number) =>
      sre.guard(
        {
          kind: "tool",
          agentId: "a",
          name: "read_file",
          input: i,
          breakers: ["upstream:files"],
          breakerFailure: (error) => !(error instanceof ToolErrorAnswer),
        },
        async () => {
          throw new ToolErrorAnswer("file not found");
        },
      );
    await call(1).catch(() => undefined);
    await call(2).catch(() => undefined);
    // The tool failed twice; the upstream answered both times and stays closed.
    expect(sre.breakers.get("tool:read_file").state).toBe("OPEN");
    expect(sre.breakers.get("upstream:files").state).toBe("CLOSED");
  });

  it("enforces allow/deny lists even with rogue detection off, and answers toolAllowed()", async () => {
    const { sre } = engine({
      rogue: false,
      tools: { deny: ["shell_*"] },
      agents: { a: { allowedTools: ["search"] } },
    });
    expect(sre.toolAllowed("a", "search")).toBe(true);
    expect(sre.toolAllowed("a", "fetch")).toBe(false);
    expect(sre.toolAllowed("b", "shell_exec")).toBe(false);
    expect(sre.toolAllowed("b", "fetch")).toBe(true);
    await expect(
      sre.guard({ kind: "tool", agentId: "b", name: "shell_exec" }, async () => 1),
    ).rejects.toBeInstanceOf(ToolNotAllowedError);
  });
});

describe("AgentSRE: allowance for a call without a task id", () => {
  it("is capped by the per-task limit that applies to the call itself", async () => {
    const { sre } = engine({ budget: { perTaskLimitUsd: 1, perAgentDailyLimitUsd: 100 } });
    const inFlight = await sre.begin(modelCall("a", { estimate: { inputTokens: 0, outputTokens: 50_000 } }));
    // $1 at $10 / M output tokens: 100,000 tokens, not $1 + the call's own $0.50 reservation.
    expect(inFlight.outputTokenAllowance).toBe(100_000);
    inFlight.succeed({ inputTokens: 0, outputTokens: 100_000 });
    expect(sre.budget.agentStatus("a").spentTodayUsd).toBeLessThanOrEqual(1);
  });
});

describe("AgentSRE: a neutral breakerFailure verdict", () => {
  it("returns the extra breakers' permits when breakerFailure says nothing", async () => {
    const { sre } = engine({ breakers: { defaults: { failureThreshold: 1 } } });
    sre.startExperiment(
      new ChaosExperiment({ name: "one-tool", faults: [errorInjection("tool:echo", { rate: 1 })], seed: 1 }),
    );
    await refusalOf(
      sre.guard(
        {
          kind: "tool",
          agentId: "a",
          name: "echo",
          input: 1,
          breakers: ["upstream:up"],
          breakerFailure: (error) => (error instanceof ChaosInjectedError ? undefined : true),
        },
        async () => 1,
      ),
    );
    expect(sre.breakers.get("tool:echo").state).toBe("OPEN");
    expect(sre.breakers.get("upstream:up").state).toBe("CLOSED");
    expect(sre.breakers.get("upstream:up").failureCount).toBe(0);
  });
});
