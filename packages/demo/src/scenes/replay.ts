/**
 * Scene — Replay the cost explosion. After the incident, the question is "would today's guard have stopped
 * it, and where?". The report writer's runaway run is recorded (the AI SDK middleware's `record` option) as
 * it happened under the config of the time — no budget — then replayed twice without calling a model:
 * in the application's own code (`streamText` over `replayModel`, the middleware on an engine with the
 * fleet's budget, on the trace's clock), and call by call through the engine alone (`replayDecisions`, what
 * `agent-sre replay --config` does). Both name the call the tighter budget stops.
 */
import { agentSREMiddleware, replayModel } from "@agent-sre/ai-sdk";
import {
  AgentSRE,
  parseTrace,
  Recorder,
  type RefusalError,
  ReplaySession,
  replayDecisions,
} from "@agent-sre/core";
import { streamText, wrapLanguageModel } from "ai";
import { fleetPolicy } from "../fleet.js";
import { scriptedLanguageModel } from "../models/ai-model.js";
import { type Scene, usd } from "../scene.js";

const AGENT = "report-writer";
const TASK = "annual-report";
const MODEL = "gpt-4.1";
const CHAPTERS = 6;
const PROSE = "Revenue grew in every region while operating costs held flat; the outlook remains cautious. ";
const DELTA = PROSE.repeat(Math.ceil(800 / PROSE.length)).slice(0, 800);
/** Each chapter's stream runs to 12,000 tokens: the model ignores maxOutputTokens. */
const RUNAWAY_DELTAS = 60;

const chapterPrompt = (i: number) =>
  `Write chapter ${i} of the annual report. Notes: ${"figures; ".repeat(200)}`;

export const replayScene: Scene = {
  name: "replay",
  title: "Replay the cost explosion",
  failure: "after the incident: would today's budget have stopped the runaway run, and at which call?",
  async run({ fleet, progress }) {
    const { clock } = fleet;
    // 1. The incident, recorded under the config of the time: no budget at all.
    const incident = new AgentSRE({ clock });
    const recorder = new Recorder({ source: "ai-sdk", config: { budget: "none" } });
    const { model, meter } = scriptedLanguageModel({
      modelId: MODEL,
      clock,
      latencyMs: 1_500,
      stream: { delta: DELTA, tokensPerDelta: 200, limitDeltas: RUNAWAY_DELTAS },
    });
    const recording = wrapLanguageModel({
      model,
      middleware: agentSREMiddleware(incident, { agentId: AGENT, taskId: TASK, record: recorder }),
    });
    for (let i = 1; i <= CHAPTERS; i++) {
      progress(`the incident: chapter ${i} streams away`);
      await streamText({
        model: recording,
        prompt: chapterPrompt(i),
        maxOutputTokens: 4_000,
        maxRetries: 0,
      }).consumeStream();
    }
    const run = recorder.endRun(AGENT, TASK);
    if (run === undefined) throw new Error("the incident was not recorded");
    const trace = parseTrace(run.text);
    const incidentUsd = incident.budget.agentStatus(AGENT).spentTodayUsd;
    const modelCallsRecorded = meter.calls;

    // 2. Replayed in the application's code under the fleet's budget: no live model call.
    progress("replaying the trace under the fleet's budget");
    const { clock: _, ...policy } = fleetPolicy(clock, fleet.seed);
    const session = new ReplaySession(trace, { onDivergence: "report" });
    const guard = new AgentSRE({ ...policy, clock: session.clock });
    session.attach(guard);
    let cutOffs = 0;
    const replayed = wrapLanguageModel({
      model: replayModel(session),
      middleware: agentSREMiddleware(guard, { agentId: AGENT, taskId: TASK, onCutOff: () => cutOffs++ }),
    });
    const refusals: string[] = [];
    for (let i = 1; i <= CHAPTERS; i++) {
      await streamText({
        model: replayed,
        prompt: chapterPrompt(i),
        maxOutputTokens: 4_000,
        maxRetries: 0,
        onError: ({ error }) => {
          refusals.push((error as RefusalError).code ?? String(error));
        },
      }).consumeStream();
    }
    const report = session.report();
    const stopped = report.whatIf.find((f) => f.change === "refused");
    const replayUsd = guard.budget.agentStatus(AGENT).spentTodayUsd;

    // 3. The same question without the application, as `agent-sre replay --config` asks it.
    progress("re-deciding each recorded call under the fleet's budget");
    const decisions = await replayDecisions(trace, { engine: policy });
    const firstDecision = decisions.firstRefusal;
    const limits = guard.budget.agentStatus(AGENT).limits;

    return {
      contained:
        stopped !== undefined &&
        firstDecision !== undefined &&
        meter.calls === modelCallsRecorded &&
        replayUsd <= (limits.perTaskLimitUsd ?? Number.POSITIVE_INFINITY) + 1e-9,
      headline:
        stopped === undefined
          ? "the fleet's budget would not have stopped this run"
          : `the fleet's budget stops the incident at call #${stopped.seq} (${stopped.replayed.code}): ${usd(replayUsd, 4)} instead of ${usd(incidentUsd, 4)}`,
      lines: [
        `recorded the incident: ${trace.calls.length} streamed model calls in task "${TASK}", ${usd(incidentUsd, 4)} with no budget ` +
          `(trace: ${Math.round(run.bytes / 1024)} KB of JSON Lines, format v${trace.header.version})`,
        `replayed in the app's own code (streamText over replayModel, ${usd(limits.perTaskLimitUsd ?? 0, 2)} per task): ` +
          `call #1 cut off in flight ${cutOffs === 1 ? "once" : `${cutOffs} times`}, ` +
          `first refusal at call #${stopped?.seq ?? "—"} (${stopped?.replayed.code ?? "none"}); 0 live model calls`,
        `re-decided call by call (agent-sre replay --config): first refusal at call #${firstDecision?.seq ?? "—"} ` +
          `(${firstDecision?.replayed.code ?? "none"}), ${decisions.whatIf.filter((f) => f.change === "refused").length} of ${trace.calls.length} calls refused`,
      ],
      facts: {
        agent: AGENT,
        recordedCalls: trace.calls.length,
        incidentUsd,
        traceBytes: run.bytes,
        replayUsd,
        replayCutOffs: cutOffs,
        firstRefusedCall: stopped?.seq ?? null,
        firstRefusalCode: stopped?.replayed.code ?? null,
        refusalsSeenByApp: refusals,
        liveModelCallsDuringReplay: meter.calls - modelCallsRecorded,
        decisionsFirstRefusedCall: firstDecision?.seq ?? null,
        decisionsRefused: decisions.whatIf.filter((f) => f.change === "refused").length,
      },
    };
  },
};
