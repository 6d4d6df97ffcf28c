import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool, wrapLanguageModel } from "ai";
import OpenAI from "openai";
import { attributionSuite } from "../test/openai/attribution-suite.js";
import { openAIDeliverySuite } from "../test/openai/delivery-suite.js";
import { outputCapsSuite } from "../test/openai/output-caps-suite.js";
import { type OpenAIStackUnderTest, openAISuite } from "../test/openai/suite.js";

const stack: OpenAIStackUnderTest = {
  label: "openai@7 + ai@7",
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
