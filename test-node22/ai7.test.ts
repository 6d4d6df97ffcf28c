import { APICallError, generateText, stepCountIs, streamText, tool, wrapLanguageModel } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { describe, expect, it } from "vitest";
import { aiSdkDeliverySuite } from "../test/ai-sdk/delivery-suite.js";
import { aiSdkFitSuite } from "../test/ai-sdk/fit-suite.js";
import { aiSdkReplaySuite } from "../test/ai-sdk/replay-suite.js";
import { aiSdkSuite } from "../test/ai-sdk/suite.js";

const sdk = {
  label: "ai@7",
  major: 7,
  generateText,
  streamText,
  wrapLanguageModel,
  tool,
  stepCountIs,
  MockLanguageModel: MockLanguageModelV4,
} as const;

aiSdkSuite(sdk);
aiSdkDeliverySuite(sdk);
// The adapter loads the workspace's own `ai` (ai@6): ai@7's class is matched by `APICallError.isInstance`.
aiSdkFitSuite({ ...sdk, APICallError, adapterSharesAi: false });
aiSdkReplaySuite(sdk);

describe("the Node 22 leg", () => {
  it("runs on Node 22+ with ai@7", async () => {
    expect(Number(process.versions.node.split(".")[0])).toBeGreaterThanOrEqual(22);
    const { createRequire } = await import("node:module");
    const version = createRequire(import.meta.url)("ai/package.json").version as string;
    expect(version.startsWith("7.")).toBe(true);
  });
});
