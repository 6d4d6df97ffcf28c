/**
 * Each scene of `agent-sre demo` as an end-to-end test: the real frameworks (LangChain.js createAgent, AI SDK
 * generateText/streamText, MCP servers as child processes behind the proxy), only the LLM scripted. Every
 * test checks what the demo claims against the engine's own state (status, budget, breakers, SLOs, detector,
 * events, the proxy's audit log), not only against the figures the scene reports.
 */
import type { AgentSREEventName } from "@agent-sre/core";
import {
  anomalyScene,
  canaryScene,
  cascadeScene,
  chaosScene,
  costScene,
  downgradeScene,
  driftScene,
  Fleet,
  failoverScene,
  loopScene,
  replayScene,
  retryStormScene,
  rogueScene,
  rollbackScene,
  type Scene,
  type SceneOutcome,
} from "@agent-sre/demo";
import { afterEach, describe, expect, it } from "vitest";

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
});

async function play(scene: Scene): Promise<{ fleet: Fleet; outcome: SceneOutcome; progress: string[] }> {
  fleet = new Fleet({ seed: 42 });
  const progress: string[] = [];
  const outcome = await scene.run({ fleet, progress: (text) => progress.push(text) });
  return { fleet, outcome, progress };
}

function names(f: Fleet, wanted: AgentSREEventName[], agentId?: string): string[] {
  return f.events
    .filter((e) => wanted.includes(e.name))
    .filter((e) => agentId === undefined || (e.payload as { agentId?: string }).agentId === agentId)
    .map((e) => {
      const p = e.payload as { code?: string; breakerId?: string };
      return `${e.name}${p.code === undefined ? "" : `:${p.code}`}${p.breakerId === undefined ? "" : `:${p.breakerId}`}`;
    });
}

// A real scene (real frameworks, MCP server processes): an explicit, generous timeout for loaded machines.
describe("scene: runaway loop (LangChain.js createAgent + agentSREMiddleware)", { timeout: 120_000 }, () => {
  it("refuses the third identical tool call, quarantines the agent, and saves the tokens the loop would burn", async () => {
    const { fleet: f, outcome } = await play(loopScene);
    const status = f.sre.status().agents["support-bot"];
    expect(outcome.contained).toBe(true);
    // Within a few calls: two runs of the tool, the third identical call refused.
    expect(outcome.facts.guardedToolRuns).toBe(2);
    // The loop refusal raises the risk to HIGH, which quarantines the agent in the same pre-flight.
    expect(names(f, ["call.refused", "agent.quarantine"], "support-bot")).toEqual([
      "agent.quarantine",
      "call.refused:LOOP_DETECTED",
      "call.refused:AGENT_QUARANTINED",
    ]);
    expect(status?.quarantined?.reason).toMatch(/loop/i);
    expect(status?.refused).toBe(2);
    expect(outcome.facts.endedBy).toBe("AGENT_QUARANTINED");
    // The unguarded run of the same agent only stops at LangGraph's recursion limit.
    expect(outcome.facts.unguardedModelCalls).toBe(25);
    expect(outcome.facts.guardedModelCalls).toBe(3);
    const unguarded = outcome.facts.unguardedTokens as number;
    const guarded = outcome.facts.guardedTokens as number;
    expect(guarded * 50).toBeLessThan(unguarded);
    expect(outcome.facts.tokensSaved).toBe(unguarded - guarded);
    // What the budget recorded is what the guarded run cost.
    expect(f.sre.budget.agentStatus("support-bot").spentTodayUsd).toBeCloseTo(
      outcome.facts.guardedCostUsd as number,
      9,
    );
    expect(f.sre.budget.agentStatus("support-bot").tokensToday).toBe(guarded);
  });
});

