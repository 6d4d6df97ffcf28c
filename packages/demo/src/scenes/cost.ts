/**
 * Scene 3 — Cost explosion. An AI SDK report writer (`streamText`/`generateText` + `agentSREMiddleware`)
 * with a $0.05 per-task and $1.00 daily budget. First it tries to put the whole archive (150k tokens) into
 * one call: the reservation of its worst case is refused before the provider is called. Then it writes the
 * report chapter by chapter, and the model runs away on every chapter (it ignores `maxOutputTokens` and
 * streams until stopped): the in-flight cap cuts each stream where the task's money ends, the daily budget
 * crosses its alert thresholds, THROTTLE slows the agent down at 85 %, and KILL stops it at 95 %.
 * Spend never passes the limit.
 */
import { agentSREMiddleware } from "@agent-sre/ai-sdk";
import type { RefusalError } from "@agent-sre/core";
import { generateText, streamText, wrapLanguageModel } from "ai";
import { scriptedLanguageModel } from "../models/ai-model.js";
import { int, type Scene, seconds, usd } from "../scene.js";

const AGENT = "report-writer";
const MODEL = "gpt-4.1";
const CHAPTERS = 30;
const PROSE = "Revenue grew in every region while operating costs held flat; the outlook remains cautious. ";
/** One streamed delta: 800 characters, 200 tokens. */
const DELTA = PROSE.repeat(Math.ceil(800 / PROSE.length)).slice(0, 800);
const RUNAWAY_DELTAS = 500; // 100k tokens if nothing stops it

