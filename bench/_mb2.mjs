import { AgentSRE, ManualClock } from "@agent-sre/core";

const fn = async (x) => x;
const TOOLS = ["search", "lookup_order", "send_email", "fetch_page", "summarise"];
const usage = { inputTokens: 1200, outputTokens: 300 };
let seq = 0;
async function busy(sre, clock, agentId, tools, models) {
  for (let i = 0; i < tools; i++) {
    clock.advance(2000);
    await sre.guard(
      { kind: "tool", agentId, taskId: `task-${i % 3}`, name: TOOLS[i % 5], input: { orderId: seq++ } },
      fn,
    );
  }
  for (let i = 0; i < models; i++) {
    clock.advance(2000);
    await sre.guard(
      {
        kind: "model",
        agentId,
        taskId: `task-${i % 3}`,
        name: "gpt-4o",
        provider: "openai",
        estimate: { inputTokens: 1200, outputTokens: 1000 },
        usage: () => usage,
      },
      fn,
    );
  }
}
const heap = () => {
  for (let i = 0; i < 4; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const B = { perTaskLimitUsd: 1e9, perAgentDailyLimitUsd: 1e12, orgMonthlyBudgetUsd: 1e15 };
for (const [label, opts, tools, models] of [
  ["bare, 300 tool", { rogue: false, retryBudget: false }, 300, 0],
  ["bare+budget, 20 model", { rogue: false, retryBudget: false, budget: B }, 0, 20],
  ["default, 300 tool", {}, 300, 0],
  ["default+budget 300 tool 20 model", { budget: B }, 300, 20],
]) {
  const clock = new ManualClock(Date.UTC(2026, 0, 5, 9));
  const sre = new AgentSRE({ ...opts, clock });
  await busy(sre, clock, "warm", tools, models);
  const h0 = heap();
  const N = 300;
  for (let a = 0; a < N; a++) await busy(sre, clock, `agent-${a}`, tools, models);
  const h1 = heap();
  console.log(label.padEnd(36), ((h1 - h0) / N).toFixed(0), "B/agent");
  if (label.startsWith("default,"))
    console.log(JSON.stringify(sre.detector.snapshot().agents["agent-5"].sizes));
}
