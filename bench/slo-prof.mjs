// Profile loop for the guarded model call (budget + price + SLO), issue 18 session 8 (slo):
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/slo-prof.mjs [dist] [calls]
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [dist = "core/dist", callsArg = "2000000"] = process.argv.slice(2);
const core = await import(pathToFileURL(resolve(dist, "index.js")).href);
const OUT_OF_REACH = { perTaskLimitUsd: 1e9, perAgentDailyLimitUsd: 1e12, orgMonthlyBudgetUsd: 1e15 };
const usage = { inputTokens: 1200, outputTokens: 300 };
const modelCall = {
  kind: "model",
  agentId: "bench",
  taskId: "task-1",
  name: "gpt-4o",
  provider: "openai",
  estimate: { inputTokens: 1200, outputTokens: 1000 },
  usage: () => usage,
};
const sre = new core.AgentSRE({
  budget: OUT_OF_REACH,
  slos: [
    new core.SLO({
      name: "success",
      indicators: [
        new core.TaskSuccessRate(),
        new core.LatencyPercentile({ percentile: 0.99, thresholdMs: 5_000 }),
      ],
      errorBudget: { total: 0.01, windowMs: "30d" },
    }),
  ],
});
const fn = async (x) => x;
const calls = Number(callsArg);
const t0 = process.cpuUsage();
for (let i = 0; i < calls; i++) await sre.guard(modelCall, fn);
const t = process.cpuUsage(t0);
console.log(`${(((t.user + t.system) * 1000) / calls).toFixed(0)} ns CPU per call`);
