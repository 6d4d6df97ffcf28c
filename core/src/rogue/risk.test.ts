import { describe, expect, it } from "vitest";
import {
  compareRisk,
  DEFAULT_RISK_THRESHOLDS,
  maxRisk,
  RISK_LEVELS,
  riskAtLeast,
  riskLevelForScore,
  riskRank,
} from "./risk.js";

describe("risk levels", () => {
  it("orders LOW < MEDIUM < HIGH < CRITICAL", () => {
    expect(riskAtLeast("CRITICAL", "HIGH")).toBe(true);
    expect(riskAtLeast("HIGH", "HIGH")).toBe(true);
    expect(riskAtLeast("MEDIUM", "HIGH")).toBe(false);
    expect(riskAtLeast("LOW", "LOW")).toBe(true);
    expect([...RISK_LEVELS].reverse().sort(compareRisk)).toEqual(["LOW", "MEDIUM", "HIGH", "CRITICAL"]);
    expect(maxRisk("MEDIUM", "HIGH")).toBe("HIGH");
    expect(maxRisk("CRITICAL", "LOW")).toBe("CRITICAL");
    expect(RISK_LEVELS.map(riskRank)).toEqual([0, 1, 2, 3]);
    // A level built at run time (parsed config) is not the interned literal: it ranks the same.
    expect(riskRank(["HI", "GH"].join("") as "HIGH")).toBe(2);
  });

  it("maps composite scores with the documented inclusive cut points 1 / 2 / 3", () => {
    const t = DEFAULT_RISK_THRESHOLDS;
    expect(riskLevelForScore(0, t)).toBe("LOW");
    expect(riskLevelForScore(0.999, t)).toBe("LOW");
    expect(riskLevelForScore(1, t)).toBe("MEDIUM");
    expect(riskLevelForScore(1.999, t)).toBe("MEDIUM");
    expect(riskLevelForScore(2, t)).toBe("HIGH");
    expect(riskLevelForScore(2.999, t)).toBe("HIGH");
    expect(riskLevelForScore(3, t)).toBe("CRITICAL");
    expect(riskLevelForScore(6, t)).toBe("CRITICAL");
  });
});
