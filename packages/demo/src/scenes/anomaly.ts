/**
 * Scene — Cost anomaly. An AI SDK ticket summarizer (`generateText` + `agentSREMiddleware`, its tool through
 * `guardTools`, `agentSREStopWhen`) works a queue on a steady cost pattern: read the ticket, summarize it. A
 * prompt change ships that pastes the customer's whole thread history into every prompt: the next task's
 * first model call costs over 10× the usual. The engine scores each cost against the agent's own baseline
 * (log-cost EWMA, z > 4) and, under `anomalyDetection.action: "hold"`, holds the agent: its next calls are
 * refused with ANOMALY_HELD (the anomaly's figures attached) and the `AgentHeld` page goes out. The scene's
 * engine is the fleet's policy with that one setting on (the other scenes keep anomalies as alerts only: the
 * on-call scene's runaway answer would otherwise be held too).
 * The run in flight stops at its next call; the queue's next tasks are refused before any provider call.
 * The on-call looks at the figures, rolls the prompt back and confirms (`sre.budget.confirmAnomaly`): the
 * agent continues on its steady pattern.
 */
import { agentSREMiddleware, agentSREStopWhen, guardTools, refusalFrom } from "@agent-sre/ai-sdk";
import { AgentSRE, type AgentSREEvents, type AnomalyHeldError, type RefusalError } from "@agent-sre/core";
import { generateText, stepCountIs, tool, wrapLanguageModel } from "ai";
import { z } from "zod";
import { fleetPolicy } from "../fleet.js";
import { scriptedLanguageModel } from "../models/ai-model.js";
import { type Scene, seconds, usd } from "../scene.js";

const AGENT = "ticket-summarizer";
const MODEL = "gpt-4.1";
const STEADY_TASKS = 36;
const QUEUED_WHILE_HELD = 3;
const AFTER_CONFIRM_TASKS = 6;
const ON_CALL_RESPONSE_MS = 6 * 60_000;
const TICKET = "Customer reports the export button greys out after the last update; attached a screenshot. ";
/** What the prompt change pastes into every prompt: the customer's whole thread (~5k tokens). */
const THREAD_HISTORY =
  "Earlier message in the thread: details of the order, the replies and the logs. ".repeat(240);

