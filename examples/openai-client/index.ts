/**
 * The OpenAI SDK under Agent SRE. Offline by default (a fake transport that answers like the API);
 * set OPENAI_API_KEY to run the same code against OpenAI.
 *
 *   pnpm --filter @agent-sre/example-openai-client start
 */
import { AgentSRE, type RefusalError } from "@agent-sre/core";
import { guardOpenAI } from "@agent-sre/openai";
import OpenAI from "openai";
import { type FakeTurn, fakeOpenAIFetch } from "../shared/fake-openai.js";

const online = process.env.OPENAI_API_KEY !== undefined && process.env.OPENAI_API_KEY !== "";
const model = process.env.OPENAI_MODEL ?? "gpt-4.1-mini";
let script: FakeTurn[] = [];
const client = online
  ? new OpenAI()
  : new OpenAI({
      apiKey: "offline",
      baseURL: "https://offline.invalid/v1",
      fetch: fakeOpenAIFetch(() => script.shift() ?? { text: "ok" }),
    });
console.log(online ? `Online: OpenAI, model ${model}` : `Offline: a fake OpenAI transport, model ${model}`);

const sre = new AgentSRE({ budget: { perTaskLimitUsd: 0.5, perAgentDailyLimitUsd: 5 } });
sre.on("budget.alert", (e) =>
  console.log(`  [budget.alert] ${e.scope} at ${(e.utilization * 100).toFixed(0)}%`),
);
const usd = (value: number) => `$${value.toFixed(6)}`;
const spent = (agentId: string) => usd(sre.budget.agentStatus(agentId).spentTodayUsd);

// 1. One guarded client per agent: every create() is priced from its own usage.
const support = guardOpenAI(client, sre, { agentId: "support", taskId: "ticket-42" });
script = [{ text: "Your order ships tomorrow." }];
const reply = await support.chat.completions.create({
  model,
  messages: [{ role: "user", content: "Where is my order #42?" }],
});
console.log(`\n1. chat.completions.create → "${reply.choices[0]?.message.content}"`);
console.log(
  `   usage ${reply.usage?.prompt_tokens}/${reply.usage?.completion_tokens} tokens, support spent ${spent("support")}`,
);

// 2. Streams: stream_options.include_usage is added, the final chunk's usage is what gets charged.
script = [{ text: "Streaming answers are priced from the final usage chunk." }];
const stream = await support.chat.completions.create({
  model,
  messages: [{ role: "user", content: "Explain streaming costs in one sentence." }],
  stream: true,
});
let text = "";
for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
console.log(`\n2. streamed: "${text.trim()}"\n   support spent ${spent("support")}`);

// 3. The Responses API, same guard.
script = [{ text: "Responses are guarded too." }];
const response = await support.responses.create({ model, input: "Say that responses are guarded." });
console.log(`\n3. responses.create → "${response.output_text}", support spent ${spent("support")}`);

// 4. A runaway stream is cut off when the task's money runs out, and the request is stopped.
const small = new AgentSRE({ budget: { perTaskLimitUsd: 0.0005 } });
const capped = guardOpenAI(client, small, {
  agentId: "writer",
  taskId: "essay-1",
  onCutOff: (i) =>
    console.log(`   [cut off] after ${i.outputTokens} output tokens (allowance ${i.allowance})`),
});
script = [{ endless: "and so on " }];
const runaway = await capped.chat.completions.create({
  model,
  messages: [
    { role: "user", content: online ? "Count from 1 to 100000, one number per line." : "Never stop." },
  ],
  stream: true,
});
let finish: string | null = null;
let characters = 0;
for await (const chunk of runaway) {
  characters += chunk.choices[0]?.delta?.content?.length ?? 0;
  finish = chunk.choices[0]?.finish_reason ?? finish;
}
const essay = small.budget.agentStatus("writer");
console.log(`\n4. runaway stream: ${characters} characters, finish_reason "${finish}"`);
console.log(
  `   task budget $0.0005, spent ${usd(essay.spentTodayUsd)}, still reserved ${usd(essay.reservedTodayUsd)}`,
);

// 5. Refusals are typed and never reach the API.
sre.agentBreaker("support").forceOpen("incident INC-7");
try {
  await support.chat.completions.create({ model, messages: [{ role: "user", content: "hello?" }] });
} catch (error) {
  console.log(`\n5. refused: ${(error as RefusalError).code} — ${(error as Error).message}`);
}
