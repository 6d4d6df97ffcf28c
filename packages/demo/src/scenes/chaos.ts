/**
 * Chaos experiment. An AI SDK triage agent adds up numbers with `get-sum` from
 * `@modelcontextprotocol/server-everything`, through our MCP proxy. First a steady-state baseline, then a
 * seeded experiment injects latency into its model calls and errors into its MCP tool calls, with an abort
 * condition on the success rate; it completes with a resilience score against the baseline. Then a second
 * experiment (the provider stalls for 10 s on every call) trips its p99-latency abort condition after a few
 * calls and withdraws its faults by itself. Injected delays pass on the demo clock: nothing really sleeps.
 */
import { agentSREMiddleware } from "@agent-sre/ai-sdk";
import {
  ChaosExperiment,
  type ChaosExperimentReport,
  errorInjection,
  latencyInjection,
  type ResilienceSample,
} from "@agent-sre/core";
import { generateText, stepCountIs, wrapLanguageModel } from "ai";
import { type ModelDecision, type ModelView, scriptedLanguageModel } from "../models/ai-model.js";
import type { Scene } from "../scene.js";

const AGENT = "triage-agent";
const TOOL = "everything__get-sum";
const POST = "everything__echo";

/** Add with the calculator (one retry on an error), post the answer, reply. */
function policy(a: number, b: number) {
  return (view: ModelView): ModelDecision => {
    const sums = view.results.filter((r) => r.toolName === TOOL);
    const good = sums.find((r) => r.ok);
    if (good !== undefined) {
      if (!view.results.some((r) => r.toolName === POST)) {
        return {
          toolCalls: [{ name: POST, input: { message: `${a} + ${b} = ${a + b}` } }],
          outputTokens: 20,
        };
      }
      return { text: `The sum is ${a + b}.`, outputTokens: 12 };
    }
    if (sums.length < 2) return { toolCalls: [{ name: TOOL, input: { a, b } }], outputTokens: 20 };
    return { text: "The calculator is unavailable.", outputTokens: 12 };
  };
}

function p99(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] as number;
}

