import { describe, expect, it } from "vitest";
import { formatUsd } from "./money.js";

describe("formatUsd", () => {
  it("shows cents from $1, three significant digits below, never a non-zero amount as $0.00", () => {
    expect(formatUsd(12.5)).toBe("$12.50");
    expect(formatUsd(1)).toBe("$1.00");
    expect(formatUsd(0.5)).toBe("$0.50");
    expect(formatUsd(0.05)).toBe("$0.05");
    expect(formatUsd(0.004)).toBe("$0.004");
    expect(formatUsd(0.0048)).toBe("$0.0048");
    expect(formatUsd(0.000123)).toBe("$0.000123");
    expect(formatUsd(0.123456)).toBe("$0.123");
    expect(formatUsd(1.5e-9)).toBe("$0.0000000015");
    expect(formatUsd(0)).toBe("$0");
    expect(formatUsd(-0.004)).toBe("-$0.004");
    expect(formatUsd(Number.POSITIVE_INFINITY)).toBe("$Infinity");
  });
});
