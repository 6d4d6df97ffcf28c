import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool, wrapLanguageModel } from "ai";
import OpenAI from "openai";
import { openAISuite } from "./suite.js";

openAISuite({
  label: "openai@6 + ai@6",
  OpenAI,
  createOpenAI,
  generateText,
  streamText,
  wrapLanguageModel,
  tool,
  stepCountIs,
});