export const chaosScene: Scene = {
  name: "chaos",
  title: "Chaos experiment",
  failure: "latency and errors injected into a live agent, with an abort condition",
  async run({ fleet, progress }) {
    const { sre, clock } = fleet;
    progress("starting the MCP gateway");
    const gateway = await fleet.gateway();
    fleet.addAgent(AGENT, "AI SDK");
    let current: (view: ModelView) => ModelDecision = () => ({ text: "idle" });
    let taskId = "";
    const { model } = scriptedLanguageModel({
      modelId: "gpt-4.1-mini",
      clock,
      latencyMs: 500,
      decide: (v) => current(v),
    });
    const tools = await gateway.aiTools(AGENT, [TOOL, POST], () => taskId);
    const guarded = wrapLanguageModel({ model, middleware: agentSREMiddleware(sre, { agentId: AGENT }) });
    let task = 0;
    const runTasks = async (label: string, count: number) => {
      let done = 0;
      for (let i = 0; i < count; i++) {
        task++;
        taskId = `triage-${task}`;
        const a = (task * 37) % 101;
        const b = (task * 53) % 89;
        current = policy(a, b);
        progress(`${label}: task ${i + 1}/${count}`);
        const result = await generateText({
          model: guarded,
          tools,
          stopWhen: stepCountIs(6),
          maxRetries: 0,
          prompt: `What is ${a} + ${b}? Use the calculator.`,
          providerOptions: { agentSre: { taskId } },
        });
        if (result.text.startsWith("The sum")) done++;
        clock.advance(5_000);
      }
      return done;
    };

    // Steady state, no faults: success rate and p99 latency of the agent's calls.
    const baselineFrom = fleet.events.length;
    await runTasks("baseline", 12);
    const baselineCalls = fleet.eventsOf("call.completed", baselineFrom).filter((e) => e.agentId === AGENT);
    const baseline: ResilienceSample = {
      successRate: baselineCalls.filter((e) => e.ok).length / Math.max(1, baselineCalls.length),
      p99LatencyMs: p99(baselineCalls.map((e) => e.durationMs)),
    };

    // 1. A provider brown-out: slow model calls, failing tool calls.
    const brownout = new ChaosExperiment({
      name: "brownout",
      targetAgent: AGENT,
      seed: fleet.seed,
      durationMs: "10m",
      faults: [
        latencyInjection("model:*", { delayMs: 1_500, rate: 0.3 }),
        errorInjection(`tool:${TOOL}`, { rate: 0.25 }),
      ],
      abortConditions: [{ metric: "success_rate", threshold: 0.7, comparator: "lt", minSamples: 10 }],
      baseline,
    });
    sre.startExperiment(brownout);
    const brownoutDone = await runTasks("brown-out", 20);
    const first = sre.chaos.stop(brownout.name) ?? brownout.report();

    const trips = fleet
      .eventsOf("breaker.open", baselineFrom)
      .filter((e) => e.breakerId === `tool:${TOOL}`).length;

    // 2. The provider stalls: the abort condition on p99 latency ends the experiment by itself.
    const stall = new ChaosExperiment({
      name: "provider-stall",
      targetAgent: AGENT,
      seed: fleet.seed,
      durationMs: "10m",
      faults: [latencyInjection("model:*", { delayMs: 10_000, rate: 1 })],
      abortConditions: [{ metric: "p99_latency_ms", threshold: 5_000, comparator: "gt", minSamples: 3 }],
      baseline,
    });
    sre.startExperiment(stall);
    const stallStarted = clock.now();
    const stallDone = await runTasks("provider stall", 4);
    const second: ChaosExperimentReport = stall.report();
    if (second.state === "running") sre.chaos.stop(stall.name);
    const stallMs = clock.now() - stallStarted;

    const ms = (value: number | null | undefined) =>
      value === null || value === undefined ? "—" : `${Math.round(value)} ms`;
    const rate = (value: number | null) => (value === null ? "—" : `${Math.round(value * 100)} %`);
    return {
      contained:
        first.state === "completed" && first.resilienceScore !== undefined && second.state === "aborted",
      headline:
        `resilience score ${first.resilienceScore ?? "—"}/100 under latency + errors; ` +
        `the provider-stall experiment ${second.state === "aborted" ? `aborted itself after ${second.calls} calls` : second.state}`,
      lines: [
        `baseline: ${baselineCalls.length} calls, success ${rate(baseline.successRate)}, p99 ${ms(baseline.p99LatencyMs)}`,
        `brown-out (seed ${fleet.seed}): ${first.injectedTotal} faults injected (${Object.entries(
          first.injected,
        )
          .map(([id, n]) => `${n}× ${id}`)
          .join(", ")}); calls succeeded ${rate(first.successRate)}, p99 ${ms(first.p99LatencyMs)}; ` +
          `the tool's breaker opened ${trips}×; ${brownoutDone}/20 tasks still answered (one retry each) → resilience ${first.resilienceScore ?? "—"}/100`,
        `provider stall (+10 s on every model call): ${second.state}${second.abortReason === null ? "" : ` — ${second.abortReason}`}; ` +
          `faults withdrawn, ${stallDone}/4 tasks answered in ${Math.round(stallMs / 1000)} s (simulated)`,
      ],
      facts: {
        agent: AGENT,
        baselineSuccessRate: baseline.successRate,
        baselineP99Ms: baseline.p99LatencyMs ?? null,
        brownoutState: first.state,
        brownoutInjected: first.injectedTotal,
        brownoutSuccessRate: first.successRate,
        brownoutP99Ms: first.p99LatencyMs,
        brownoutTasksAnswered: brownoutDone,
        brownoutBreakerTrips: trips,
        resilienceScore: first.resilienceScore ?? null,
        stallState: second.state,
        stallAbortReason: second.abortReason,
        stallCallsBeforeAbort: second.calls,
        stallInjected: second.injectedTotal,
        stallTasksAnswered: stallDone,
      },
    };
  },
};
