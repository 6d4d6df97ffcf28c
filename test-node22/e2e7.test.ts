import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool, wrapLanguageModel } from "ai";
import OpenAI from "openai";
import { openAISuite } from "../test/openai/suite.js";

openAISuite({
  label: "openai@7 + ai@7",
  OpenAI,
  createOpenAI,
  generateText,
  streamText,
  wrapLanguageModel,
  tool,
  stepCountIs,
});
