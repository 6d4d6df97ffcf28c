import { describe, expect, it } from "vitest";
import { ManualClock, sleep } from "../clock.js";
import { ChaosInjectedError, InvalidArgumentError, TimeoutError } from "../errors.js";
import { type AgentSREEventName, EventBus } from "../events.js";
import type { CallObservation } from "../types.js";
import { ChaosController } from "./controller.js";
import { ChaosExperiment } from "./experiment.js";
import type { ChaosCall, InjectionPlan } from "./experiment-types.js";
import { errorInjection, latencyInjection, promptInjection, timeoutInjection, toolAbuse } from "./faults.js";
import { injectPayload } from "./payloads.js";

const START = Date.UTC(2026, 0, 1);

function setup(seed?: number) {
  const clock = new ManualClock(START);
  const events = new EventBus();
  const seen: AgentSREEventName[] = [];
  for (const name of ["chaos.fault", "chaos.abort", "chaos.complete"] as const)
    events.on(name, () => seen.push(name));
  const chaos = new ChaosController({ clock, events, ...(seed === undefined ? {} : { seed }) });
  return { clock, events, seen, chaos };
}

const call = (agentId = "agent-1", kind: "model" | "tool" = "tool", name = "search"): ChaosCall => ({
  agentId,
  kind,
  name,
});

function observation(ok: boolean, agentId = "agent-1", durationMs = 50): CallObservation {
  return {
    at: START,
    agentId,
    taskId: undefined,
    kind: "tool",
    name: "search",
    ok,
    durationMs,
    costUsd: 0,
    inputTokens: 0,
    outputTokens: 0,
    errorCode: ok ? undefined : "CHAOS_INJECTED",
  };
}