export const anomalyScene: Scene = {
  name: "anomaly",
  title: "Cost anomaly",
  failure: "a prompt change makes every task cost over 10× the usual, and nobody notices",
  async run({ fleet, progress }) {
    const { clock } = fleet;
    const policy = fleetPolicy(clock, fleet.seed);
    const sre = new AgentSRE({
      ...policy,
      budget: { ...policy.budget, anomalyDetection: { action: "hold" } },
    });
    const anomalies: Array<AgentSREEvents["cost.anomaly"]> = [];
    const releases: Array<AgentSREEvents["cost.anomaly.release"]> = [];
    sre.on("cost.anomaly", (event) => anomalies.push(event));
    sre.on("cost.anomaly.release", (event) => releases.push(event));
    const { model, meter } = scriptedLanguageModel({
      modelId: MODEL,
      clock,
      latencyMs: 1_200,
      decide: (view) =>
        view.results.length === 0
          ? { toolCalls: [{ name: "read_ticket", input: { id: "ticket" } }], outputTokens: 30 }
          : {
              text: "Summary: export disabled after update; reproduce and escalate to the UI team.",
              outputTokens: 90,
            },
    });
    let reads = 0;
    let promptChanged = false;

    /** One task of the queue: read the ticket, summarize it. Returns how it ended. */
    const task = async (n: number): Promise<{ steps: number; refusal: RefusalError | undefined }> => {
      const taskId = `ticket-${n}`;
      let refusal: RefusalError | undefined;
      try {
        const result = await generateText({
          model: wrapLanguageModel({
            model,
            middleware: agentSREMiddleware(sre, { agentId: AGENT, taskId }),
          }),
          system: "You summarize support tickets in two sentences.",
          prompt: `Ticket ${n}: ${TICKET}${promptChanged ? `\nFull thread history:\n${THREAD_HISTORY}` : ""}`,
          maxRetries: 0,
          tools: guardTools(
            {
              read_ticket: tool({
                description: "Reads the ticket's details",
                inputSchema: z.object({ id: z.string() }),
                execute: async () => {
                  reads++;
                  return `${TICKET}Plan: Team. Browser: Firefox 133.`;
                },
              }),
            },
            sre,
            { agentId: AGENT, taskId },
          ),
          stopWhen: [
            stepCountIs(4),
            agentSREStopWhen(sre, { agentId: AGENT, taskId, onStop: (r) => (refusal = r) }),
          ],
        });
        clock.advance(20_000);
        return { steps: result.steps.length, refusal };
      } catch (error) {
        clock.advance(20_000);
        const refused = refusalFrom(error);
        if (refused === undefined) throw error;
        return { steps: 0, refusal: refused };
      }
    };

    // 1. The steady pattern: the agent's baseline.
    const steadyStart = sre.budget.agentStatus(AGENT).spentTodayUsd;
    for (let n = 1; n <= STEADY_TASKS; n++) {
      progress(`ticket ${n}: summarized on the steady pattern`);
      await task(n);
    }
    const steadySpent = sre.budget.agentStatus(AGENT).spentTodayUsd - steadyStart;
    const steadyPerTask = steadySpent / STEADY_TASKS;

    // 2. The prompt change ships: the next task's first call costs over 10×; the agent is held.
    promptChanged = true;
    progress("a prompt change ships: the whole thread history goes into every prompt");
    const callsBeforeSpike = meter.calls;
    const readsBeforeSpike = reads;
    const spikeTask = await task(STEADY_TASKS + 1);
    const anomaly = anomalies.find((e) => e.agentId === AGENT);
    const heldAt = clock.now();
    const spikeProviderCalls = meter.calls - callsBeforeSpike;
    const spikeReads = reads - readsBeforeSpike;

    // 3. The queue goes on while the agent is held: each task refused at its first call.
    const queued: Array<string | undefined> = [];
    const callsBeforeQueue = meter.calls;
    for (let i = 1; i <= QUEUED_WHILE_HELD; i++) {
      progress(`ticket ${STEADY_TASKS + 1 + i}: agent held`);
      queued.push((await task(STEADY_TASKS + 1 + i)).refusal?.code);
    }
    const providerCallsWhileHeld = meter.calls - callsBeforeQueue;
    const held = sre.budget.agentStatus(AGENT).hold;
    const firstRefusal = spikeTask.refusal as AnomalyHeldError | undefined;

    // 4. The on-call (an AgentHeld page with @agent-sre/alerts) reads the figures, rolls the prompt back and confirms.
    progress("the on-call rolls the prompt back and confirms");
    clock.advance(ON_CALL_RESPONSE_MS);
    promptChanged = false;
    const confirmed = sre.budget.confirmAnomaly(AGENT);
    const release = releases.find((e) => e.agentId === AGENT);
    const afterStart = sre.budget.agentStatus(AGENT).spentTodayUsd;
    const after: number[] = [];
    for (let i = 1; i <= AFTER_CONFIRM_TASKS; i++) {
      const n = STEADY_TASKS + 1 + QUEUED_WHILE_HELD + i;
      progress(`ticket ${n}: summarized again`);
      after.push((await task(n)).steps);
    }
    const afterPerTask = (sre.budget.agentStatus(AGENT).spentTodayUsd - afterStart) / AFTER_CONFIRM_TASKS;

    const costUsd = anomaly?.costUsd ?? 0;
    const expectedUsd = anomaly?.expectedUsd ?? 0;
    const ratio = expectedUsd > 0 ? costUsd / expectedUsd : 0;
    const refusedWhileHeld = release?.refusedCalls ?? 0;
    // Unguarded, each queued task would have run both calls at the new prompt's price.
    const savedUsd = QUEUED_WHILE_HELD * 2 * costUsd;
    const heldForMs = (release?.at ?? heldAt) - (anomaly?.at ?? heldAt);
    const allSummarized = after.every((steps) => steps === 2);

    return {
      contained:
        anomaly?.response === "hold" &&
        ratio > 10 &&
        firstRefusal?.code === "ANOMALY_HELD" &&
        spikeReads === 0 &&
        queued.every((code) => code === "ANOMALY_HELD") &&
        providerCallsWhileHeld === 0 &&
        confirmed &&
        allSummarized,
      headline:
        `one call cost ${usd(costUsd)}, ${ratio.toFixed(1)}× the agent's typical ${usd(expectedUsd)} (z = ${(anomaly?.score ?? 0).toFixed(1)}): ` +
        `held at once, ${refusedWhileHeld} calls refused until the on-call confirmed`,
      lines: [
        `steady pattern: ${STEADY_TASKS} tickets at ${usd(steadyPerTask)} each (2 model calls and a tool call per ticket); ` +
          `baseline ${usd(expectedUsd)} per model call`,
        `prompt change: ticket ${STEADY_TASKS + 1}'s first call cost ${usd(costUsd)} (${ratio.toFixed(1)}×, z = ${(anomaly?.score ?? 0).toFixed(1)} > ${anomaly?.threshold ?? 4}); ` +
          `the agent was held: its next call (read_ticket) refused with ${firstRefusal?.code ?? "—"}, the run stopped after ${spikeProviderCalls} provider call`,
        `while held: ${QUEUED_WHILE_HELD} queued tickets refused at their first call (${queued.join(", ")}), ${providerCallsWhileHeld} provider calls; ` +
          `${refusedWhileHeld} calls refused in all, about ${usd(savedUsd, 2)} not spent at the new prompt's price`,
        `the on-call read the figures, rolled the prompt back and confirmed after ${seconds(heldForMs)} (simulated); ` +
          `${after.filter((s) => s === 2).length} of ${AFTER_CONFIRM_TASKS} tickets summarized again at ${usd(afterPerTask)} each`,
      ],
      facts: {
        agent: AGENT,
        steadyTasks: STEADY_TASKS,
        steadyPerTaskUsd: steadyPerTask,
        baselineUsd: expectedUsd,
        spikeUsd: costUsd,
        spikeRatio: ratio,
        zScore: anomaly?.score ?? null,
        zThreshold: anomaly?.threshold ?? null,
        response: anomaly?.response ?? null,
        firstRefusal: firstRefusal?.code ?? null,
        spikeRunProviderCalls: spikeProviderCalls,
        spikeRunToolRuns: spikeReads,
        queuedRefusals: queued.map((code) => code ?? "none"),
        providerCallsWhileHeld,
        refusedWhileHeld,
        heldCallsInStatus: held?.refusedCalls ?? null,
        heldForMs,
        confirmed,
        releasedBy: release?.by ?? null,
        afterConfirmTasks: AFTER_CONFIRM_TASKS,
        afterConfirmSummarized: after.filter((s) => s === 2).length,
        afterConfirmPerTaskUsd: afterPerTask,
        notSpentUsd: savedUsd,
        totalProviderCalls: meter.calls,
      },
    };
  },
};
