/**
 * Scene 3 — Automatic rollback. The drift scene's failure mode, this time caught by a rollout: an AI SDK
 * briefing agent (`generateText` + `agentSREMiddleware` with `models`) is moved to a cheaper model update
 * behind a canary. On the candidate the agent stops searching and fetches URLs it makes up: no call fails,
 * nothing is forbidden, it is cheaper per task — but the application's own eval (did the brief cite a page it
 * could read?) is fed to the rollout, whose analysis rolls the candidate back at the first step. From then on
 * no task reaches it.
 */
import { agentSREMiddleware, guardTools } from "@agent-sre/ai-sdk";
import { generateText, stepCountIs, tool, wrapLanguageModel } from "ai";
import { z } from "zod";
import { type ModelDecision, type ModelView, scriptedLanguageModel } from "../models/ai-model.js";
import { int, type Scene } from "../scene.js";
import { afterUpdate, beforeUpdate, slug, TOPICS } from "./drift.js";

const AGENT = "briefing-agent";
const BASELINE = "gpt-4.1-mini";
const CANDIDATE = "gpt-4.1-nano";
const MAX_TASKS = 80;
const AFTER_ROLLBACK = 12;

export const rollbackScene: Scene = {
  name: "rollback",
  title: "Automatic rollback",
  failure: "a model update that regresses quietly is rolled out to more and more users",
  async run({ fleet, progress }) {
    const { sre, clock } = fleet;
    fleet.addAgent(AGENT, "AI SDK");
    const rollout = fleet.delivery().add({
      id: "briefing-nano",
      baseline: { id: "mini", model: BASELINE },
      candidate: { id: "nano", model: CANDIDATE },
      strategy: {
        type: "canary",
        steps: [{ percent: 20, holdMs: "10m" }, { percent: 50, holdMs: "10m" }, { percent: 100 }],
      },
      analysis: {
        minCalls: 10,
        latencyP99: false,
        metrics: { cited: { direction: "higherIsBetter", tolerance: 0.1, minSamples: 5 } },
      },
      agents: [AGENT],
      seed: fleet.seed,
    });

    let topic = TOPICS[0] as string;
    const policyFor =
      (update: (topic: string) => (view: ModelView) => ModelDecision) =>
      (view: ModelView): ModelDecision =>
        update(topic)(view);
    const baseline = scriptedLanguageModel({
      modelId: BASELINE,
      clock,
      latencyMs: 500,
      decide: policyFor(beforeUpdate),
    });
    const candidate = scriptedLanguageModel({
      modelId: CANDIDATE,
      clock,
      latencyMs: 400,
      decide: policyFor(afterUpdate),
    });
    const pages = new Set(TOPICS.map((t) => `https://sre.example.com/wiki/${slug(t)}`));
    const tools = guardTools(
      {
        search: tool({
          description: "Web search; returns the best URLs.",
          inputSchema: z.object({ query: z.string() }),
          execute: async ({ query }) => ({ hits: [`https://sre.example.com/wiki/${slug(query)}`] }),
        }),
        fetch_page: tool({
          description: "Fetches a web page.",
          inputSchema: z.object({ url: z.string() }),
          execute: async ({ url }) =>
            pages.has(url)
              ? { status: 200, url, text: "An explanation with examples and references. ".repeat(20) }
              : { status: 404, url, text: "Not Found" },
        }),
        summarize: tool({
          description: "Summarises a text.",
          inputSchema: z.object({ text: z.string() }),
          execute: async ({ text }) => `summary (${text.length} chars in)`,
        }),
      },
      sre,
      { agentId: AGENT },
    );
    const model = wrapLanguageModel({
      model: baseline.model,
      middleware: agentSREMiddleware(sre, { agentId: AGENT, models: { [CANDIDATE]: candidate.model } }),
    });

    // The application judges each brief and feeds the verdict to the rollout as a user metric.
    const brief = async (i: number) => {
      topic = TOPICS[i % TOPICS.length] as string;
      const taskId = `brief-${i}`;
      const result = await generateText({
        model,
        tools,
        stopWhen: stepCountIs(8),
        prompt: `Write a short brief on ${topic}.`,
        providerOptions: { agentSre: { agentId: AGENT, taskId } },
      });
      const cited = result.steps.some((step) =>
        step.toolResults.some(
          (r) => r.toolName === "fetch_page" && (r.output as { status?: number }).status === 200,
        ),
      );
      rollout.observeMetric(taskId, "cited", cited ? 1 : 0);
      clock.advance(15_000); // four briefs a minute
      return { cited, model: result.response.modelId as string };
    };

    const seen: Array<{ cited: boolean; model: string }> = [];
    let i = 0;
    for (; i < MAX_TASKS && rollout.state === "progressing"; i++) {
      progress(`brief ${i + 1}: ${rollout.percent}% of new briefs on ${CANDIDATE}`);
      seen.push(await brief(i));
    }
    const rolledBackAfter = i;
    const candidateBriefs = seen.filter((s) => s.model === CANDIDATE);
    const after: Array<{ cited: boolean; model: string }> = [];
    for (let k = 0; k < AFTER_ROLLBACK; k++) {
      progress(`after the rollback: brief ${k + 1}/${AFTER_ROLLBACK}`);
      after.push(await brief(i + k));
    }
    const status = sre.status().delivery?.rollouts.find((r) => r.id === rollout.id);
    const decision = status?.lastTransition;
    const atPercent = status?.decisions.at(-2)?.percent;
    const reachedAfter = after.filter((s) => s.model === CANDIDATE).length;
    const citedAfter = after.filter((s) => s.cited).length;

    return {
      contained:
        rollout.state === "rolled_back" &&
        decision?.automatic === true &&
        decision.stepIndex === 0 &&
        reachedAfter === 0 &&
        citedAfter === AFTER_ROLLBACK,
      headline: `${CANDIDATE} rolled back automatically at ${atPercent ?? "?"}% → 0% after ${int(
        candidateBriefs.length,
      )} of ${int(rolledBackAfter)} briefs; none of the next ${AFTER_ROLLBACK} reached it`,
      lines: [
        `rollout ${rollout.id} (canary 20% → 50% → 100%, analysis on the app's eval "cited" and the engine's measurements)`,
        `on ${CANDIDATE}: ${candidateBriefs.filter((s) => s.cited).length}/${candidateBriefs.length} briefs cited a readable page ` +
          `(made-up URLs, no call failed); on ${BASELINE}: ${seen.filter((s) => s.model !== CANDIDATE && s.cited).length}/${
            seen.filter((s) => s.model !== CANDIDATE).length
          }`,
        `decision: ${decision?.action ?? "none"} — ${decision?.reason ?? ""}`,
        `after the rollback: ${citedAfter}/${AFTER_ROLLBACK} briefs cited, ${reachedAfter} reached ${CANDIDATE}`,
      ],
      facts: {
        agent: AGENT,
        rollout: rollout.id,
        state: rollout.state,
        decision: decision?.action ?? null,
        automatic: decision?.automatic ?? false,
        reason: decision?.reason ?? null,
        rolledBackAtPercent: atPercent ?? null,
        briefsBeforeRollback: rolledBackAfter,
        candidateBriefs: candidateBriefs.length,
        candidateCited: candidateBriefs.filter((s) => s.cited).length,
        briefsAfterRollback: AFTER_ROLLBACK,
        reachedCandidateAfterRollback: reachedAfter,
        citedAfterRollback: citedAfter,
        candidateModelCalls: candidate.meter.calls,
      },
    };
  },
};
