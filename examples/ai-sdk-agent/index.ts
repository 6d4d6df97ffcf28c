/**
 * A Vercel AI SDK agent under Agent SRE: a guarded model (agentSREMiddleware), guarded tools, a stop
 * condition that ends the run when the budget says so, and a stream aborted mid-way that is still billed.
 * Offline by default (a fake transport behind the real @ai-sdk/openai provider); set OPENAI_API_KEY to run
 * against OpenAI.
 *
 *   pnpm --filter @agent-sre/example-ai-sdk-agent start
 */
import { agentSREMiddleware, agentSREStopWhen, guardTools } from "@agent-sre/ai-sdk";
import { AgentSRE } from "@agent-sre/core";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool, wrapLanguageModel } from "ai";
import { z } from "zod";
import { type FakeTurn, fakeOpenAIFetch } from "../shared/fake-openai.js";

const online = process.env.OPENAI_API_KEY !== undefined && process.env.OPENAI_API_KEY !== "";
const modelId = process.env.OPENAI_MODEL ?? "gpt-4.1-mini";
let script: FakeTurn[] = [];
const openai = online
  ? createOpenAI()
  : createOpenAI({
      apiKey: "offline",
      baseURL: "https://offline.invalid/v1",
      fetch: fakeOpenAIFetch(() => script.shift() ?? { text: "Done." }),
    });
console.log(
  online
    ? `Online: OpenAI, model ${modelId}`
    : `Offline: a fake OpenAI transport behind @ai-sdk/openai, model ${modelId}`,
);

const sre = new AgentSRE({
  budget: { perTaskLimitUsd: 0.05, perAgentDailyLimitUsd: 1 },
  agents: { researcher: { deniedTools: ["delete_*"] } },
});
sre.on("call.refused", (e) => console.log(`  [refused] ${e.kind} ${e.name}: ${e.code}`));
const usd = (value: number) => `$${value.toFixed(6)}`;
const status = (agentId: string) => {
  const s = sre.budget.agentStatus(agentId);
  return `spent ${usd(s.spentTodayUsd)}, reserved ${usd(s.reservedTodayUsd)}, ${s.tokensToday} tokens`;
};

const model = (taskId: string) =>
  wrapLanguageModel({
    model: openai.chat(modelId),
    middleware: agentSREMiddleware(sre, { agentId: "researcher", taskId }),
  });

const tools = (taskId: string) =>
  guardTools(
    {
      weather: tool({
        description: "Current weather in a city",
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => ({ city, temperatureC: 21, sky: "clear" }),
      }),
      delete_files: tool({
        description: "Delete files (this agent may not)",
        inputSchema: z.object({ path: z.string() }),
        execute: async ({ path }) => `deleted ${path}`,
      }),
    },
    sre,
    { agentId: "researcher", taskId },
  );

// 1. A multi-step tool loop: every model call and tool call goes through the engine.
script = [
  { toolCall: { name: "weather", arguments: '{"city":"Paris"}' } },
  { toolCall: { name: "delete_files", arguments: '{"path":"/tmp/cache"}' } },
  { text: "It is 21°C and clear in Paris. (I was not allowed to delete files.)" },
];
const run = await generateText({
  model: model("trip-1"),
  tools: tools("trip-1"),
  stopWhen: [stepCountIs(6), agentSREStopWhen(sre, { agentId: "researcher", taskId: "trip-1" })],
  prompt: "What's the weather in Paris? Also clean up /tmp/cache.",
});
console.log(`\n1. ${run.steps.length} steps → "${run.text}"`);
console.log(`   researcher: ${status("researcher")}`);

// 2. A stream aborted mid-way is still settled: prompt estimate + output streamed so far.
script = [{ endless: "lorem ipsum " }];
const controller = new AbortController();
const stream = streamText({
  model: model("essay-1"),
  prompt: online ? "Write a 2,000 word essay about lighthouses." : "Write forever.",
  abortSignal: controller.signal,
  onError: () => {},
});
let deltas = 0;
try {
  for await (const part of stream.fullStream)
    if (part.type === "text-delta" && ++deltas === 20) controller.abort();
} catch {
  // the SDK ends the stream with the abort reason
}
console.log(
  `\n2. aborted after ${deltas} deltas — researcher: ${status("researcher")} (nothing left reserved)`,
);

// 3. The budget ends a run cleanly: each step here costs a lot, the stop condition ends it in time.
const tight = new AgentSRE({ budget: { perTaskLimitUsd: 0.002 } });
script = Array.from({ length: 10 }, (_, i) => ({
  toolCall: { name: "weather", arguments: `{"city":"City ${i}"}` },
}));
const stops: string[] = [];
const looped = await generateText({
  model: wrapLanguageModel({
    model: openai.chat(modelId),
    middleware: agentSREMiddleware(tight, { agentId: "surveyor", taskId: "survey" }),
  }),
  tools: guardTools(
    {
      weather: tool({
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => `${city}: sunny. ${"details ".repeat(200)}`,
      }),
    },
    tight,
    {
      agentId: "surveyor",
      taskId: "survey",
    },
  ),
  stopWhen: [
    stepCountIs(10),
    agentSREStopWhen(tight, { agentId: "surveyor", taskId: "survey", onStop: (r) => stops.push(r.code) }),
  ],
  prompt: "Survey the weather in every city you know.",
});
const survey = tight.budget.agentStatus("surveyor");
console.log(
  `\n3. budget stop after ${looped.steps.length} steps (${stops.join(", ") || "no stop"}), spent ${usd(survey.spentTodayUsd)} of $0.002`,
);

console.log(
  "\nstatus:",
  JSON.stringify(sre.status().agents.researcher, null, 2).split("\n").slice(0, 8).join("\n"),
  "\n  ...",
);
