import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { EventBus, type RogueAssessmentEvent } from "../events.js";
import { RogueAgentDetector } from "./detector.js";
import type { RogueDetectorOptions } from "./options.js";

/** A small deterministic generator (tests must not depend on Math.random). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

function pair(options: RogueDetectorOptions): {
  detector: RogueAgentDetector;
  clock: ManualClock;
  events: RogueAssessmentEvent[];
} {
  const clock = new ManualClock();
  const bus = new EventBus();
  const events: RogueAssessmentEvent[] = [];
  bus.on("rogue.assessment", (payload) => events.push(payload));
  const detector = new RogueAgentDetector({ clock, events: bus, ...options });
  detector.registerCapabilityProfile("profiled", {
    allowedTools: ["search", "fetch"],
    deniedTools: ["fetch"],
  });
  return { detector, clock, events };
}

describe("recordToolCallOf (the engine's successful tool call)", () => {
  // The second: signals that score below MEDIUM alone (a level LOW with a violation or a loop in the window).
  it.each([
    { entropyWindowSize: 20, entropyMinActions: 8 },
    { entropyWindowSize: 20, entropyMinActions: 8, weights: { capability: 0.5, loop: 0.5, entropy: 0.4 } },
    // The entropy alone reaching every level (`#entropyOnlyLevel`), from too little entropy and from too much.
    { entropyWindowSize: 20, entropyMinActions: 4, entropyLowBits: 1.5, weights: { entropy: 3.5 } },
    {
      entropyWindowSize: 16,
      entropyMinActions: 4,
      entropyLowBits: 0.5,
      entropyHighBits: 1.2,
      weights: { entropy: 9 },
    },
    // A window of one label (`#oneLabelLevel`, made once) at each level: LOW, HIGH, and LOW for lack of a band.
    { entropyWindowSize: 20, entropyMinActions: 4, weights: { entropy: 0.6 } },
    { entropyWindowSize: 20, entropyMinActions: 4, entropyLowBits: 0.8, weights: { entropy: 2.5 } },
    { entropyWindowSize: 20, entropyMinActions: 4, entropyLowBits: 0, weights: { entropy: 5 } },
  ])("gives recordCallOf's levels, log and snapshot for the same calls (%o)", (options) => {
    const general = pair(options);
    const engine = pair(options);
    const next = random(18);
    const tools = ["search", "fetch", "send", "refused:LOOP_DETECTED", "refused:TOOL_NOT_ALLOWED"];
    const agents = ["a", "b", "profiled"];
    const inputs = [{ q: 1 }, { q: 2 }, { q: "x", list: ["y", 3] }];
    let atMs = general.clock.now();
    for (let i = 0; i < 6_000; i++) {
      // Quiet stretches, bursts and idle windows (frequency), one tool or many (entropy), repeats (loops).
      const step = next();
      atMs += step < 0.7 ? Math.floor(next() * 400) : step < 0.95 ? 0 : Math.floor(next() * 200_000);
      general.clock.set(atMs);
      engine.clock.set(atMs);
      const agentId = agents[Math.floor(next() * agents.length)] as string;
      const tool = tools[i % 500 < 250 ? 0 : Math.floor(next() * (next() < 0.05 ? 5 : 3))] as string;
      const input = next() < 0.5 ? inputs[Math.floor(next() * 3)] : { n: i };
      const taskId = next() < 0.8 ? "task" : undefined;
      // Mostly after a pre-flight check (the engine's order: the key comes from its cache), sometimes not.
      const checked = next() < 0.9;
      const failed = next() < 0.05;
      const levels = [general, engine].map(({ detector }, k) => {
        const signals = detector.signalsOf(agentId);
        if (checked) detector.checkLoopOf(signals, tool, input, taskId, atMs);
        return k === 0
          ? detector.recordCallOf(signals, agentId, tool, tool, input, taskId, atMs, failed)
          : detector.recordToolCallOf(signals, agentId, tool, input, taskId, atMs, failed);
      });
      expect(levels[1]).toBe(levels[0]);
      if (i % 1_500 === 1_499)
        expect(engine.detector.assess(agentId)).toEqual(general.detector.assess(agentId));
    }
    expect(engine.events).toEqual(general.events);
    expect(engine.events.length).toBeGreaterThan(20);
    expect(new Set(engine.events.map((event) => event.riskLevel)).size).toBeGreaterThan(2);
    expect(engine.detector.exportAssessmentLog()).toEqual(general.detector.exportAssessmentLog());
    expect(engine.detector.snapshot()).toEqual(general.detector.snapshot());
  });
});