export const costScene: Scene = {
  name: "cost",
  title: "Cost explosion",
  failure: "one task tries to spend far past its limit, then the agent keeps spending",
  async run({ fleet, progress }) {
    const { sre, clock } = fleet;
    fleet.addAgent(AGENT, "AI SDK");
    const { model, meter } = scriptedLanguageModel({
      modelId: MODEL,
      clock,
      latencyMs: 1_500,
      decide: () => ({ text: "A summary of the archive.", outputTokens: 2_000 }),
      stream: { delta: DELTA, tokensPerDelta: 200, limitDeltas: RUNAWAY_DELTAS },
    });
    let cutOffs = 0;
    const guarded = wrapLanguageModel({
      model,
      middleware: agentSREMiddleware(sre, { agentId: AGENT, onCutOff: () => cutOffs++ }),
    });
    const from = fleet.events.length;
    const limits = sre.budget.agentStatus(AGENT).limits;

    // 1. One call for the whole archive: refused up front.
    progress("summarise the whole archive in one call");
    const archive = `${"Quarterly ledger line: account 4410, amount 1,250.00, approved. ".repeat(9_500)}`;
    let upfront: RefusalError | undefined;
    try {
      await generateText({
        model: guarded,
        prompt: `Summarise this archive:\n${archive}`,
        maxOutputTokens: 32_000,
        maxRetries: 0,
        providerOptions: { agentSre: { taskId: "archive-summary" } },
      });
    } catch (error) {
      upfront = error as RefusalError;
    }
    const providerCallsAfterUpfront = meter.calls;

    // 2. Chapter by chapter, each a runaway stream.
    const chapters: Array<{ costUsd: number; waitedMs: number; outcome: string }> = [];
    let stoppedBy: string | undefined;
    for (let i = 1; i <= CHAPTERS && stoppedBy === undefined; i++) {
      const spentBefore = sre.budget.agentStatus(AGENT).spentTodayUsd;
      progress(`chapter ${i}: ${usd(spentBefore, 2)} of ${usd(limits.dailyLimitUsd ?? 0, 2)} spent`);
      const started = clock.now();
      const latencyMs = 1_500;
      let error: unknown;
      const result = streamText({
        model: guarded,
        prompt: `Write chapter ${i} of the annual report. Notes: ${"figures and commentary; ".repeat(400)}`,
        maxOutputTokens: 4_000,
        maxRetries: 0,
        providerOptions: { agentSre: { taskId: `chapter-${i}` } },
        onError: ({ error: e }) => {
          error = e;
        },
      });
      await result.consumeStream();
      const code = (error as RefusalError | undefined)?.code;
      const spentAfter = sre.budget.agentStatus(AGENT).spentTodayUsd;
      const waitedMs = Math.max(0, clock.now() - started - (code === undefined ? latencyMs : 0));
      chapters.push({ costUsd: spentAfter - spentBefore, waitedMs, outcome: code ?? "written" });
      if (code !== undefined) stoppedBy = code;
      clock.advance(10_000);
    }

    const status = sre.budget.agentStatus(AGENT);
    const written = chapters.filter((c) => c.outcome === "written");
    const alerts = fleet
      .eventsOf("budget.alert", from)
      .filter((e) => e.agentId === AGENT && e.scope === "agent-daily");
    const throttle = fleet.eventsOf("budget.throttle", from).find((e) => e.agentId === AGENT);
    const kill = fleet.eventsOf("budget.kill", from).find((e) => e.agentId === AGENT);
    const chapterAt = (spent: number) => {
      let total = 0;
      for (const [index, chapter] of chapters.entries()) {
        total += chapter.costUsd;
        if (total >= spent - 1e-9) return index + 1;
      }
      return undefined;
    };
    const waited = chapters.reduce((sum, c) => sum + c.waitedMs, 0);
    const pricing = sre.prices.resolve(MODEL, "openai");
    const perRunaway =
      pricing === undefined
        ? 0
        : (2_600 * pricing.inputPerMTokUsd + RUNAWAY_DELTAS * 200 * pricing.outputPerMTokUsd) / 1e6;
    const wouldHave = CHAPTERS * perRunaway;
    const requested = (upfront as { requestedUsd?: number } | undefined)?.requestedUsd;

    return {
      contained:
        upfront?.code === "BUDGET_EXCEEDED" &&
        providerCallsAfterUpfront === 0 &&
        throttle !== undefined &&
        kill !== undefined &&
        status.spentTodayUsd <= (limits.dailyLimitUsd ?? Number.POSITIVE_INFINITY),
      headline:
        `spent ${usd(status.spentTodayUsd, 4)} of ${usd(limits.dailyLimitUsd ?? 0, 2)}: archive call refused up front, ` +
        `${cutOffs} runaway streams cut, THROTTLE at ${pct(throttle?.threshold)}, KILL at ${pct(kill?.threshold)}`,
      lines: [
        `one call for the 150k-token archive: ${upfront?.code ?? "not refused"} before the provider was called ` +
          `(worst case ${requested === undefined ? "?" : usd(requested, 2)} > ${usd(limits.perTaskLimitUsd ?? 0, 2)} per task; provider calls: ${providerCallsAfterUpfront})`,
        `${written.length} chapters written; every stream ran away and was cut where its task's money ended ` +
          `(${int(meter.deltas * 200)} tokens streamed instead of up to ${int(written.length * RUNAWAY_DELTAS * 200)})`,
        `alerts at ${alerts.map((a) => pct(a.threshold)).join(", ")}; THROTTLE after chapter ${chapterAt((throttle?.threshold ?? 0) * (limits.dailyLimitUsd ?? 0)) ?? "—"} ` +
          `(${seconds(waited)} of simulated waiting), KILL after chapter ${chapterAt((kill?.threshold ?? 0) * (limits.dailyLimitUsd ?? 0)) ?? "—"}; ` +
          `chapter ${chapters.length} refused: ${stoppedBy ?? "—"}`,
        `unguarded, ${CHAPTERS} runaway chapters would have cost about ${usd(wouldHave, 2)}`,
      ],
      facts: {
        agent: AGENT,
        upfrontRefusal: upfront?.code ?? null,
        upfrontRequestedUsd: requested ?? null,
        providerCallsForArchive: providerCallsAfterUpfront,
        chaptersWritten: written.length,
        streamsCutOff: cutOffs,
        alertThresholds: alerts.map((a) => String(a.threshold)),
        throttled: throttle !== undefined,
        throttleThreshold: throttle?.threshold ?? null,
        killed: kill !== undefined,
        killThreshold: kill?.threshold ?? null,
        stoppedBy: stoppedBy ?? null,
        simulatedWaitMs: waited,
        spentUsd: status.spentTodayUsd,
        reservedUsd: status.reservedTodayUsd,
        dailyLimitUsd: limits.dailyLimitUsd,
        perTaskLimitUsd: limits.perTaskLimitUsd,
        maxChapterCostUsd: Math.max(...chapters.map((c) => c.costUsd)),
        unguardedEstimateUsd: wouldHave,
      },
    };
  },
};

function pct(value: number | undefined): string {
  return value === undefined ? "—" : `${Math.round(value * 100)} %`;
}
