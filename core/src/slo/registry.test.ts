import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { ConfigError } from "../errors.js";
import { EventBus } from "../events.js";
import type { CallObservation } from "../types.js";
import { ErrorRate, TaskSuccessRate } from "./indicators.js";
import { SLORegistry } from "./registry.js";
import { SLO, SLOStatus } from "./slo.js";

const START = Date.UTC(2026, 0, 1);

const call: CallObservation = {
  at: START,
  agentId: "a",
  taskId: undefined,
  kind: "model",
  name: "m",
  ok: true,
  durationMs: 10,
  costUsd: 0,
  inputTokens: 1,
  outputTokens: 1,
  errorCode: undefined,
};

function errorSlo(name: string, agentId?: string, action: "ALERT" | "THROTTLE" = "THROTTLE") {
  return new SLO({
    name,
    ...(agentId === undefined ? {} : { agentId }),
    indicators: [new ErrorRate()],
    errorBudget: { total: 0.01, exhaustionAction: action },
  });
}

function registry() {
  const clock = new ManualClock(START);
  const events = new EventBus();
  const statuses: string[] = [];
  events.on("slo.status", (e) => statuses.push(`${e.slo}:${e.to}`));
  const calls: string[] = [];
  const reg = new SLORegistry({
    clock,
    events,
    onExhausted: (slo, action) => calls.push(`exhausted ${slo.name} ${slo.agentId} ${action}`),
    onRecovered: (slo, action) => calls.push(`recovered ${slo.name} ${action}`),
  });
  return { clock, reg, statuses, calls };
}

describe("SLORegistry", () => {
  it("dispatches an observation to the SLOs of its agent and to the all-agents SLOs only", () => {
    const { reg } = registry();
    reg.add(errorSlo("a-slo", "a")).add(errorSlo("b-slo", "b")).add(errorSlo("fleet"));
    reg.observe(call);
    reg.observe({ ...call, agentId: "b" });
    reg.observe({ ...call, agentId: "c" });
    expect(reg.get("a-slo")?.eventCounts().total).toBe(1);
    expect(reg.get("b-slo")?.eventCounts().total).toBe(1);
    expect(reg.get("fleet")?.eventCounts().total).toBe(3);
    expect(reg.forAgent("a").map((s) => s.name)).toEqual(["a-slo", "fleet"]);
    expect(reg.size).toBe(3);
    expect([...reg].map((s) => s.name)).toEqual(["a-slo", "b-slo", "fleet"]);
  });

  it("gives SLOs its clock and events, and runs its exhaustion hooks with the SLO's action", () => {
    const { clock, reg, statuses, calls } = registry();
    const slo = errorSlo("a-slo", "a");
    reg.add(slo);
    expect(slo.clock).toBe(clock);
    reg.observe({ ...call, ok: false });
    reg.evaluateAll();
    expect(statuses).toEqual(["a-slo:EXHAUSTED"]);
    expect(calls).toEqual(["exhausted a-slo a THROTTLE"]);
    reg.evaluateAll();
    expect(calls).toHaveLength(1);
    clock.advance(31 * 86_400_000);
    reg.evaluateAll();
    expect(calls).toEqual(["exhausted a-slo a THROTTLE", "recovered a-slo THROTTLE"]);
  });

  it("runs both the SLO's own hook and the registry's", () => {
    const { reg, calls } = registry();
    const own: string[] = [];
    const slo = new SLO({
      name: "own",
      indicators: [new TaskSuccessRate()],
      errorBudget: { total: 0.01 },
      onExhausted: (s) => own.push(s.name),
    });
    reg.add(slo);
    slo.recordEvent(false);
    reg.evaluateAll();
    expect(own).toEqual(["own"]);
    expect(calls).toEqual(["exhausted own undefined ALERT"]);
  });

  it("evaluates at most once per evaluationIntervalMs in evaluateDue()", () => {
    const { clock, reg, statuses } = registry();
    reg.add(errorSlo("a-slo", "a"));
    expect(reg.evaluateDue(clock.now())).toBe(true);
    reg.observe(call);
    clock.advance(999);
    expect(reg.evaluateDue(clock.now())).toBe(false);
    expect(reg.get("a-slo")?.status).toBe(SLOStatus.UNKNOWN);
    clock.advance(1);
    expect(reg.evaluateDue()).toBe(true);
    expect(reg.get("a-slo")?.status).toBe(SLOStatus.HEALTHY);
    expect(statuses).toEqual(["a-slo:HEALTHY"]);
  });

  it("snapshot() reads every SLO without recording or reporting", () => {
    const { reg, statuses, calls } = registry();
    reg.add(errorSlo("a-slo", "a"));
    reg.observe({ ...call, ok: false });
    const snapshot = reg.snapshot();
    expect(snapshot.map((e) => [e.name, e.status])).toEqual([["a-slo", "EXHAUSTED"]]);
    expect(reg.get("a-slo")?.status).toBe(SLOStatus.UNKNOWN);
    expect(statuses).toEqual([]);
    expect(calls).toEqual([]);
  });

  it("keeps evaluating the other SLOs when a hook throws, then rethrows", () => {
    const reg = new SLORegistry({
      clock: new ManualClock(START),
      onExhausted: () => {
        throw new Error("engine hook failed");
      },
    });
    reg.add(errorSlo("first", "a")).add(errorSlo("second", "a"));
    reg.observe({ ...call, ok: false });
    expect(() => reg.evaluateAll()).toThrow("engine hook failed");
    expect(reg.get("first")?.status).toBe(SLOStatus.EXHAUSTED);
    expect(reg.get("second")?.status).toBe(SLOStatus.EXHAUSTED);
  });

  it("rejects duplicate names, SLOs held by another registry, and bad options", () => {
    const { reg } = registry();
    const slo = errorSlo("x", "a");
    reg.add(slo);
    expect(() => reg.add(errorSlo("x"))).toThrow(ConfigError);
    expect(() => new SLORegistry().add(slo)).toThrow(ConfigError);
    expect(reg.remove("x")).toBe(true);
    expect(reg.remove("x")).toBe(false);
    reg.observe(call);
    expect(slo.eventCounts().total).toBe(0);
    expect(() => new SLORegistry().add(slo)).not.toThrow();
    expect(() => new SLORegistry({ evaluationIntervalMs: -1 })).toThrow(ConfigError);
    expect(() => new SLORegistry({ onExhausted: 1 as never })).toThrow(ConfigError);
  });
});
