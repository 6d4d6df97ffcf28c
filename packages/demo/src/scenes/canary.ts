/**
 * Scene 2 — Canary release. A LangChain.js `createAgent` help-desk agent moves from gpt-4o to gpt-4.1
 * behind a canary rollout on the fleet's engine: 10 % → 25 % → 50 % → 100 % of new tasks, each step held
 * five simulated minutes and judged on the engine's own measurements (failures by Fisher's exact test, cost
 * per task, behavioural refusals). The middleware swaps `request.model` per call, sticky per task, so every
 * step of a ticket runs on one model; the healthy candidate is promoted step by step.
 */
import type { RolloutTransitionEvent } from "@agent-sre/core";
import { agentSREMiddleware } from "@agent-sre/langchain";
import type { BaseMessage } from "@langchain/core/messages";
import { createAgent, tool } from "langchain";
import { z } from "zod";
import { ScriptedChatModel, type TurnPolicy } from "../models/langchain-model.js";
import { int, type Scene, usd } from "../scene.js";

const AGENT = "helpdesk-agent";
const BASELINE = "gpt-4o";
const CANDIDATE = "gpt-4.1";
const TASKS_PER_MINUTE = 8;
const MAX_MINUTES = 30;

export const canaryScene: Scene = {
  name: "canary",
  title: "Canary release",
  failure: "a model upgrade goes to every user at once; a regression reaches everyone before anyone sees it",
  async run({ fleet, progress }) {
    const { sre, clock } = fleet;
    fleet.addAgent(AGENT, "LangChain.js");
    const rollout = fleet.delivery().add({
      id: "helpdesk-gpt-4.1",
      baseline: { id: "gpt-4o", model: BASELINE },
      candidate: { id: "gpt-4.1", model: CANDIDATE },
      strategy: {
        type: "canary",
        steps: [
          { percent: 10, holdMs: "5m" },
          { percent: 25, holdMs: "5m" },
          { percent: 50, holdMs: "5m" },
          { percent: 100 },
        ],
      },
      analysis: { minCalls: 10, minTasks: 3, latencyP99: false },
      agents: [AGENT],
      seed: fleet.seed,
    });

    // Which tickets each model served (a ticket is one task: its question's text).
    const served = new Map<string, Set<string>>();
    const ticketOf = (messages: readonly BaseMessage[]) =>
      String(messages.find((m) => m.type === "human")?.content ?? "?");
    const policyOf =
      (model: string): TurnPolicy =>
      (messages) => {
        const ticket = ticketOf(messages);
        served.set(ticket, (served.get(ticket) ?? new Set()).add(model));
        return messages.at(-1)?.type === "tool"
          ? { text: "Your order ships tomorrow; here is the tracking link.", outputTokens: 40 }
          : { tools: [{ name: "lookup_order", args: { orderId: ticket.slice(-5) } }], outputTokens: 22 };
      };
    const baseline = new ScriptedChatModel({
      model: BASELINE,
      policy: policyOf(BASELINE),
      clock,
      latencyMs: 700,
    });
    const candidate = new ScriptedChatModel({
      model: CANDIDATE,
      policy: policyOf(CANDIDATE),
      clock,
      latencyMs: 600,
    });
    const lookupOrder = tool(
      async ({ orderId }: { orderId: string }) => JSON.stringify({ orderId, ships: "tomorrow" }),
      {
        name: "lookup_order",
        description: "Looks an order up.",
        schema: z.object({ orderId: z.string() }),
      },
    );
    const agent = createAgent({
      model: baseline,
      tools: [lookupOrder],
      systemPrompt: "You are a help-desk agent. Use the tools. Be brief.",
      middleware: [agentSREMiddleware(sre, { agentId: AGENT, models: { [CANDIDATE]: candidate } })],
    });

    const startedAt = clock.now();
    let tickets = 0;
    for (let minute = 0; minute < MAX_MINUTES && rollout.state === "progressing"; minute++) {
      progress(`minute ${minute + 1}: ${rollout.percent}% of new tickets on ${CANDIDATE}`);
      const minuteStart = clock.now();
      for (let i = 0; i < TASKS_PER_MINUTE; i++, tickets++) {
        const ticket = `T-${10_000 + tickets}`;
        // The ticket is the task: the rollout keeps it on one model (and the run is reproducible).
        await agent.invoke(
          { messages: [{ role: "user", content: `Where is my order? ticket ${ticket}` }] },
          { context: { agentSRE: { taskId: ticket } } },
        );
      }
      // The next minute starts on the minute, whatever the calls took.
      clock.advance(Math.max(0, 60_000 - (clock.now() - minuteStart)));
    }
    const status = sre.status().delivery?.rollouts.find((r) => r.id === rollout.id);
    const decisions: RolloutTransitionEvent[] = status?.decisions ?? [];
    const steps = decisions.map(
      (d) => `${d.action} ${d.percent}% (+${Math.round((d.at - startedAt) / 60_000)} min)`,
    );
    const mixed = [...served.values()].filter((models) => models.size > 1).length;
    const onCandidate = [...served.values()].filter((models) => models.has(CANDIDATE)).length;
    const spent = sre.budget.agentStatus(AGENT).spentTodayUsd;

    return {
      contained:
        rollout.state === "completed" && mixed === 0 && decisions.every((d) => d.action !== "rollback"),
      headline: `${CANDIDATE} promoted step by step (${decisions
        .map((d) => `${d.percent}%`)
        .join(" → ")}) over ${int(tickets)} tickets; no ticket mixed models`,
      lines: [
        `rollout ${rollout.id}: ${decisions.map((d) => `${d.action} → ${d.percent}%`).join(", ")}`,
        `each step held 5 simulated minutes and judged candidate vs baseline (failures, cost per task, refusals)`,
        `${int(onCandidate)} of ${int(tickets)} tickets ran on ${CANDIDATE}; sticky per ticket: ${mixed} saw both models`,
        `calls per variant: ${BASELINE} ${int(status?.routed.baseline ?? 0)}, ${CANDIDATE} ${int(status?.routed.candidate ?? 0)}; spend ${usd(spent)}`,
      ],
      facts: {
        agent: AGENT,
        rollout: rollout.id,
        state: rollout.state,
        decisions: steps,
        tickets,
        candidateTickets: onCandidate,
        mixedTickets: mixed,
        routedBaseline: status?.routed.baseline ?? 0,
        routedCandidate: status?.routed.candidate ?? 0,
        baselineModelCalls: baseline.calls,
        candidateModelCalls: candidate.calls,
      },
    };
  },
};