describe("ChaosController", () => {
  it("costs nothing and plans nothing with no experiment", () => {
    const { chaos } = setup();
    expect(chaos.hasActive).toBe(false);
    expect(chaos.plan(call())).toBeUndefined();
    chaos.observe(observation(false));
    expect(chaos.active()).toEqual([]);
  });

  it("starts experiments (instances or configs) and refuses a second running one with the same name", () => {
    const { chaos, clock } = setup();
    const started = chaos.start({ name: "a", faults: [errorInjection("*")] });
    expect(started).toBeInstanceOf(ChaosExperiment);
    expect(started.startedAt).toBe(clock.now());
    expect(chaos.hasActive).toBe(true);
    expect(() => chaos.start(new ChaosExperiment({ name: "a", faults: [] }))).toThrow(InvalidArgumentError);
    chaos.start(new ChaosExperiment({ name: "b", faults: [] }));
    expect(chaos.active().map((experiment) => experiment.name)).toEqual(["a", "b"]);
  });

  it("stop() completes and returns the report; abort() aborts", () => {
    const { chaos, seen } = setup();
    chaos.start({ name: "a", faults: [errorInjection("*")] });
    chaos.start({ name: "b", faults: [errorInjection("*")] });
    chaos.plan(call());
    const report = chaos.stop("a");
    expect(report).toMatchObject({ name: "a", state: "completed", injected: { "error@*": 1 } });
    expect(chaos.abort("b", "enough")).toBe(true);
    expect(chaos.get("b")!.state).toBe("aborted");
    expect(chaos.hasActive).toBe(false);
    expect(chaos.plan(call())).toBeUndefined();
    expect(chaos.stop("nope")).toBeUndefined();
    expect(seen).toEqual(["chaos.fault", "chaos.complete", "chaos.abort"]);
    expect(chaos.reports().map((entry) => entry.state)).toEqual(["completed", "aborted"]);
  });

  it("a call is injected by at most one experiment: the first that plans for it", () => {
    const { chaos } = setup();
    chaos.start({ name: "tools", faults: [errorInjection("tool:*")] });
    chaos.start({ name: "everything", faults: [latencyInjection("*", { delayMs: 10 })] });
    expect(chaos.plan(call("a", "tool", "x"))!.experiment).toBe("tools");
    expect(chaos.plan(call("a", "model", "m"))!.experiment).toBe("everything");
  });

  it("expired experiments complete on the clock and leave the active list", () => {
    const { chaos, clock, seen } = setup();
    chaos.start({ name: "short", faults: [errorInjection("*")], durationMs: 5000 });
    clock.advance(5000);
    expect(seen).toEqual(["chaos.complete"]);
    expect(chaos.plan(call())).toBeUndefined();
    expect(chaos.hasActive).toBe(false);
    expect(chaos.get("short")!.state).toBe("completed");
  });

  it("observe() feeds in-scope experiments and an automatic abort removes the experiment", () => {
    const { chaos, seen } = setup();
    chaos.start({
      name: "billing",
      targetAgent: "billing-*",
      faults: [errorInjection("*")],
      abortConditions: [{ metric: "success_rate", threshold: 0.9, comparator: "lt" }],
    });
    for (let i = 0; i < 20; i++) chaos.observe(observation(false, "support"));
    expect(chaos.hasActive).toBe(true);
    for (let i = 0; i < 10; i++) chaos.observe(observation(false, "billing-1"));
    expect(chaos.hasActive).toBe(false);
    expect(seen).toEqual(["chaos.abort"]);
    expect(chaos.get("billing")!.report()).toMatchObject({ calls: 10, successRate: 0, state: "aborted" });
  });

  it("routes adversarial outcomes by experiment name, also after the run ended", () => {
    const { chaos } = setup();
    chaos.start({ name: "adv", faults: [toolAbuse("model:*", { id: "abuse" })] });
    chaos.plan(call("a", "model", "gpt-4o"));
    expect(chaos.reportAdversarialOutcome("adv", "abuse", "blocked")).toBe(true);
    chaos.stop("adv");
    expect(chaos.reportAdversarialOutcome("adv", "abuse", "passed")).toBe(true);
    expect(chaos.reportAdversarialOutcome("unknown", "abuse", "passed")).toBe(false);
    expect(chaos.get("adv")!.report().adversarial[0]).toMatchObject({
      blocked: 1,
      passed: 1,
      outcome: "passed",
    });
  });

  it("derives reproducible seeds from its own seed, unless an experiment has one", () => {
    const sequence = (controllerSeed: number, experimentSeed?: number) => {
      const { chaos } = setup(controllerSeed);
      chaos.start({
        name: "same-name",
        faults: [errorInjection("*", { rate: 0.5 })],
        ...(experimentSeed === undefined ? {} : { seed: experimentSeed }),
      });
      return Array.from({ length: 200 }, () => chaos.plan(call()) !== undefined);
    };
    expect(sequence(1)).toEqual(sequence(1));
    expect(sequence(1)).not.toEqual(sequence(2));
    expect(sequence(1, 9)).toEqual(sequence(2, 9));
  });

  it("keeps a bounded history of ended experiments", () => {
    const chaos = new ChaosController({ clock: new ManualClock(START), historyLimit: 3 });
    for (let i = 0; i < 10; i++) chaos.stop(chaos.start({ name: `e${i}`, faults: [] }).name);
    chaos.start({ name: "running", faults: [] });
    expect(chaos.reports().map((report) => report.name)).toEqual(["e7", "e8", "e9", "running"]);
    expect(chaos.get("e0")).toBeUndefined();
  });

  it("validates its options", () => {
    expect(() => new ChaosController({ historyLimit: 0 })).toThrow(/historyLimit/);
    expect(() => new ChaosController({ seed: 0.5 })).toThrow(/seed/);
  });
});

/**
 * A minimal executor following the engine contract, to show the faults really change what a caller sees.
 */
