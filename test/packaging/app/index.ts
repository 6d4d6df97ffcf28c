// An app outside the workspace, built against the packed tarballs and the real frameworks from the
// registry: one guarded call through each adapter, printed as JSON for the packaging test to check.
// It also compiles inside the workspace (test/tsconfig.json), against the workspace packages.

import { agentSREMiddleware as aiSdkMiddleware } from "@agent-sre/ai-sdk";
import { AgentSRE, isRefusal } from "@agent-sre/core";
import { agentSREMiddleware } from "@agent-sre/langchain";
import { guardOpenAI } from "@agent-sre/openai";
import { createOpenAI } from "@ai-sdk/openai";
import { ChatOpenAI } from "@langchain/openai";
import { generateText, wrapLanguageModel } from "ai";
import { createAgent, HumanMessage } from "langchain";
import OpenAI from "openai";
import { startFakeOpenAI } from "./fake-openai.js";

const fake = await startFakeOpenAI();
const sre = new AgentSRE({ budget: { perTaskLimitUsd: 1 }, tools: { deny: ["shell_*"] } });

// @agent-sre/core: a tool call runs, a denied one is refused with a typed error.
const lookup = await sre.guard(
  { kind: "tool", agentId: "core-agent", name: "lookup", input: { id: 1 } },
  () => Promise.resolve("found"),
);
let refusal: string | undefined;
try {
  await sre.guard({ kind: "tool", agentId: "core-agent", name: "shell_exec", input: {} }, () =>
    Promise.resolve("ran"),
  );
} catch (error) {
  if (!isRefusal(error)) throw error;
  refusal = error.code;
}

// @agent-sre/openai: the real OpenAI SDK.
const openai = guardOpenAI(new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test" }), sre, {
  agentId: "openai-agent",
  taskId: "task-openai",
});
const chat = await openai.chat.completions.create({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "Hi" }],
});

// @agent-sre/ai-sdk: generateText through the real @ai-sdk/openai provider.
const provider = createOpenAI({ baseURL: fake.baseURL, apiKey: "sk-test" });
const generated = await generateText({
  model: wrapLanguageModel({
    model: provider.chat("gpt-4o-mini"),
    middleware: aiSdkMiddleware(sre, { agentId: "ai-sdk-agent", taskId: "task-ai-sdk" }),
  }),
  prompt: "Hi",
});

// @agent-sre/langchain: a real createAgent with ChatOpenAI.
const agent = createAgent({
  model: new ChatOpenAI({
    model: "gpt-4o-mini",
    apiKey: "sk-test",
    configuration: { baseURL: fake.baseURL },
  }),
  tools: [],
  middleware: [agentSREMiddleware(sre, { agentId: "langchain-agent" })],
});
const state = await agent.invoke({ messages: [new HumanMessage("Hi")] });
const last = state.messages.at(-1);

fake.close();
const spent = (agentId: string) => sre.budget.agentStatus(agentId).spentTodayUsd;
console.log(
  JSON.stringify({
    core: { lookup, refusal },
    openai: { text: chat.choices[0]?.message.content, spentUsd: spent("openai-agent") },
    aiSdk: { text: generated.text, spentUsd: spent("ai-sdk-agent") },
    langchain: {
      text: typeof last?.content === "string" ? last.content : "",
      spentUsd: spent("langchain-agent"),
    },
    requests: fake.requests,
  }),
);
