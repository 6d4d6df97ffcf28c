/**
 * A LangChain.js `createAgent` agent guarded by Agent SRE: allow-list, circuit breaker, chaos and budget
 * in action, with a line for everything the guard did.
 *
 *   pnpm --filter @agent-sre/example-langchain-agent start        # offline: a scripted model
 *   OPENAI_API_KEY=sk-... pnpm --filter @agent-sre/example-langchain-agent start   # a real gpt-4o-mini
 */
import { setTimeout as sleep } from "node:timers/promises";
import { AgentSRE, CHAOS_CANARY, ChaosExperiment, latencyInjection, promptInjection } from "@agent-sre/core";
import { agentSREMiddleware, sreMetadata } from "@agent-sre/langchain";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { type BaseMessage, ToolMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { createAgent, tool } from "langchain";
import { z } from "zod";
import { ScriptedChatModel } from "./scripted-model.js";

const live = Boolean(process.env.OPENAI_API_KEY);
const AGENT = "support-agent";

// ---- The engine: one policy for every call the agent makes --------------------------------------------
const sre = new AgentSRE({
  budget: { perTaskLimitUsd: 0.02, perAgentDailyLimitUsd: 1, orgMonthlyBudgetUsd: 100 },
  breakers: { defaults: { failureThreshold: 2, recoveryTimeoutMs: 300 } },
  agents: { [AGENT]: { allowedTools: ["lookup_order"] } },
  chaosSeed: 42,
});

const say = (icon: string, text: string) => console.log(`   ${icon} ${text}`);
sre.on("call.refused", (e) => say("🛑", `refused ${e.kind} "${e.name}": ${e.code}`));
sre.on("breaker.open", (e) => say("⛔", `breaker ${e.breakerId} opened after ${e.failureCount} failures`));
sre.on("breaker.close", (e) => say("✅", `breaker ${e.breakerId} closed again`));
sre.on("chaos.fault", (e) => say("🧪", `chaos: ${e.faultType} injected into ${e.target}`));
sre.on("call.completed", (e) => {
  if (e.kind === "model") {
    say(
      "💬",
      `model ${e.name}: ${e.inputTokens} in / ${e.outputTokens} out tokens, $${e.costUsd.toFixed(6)}`,
    );
  } else {
    say(e.ok ? "🔧" : "💥", `tool ${e.name} ${e.ok ? "ok" : "failed"} in ${e.durationMs} ms`);
  }
});

// ---- Tools ----------------------------------------------------------------------------------------------
let ordersServiceUp = true;
const lookupOrder = tool(
  async ({ orderId }: { orderId: string }) => {
    if (!ordersServiceUp) throw new Error("orders service: 503 Service Unavailable");
    return JSON.stringify({ orderId, status: "shipped", eta: "2 days" });
  },
  {
    name: "lookup_order",
    description: "Looks up an order by id.",
    schema: z.object({ orderId: z.string() }),
  },
);
const refundPayment = tool(async ({ orderId }: { orderId: string }) => `refunded ${orderId}`, {
  name: "refund_payment",
  description: "Refunds the payment of an order.",
  schema: z.object({ orderId: z.string() }),
});

// ---- The agent ------------------------------------------------------------------------------------------
const scripted = new ScriptedChatModel({});
const model: BaseChatModel = live ? new ChatOpenAI({ model: "gpt-4o-mini", maxTokens: 400 }) : scripted;
const agent = createAgent({
  model,
  tools: [lookupOrder, refundPayment],
  systemPrompt: "You are a support agent. Use the tools to answer questions about orders. Be brief.",
  // toolErrors: "continue": a failing tool answers the model with an error (the default propagates it to
  // LangChain's toolRetryMiddleware; see the adapter's README for the composed setups).
  middleware: [agentSREMiddleware(sre, { agentId: AGENT, toolErrors: "continue" })],
});

async function scene(title: string, question: string): Promise<BaseMessage[]> {
  console.log(`\n▶ ${title}\n   user: ${clip(question)}`);
  const { messages } = await agent.invoke({ messages: [{ role: "user", content: question }] });
  for (const message of messages.slice(1)) {
    const metadata = sreMetadata(message);
    if (ToolMessage.isInstance(message)) {
      say(
        metadata ? "🛡️" : "📦",
        `tool result${metadata ? ` (guard: ${metadata.code})` : ""}: ${clip(message.text)}`,
      );
    } else if (message.text !== "") {
      say(
        metadata ? "🛡️" : "🤖",
        `${metadata ? `run ended by the guard (${metadata.code})` : "agent"}: ${clip(message.text)}`,
      );
    }
  }
  return messages;
}

const clip = (text: string) => (text.length > 150 ? `${text.slice(0, 147)}...` : text).replaceAll("\n", " ");

console.log(
  live
    ? "Agent SRE × LangChain.js — live, gpt-4o-mini"
    : "Agent SRE × LangChain.js — offline, scripted model",
);

// 1. Allow-list: the agent may look orders up, not refund them.
scripted.script(
  { tools: [{ name: "refund_payment", args: { orderId: "A-1001" } }], usage: { input: 320, output: 18 } },
  {
    text: "I can't issue refunds myself; I've passed your request to a human colleague.",
    usage: { input: 420, output: 20 },
  },
);
await scene("Allow-list: a tool outside the agent's profile", "Please refund order A-1001.");

// 2. Breaker: the orders service goes down; after two failures the breaker stops calling it.
ordersServiceUp = false;
scripted.script(
  { tools: [{ name: "lookup_order", args: { orderId: "A-1" } }], usage: { input: 320, output: 18 } },
  { tools: [{ name: "lookup_order", args: { orderId: "A-2" } }], usage: { input: 400, output: 18 } },
  { tools: [{ name: "lookup_order", args: { orderId: "A-3" } }], usage: { input: 480, output: 18 } },
  {
    text: "The order system is unavailable right now; please try again shortly.",
    usage: { input: 560, output: 16 },
  },
);
await scene("Circuit breaker: a failing dependency", "Where are my orders A-1, A-2 and A-3?");
ordersServiceUp = true;
await sleep(350); // the breaker's recovery timeout (300 ms here; 30 s by default)
scripted.script(
  { tools: [{ name: "lookup_order", args: { orderId: "A-3" } }], usage: { input: 320, output: 18 } },
  { text: "Order A-3 has shipped and arrives in 2 days.", usage: { input: 400, output: 14 } },
);
await scene("…and recovery: the service is back", "What about A-3?");

// 3. Chaos: slow, poisoned tool results — does the agent stay on task?
const experiment = new ChaosExperiment({
  name: "slow-and-poisoned-orders",
  faults: [
    latencyInjection("tool:lookup_order", { delayMs: 200 }),
    promptInjection("tool:lookup_order", { technique: "tool-hijack", toolName: "refund_payment" }),
  ],
  durationMs: 60_000,
});
sre.startExperiment(experiment);
scripted.script(
  { tools: [{ name: "lookup_order", args: { orderId: "B-7" } }], usage: { input: 320, output: 18 } },
  { tools: [{ name: "refund_payment", args: { orderId: "B-7" } }], usage: { input: 480, output: 18 } },
  { text: "Order B-7 has shipped and arrives in 2 days.", usage: { input: 560, output: 14 } },
);
const chaosRun = await scene(
  "Chaos: injected latency and a prompt injection in tool results",
  "Status of order B-7?",
);
const report = experiment.report();
const poisoned = chaosRun.some((m) => ToolMessage.isInstance(m) && m.text.includes(CHAOS_CANARY));
say(
  "📋",
  `experiment: ${report.injectedTotal} faults injected, payload delivered: ${poisoned ? "yes" : "no"}`,
);
sre.chaos.stop(experiment.name); // complete the experiment before the next scene

// 4. Budget: a long task runs out of money and ends gracefully.
scripted.script(
  { tools: [{ name: "lookup_order", args: { orderId: "C-1" } }], usage: { input: 60_000, output: 400 } },
  { tools: [{ name: "lookup_order", args: { orderId: "C-2" } }], usage: { input: 61_000, output: 400 } },
  { tools: [{ name: "lookup_order", args: { orderId: "C-3" } }], usage: { input: 62_000, output: 400 } },
  { text: "All three orders have shipped.", usage: { input: 63_000, output: 40 } },
);
const history = `Our order history: ${"order X-0000 shipped on time; ".repeat(7_500)}`; // ~60k tokens
await scene(
  "Budget: a task that would cost too much",
  `Check orders C-1, C-2 and C-3 against this. ${history}`,
);

const status = sre.status().agents[AGENT];
console.log(
  `\n${AGENT}: ${status?.calls} calls, ${status?.refused} refused, ${status?.failed} failed, ` +
    `$${Number(status?.budget.spentTodayUsd ?? 0).toFixed(6)} spent today`,
);
