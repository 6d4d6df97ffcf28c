import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { ChaosExperiment } from "./experiment.js";
import { errorInjection } from "./faults.js";
import { CHAOS_TEMPLATES, ChaosLibrary, type ChaosTemplate } from "./library.js";

describe("ChaosLibrary", () => {
  it("ships the infra, adversarial and behavioural templates", () => {
    const library = new ChaosLibrary();
    expect(CHAOS_TEMPLATES.map((entry) => entry.id)).toEqual([
      "timeout-injection",
      "error-injection",
      "latency-injection",
      "rate-limit-storm",
      "adversarial-injection",
      "adversarial-escalation",
      "adversarial-exfiltration",
      "deadlock-injection",
      "contradictory-instruction",
      "delegation-reject",
    ]);
    expect(library.list({ category: "adversarial" }).map((entry) => entry.id)).toEqual([
      "adversarial-injection",
      "adversarial-escalation",
      "adversarial-exfiltration",
    ]);
    expect(library.list({ severity: "critical" }).map((entry) => entry.id)).toEqual([
      "adversarial-escalation",
    ]);
    expect(library.list({ tag: "owasp" })).toHaveLength(2);
    expect(library.categories()).toEqual(["adversarial", "agent", "llm", "tool"]);
  });

  it("keeps the Python parameters of the ported templates", () => {
    const library = new ChaosLibrary();
    expect(library.get("timeout-injection")).toMatchObject({
      faults: [{ type: "timeout", delayMs: 30_000, rate: 0.5 }],
      abortConditions: [{ metric: "success_rate", threshold: 0.5, comparator: "lte" }],
      durationMs: 1_800_000,
    });
    expect(library.get("error-injection")).toMatchObject({
      faults: [{ type: "error", rate: 0.8, status: 500 }],
      abortConditions: [{ metric: "success_rate", threshold: 0.3 }],
      durationMs: 900_000,
      blastRadius: 0.5,
    });
    expect(library.get("latency-injection")).toMatchObject({
      faults: [{ type: "latency", delayMs: 15_000, rate: 0.4 }],
      durationMs: 3_600_000,
    });
    expect(library.get("adversarial-exfiltration")).toMatchObject({
      faults: [{ type: "prompt-injection", technique: "data-exfiltration" }],
      abortConditions: [{ metric: "bypass_rate", threshold: 0.1, comparator: "gte" }],
      blastRadius: 0.2,
    });
  });

  it("instantiates every template into a valid experiment aimed at the given agents", () => {
    const library = new ChaosLibrary();
    for (const entry of CHAOS_TEMPLATES) {
      const experiment = library.instantiate(entry.id, "billing-*", { seed: 1 });
      expect(experiment).toBeInstanceOf(ChaosExperiment);
      expect(experiment.targetAgent).toBe("billing-*");
      expect(experiment.name).toBe(entry.id);
      expect(experiment.state).toBe("pending");
    }
    const custom = library.instantiate("error-injection", "*", {
      name: "err-eu",
      durationMs: "5m",
      blastRadius: { agents: 0.1 },
    });
    expect(custom.name).toBe("err-eu");
    expect(custom.durationMs).toBe(300_000);
    expect(custom.blastRadius).toEqual({ calls: 1, agents: 0.1 });
  });

  it("rejects unknown templates and invalid registrations", () => {
    const library = new ChaosLibrary();
    expect(() => library.instantiate("nope", "*")).toThrow(ConfigError);
    expect(library.get("nope")).toBeUndefined();
    const bad: ChaosTemplate = { ...CHAOS_TEMPLATES[0]!, id: "bad", durationMs: -1 };
    expect(() => library.register(bad)).toThrow(/durationMs/);
    library.register({ ...CHAOS_TEMPLATES[0]!, id: "mine", faults: [errorInjection("tool:x")] });
    expect(library.instantiate("mine", "*").faults[0]!.target).toBe("tool:x");
  });

  it("templates are immutable", () => {
    expect(Object.isFrozen(CHAOS_TEMPLATES)).toBe(true);
    expect(Object.isFrozen(CHAOS_TEMPLATES[0]!.faults)).toBe(true);
  });
});
