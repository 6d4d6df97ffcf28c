import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { DEFAULT_SIGNAL_WEIGHTS, type RogueDetectorOptions, resolveRogueDetectorOptions } from "./options.js";

function configError(options: RogueDetectorOptions): ConfigError {
  try {
    resolveRogueDetectorOptions(options);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("resolveRogueDetectorOptions", () => {
  it("applies documented defaults", () => {
    const options = resolveRogueDetectorOptions();
    expect(options).toMatchObject({
      frequencyWindowMs: 60_000,
      frequencyZThreshold: 2.5,
      frequencyMinWindows: 5,
      frequencyHistoryWindows: 60,
      entropyWindowSize: 100,
      entropyMinActions: 10,
      entropyLowBits: 0.3,
      entropyHighBits: 3.5,
      loopRepeats: 3,
      loopWindowMs: 60_000,
      loopTableSize: 256,
      quarantineRiskLevel: "HIGH",
      assessmentLogSize: 1000,
      riskThresholds: { medium: 1, high: 2, critical: 3 },
    });
    expect(options.weights).toEqual(DEFAULT_SIGNAL_WEIGHTS);
    expect(Object.isFrozen(options)).toBe(true);
  });

  it("accepts durations as strings and partial weights/thresholds", () => {
    const options = resolveRogueDetectorOptions({
      frequencyWindowMs: "5m",
      loopWindowMs: "30s",
      weights: { frequency: 0.5 },
      riskThresholds: { critical: 4 },
    });
    expect(options.frequencyWindowMs).toBe(300_000);
    expect(options.loopWindowMs).toBe(30_000);
    expect(options.weights).toEqual({ ...DEFAULT_SIGNAL_WEIGHTS, frequency: 0.5 });
    expect(options.riskThresholds).toEqual({ medium: 1, high: 2, critical: 4 });
  });

  it.each([
    [{ frequencyWindowMs: 0 }, "frequencyWindowMs", "Invalid frequencyWindowMs: 0 (expected a duration > 0)"],
    [{ frequencyWindowMs: "soon" }, "frequencyWindowMs", 'Invalid frequencyWindowMs: "soon"'],
    [{ frequencyZThreshold: -1 }, "frequencyZThreshold", "Invalid frequencyZThreshold: -1"],
    [
      { frequencyMinWindows: 1.5 },
      "frequencyMinWindows",
      "Invalid frequencyMinWindows: 1.5 (expected an integer > 0)",
    ],
    [
      { frequencyMinWindows: 10, frequencyHistoryWindows: 5 },
      "frequencyHistoryWindows",
      "Invalid frequencyHistoryWindows: 5 (expected an integer >= frequencyMinWindows (10))",
    ],
    [
      { entropyWindowSize: 1 },
      "entropyWindowSize",
      "Invalid entropyWindowSize: 1 (expected an integer >= 2)",
    ],
    [
      { entropyMinActions: 200 },
      "entropyMinActions",
      "Invalid entropyMinActions: 200 (expected an integer <= entropyWindowSize (100))",
    ],
    [{ entropyLowBits: Number.NaN }, "entropyLowBits", "Invalid entropyLowBits: NaN"],
    [
      { entropyLowBits: 2, entropyHighBits: 1 },
      "entropyHighBits",
      "Invalid entropyHighBits: 1 (expected a number > entropyLowBits (2))",
    ],
    [
      { entropyWindowSize: 8, entropyHighBits: 3.5 },
      "entropyHighBits",
      "Invalid entropyHighBits: 3.5 (expected a number < log2(entropyWindowSize) = 3.000",
    ],
    [{ loopRepeats: 1 }, "loopRepeats", "Invalid loopRepeats: 1 (expected an integer >= 2)"],
    [{ loopWindowMs: -5 }, "loopWindowMs", "Invalid loopWindowMs: -5"],
    [{ loopTableSize: 0 }, "loopTableSize", "Invalid loopTableSize: 0"],
    [{ loopTableSize: 32_769 }, "loopTableSize", "Invalid loopTableSize: 32769"],
    [{ weights: { loop: -1 } }, "weights.loop", "Invalid weights.loop: -1 (expected a finite number >= 0)"],
    [
      { weights: { speed: 1 } as never },
      "weights.speed",
      "Invalid weights.speed: 1 (expected no such signal)",
    ],
    [
      { riskThresholds: { medium: 2, high: 2 } },
      "riskThresholds.high",
      "Invalid riskThresholds.high: 2 (expected a number > riskThresholds.medium (2))",
    ],
    [
      { riskThresholds: { critical: 1.5 } },
      "riskThresholds.critical",
      "Invalid riskThresholds.critical: 1.5 (expected a number > riskThresholds.high (2))",
    ],
    [{ riskThresholds: { medium: 0 } }, "riskThresholds.medium", "Invalid riskThresholds.medium: 0"],
    [
      { quarantineRiskLevel: "SEVERE" as never },
      "quarantineRiskLevel",
      'Invalid quarantineRiskLevel: "SEVERE" (expected one of "LOW", "MEDIUM", "HIGH", "CRITICAL")',
    ],
    [{ assessmentLogSize: 0 }, "assessmentLogSize", "Invalid assessmentLogSize: 0"],
  ] as Array<[RogueDetectorOptions, string, string]>)("rejects %j naming %s", (options, field, message) => {
    const error = configError(options);
    expect(error.field).toBe(field);
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toContain(message);
  });
});
