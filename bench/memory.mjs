// Heap per active agent (issue 18 / issue 10 §7): an engine with budgets, SLOs and the default detector;
// every agent makes a few hundred tool calls with fresh arguments (five tools, three tasks) and some model
// calls, so every per-agent table is as full as steady use makes it. Needs --expose-gc.
import { pathToFileURL } from "node:url";
import { AgentSRE, LatencyPercentile, ManualClock, SLO, TaskSuccessRate } from "@agent-sre/core";

const fn = async (x) => x;
const TOOLS = ["search", "lookup_order", "send_email", "fetch_page", "summarise"];
const usage = { inputTokens: 1200, outputTokens: 300 };
const OUT_OF_REACH = { perTaskLimitUsd: 1e9, perAgentDailyLimitUsd: 1e12, orgMonthlyBudgetUsd: 1e15 };

function engine(clock) {
  return new AgentSRE({
    ...(clock === undefined ? {} : { clock }),
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
/** Call `i` of an agent: tool calls first, then model calls. */
function callOf(agentId, i, toolCalls) {
  if (i < toolCalls) {
    return {
      kind: "tool",
      agentId,
      taskId: `task-${i % 3}`,
      name: TOOLS[i % 5],
      input: { orderId: sequence++, fields: ["status"] },
    };
  }
  return {
    kind: "model",
    agentId,
    taskId: `task-${i % 3}`,
    name: "gpt-4o",
    provider: "openai",
    estimate: { inputTokens: 1200, outputTokens: 1000 },
    usage: () => usage,
  };
}

/**
 * Every agent makes its calls round robin, all of them active at once; with `clock`, each agent's calls are
 * `gapMs` apart (the clock moves `gapMs / agents` per call).
 */
async function busyAgents(sre, agentIds, toolCalls, modelCalls, clock, gapMs) {
  const step = gapMs / agentIds.length;
  for (let i = 0; i < toolCalls + modelCalls; i++) {
    for (const agentId of agentIds) {
      clock?.advance(step);
      await sre.guard(callOf(agentId, i, toolCalls), fn);
    }
  }
}

/** JS heap plus ArrayBuffer backing stores (typed arrays above 64 bytes live outside the heap). */
function heapUsed() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/**
 * Bytes per agent (JS heap + ArrayBuffers) once `agents` agents, all active at once, have each made
 * `toolCalls` tool calls and `modelCalls` model calls, and how many agents the engine tracks. `paceMs`: the
 * calls of an agent are that far apart on a ManualClock (steady use: per-window state holds what one window
 * sees); 0: all at once (a burst: every per-window table as full as its bound allows).
 */
export async function bytesPerAgent({ agents = 1_000, toolCalls = 300, modelCalls = 20, paceMs = 0 } = {}) {
  if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");
  const clock = paceMs > 0 ? new ManualClock(Date.UTC(2026, 0, 5, 9)) : undefined;
  const sre = engine(clock);
  // The engine's own fixed state (price tables, JIT, the first agent) is not per-agent cost.
  await busyAgents(sre, ["warm-up"], toolCalls, modelCalls, clock, paceMs);
  const before = heapUsed();
  const agentIds = Array.from({ length: agents }, (_, a) => `agent-${a}`);
  await busyAgents(sre, agentIds, toolCalls, modelCalls, clock, paceMs);
  const after = heapUsed();
  // Read after measuring: keeps the engine reachable until then.
  const tracked = Object.keys(sre.status().agents).length;
  return { bytes: (after - before) / agents, tracked };
}

export async function run({ quick = false } = {}) {
  const agents = quick ? 300 : 3_000;
  const rows = [];
  for (const [label, toolCalls, modelCalls, paceMs, target] of [
    ["steady: 300 tool + 20 model calls, 2 s apart", 300, 20, 2_000, "≤ 4 KB"],
    ["short-lived: 20 tool + 2 model calls, 2 s apart", 20, 2, 2_000, "≤ 4 KB"],
    ["burst: 300 tool + 20 model calls at once (worst case)", 300, 20, 0, "bounded"],
  ]) {
    const { bytes } = await bytesPerAgent({ agents, toolCalls, modelCalls, paceMs });
    rows.push(`| ${label} | ${(bytes / 1024).toFixed(2)} KB | ${target} |`);
  }
  return {
    sections: [
      [
        `### Memory per active agent (${agents.toLocaleString("en")} agents; JS heap + ArrayBuffers after GC; default detector, budgets, one SLO)`,
        "",
        "| workload per agent (fresh arguments, 5 tools, 3 tasks) | per agent | target |",
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
