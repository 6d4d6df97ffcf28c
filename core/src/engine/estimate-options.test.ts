import { describe, expect, it } from "vitest";
import { defaultModelLimits } from "../cost/model-limits.js";
import { ConfigError } from "../errors.js";
import { resolveModelEstimateOptions } from "./estimate-options.js";

describe("resolveModelEstimateOptions", () => {
  it("fills the defaults", () => {
    expect(resolveModelEstimateOptions({ agentId: "a" })).toEqual({
      agentId: "a",
      charsPerToken: 4,
      defaultMaxOutputTokens: 4096,
      clamp: true,
      minOutputTokens: 64,
      modelLimits: defaultModelLimits(),
    });
  });

  it("names the field and the value of a bad option", () => {
    expect(() => resolveModelEstimateOptions({ agentId: "" })).toThrow(ConfigError);
    expect(() => resolveModelEstimateOptions({ agentId: "a", charsPerToken: 0 })).toThrow(/charsPerToken.*0/);
    expect(() => resolveModelEstimateOptions({ agentId: "a", defaultMaxOutputTokens: -1 })).toThrow(
      /defaultMaxOutputTokens.*-1/,
    );
    expect(() => resolveModelEstimateOptions({ agentId: "a", minOutputTokens: 0.5 })).toThrow(
      /minOutputTokens/,
    );
  });
});