describe("scene: canary release (LangChain.js createAgent + agentSREMiddleware models)", {
  timeout: 120_000,
}, () => {
  it("promotes gpt-4.1 step by step to 100 %, every ticket on one model, decisions in status() and events", async () => {
    const { fleet: f, outcome } = await play(canaryScene);
    expect(outcome.contained).toBe(true);
    const transitions = f.eventsOf("rollout.transition").filter((e) => e.rolloutId === "helpdesk-gpt-4.1");
    expect(transitions.map((e) => `${e.action}@${e.percent}`)).toEqual([
      "start@10",
      "promote@25",
      "promote@50",
      "complete@100",
    ]);
    // Each step was held its 5 simulated minutes before the next promotion.
    for (let i = 1; i < transitions.length; i++) {
      expect((transitions[i]?.at ?? 0) - (transitions[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(5 * 60_000);
    }
    expect(outcome.facts.mixedTickets).toBe(0);
    const rollout = f.sre.status().delivery?.rollouts.find((r) => r.id === "helpdesk-gpt-4.1");
    expect(rollout?.state).toBe("completed");
    // The engine's own counts agree with what the models saw: two calls per ticket.
    expect(rollout?.routed.candidate).toBe(outcome.facts.candidateModelCalls);
    expect(rollout?.routed.baseline).toBe(outcome.facts.baselineModelCalls);
    expect(outcome.facts.candidateModelCalls).toBe(2 * (outcome.facts.candidateTickets as number));
    const models = new Set(
      f
        .eventsOf("call.completed")
        .filter((e) => e.agentId === "helpdesk-agent" && e.kind === "model")
        .map((e) => e.name),
    );
    expect(models).toEqual(new Set(["gpt-4o", "gpt-4.1"]));
  });
});

describe("scene: automatic rollback (AI SDK generateText + agentSREMiddleware models)", {
  timeout: 120_000,
}, () => {
  it("rolls the regressing candidate back at its first step on the app's eval; no later brief reaches it", async () => {
    const { fleet: f, outcome } = await play(rollbackScene);
    expect(outcome.contained).toBe(true);
    const transitions = f.eventsOf("rollout.transition").filter((e) => e.rolloutId === "briefing-nano");
    expect(transitions.map((e) => `${e.action}@${e.percent}`)).toEqual(["start@20", "rollback@0"]);
    expect(transitions[1]).toMatchObject({ automatic: true, stepIndex: 0 });
    expect(transitions[1]?.reason).toMatch(/^metric cited mean 0 vs baseline 1/);
    expect(outcome.facts).toMatchObject({
      state: "rolled_back",
      candidateCited: 0,
      reachedCandidateAfterRollback: 0,
      citedAfterRollback: 12,
      rolledBackAtPercent: 20,
    });
    // No call failed and nothing was refused: the eval, not an error, caught it.
    expect(f.eventsOf("call.refused").filter((e) => e.agentId === "briefing-agent")).toEqual([]);
    const rollbackAt = transitions[1]?.at ?? 0;
    const later = f
      .eventsOf("call.completed")
      .filter((e) => e.agentId === "briefing-agent" && e.at > rollbackAt);
    expect(later.length).toBeGreaterThan(0);
    expect(later.some((e) => e.name === "gpt-4.1-nano")).toBe(false);
  });
});

describe("scene: budget downgrade (AI SDK generateText + agentSREMiddleware models)", {
  timeout: 120_000,
}, () => {
  it("routes the near-budget agent to the cheaper model instead of killing it; every digest is written", async () => {
    const { fleet: f, outcome } = await play(downgradeScene);
    expect(outcome.contained).toBe(true);
    const budget = f.sre.budget.agentStatus("digest-agent");
    expect(budget.killed).toBe(false);
    expect(budget.spentTodayUsd).toBeCloseTo(outcome.facts.spentUsd as number, 9);
    expect(budget.utilization).toBeLessThan(0.85); // never even throttled
    const downgrades = f.eventsOf("budget.downgrade").filter((e) => e.agentId === "digest-agent");
    expect(downgrades).toHaveLength(1);
    expect(downgrades[0]).toMatchObject({ fromModel: "gpt-4.1", toModel: "gpt-4.1-mini", threshold: 0.7 });
    // The engine priced each call as the model that ran it: gpt-4.1 until 70 %, gpt-4.1-mini after.
    const calls = f.eventsOf("call.completed").filter((e) => e.agentId === "digest-agent");
    const firstMini = calls.findIndex((e) => e.name === "gpt-4.1-mini");
    expect(calls.slice(0, firstMini).every((e) => e.name === "gpt-4.1")).toBe(true);
    expect(calls.slice(firstMini).every((e) => e.name === "gpt-4.1-mini")).toBe(true);
    expect(calls).toHaveLength(40);
    expect(f.sre.status().delivery?.downgrade?.active).toEqual([
      expect.objectContaining({ agentId: "digest-agent", calls: 40 - firstMini }),
    ]);
    expect(outcome.facts.withoutPolicyServed).toBeLessThan(40);
  });
});

// A real scene (real frameworks, MCP server processes): an explicit, generous timeout for loaded machines.
describe("scene: behavioural drift (AI SDK generateText + guardTools)", { timeout: 120_000 }, () => {
  it("flags a silent model update through the SLO burn rate and the entropy signal, without blocking calls", async () => {
    const { fleet: f, outcome } = await play(driftScene);
    expect(outcome.contained).toBe(true);
    const slo = f.sre.slos.snapshot().find((e) => e.name === "research-agent/task-success");
    expect(outcome.facts.sloBefore).toBe("HEALTHY");
    expect(slo?.status).toBe("EXHAUSTED");
    expect(slo?.burnRates["5m"]).toBeGreaterThanOrEqual(14.4);
    expect(slo?.burnRates["1h"]).toBeGreaterThanOrEqual(14.4);
    const pages = f.eventsOf("slo.alert").filter((e) => e.severity === "page");
    expect(pages.length).toBeGreaterThan(0);
    expect(outcome.facts.pagedAfterBadBriefs).toBe(1);
    expect(f.eventsOf("slo.exhausted").map((e) => e.action)).toEqual(["FREEZE_DEPLOYMENTS"]);
    expect(f.sre.deploymentsFrozen).toBe(true);
    // The decision pattern collapsed: entropy from log2(3) bits to 0, risk raised, not quarantined.
    const assessment = f.sre.detector?.assess("research-agent");
    expect(outcome.facts.entropyBitsBefore).toBeCloseTo(Math.log2(3), 2);
    expect(assessment?.details.entropyBits).toBe(0);
    expect(assessment?.riskLevel).toBe("MEDIUM");
    expect(f.sre.isQuarantined("research-agent")).toBe(false);
    // Drift is flagged, not blocked: no call of the agent was refused.
    expect(f.sre.status().agents["research-agent"]?.refused).toBe(0);
  });
});

// A real scene (real frameworks, MCP server processes): an explicit, generous timeout for loaded machines.
describe("scene: cost explosion (AI SDK streamText/generateText + agentSREMiddleware)", {
  timeout: 120_000,
}, () => {
  it("refuses the oversized call up front, throttles then kills at the thresholds, and never passes the limit", async () => {
    const { fleet: f, outcome } = await play(costScene);
    expect(outcome.contained).toBe(true);
    const budget = f.sre.budget.agentStatus("report-writer");
    // Up front: the provider never saw the archive call.
    expect(outcome.facts.upfrontRefusal).toBe("BUDGET_EXCEEDED");
    expect(outcome.facts.providerCallsForArchive).toBe(0);
    expect(outcome.facts.upfrontRequestedUsd as number).toBeGreaterThan(
      budget.limits.perTaskLimitUsd as number,
    );
    // Throttle at 85 %, then kill at 95 %, in that order; every later call refused.
    const sequence = f.events
      .filter((e) => ["budget.throttle", "budget.kill"].includes(e.name))
      .map((e) => `${e.name}@${(e.payload as { threshold: number }).threshold}`);
    expect(sequence).toEqual(["budget.throttle@0.85", "budget.kill@0.95"]);
    expect(budget.killed).toBe(true);
    expect(outcome.facts.stoppedBy).toBe("AGENT_KILLED");
    expect(
      f
        .eventsOf("call.refused")
        .filter((e) => e.agentId === "report-writer")
        .map((e) => e.code),
    ).toEqual(["BUDGET_EXCEEDED", "AGENT_KILLED"]);
    // Throttled calls waited for their admission (delay mode): slowed down, not refused.
    expect(outcome.facts.simulatedWaitMs as number).toBeGreaterThan(0);
    // Spend never passes the limit, nothing stays reserved, and no task passed its own limit.
    expect(budget.spentTodayUsd).toBeLessThanOrEqual(budget.limits.dailyLimitUsd as number);
    expect(budget.spentTodayUsd).toBeGreaterThan(0.95);
    expect(budget.reservedTodayUsd).toBe(0);
    expect(outcome.facts.maxChapterCostUsd as number).toBeLessThanOrEqual(
      budget.limits.perTaskLimitUsd as number,
    );
    expect(outcome.facts.streamsCutOff).toBe(outcome.facts.chaptersWritten);
  });
});

// A real scene (real frameworks, MCP server processes): an explicit, generous timeout for loaded machines.
describe("scene: rogue behaviour (LangChain.js createAgent + agentSREMiddleware)", {
  timeout: 120_000,
}, () => {
  it("refuses shell_exec, quarantines the agent, and admits none of its later calls", async () => {
    const { fleet: f, outcome } = await play(rogueScene);
    expect(outcome.contained).toBe(true);
    expect(outcome.facts.shellExecutions).toBe(0);
    const refused = f.eventsOf("call.refused").filter((e) => e.agentId === "ops-agent");
    expect(refused[0]).toMatchObject({ kind: "tool", name: "shell_exec", code: "TOOL_NOT_ALLOWED" });
    expect(refused.slice(1).every((e) => e.code === "AGENT_QUARANTINED")).toBe(true);
    const quarantine = f.eventsOf("agent.quarantine").find((e) => e.agentId === "ops-agent");
    expect(quarantine?.riskLevel).toBe("HIGH");
    expect(f.sre.admission("ops-agent")?.code).toBe("AGENT_QUARANTINED");
    expect(outcome.facts.secondTaskModelCalls).toBe(0);
    // The assessments behind the quarantine form an intact hash chain.
    expect(f.sre.detector?.verifyAssessmentChain().ok).toBe(true);
  });
});

// A real scene (real frameworks, MCP server processes): an explicit, generous timeout for loaded machines.
describe("scene: retry storm (MCP clients retrying every failure through the proxy)", {
  timeout: 120_000,
}, () => {
  it("refuses the retries over the budget, sheds them during the cascade, and lifts the response on recovery", async () => {
    const { fleet: f, outcome } = await play(retryStormScene);
    const facts = outcome.facts;
    expect(outcome.contained).toBe(true);
    // 3 agents × 6 orders during the outage, each tried up to 5 times.
    expect(facts.stormFirstAttempts).toBe(18);
    expect(facts.stormAttempts).toBe(90);
    expect(facts.unguardedCalls).toBe(90);
    // Only a few reached the failing server: the budget and the open breakers answered the rest at once.
    expect(facts.reachedFailingServer as number).toBeLessThan(18);
    expect(facts.retriesRefusedByBudget as number).toBeGreaterThan(0);
    expect(facts.retriesShedByCascade as number).toBeGreaterThan(0);
    // What the scene reports is what the engine and the proxy saw.
    const refused = f.eventsOf("call.refused").filter((e) => e.code === "RETRY_BUDGET_EXCEEDED");
    expect(refused).toHaveLength(
      (facts.retriesRefusedByBudget as number) + (facts.retriesShedByCascade as number),
    );
    const response = f.eventsOf("cascade.response")[0];
    expect(response?.actions).toEqual(["shed-retries"]);
    expect(facts.cascadeResponseActions).toEqual(["shed-retries"]);
    expect(f.eventsOf("cascade.lifted")).toHaveLength(1);
    expect(f.sre.retryBudget?.shedding).toBe(false);
    expect(facts.openCircuitsAfter).toEqual([]);
    expect(f.sre.breakers.openCircuits()).toEqual([]);
    expect(facts.ordersDoneAfterRecovery).toBe(6);
    expect(outcome.headline).toMatch(/refused by the retry budget/);
  });
});

describe("scene: cascading failure (AI SDK + MCP servers behind the proxy)", { timeout: 120_000 }, () => {
  it("opens the breakers, detects the cascade, contains the retry storm, and recovers through half-open", async () => {
    const { fleet: f, outcome } = await play(cascadeScene);
    expect(outcome.contained).toBe(true);
    const tools = [
      "tool:inventory__get_stock",
      "tool:inventory__get_price",
      "tool:inventory__quote_shipping",
    ];
    const transitions = f.events
      .filter((e) => e.name.startsWith("breaker."))
      .map((e) => {
        const p = e.payload as { breakerId?: string; openBreakers?: string[] };
        return `${e.name} ${p.breakerId ?? p.openBreakers?.length}`;
      });
    for (const id of tools) {
      const mine = transitions.filter((t) => t.endsWith(` ${id}`)).map((t) => t.split(" ")[0]);
      expect(mine).toEqual(["breaker.open", "breaker.half_open", "breaker.close"]);
    }
    expect(transitions).toContain("breaker.cascade 3");
    // The proxy's audit log: during the outage only failureThreshold (3) calls per tool reached the server.
    const gateway = await f.gateway();
    const storm = gateway.audit.records.filter((r) => r.server === "inventory" && r.outcome !== "ok");
    expect(storm.filter((r) => r.decision === "allowed").length).toBe(9);
    expect(storm.filter((r) => r.code === "CIRCUIT_OPEN").length).toBe(outcome.facts.refusedByOpenBreaker);
    expect(outcome.facts.refusedByOpenBreaker as number).toBeGreaterThan(0);
    // The other upstream kept working, and everything is closed at the end.
    expect(outcome.facts.everythingOkDuringOutage as number).toBeGreaterThan(0);
    expect(f.sre.breakers.openCircuits()).toEqual([]);
    expect(outcome.facts.ordersDoneAfterRecovery).toBe(6);
  });
});

// A real scene (real frameworks, MCP server processes): an explicit, generous timeout for loaded machines.
describe("scene: chaos experiment (AI SDK + server-everything behind the proxy)", {
  timeout: 120_000,
}, () => {
  it("injects seeded faults, scores resilience against the baseline, and aborts the stall experiment", async () => {
    const { fleet: f, outcome } = await play(chaosScene);
    expect(outcome.contained).toBe(true);
    const reports = f.sre.chaos.reports();
    const brownout = reports.find((r) => r.name === "brownout");
    const stall = reports.find((r) => r.name === "provider-stall");
    expect(brownout?.state).toBe("completed");
    expect(brownout?.injectedTotal).toBeGreaterThan(0);
    expect(brownout?.resilienceScore).toBeGreaterThan(0);
    expect(brownout?.resilienceScore).toBeLessThan(100);
    expect(outcome.facts.resilienceScore).toBe(brownout?.resilienceScore);
    expect(stall?.state).toBe("aborted");
    expect(stall?.abortReason).toMatch(/p99_latency_ms/);
    expect(f.eventsOf("chaos.abort").map((e) => e.experiment)).toEqual(["provider-stall"]);
    // Once aborted, the faults are withdrawn: no injection after the abort.
    const abortAt = f.eventsOf("chaos.abort")[0]?.at ?? 0;
    expect(
      f.eventsOf("chaos.fault").filter((e) => e.experiment === "provider-stall" && e.at > abortAt),
    ).toEqual([]);
    expect(outcome.facts.stallTasksAnswered).toBe(4);
  });
});

describe("scene: provider outage (LangChain.js modelFallbackMiddleware + toolRetryMiddleware around agentSREMiddleware)", () => {
  it("opens the primary's breaker on real 503s, then skips it; every request answered; closes after recovery", async () => {
    const { fleet: f, outcome } = await play(failoverScene);
    expect(outcome.contained).toBe(true);
    expect(outcome.facts).toMatchObject({
      answered: 6,
      primaryFailures: 3, // failureThreshold 3: then the breaker opens
      loopRefusals: 0,
      breakerAfterRecovery: "CLOSED",
    });
    // Two model calls a request: after the breaker opened, every primary call was refused pre-flight.
    expect(outcome.facts.primarySkipped).toBe(9);
    // Each request's search failed once and was retried: two runs, two guarded attempts a request.
    expect(outcome.facts.toolRuns).toBe(outcome.facts.toolAttempts);
    expect(names(f, ["breaker.open", "breaker.close"]).filter((n) => n.includes("gpt-4.1"))).toEqual([
      "breaker.open:model:gpt-4.1",
      "breaker.close:model:gpt-4.1",
    ]);
    expect(f.sre.breakers.get("model:gpt-4.1").state).toBe("CLOSED");
  });
});

describe("scene: replay the cost explosion (record, then replayModel + replayDecisions)", {
  timeout: 120_000,
}, () => {
  it("records the runaway run, and both replays name the call the fleet's budget stops, with no live model call", async () => {
    const { fleet: f, outcome } = await play(replayScene);
    expect(outcome.contained).toBe(true);
    expect(outcome.facts).toMatchObject({
      recordedCalls: 6,
      firstRefusedCall: 2,
      firstRefusalCode: "BUDGET_EXCEEDED",
      liveModelCallsDuringReplay: 0,
      replayCutOffs: 1,
      decisionsFirstRefusedCall: 2,
      decisionsRefused: 5,
    });
    // The app saw the refusals as stream errors, one per refused chapter.
    expect(outcome.facts.refusalsSeenByApp).toEqual(Array(5).fill("BUDGET_EXCEEDED"));
    const incident = outcome.facts.incidentUsd as number;
    const replayed = outcome.facts.replayUsd as number;
    expect(incident).toBeGreaterThan(0.5);
    expect(replayed).toBeGreaterThan(0);
    expect(replayed).toBeLessThanOrEqual(0.05 + 1e-9); // the report writer's per-task limit in the fleet policy
    expect(outcome.headline).toMatch(/stops the incident at call #2 \(BUDGET_EXCEEDED\)/);
    expect(outcome.lines.join("\n")).toMatch(/0 live model calls/);
    // The replay ran on its own engines: the fleet's engine saw none of it.
    expect(f.sre.status().agents["report-writer"]).toBeUndefined();
  });
});

describe("scene: cost anomaly (AI SDK, anomalyDetection.action hold)", { timeout: 120_000 }, () => {
  it("holds the agent at the 10×+ spike, refuses its next calls, and lets it continue once the on-call confirms", async () => {
    const { outcome } = await play(anomalyScene);
    const facts = outcome.facts;
    expect(outcome.contained).toBe(true);
    expect(facts.response).toBe("hold");
    expect(facts.spikeRatio as number).toBeGreaterThan(10);
    expect(facts.spikeUsd as number).toBeCloseTo(
      (facts.baselineUsd as number) * (facts.spikeRatio as number),
      12,
    );
    expect(facts.zScore as number).toBeGreaterThan(facts.zThreshold as number);
    // The run in flight stopped at its next call: the tool never ran, one provider call (the spike) was made.
    expect(facts.firstRefusal).toBe("ANOMALY_HELD");
    expect(facts.spikeRunProviderCalls).toBe(1);
    expect(facts.spikeRunToolRuns).toBe(0);
    // The queue's next tickets were refused at their first call: nothing reached the provider while held.
    expect(facts.queuedRefusals).toEqual(["ANOMALY_HELD", "ANOMALY_HELD", "ANOMALY_HELD"]);
    expect(facts.providerCallsWhileHeld).toBe(0);
    // Every refused call was counted by the engine: the held tool call and the three first model calls.
    expect(facts.refusedWhileHeld).toBe(4);
    expect(facts.heldCallsInStatus).toBe(4);
    expect(facts.confirmed).toBe(true);
    expect(facts.releasedBy).toBe("confirm");
    // After the confirmation the agent is back on its steady pattern, at the same cost per ticket.
    expect(facts.afterConfirmSummarized).toBe(facts.afterConfirmTasks);
    expect(facts.afterConfirmPerTaskUsd as number).toBeCloseTo(facts.steadyPerTaskUsd as number, 9);
    // 36 steady tickets × 2 calls, the spike, 6 tickets × 2 after: nothing else reached the provider.
    expect(facts.totalProviderCalls).toBe(36 * 2 + 1 + 6 * 2);
    expect(outcome.lines.join("\n")).toMatch(/4 calls refused in all/);
  });
});
