import { beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { InvalidArgumentError } from "../errors.js";
import { EventBus, type RogueAssessmentEvent } from "../events.js";
import { type RogueAssessment, verifyAssessmentLog } from "./assessment-log.js";
import { RogueAgentDetector } from "./detector.js";
import type { RogueDetectorOptions } from "./options.js";

const WINDOW_MS = 60_000;

let clock: ManualClock;
let bus: EventBus;
let events: RogueAssessmentEvent[];

beforeEach(() => {
  clock = new ManualClock();
  bus = new EventBus();
  events = [];
  bus.on("rogue.assessment", (payload) => events.push(payload));
});

function detector(options: RogueDetectorOptions = {}): RogueAgentDetector {
  return new RogueAgentDetector({ clock, events: bus, ...options });
}

/** `count` calls spread over the current window, cycling through four tools with unique arguments. */
let uniqueArg = 0;
function steadyActions(d: RogueAgentDetector, agentId: string, count: number): void {
  for (let i = 0; i < count; i++) {
    const tool = `tool-${uniqueArg % 4}`;
    d.recordAction({ agentId, action: tool, toolName: tool, input: { n: uniqueArg++ } });
  }
}

describe("capability signal", () => {
  it("checks tools against the profile: allow list, deny list and globs; no profile allows all", () => {
    const d = detector();
    expect(d.checkCapability("a", "anything")).toBe("allowed");
    d.registerCapabilityProfile("a", { allowedTools: ["search", "fs.*"], deniedTools: ["fs.delete"] });
    expect(d.checkCapability("a", "search")).toBe("allowed");
    expect(d.checkCapability("a", "fs.read")).toBe("allowed");
    expect(d.checkCapability("a", "fs.delete")).toBe("denied");
    expect(d.checkCapability("a", "shell")).toBe("not-in-allow-list");
    expect(d.checkCapability("b", "fs.delete")).toBe("allowed");
  });

  it("a single violation alone reaches HIGH and recommends quarantine by default", () => {
    const d = detector();
    d.registerCapabilityProfile("a", { deniedTools: ["shell*"] });
    expect(d.recordAction({ agentId: "a", action: "search", toolName: "search", input: { q: 1 } })).toBe(
      "LOW",
    );
    expect(d.recordAction({ agentId: "a", action: "shell.exec", toolName: "shell.exec", input: "rm" })).toBe(
      "HIGH",
    );
    const [entry] = d.assessments("a") as [RogueAssessment];
    expect(entry).toMatchObject({
      trigger: "level-change",
      riskLevel: "HIGH",
      previousRiskLevel: "LOW",
      compositeScore: 2,
      scores: { capability: 1, loop: 0, frequency: 0, entropy: 0 },
      quarantineRecommended: true,
      details: { capabilityViolations: 1, lastViolation: { toolName: "shell.exec", decision: "denied" } },
    });
    expect(entry.reasons).toEqual([
      'capability violation: 1 of the last 2 actions used tools outside the profile (latest "shell.exec", on the deny list)',
    ]);
  });

  it("counts engine refusals for TOOL_NOT_ALLOWED even from another policy", () => {
    const d = detector();
    expect(d.recordAction({ agentId: "a", action: "refused:TOOL_NOT_ALLOWED", toolName: "db.drop" })).toBe(
      "HIGH",
    );
  });

  it("lets a violation fall out of the sliding action window", () => {
    const d = detector({ entropyWindowSize: 20 });
    d.registerCapabilityProfile("a", { allowedTools: ["tool-*"] });
    expect(d.recordAction({ agentId: "a", action: "net", toolName: "net" })).toBe("HIGH");
    steadyActions(d, "a", 19);
    expect(d.riskLevel("a")).toBe("HIGH");
    steadyActions(d, "a", 1);
    expect(d.riskLevel("a")).toBe("LOW");
  });
});

describe("loop signal", () => {
  it("is caught at exactly K identical calls within the window", () => {
    const d = detector();
    expect(d.loopRepeats).toBe(3);
    const call = { agentId: "a", action: "search", toolName: "search", input: { q: "same", page: 1 } };
    expect(d.checkLoop("a", "search", { q: "same", page: 1 })).toBe(0);
    expect(d.recordAction(call)).toBe("LOW");
    expect(d.recordAction(call)).toBe("LOW");
    // Pre-flight: 2 identical calls already happened; the engine refuses when 2 + 1 >= loopRepeats.
    expect(d.checkLoop("a", "search", { page: 1, q: "same" })).toBe(2);
    expect(d.recordAction({ ...call, input: { page: 1, q: "same" } })).toBe("HIGH");
    const entry = d.assessments("a").at(-1) as RogueAssessment;
    expect(entry.scores.loop).toBe(1);
    expect(entry.details).toMatchObject({ loopToolName: "search", loopRepeats: 3 });
    expect(entry.reasons).toContain(
      'tool-call loop: "search" called 3 times with identical arguments within 60000 ms',
    );
  });

  it("honours a configured K", () => {
    const d = detector({ loopRepeats: 4 });
    const call = { agentId: "a", action: "fetch", toolName: "fetch", input: ["u"] };
    for (let i = 0; i < 3; i++) expect(d.recordAction(call)).toBe("LOW");
    expect(d.checkLoop("a", "fetch", ["u"])).toBe(3);
    expect(d.recordAction(call)).toBe("HIGH");
  });

  it("is not triggered when the arguments differ or the tool differs", () => {
    const d = detector();
    for (let i = 0; i < 5; i++) {
      expect(d.recordAction({ agentId: "a", action: "search", toolName: "search", input: { q: i } })).toBe(
        "LOW",
      );
    }
    d.recordAction({ agentId: "a", action: "fetch", toolName: "fetch", input: { q: 0 } });
    expect(d.checkLoop("a", "search", { q: 0 })).toBe(1);
    expect(d.riskLevel("a")).toBe("LOW");
  });

  it("is not triggered when the window passes between repeats", () => {
    const d = detector();
    const call = { agentId: "a", action: "search", toolName: "search", input: { q: "x" } };
    d.recordAction(call);
    clock.advance(30_000);
    d.recordAction(call);
    clock.advance(30_000); // the first call is now exactly loopWindowMs old
    expect(d.checkLoop("a", "search", { q: "x" })).toBe(1);
    expect(d.recordAction(call)).toBe("LOW");
  });

  it("reuses the pre-flight fingerprint only for the same tool and arguments object", () => {
    const d = detector();
    const args = { q: "x" };
    d.recordAction({ agentId: "a", action: "search", toolName: "search", input: { q: "x" } });
    expect(d.checkLoop("a", "search", args)).toBe(1);
    // Same object, different tool: fingerprinted afresh, so it does not count towards "search".
    d.recordAction({ agentId: "a", action: "fetch", toolName: "fetch", input: args });
    expect(d.checkLoop("a", "search", { q: "x" })).toBe(1);
    expect(d.checkLoop("a", "fetch", { q: "x" })).toBe(1);
    expect(d.checkLoop("a", "search", args)).toBe(1);
    d.recordAction({ agentId: "a", action: "search", toolName: "search", input: args });
    expect(d.checkLoop("a", "search", { q: "x" })).toBe(2);
    // Same tool and object, another task: the loop key is the task's, not the cached one.
    const taskArgs = { q: "y" };
    expect(d.checkLoop("a", "search", taskArgs, "t1")).toBe(0);
    d.recordAction({ agentId: "a", action: "search", toolName: "search", input: taskArgs, taskId: "t2" });
    expect(d.checkLoop("a", "search", { q: "y" }, "t1")).toBe(0);
    expect(d.checkLoop("a", "search", { q: "y" }, "t2")).toBe(1);
  });

  it("checkLoop changes nothing", () => {
    const d = detector();
    const call = { agentId: "a", action: "search", toolName: "search", input: { q: "x" } };
    d.recordAction(call);
    for (let i = 0; i < 10; i++) expect(d.checkLoop("a", "search", { q: "x" })).toBe(1);
    expect(d.checkLoop("unknown", "search", { q: "x" })).toBe(0);
    expect(d.snapshot().agents.unknown).toBeUndefined();
    expect(d.recordAction(call)).toBe("LOW");
  });

  it("counts an engine LOOP_DETECTED refusal as a loop and decays after the loop window", () => {
    const d = detector();
    expect(d.recordAction({ agentId: "a", action: "refused:LOOP_DETECTED", toolName: "search" })).toBe(
      "HIGH",
    );
    clock.advance(59_999);
    expect(d.riskLevel("a")).toBe("HIGH");
    clock.advance(1);
    expect(d.riskLevel("a")).toBe("LOW");
    expect(d.recordAction({ agentId: "a", action: "fetch", toolName: "fetch" })).toBe("LOW");
    expect(d.assessments("a").map((entry) => [entry.previousRiskLevel, entry.riskLevel])).toEqual([
      ["LOW", "HIGH"],
      ["HIGH", "LOW"],
    ]);
  });
});

describe("frequency signal", () => {
  it("flags a burst after steady aligned windows (MEDIUM alone)", () => {
    const d = detector();
    for (let w = 0; w < 10; w++) {
      steadyActions(d, "a", 5);
      clock.advance(WINDOW_MS);
    }
    steadyActions(d, "a", 5);
    expect(d.riskLevel("a")).toBe("LOW");
    steadyActions(d, "a", 15);
    expect(d.riskLevel("a")).toBe("MEDIUM");
    const entry = d.assess("a");
    expect(entry.scores.frequency).toBe(1);
    expect(entry.details.frequencyZScore).toBeCloseTo(15 / Math.sqrt(5), 10);
    expect(entry.details.completedWindows).toBe(10);
    expect(entry.reasons[0]).toMatch(
      /^tool-call burst: 20 actions in the current 60000 ms window, z = 6\.71/,
    );
  });

  it("counts idle windows as zero and scores nothing before frequencyMinWindows", () => {
    const d = detector();
    steadyActions(d, "a", 3);
    clock.advance(4 * WINDOW_MS); // windows 1..3 idle
    steadyActions(d, "a", 3);
    let entry = d.assess("a");
    expect(entry.details.completedWindows).toBe(4);
    expect(entry.details.frequencyZScore).toBeNull();
    clock.advance(WINDOW_MS);
    steadyActions(d, "a", 3);
    entry = d.assess("a");
    expect(entry.details.completedWindows).toBe(5);
    expect(entry.details.meanWindowActions).toBeCloseTo(6 / 5, 12);
  });
});

describe("entropy signal", () => {
  it("scores a repetitive agent (one tool, varying arguments) as MEDIUM once entropyMinActions is reached", () => {
    const d = detector();
    for (let i = 0; i < 9; i++)
      d.recordAction({ agentId: "a", action: "search", toolName: "search", input: i });
    expect(d.riskLevel("a")).toBe("LOW");
    expect(d.recordAction({ agentId: "a", action: "search", toolName: "search", input: 9 })).toBe("MEDIUM");
    const entry = d.assess("a");
    expect(entry.details.entropyBits).toBe(0);
    expect(entry.scores.entropy).toBe(1);
    expect(entry.reasons).toEqual([
      "repetitive actions: entropy 0.000 bits over the last 10 actions is below 0.3 bits",
    ]);
  });

  it("scores random tool chaos as MEDIUM and recovers once the window slides past it", () => {
    const d = detector({ entropyWindowSize: 16 });
    for (let i = 0; i < 16; i++) d.recordAction({ agentId: "a", action: `tool-${i}`, toolName: `tool-${i}` });
    expect(d.riskLevel("a")).toBe("MEDIUM");
    const entry = d.assess("a");
    expect(entry.details.entropyBits).toBeCloseTo(4, 12);
    expect(entry.scores.entropy).toBe(1);
    expect(entry.reasons[0]).toBe(
      "erratic actions: entropy 4.000 bits over the last 16 actions is above 3.5 bits",
    );
    // 16 calls over 4 tools: 2 bits, inside the normal band.
    steadyActions(d, "a", 16);
    expect(d.assess("a").details.entropyBits).toBeCloseTo(2, 12);
    expect(d.riskLevel("a")).toBe("LOW");
  });
});

describe("risk levels and weights", () => {
  it("frequency burst plus degenerate entropy reaches HIGH; violation plus loop reaches CRITICAL", () => {
    const d = detector({ entropyWindowSize: 20 });
    for (let w = 0; w < 10; w++) {
      steadyActions(d, "a", 5);
      clock.advance(WINDOW_MS);
    }
    for (let i = 0; i < 20; i++)
      d.recordAction({ agentId: "a", action: "search", toolName: "search", input: i });
    const burst = d.assess("a");
    expect(burst.scores).toMatchObject({ frequency: 1, entropy: 1, capability: 0, loop: 0 });
    expect(burst.riskLevel).toBe("HIGH");

    const e = detector();
    e.registerCapabilityProfile("b", { deniedTools: ["shell"] });
    const call = { agentId: "b", action: "shell", toolName: "shell", input: { cmd: "ls" } };
    expect(e.recordAction(call)).toBe("HIGH");
    expect(e.recordAction(call)).toBe("HIGH");
    expect(e.recordAction(call)).toBe("CRITICAL");
    expect(e.assess("b").compositeScore).toBe(4);
  });

  it("uses the thresholds as inclusive lower bounds of the weighted composite", () => {
    const justBelow = detector({ weights: { capability: 0.999 } });
    justBelow.registerCapabilityProfile("a", { allowedTools: [] });
    expect(justBelow.recordAction({ agentId: "a", action: "x", toolName: "x" })).toBe("LOW");

    const atMedium = detector({ weights: { capability: 1 } });
    atMedium.registerCapabilityProfile("a", { allowedTools: [] });
    expect(atMedium.recordAction({ agentId: "a", action: "x", toolName: "x" })).toBe("MEDIUM");

    const atCritical = detector({ weights: { capability: 3 } });
    atCritical.registerCapabilityProfile("a", { allowedTools: [] });
    expect(atCritical.recordAction({ agentId: "a", action: "x", toolName: "x" })).toBe("CRITICAL");

    const customThresholds = detector({ riskThresholds: { medium: 0.5, high: 3, critical: 5 } });
    customThresholds.registerCapabilityProfile("a", { allowedTools: [] });
    expect(customThresholds.recordAction({ agentId: "a", action: "x", toolName: "x" })).toBe("MEDIUM");
  });

  it("recommends quarantine from quarantineRiskLevel", () => {
    const d = detector({ quarantineRiskLevel: "CRITICAL" });
    d.registerCapabilityProfile("a", { deniedTools: ["shell"] });
    d.recordAction({ agentId: "a", action: "shell", toolName: "shell" });
    expect(d.assess("a")).toMatchObject({ riskLevel: "HIGH", quarantineRecommended: false });
  });
});

describe("assessment chain", () => {
  it("appends one entry per level change (not per action) and emits rogue.assessment for each", () => {
    const d = detector();
    d.registerCapabilityProfile("a", { deniedTools: ["shell"] });
    steadyActions(d, "a", 3);
    expect(d.assessments()).toHaveLength(0);
    d.recordAction({ agentId: "a", action: "shell", toolName: "shell" });
    d.recordAction({ agentId: "a", action: "tool-1", toolName: "tool-1" });
    expect(d.assessments()).toHaveLength(1);
    clock.advance(1_000);
    const explicit = d.assess("a");
    expect(explicit.trigger).toBe("assess");
    expect(d.assessments()).toHaveLength(2);

    expect(events).toHaveLength(2);
    expect(events[0]).toEqual({
      at: clock.now() - 1_000,
      agentId: "a",
      riskLevel: "HIGH",
      compositeScore: 2,
      quarantineRecommended: true,
      reasons: (d.assessments()[0] as RogueAssessment).reasons,
    });
    expect(d.verifyAssessmentChain()).toEqual({ ok: true });
  });

  it("chains entries across agents; tampering with any entry's riskLevel breaks verification at that index", () => {
    const d = detector();
    for (const agentId of ["a", "b", "c"]) {
      d.registerCapabilityProfile(agentId, { deniedTools: ["shell"] });
      d.recordAction({ agentId, action: "shell", toolName: "shell" });
      d.assess(agentId);
    }
    const exported = d.exportAssessmentLog();
    expect(exported.entries).toHaveLength(6);
    expect(exported.entries.map((entry) => entry.sequence)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(verifyAssessmentLog(exported.entries, exported.anchorHash)).toEqual({ ok: true });
    for (let index = 0; index < exported.entries.length; index++) {
      const copy = structuredClone(exported.entries);
      (copy[index] as RogueAssessment).riskLevel = "LOW";
      expect(verifyAssessmentLog(copy, exported.anchorHash)).toEqual({ ok: false, brokenAt: index });
      const reasons = structuredClone(exported.entries);
      (reasons[index] as RogueAssessment).reasons = [];
      expect(verifyAssessmentLog(reasons, exported.anchorHash)).toEqual({ ok: false, brokenAt: index });
    }
  });

  it("keeps a bounded log that stays verifiable", () => {
    const d = detector({ assessmentLogSize: 5 });
    for (let i = 0; i < 12; i++) d.assess(`agent-${i}`);
    const log = d.exportAssessmentLog();
    expect(log.entries).toHaveLength(5);
    expect((log.entries[0] as RogueAssessment).sequence).toBe(7);
    expect(d.verifyAssessmentChain()).toEqual({ ok: true });
    expect(d.snapshot().assessmentLog).toMatchObject({ length: 5, totalAppended: 12 });
  });

  it("assesses an agent that never acted as LOW without creating state", () => {
    const d = detector();
    expect(d.riskLevel("ghost")).toBe("LOW");
    expect(d.assess("ghost")).toMatchObject({ riskLevel: "LOW", compositeScore: 0, reasons: [] });
    expect(d.snapshot().agents.ghost).toBeUndefined();
  });
});

describe("lifecycle, validation and memory", () => {
  it("reset clears the agent's signals but keeps its profile and the log", () => {
    const d = detector();
    d.registerCapabilityProfile("a", { deniedTools: ["shell"] });
    expect(d.recordAction({ agentId: "a", action: "shell", toolName: "shell" })).toBe("HIGH");
    d.reset("a");
    expect(d.riskLevel("a")).toBe("LOW");
    expect(d.snapshot().agents.a).toBeUndefined();
    expect(d.checkCapability("a", "shell")).toBe("denied");
    expect(d.assessments("a")).toHaveLength(1);
    // After a reset the logged level is LOW again, so a fresh violation is logged as a new change.
    expect(d.recordAction({ agentId: "a", action: "shell", toolName: "shell" })).toBe("HIGH");
    expect(d.assessments("a")).toHaveLength(2);
  });

  it("a handle from signalsOf is retired by reset (its blocks given back), and a new one is handed out", () => {
    const d = detector();
    const handle = d.signalsOf("a");
    expect(handle.retired).toBe(false);
    d.recordCallOf(handle, "a", "search", "search", { q: 1 }, undefined, 1_000, false);
    expect(handle.retired).toBe(false);
    expect(d.signalsOf("a")).toBe(handle);
    d.reset("a");
    expect(handle.retired).toBe(true);
    const next = d.signalsOf("a");
    expect(next).not.toBe(handle);
    expect(next.retired).toBe(false);
    expect(d.snapshot().agents.a?.sizes).toEqual({
      frequencyWindows: 0,
      windowActions: 0,
      distinctActions: 0,
      loopFingerprints: 0,
    });
  });

  it("rejects invalid records and changes nothing", () => {
    const d = detector();
    steadyActions(d, "a", 3);
    const before = JSON.stringify(d.snapshot());
    const invalid = [
      { agentId: "", action: "x" },
      { agentId: "a", action: "" },
      { agentId: "a", action: "x", toolName: "" },
      { agentId: "a", action: "x", timestamp: Number.NaN },
      { agentId: "a", action: "x", timestamp: -1 },
    ];
    for (const record of invalid) {
      expect(() => d.recordAction(record)).toThrow(InvalidArgumentError);
    }
    expect(() => d.recordAction(null as never)).toThrow(InvalidArgumentError);
    expect(() => d.checkLoop("a", "", {})).toThrow(/Invalid toolName/);
    expect(JSON.stringify(d.snapshot())).toBe(before);
  });

  it("counts an out-of-order timestamp at the agent's latest time", () => {
    const d = detector();
    d.recordAction({ agentId: "a", action: "x", timestamp: clock.now() + 2 * WINDOW_MS });
    d.recordAction({ agentId: "a", action: "x", timestamp: clock.now() });
    const agent = d.snapshot().agents.a;
    expect(agent?.lastActionAt).toBe(clock.now() + 2 * WINDOW_MS);
    expect(d.assess("a").details.currentWindowActions).toBe(2);
  });

  it("produces a JSON snapshot", () => {
    const d = detector();
    d.registerCapabilityProfile("a", { allowedTools: ["tool-*"] });
    steadyActions(d, "a", 4);
    const snapshot = d.snapshot();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    expect(snapshot.profiles.a).toEqual({ allowedTools: ["tool-*"], deniedTools: [] });
    expect(snapshot.agents.a).toMatchObject({
      riskLevel: "LOW",
      sizes: { windowActions: 4, distinctActions: 4 },
    });
  });

  it("keeps per-agent structures at fixed sizes over a million actions", () => {
    const d = detector({ assessmentLogSize: 50 });
    d.registerCapabilityProfile("a", { deniedTools: ["tool-7"] });
    const start = clock.now();
    for (let i = 0; i < 1_000_000; i++) {
      const tool = `tool-${i % 1_000}`;
      d.recordAction({
        agentId: "a",
        action: tool,
        toolName: tool,
        input: { n: i % 5_000 },
        timestamp: start + i * 7,
      });
    }
    const snapshot = d.snapshot();
    expect(snapshot.agents.a?.sizes).toEqual({
      frequencyWindows: 60,
      windowActions: 100,
      distinctActions: 100,
      loopFingerprints: 256,
    });
    expect(snapshot.assessmentLog.length).toBeLessThanOrEqual(50);
    expect(d.verifyAssessmentChain()).toEqual({ ok: true });
  });
});
