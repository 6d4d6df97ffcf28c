import { generateText, stepCountIs, streamText, tool, wrapLanguageModel } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { aiSdkSuite } from "./suite.js";

aiSdkSuite({
  label: "ai@6",
  major: 6,
  generateText,
  streamText,
  wrapLanguageModel,
  tool,
  stepCountIs,
  MockLanguageModel: MockLanguageModelV3,
});
