import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { TimeoutError } from "../errors.js";
import { AgentSRE } from "./agent-sre.js";
import type { GuardCall } from "./types.js";

const tool = (name = "search"): GuardCall<never> => ({ kind: "tool", agentId: "a", name, input: { q: 1 } });

describe("GuardedCall: the rare parts (CallExtras) are allocated only when a call needs them", () => {
  it("a call without a timeout, signal, chaos plan or extra breaker has none, and settles as before", async () => {
    const sre = new AgentSRE({ clock: new ManualClock() });
    const inFlight = await sre.begin(tool());
    expect(inFlight.extras).toBeUndefined();
    expect(inFlight.signal).toBeUndefined();
    expect(inFlight.inputPayload).toBeUndefined();
    expect(inFlight.resultPayload).toBeUndefined();
    expect(inFlight.timeoutMs).toBe(0);
    expect(inFlight.finished).toBe(false);
    inFlight.succeed();
    expect(inFlight.settled).toBe(true);
    expect(inFlight.finished).toBe(true);
    expect(inFlight.extras).toBeUndefined();
    expect(inFlight.cancelled).toBe(false);
  });

  it("a caller's signal, a timeout and extra breakers go into them; the deadline still fires", async () => {
    const clock = new ManualClock();
    const sre = new AgentSRE({ clock, timeouts: { toolMs: "5s" } });
    const controller = new AbortController();
    const call: GuardCall<never> = { ...tool(), breakers: ["upstream:x"] };
    const inFlight = await sre.begin(call, { signal: controller.signal });
    const extras = inFlight.extras;
    expect(extras).toBeDefined();
    expect(inFlight.callerSignal).toBe(controller.signal);
    expect(inFlight.timeoutMs).toBe(5_000);
    expect(inFlight.extraBreakers?.map((b) => b.id)).toEqual(["upstream:x"]);
    expect(inFlight.signal).toBeDefined();
    clock.advance(6_000);
    expect(inFlight.settled).toBe(true);
    expect(inFlight.finished).toBe(true);
    expect(inFlight.signal?.aborted).toBe(true);
    expect(inFlight.signal?.reason).toBeInstanceOf(TimeoutError);
  });

  it("a call settled before its deadline is unlinked from it (the deadline never fails it)", async () => {
    const clock = new ManualClock();
    const sre = new AgentSRE({ clock, timeouts: { toolMs: "5s" } });
    const failed: unknown[] = [];
    sre.on("call.completed", (observation) => {
      if (!observation.ok) failed.push(observation);
    });
    const inFlight = await sre.begin(tool());
    inFlight.succeed();
    clock.advance(10_000);
    expect(failed).toEqual([]);
    expect(inFlight.extras?.deadlineSlot).toBeUndefined();
  });

  it("cancel() and an adapter's failure class are kept there", async () => {
    const sre = new AgentSRE({ clock: new ManualClock() });
    const cancelled = await sre.begin(tool());
    cancelled.cancel();
    expect(cancelled.cancelled).toBe(true);
    expect(cancelled.settled).toBe(true);
    const failed = await sre.begin(tool("other"));
    failed.fail(new Error("bad input"), undefined, "caller");
    expect(failed.failureClass).toBe("caller");
    expect(failed.cancelled).toBe(false);
  });

  it("call.completed listeners are seen when added and when the last one goes", async () => {
    const sre = new AgentSRE({ clock: new ManualClock() });
    const seen: string[] = [];
    const off = sre.on("call.completed", (observation) => seen.push(observation.name));
    await sre.guard(tool("one"), async () => 1 as never);
    off();
    await sre.guard(tool("two"), async () => 2 as never);
    const offAgain = sre.on("call.completed", (observation) => seen.push(observation.name));
    await sre.guard(tool("three"), async () => 3 as never);
    offAgain();
    expect(seen).toEqual(["one", "three"]);
  });
});
