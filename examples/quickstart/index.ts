/**
 * A tour of the production pipeline, offline: a scripted "LLM" and tools, real prices, real refusals.
 * Run it with `npm start` from the repository root (or `pnpm --filter @agent-sre/example-quickstart start`).
 */
import { AgentSRE, ManualClock, type RefusalError, type UsageReport } from "@agent-sre/core";

// A manual clock lets the tour skip the 30 s breaker recovery instead of waiting for it.
const clock = new ManualClock(new Date("2026-11-23T09:00:00Z"));

const sre = new AgentSRE({
  clock,
  budget: {
    perTaskLimitUsd: 0.05,
    perAgentDailyLimitUsd: 0.2,
    orgMonthlyBudgetUsd: 50,
  },
  breakers: { defaults: { failureThreshold: 3, recoveryTimeoutMs: 30_000 } },
  agents: { "support-agent": { deniedTools: ["shell_exec"] } },
});

const log = (icon: string, text: string) => console.log(`${icon} ${text}`);
sre.on("breaker.open", (e) => log("⛔", `breaker ${e.breakerId} opened after ${e.failureCount} failures`));
sre.on("breaker.half_open", (e) => log("🟡", `breaker ${e.breakerId} half-open: probing`));
sre.on("breaker.close", (e) => log("✅", `breaker ${e.breakerId} closed again`));
sre.on("budget.alert", (e) =>
  log(
    "💸",
    `${e.agentId ?? "org"} crossed ${e.threshold * 100}% of its ${e.scope} budget ($${e.spentUsd.toFixed(4)})`,
  ),
);

/** A scripted chat model: answers with the usage a real provider would report. */
async function fakeChatModel(prompt: string, maxOutputTokens: number) {
  const outputTokens = Math.min(maxOutputTokens, 300);
  return {
    text: `answer to: ${prompt}`,
    usage: { inputTokens: prompt.length * 4, outputTokens },
    model: "gpt-4o",
  };
}
const usageOf = (result: {
  usage: { inputTokens: number; outputTokens: number };
  model: string;
}): UsageReport => ({
  ...result.usage,
  model: result.model,
});

async function callModel(agentId: string, taskId: string, prompt: string, maxOutputTokens = 1_000) {
  return sre.guard(
    {
      kind: "model",
      agentId,
      taskId,
      name: "gpt-4o",
      provider: "openai",
      estimate: { inputTokens: prompt.length * 4, outputTokens: maxOutputTokens },
      usage: usageOf,
    },
    () => fakeChatModel(prompt, maxOutputTokens),
  );
}

async function callTool<T>(agentId: string, name: string, input: unknown, fn: () => Promise<T>) {
  return sre.guard({ kind: "tool", agentId, taskId: "t-1", name, input }, fn);
}

function refusal(error: unknown): string {
  const refused = error as RefusalError;
  return `${refused.code}: ${refused.message}`;
}

console.log("\n── 1. A normal task, priced from real model data");
const answer = await callModel("support-agent", "ticket-42", "Where is my order #1234?");
log("🤖", answer.text);
const spent = sre.budget.agentStatus("support-agent");
log("🧾", `spent today: $${spent.spentTodayUsd.toFixed(6)} (gpt-4o at list price)`);

console.log("\n── 2. A task that would blow its budget is refused before it runs");
try {
  await callModel("support-agent", "ticket-43", "Summarise the whole archive", 20_000);
} catch (error) {
  log("🛑", refusal(error));
}

console.log("\n── 3. A rogue tool call is blocked");
try {
  await callTool("support-agent", "shell_exec", { cmd: "rm -rf /" }, async () => "should never run");
} catch (error) {
  log("🛑", refusal(error));
}

console.log("\n── 4. A tool-call loop is stopped within a few calls");
for (let i = 1; i <= 4; i++) {
  try {
    await callTool("support-agent", "lookup_order", { id: 1234 }, async () => ({ status: "shipped" }));
    log("🔁", `lookup_order #${i} ran`);
  } catch (error) {
    log("🛑", refusal(error));
    break;
  }
}

console.log("\n── 5. A failing upstream opens its breaker, and recovers through half-open");
let upstreamHealthy = false;
const flakySearch = async () => {
  if (!upstreamHealthy) throw new Error("upstream 503");
  return ["result"];
};
for (let i = 1; i <= 5; i++) {
  try {
    await callTool("research-agent", "web_search", { q: `attempt ${i}` }, flakySearch);
  } catch (error) {
    log(i <= 3 ? "💥" : "🛑", (error as Error).message);
  }
}
upstreamHealthy = true;
clock.advance(30_000);
await callTool("research-agent", "web_search", { q: "after recovery" }, flakySearch);

console.log("\n── Fleet status");
const status = sre.status();
console.table(
  Object.fromEntries(
    Object.entries(status.agents).map(([id, agent]) => [
      id,
      {
        calls: agent.calls,
        refused: agent.refused,
        failed: agent.failed,
        breaker: agent.breaker,
        risk: agent.riskLevel,
      },
    ]),
  ),
);
console.log("open circuits:", status.openCircuits.length === 0 ? "none" : status.openCircuits.join(", "));
