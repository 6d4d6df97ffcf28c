import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool, wrapLanguageModel } from "ai";
import OpenAI from "openai";
import { attributionSuite } from "./attribution-suite.js";
import { openAIDeliverySuite } from "./delivery-suite.js";
import { outputCapsSuite } from "./output-caps-suite.js";
import { type OpenAIStackUnderTest, openAISuite } from "./suite.js";

const stack: OpenAIStackUnderTest = {
  label: "openai@6 + ai@6",
  OpenAI,
  createOpenAI,
  generateText,
  streamText,
  wrapLanguageModel,
  tool,
  stepCountIs,
};

openAISuite(stack);
outputCapsSuite(stack);
attributionSuite(stack);
openAIDeliverySuite(stack);