async function guarded(
  chaos: ChaosController,
  clock: ManualClock,
  target: ChaosCall,
  run: (input: unknown) => Promise<unknown>,
  input: unknown,
  signal?: AbortSignal,
): Promise<unknown> {
  const plan: InjectionPlan | undefined = chaos.hasActive ? chaos.plan(target) : undefined;
  const startedAt = clock.now();
  let ok = false;
  try {
    let effectiveInput = input;
    let resultPayload: string | undefined;
    for (const fault of plan?.faults ?? []) {
      if (fault.type === "latency") await sleep(clock, fault.delayMs, signal);
      else if (fault.type === "error") throw fault.error;
      else if (fault.type === "timeout") {
        await sleep(clock, fault.delayMs, signal);
        throw new TimeoutError(target.agentId, target.name, fault.delayMs);
      } else if (fault.type === "payload") {
        if (fault.where === "input") effectiveInput = injectPayload(effectiveInput, fault.payload);
        else resultPayload = fault.payload;
      }
    }
    const result = await run(effectiveInput);
    ok = true;
    return resultPayload === undefined ? result : injectPayload(result, resultPayload);
  } finally {
    chaos.observe({
      ...observation(ok, target.agentId, clock.now() - startedAt),
      kind: target.kind,
      name: target.name,
    });
  }
}

describe("engine contract, end to end", () => {
  const echo = async (input: unknown) => input;

  it("delays calls by the injected latency", async () => {
    const { chaos, clock } = setup();
    chaos.start({ name: "slow", faults: [latencyInjection("tool:*", { delayMs: 3000 })] });
    let done = false;
    const pending = guarded(chaos, clock, call(), echo, "x").then(() => {
      done = true;
    });
    await clock.advanceAsync(2999);
    expect(done).toBe(false);
    await clock.advanceAsync(1);
    await pending;
    expect(done).toBe(true);
    expect(chaos.get("slow")!.report().p99LatencyMs).toBe(3000);
  });

  it("fails calls with a retryable injected error, then auto-aborts and lets calls through", async () => {
    const { chaos, clock } = setup();
    chaos.start({
      name: "outage",
      faults: [errorInjection("tool:*", { error: "service_unavailable" })],
      abortConditions: [{ metric: "success_rate", threshold: 0.5, comparator: "lt", minSamples: 3 }],
    });
    const errors: unknown[] = [];
    for (let i = 0; i < 3; i++)
      await guarded(chaos, clock, call(), echo, "x").catch((error) => errors.push(error));
    expect(errors).toHaveLength(3);
    expect(errors[0]).toBeInstanceOf(ChaosInjectedError);
    expect(errors[0]).toMatchObject({ status: 503, retryable: true });
    expect(chaos.get("outage")!.state).toBe("aborted");
    await expect(guarded(chaos, clock, call(), echo, "x")).resolves.toBe("x");
  });

  it("times calls out without running them, and the caller's signal cuts the wait short", async () => {
    const { chaos, clock } = setup();
    chaos.start({ name: "hang", faults: [timeoutInjection("tool:*", { delayMs: 30_000 })] });
    let ran = false;
    const work = async () => {
      ran = true;
      return "never";
    };
    const timedOut = guarded(chaos, clock, call(), work, "x").catch((error) => error);
    await clock.advanceAsync(30_000);
    expect(await timedOut).toBeInstanceOf(TimeoutError);
    expect(ran).toBe(false);

    const controller = new AbortController();
    const cancelled = guarded(chaos, clock, call(), work, "x", controller.signal).catch((error) => error);
    await clock.advanceAsync(1000);
    controller.abort(new Error("caller gave up"));
    expect(((await cancelled) as Error).message).toBe("caller gave up");
    expect(clock.pendingTimers).toBe(1); // only the experiment's expiry timer is left
  });

  it("puts prompt-injection payloads into what the agent sees", async () => {
    const { chaos, clock } = setup();
    chaos.start({
      name: "pi",
      faults: [
        promptInjection("tool:*", { id: "res", technique: "ignore-previous" }),
        promptInjection("model:*", { id: "in", payload: "INPUT-ATTACK" }),
      ],
    });
    const toolResult = await guarded(chaos, clock, call(), echo, [{ type: "text", text: "42" }]);
    expect(toolResult).toEqual([
      { type: "text", text: "42" },
      { type: "text", text: expect.stringContaining("Ignore all previous instructions") },
    ]);
    const modelInput = await guarded(chaos, clock, call("a", "model", "gpt-4o"), echo, "hello");
    expect(modelInput).toBe("hello\n\nINPUT-ATTACK");
  });
});
