import fc from "fast-check";
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

  it("below $1: at least two decimals, no trailing zero past them, within half a unit of the last digit", () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-12, max: 0.999, noNaN: true }), (usd) => {
        const text = formatUsd(usd);
        const match = /^\$0\.(\d{2,12})$/.exec(text);
        expect(match, text).not.toBeNull();
        const decimals = (match?.[1] ?? "").length;
        if (decimals > 2) expect(text.endsWith("0")).toBe(false);
        expect(Math.abs(Number(text.slice(1)) - usd)).toBeLessThanOrEqual(0.5 * 10 ** -decimals * (1 + 1e-9));
      }),
    );
  });
});
