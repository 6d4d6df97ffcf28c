import { APICallError, generateText, stepCountIs, streamText, tool, wrapLanguageModel } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { aiSdkDeliverySuite } from "./delivery-suite.js";
import { aiSdkFitSuite } from "./fit-suite.js";
import { aiSdkReplaySuite } from "./replay-suite.js";
import { aiSdkSuite } from "./suite.js";

const sdk = {
  label: "ai@6",
  major: 6,
  generateText,
  streamText,
  wrapLanguageModel,
  tool,
  stepCountIs,
  MockLanguageModel: MockLanguageModelV3,
} as const;

aiSdkSuite(sdk);
aiSdkDeliverySuite(sdk);
aiSdkFitSuite({ ...sdk, APICallError, adapterSharesAi: true });
aiSdkReplaySuite(sdk);
