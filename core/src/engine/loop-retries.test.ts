import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { LoopDetectedError } from "../errors.js";
import { EventBus } from "../events.js";
import { RogueAgentDetector } from "../rogue/detector.js";
import { AgentSRE } from "./agent-sre.js";

// Loop detection counts completed repeats: a retry of a failed call with the same arguments (what retry
// middleware does) is recovery, not a loop.
describe("loop detection and retries after failure", () => {
  it("the detector does not count failed calls as repeats", () => {
    const detector = new RogueAgentDetector({ clock: new ManualClock(), events: new EventBus() });
    const call = { agentId: "a", action: "search", toolName: "search", input: { q: "x" } };
    for (let i = 0; i < 5; i++) detector.recordAction({ ...call, failed: true });
    expect(detector.checkLoop("a", "search", { q: "x" })).toBe(0);
    expect(detector.riskLevel("a")).toBe("LOW");
    detector.recordAction(call);
    detector.recordAction(call);
    expect(detector.checkLoop("a", "search", { q: "x" })).toBe(2);
  });

  it("the engine admits retries of a failing call and still stops a loop of completed calls", async () => {
    const sre = new AgentSRE({ clock: new ManualClock() });
    const call = { kind: "tool" as const, agentId: "a", name: "lookup", input: { id: 7 } };
    let attempts = 0;
    const flaky = async () => {
      attempts++;
      if (attempts <= 4) throw new Error("upstream 503");
      return "ok";
    };
    for (let i = 0; i < 4; i++) await expect(sre.guard(call, flaky)).rejects.toThrow("upstream 503");
    // Four failed attempts with the same arguments, then the fifth succeeds: no LOOP_DETECTED.
    await expect(sre.guard(call, flaky)).resolves.toBe("ok");
    await expect(sre.guard(call, flaky)).resolves.toBe("ok");
    // The third completed identical call is a loop.
    await expect(sre.guard(call, flaky)).rejects.toBeInstanceOf(LoopDetectedError);
  });
});
