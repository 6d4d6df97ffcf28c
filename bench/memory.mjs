// Heap per active agent (issue 18 / issue 10 §7): an engine with budgets, SLOs and the default detector;
// every agent makes a few hundred tool calls with fresh arguments (five tools, three tasks) and some model
// calls, so every per-agent table is as full as steady use makes it. Needs --expose-gc.
import { pathToFileURL } from "node:url";
import { AgentSRE, LatencyPercentile, SLO, TaskSuccessRate } from "@agent-sre/core";

const fn = async (x) => x;
const TOOLS = ["search", "lookup_order", "send_email", "fetch_page", "summarise"];
const usage = { inputTokens: 1200, outputTokens: 300 };
const OUT_OF_REACH = { perTaskLimitUsd: 1e9, perAgentDailyLimitUsd: 1e12, orgMonthlyBudgetUsd: 1e15 };

function engine() {
  return new AgentSRE({
    budget: OUT_OF_REACH,
    slos: [
      new SLO({
        name: "success",
        indicators: [new TaskSuccessRate(), new LatencyPercentile({ percentile: 0.99, thresholdMs: 5_000 })],
        errorBudget: { total: 0.01, windowMs: "30d" },
      }),
    ],
  });
}

let sequence = 0;
async function busyAgent(sre, agentId, toolCalls, modelCalls) {
  for (let i = 0; i < toolCalls; i++) {
    await sre.guard(
      {
        kind: "tool",
        agentId,
        taskId: `task-${i % 3}`,
        name: TOOLS[i % 5],
        input: { orderId: sequence++, fields: ["status"] },
      },
      fn,
    );
  }
  for (let i = 0; i < modelCalls; i++) {
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

/** JS heap plus ArrayBuffer backing stores (typed arrays above 64 bytes live outside the heap). */
function heapUsed() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** Heap bytes per agent (and agents the engine tracks) once `agents` agents have each made `toolCalls` tool and `modelCalls` model calls. */
export async function bytesPerAgent({ agents = 1_000, toolCalls = 300, modelCalls = 20 } = {}) {
  if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");
  const sre = engine();
  // The engine's own fixed state (price tables, JIT, the first agent) is not per-agent cost.
  await busyAgent(sre, "warm-up", toolCalls, modelCalls);
  const before = heapUsed();
  for (let a = 0; a < agents; a++) await busyAgent(sre, `agent-${a}`, toolCalls, modelCalls);
  const after = heapUsed();
  // Read after measuring: keeps the engine reachable until then.
  const tracked = Object.keys(sre.status().agents).length;
  return { bytes: (after - before) / agents, tracked };
}

export async function run({ quick = false } = {}) {
  const agents = quick ? 200 : 1_000;
  const rows = [];
  for (const [toolCalls, modelCalls] of [
    [20, 2],
    [300, 20],
  ]) {
    const { bytes } = await bytesPerAgent({ agents, toolCalls, modelCalls });
    rows.push(
      `| ${agents.toLocaleString("en")} agents × ${toolCalls} tool + ${modelCalls} model calls | ${(bytes / 1024).toFixed(2)} KB | ≤ 4 KB |`,
    );
  }
  return {
    sections: [
      [
        "### Memory per active agent (JS heap + ArrayBuffers after GC; default detector, budgets, one SLO)",
        "",
        "| workload per agent | heap per agent | target |",
        "|---|---:|---|",
        ...rows,
      ].join("\n"),
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { sections } = await run({ quick: process.argv.includes("--quick") });
  console.log(sections.join("\n\n"));
}
