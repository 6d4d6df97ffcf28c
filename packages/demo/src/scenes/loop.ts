/**
 * Scene 1 — Runaway loop. A LangChain.js `createAgent` support agent keeps calling the same tool with the
 * same arguments (the refund is "still pending", so it checks again, and again...). The same agent runs
 * twice on the same scripted model: once unguarded, where only LangGraph's recursion limit stops it, and
 * once with `agentSREMiddleware`, where loop detection refuses the third identical call and the rogue
 * detector quarantines the agent, which ends the run.
 */
import { agentSREMiddleware, sreMetadata } from "@agent-sre/langchain";
import { createAgent, tool } from "langchain";
import { z } from "zod";
import { ScriptedChatModel } from "../models/langchain-model.js";
import { int, type Scene, usd } from "../scene.js";

const AGENT = "support-bot";
const MODEL = "gpt-4o";
const REPORTED_MODEL = "gpt-4o-2024-08-06";
const RECURSION_LIMIT = 50;

/** The refund service's answer: long (a full event history), and always "pending". */
function refundStatus(orderId: string): string {
  const history = Array.from({ length: 40 }, (_, i) => ({
    at: `2026-01-0${1 + (i % 4)}T0${i % 10}:00:00Z`,
    event: i % 3 === 0 ? "refund.requested" : i % 3 === 1 ? "refund.queued" : "refund.retry_scheduled",
    detail: `processor batch ${1000 + i}, awaiting settlement from the card network`,
  }));
  return JSON.stringify({ orderId, status: "pending", history });
}

export const loopScene: Scene = {
  name: "loop",
  title: "Runaway loop",
  failure: "an agent repeats the same tool call, burning tokens on every turn",
  async run({ fleet, progress }) {
    const { sre, clock } = fleet;
    fleet.addAgent(AGENT, "LangChain.js");
    let executions = 0;
    const checkRefund = tool(
      async ({ orderId }: { orderId: string }) => {
        executions++;
        return refundStatus(orderId);
      },
      {
        name: "check_refund_status",
        description: "Current status of a refund, with its event history.",
        schema: z.object({ orderId: z.string() }),
      },
    );
    // The runaway "model": whatever the tool says, it checks the refund again with the same arguments.
    const runaway = () => ({
      tools: [{ name: "check_refund_status", args: { orderId: "A-1017" } }],
      outputTokens: 38,
    });
    const question = "Has the refund for order A-1017 gone through yet? Keep checking until it has.";
    const systemPrompt = "You are a customer-support agent. Use the tools to answer. Be brief.";

    // Unguarded: the same agent and model, stopped only by LangGraph's recursion limit.
    progress("unguarded run (stopped only by the recursion limit)");
    const bare = new ScriptedChatModel({ model: MODEL, reportedModel: REPORTED_MODEL, policy: runaway });
    const unguarded = createAgent({ model: bare, tools: [checkRefund], systemPrompt });
    let unguardedError = "";
    try {
      await unguarded.invoke(
        { messages: [{ role: "user", content: question }] },
        { recursionLimit: RECURSION_LIMIT },
      );
    } catch (error) {
      unguardedError = (error as Error).name;
    }
    const unguardedTools = executions;
    const unguardedTokens = bare.inputTokens + bare.outputTokens;
    const unguardedCost =
      (sre.prices.costMicros(
        REPORTED_MODEL,
        { inputTokens: bare.inputTokens, outputTokens: bare.outputTokens },
        "openai",
      ) ?? 0) / 1e6;

    // Guarded: the middleware puts every model and tool call through the fleet's engine.
    progress("guarded run");
    executions = 0;
    const model = new ScriptedChatModel({
      model: MODEL,
      reportedModel: REPORTED_MODEL,
      policy: runaway,
      clock,
      latencyMs: 900,
    });
    const agent = createAgent({
      model,
      tools: [checkRefund],
      systemPrompt,
      middleware: [agentSREMiddleware(sre, { agentId: AGENT })],
    });
    const from = fleet.events.length;
    const result = await agent.invoke(
      { messages: [{ role: "user", content: question }] },
      { recursionLimit: RECURSION_LIMIT },
    );
    const last = result.messages.at(-1);
    const endedBy = last === undefined ? undefined : sreMetadata(last)?.code;
    const refused = fleet.eventsOf("call.refused", from).filter((e) => e.agentId === AGENT);
    const loopRefusals = refused.filter((e) => e.code === "LOOP_DETECTED").length;
    const quarantine = fleet.eventsOf("agent.quarantine", from).find((e) => e.agentId === AGENT);
    const spent = sre.budget.agentStatus(AGENT).spentTodayUsd;
    const guardedTokens = model.inputTokens + model.outputTokens;
    const saved = unguardedTokens - guardedTokens;

    return {
      contained: loopRefusals >= 1 && sre.isQuarantined(AGENT) && executions < unguardedTools && saved > 0,
      headline:
        `stopped after ${executions} tool runs: LOOP_DETECTED on call ${executions + 1}, ` +
        `agent quarantined (${quarantine?.riskLevel ?? "?"}); ${int(saved)} tokens saved`,
      lines: [
        `unguarded: ${bare.calls} model calls, ${unguardedTools} tool runs, ${int(unguardedTokens)} tokens, ` +
          `${usd(unguardedCost, 2)} — ended only by LangGraph's recursion limit (${unguardedError || "none"})`,
        `guarded:   ${model.calls} model calls, ${executions} tool runs, ${int(guardedTokens)} tokens, ` +
          `${usd(spent, 4)} — loop refused, then ${quarantine === undefined ? "no quarantine" : "quarantine"} ended the run (${endedBy ?? "—"})`,
        `saved ${int(saved)} tokens (${((100 * saved) / Math.max(1, unguardedTokens)).toFixed(1)} %), ${usd(unguardedCost - spent, 2)}`,
      ],
      facts: {
        agent: AGENT,
        unguardedModelCalls: bare.calls,
        unguardedToolRuns: unguardedTools,
        unguardedTokens,
        unguardedCostUsd: unguardedCost,
        guardedModelCalls: model.calls,
        guardedToolRuns: executions,
        guardedTokens,
        guardedCostUsd: spent,
        tokensSaved: saved,
        loopRefusals,
        quarantined: sre.isQuarantined(AGENT),
        riskLevel: quarantine?.riskLevel ?? null,
        endedBy: endedBy ?? null,
      },
    };
  },
};
