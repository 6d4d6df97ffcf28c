/**
 * Scene 2 — Behavioural drift. An AI SDK research agent (`generateText` + `agentSREMiddleware` +
 * `guardTools`) answers one question a minute: search, fetch the best page, summarise. Then the provider
 * rolls out a model update behind the same model name, and the agent's decisions change: it stops searching
 * and fetches URLs it makes up, again and again. Nothing crashes and no single call is forbidden — but the
 * task-success SLO starts burning its error budget far faster than allowed (multi-window burn-rate page,
 * then exhaustion, which freezes deployments), and the rogue detector's action-entropy signal sees the
 * decision pattern collapse.
 */
import { agentSREMiddleware, guardTools } from "@agent-sre/ai-sdk";
import type { SLOEvaluation } from "@agent-sre/core";
import { generateText, stepCountIs, tool, wrapLanguageModel } from "ai";
import { z } from "zod";
import { Fleet } from "../fleet.js";
import { type ModelDecision, type ModelView, scriptedLanguageModel } from "../models/ai-model.js";
import type { Scene } from "../scene.js";

const AGENT = "research-agent";
export const TOPICS = [
  "circuit breakers",
  "error budgets",
  "burn-rate alerts",
  "token budgets",
  "chaos engineering",
  "canary releases",
  "load shedding",
  "retry storms",
  "rate limiting",
  "bulkheads",
  "graceful degradation",
  "idempotency keys",
  "backpressure",
  "health checks",
  "feature flags",
  "blue-green deploys",
  "runbooks",
  "postmortems",
];
const BEFORE = 12;
const AFTER = 6;
export const slug = (topic: string) => topic.replaceAll(" ", "-");

/** The model as it was: search, fetch the first hit, summarise, answer. */
export function beforeUpdate(topic: string) {
  return (view: ModelView): ModelDecision => {
    const done = view.results.map((r) => r.toolName);
    if (!done.includes("search"))
      return { toolCalls: [{ name: "search", input: { query: topic } }], outputTokens: 24 };
    if (!done.includes("fetch_page")) {
      const url = (JSON.parse(view.results[0]?.text ?? "{}") as { hits?: string[] }).hits?.[0] ?? "";
      return { toolCalls: [{ name: "fetch_page", input: { url } }], outputTokens: 30 };
    }
    if (!done.includes("summarize")) {
      return {
        toolCalls: [{ name: "summarize", input: { text: view.results[1]?.text ?? "" } }],
        outputTokens: 40,
      };
    }
    return { text: `A short brief on ${topic}, with sources.`, outputTokens: 180 };
  };
}

/** The model after the silent update: no search, made-up URLs, five tries, then gives up. */
export function afterUpdate(topic: string) {
  return (view: ModelView): ModelDecision => {
    if (view.results.length < 5) {
      // each made-up URL 404s; the model "tries another"
      const url = `https://docs.example.org/${slug(topic)}/v${view.results.length + 2}/overview`;
      return { toolCalls: [{ name: "fetch_page", input: { url } }], outputTokens: 30 };
    }
    return { text: `I could not find reliable sources on ${topic}.`, outputTokens: 60 };
  };
}

function nth(count: number | undefined): string {
  if (count === undefined) return "never";
  return count === 1 ? "after the first bad brief" : `after ${count} bad briefs`;
}

export const driftScene: Scene = {
  name: "drift",
  title: "Behavioural drift",
  failure: "a model update silently changes how the agent decides",
  async run({ fleet, progress }) {
    const { sre, clock } = fleet;
    const { slo, tasks: taskSli } = Fleet.researchSlo(AGENT);
    fleet.addAgent(AGENT, "AI SDK", slo);

    let policy: (view: ModelView) => ModelDecision = beforeUpdate(TOPICS[0] as string);
    const { model } = scriptedLanguageModel({
      modelId: "gpt-4.1-mini",
      clock,
      latencyMs: 600,
      decide: (view) => policy(view),
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
    const guarded = wrapLanguageModel({ model, middleware: agentSREMiddleware(sre, { agentId: AGENT }) });

    // The application judges each brief (did it cite a page it could read?) and records the outcome.
    const ask = async (topic: string, i: number) => {
      const result = await generateText({
        model: guarded,
        tools,
        stopWhen: stepCountIs(8),
        prompt: `Write a short brief on ${topic}.`,
        providerOptions: { agentSre: { taskId: `brief-${i}` } },
      });
      const cited = result.steps.some((step) =>
        step.toolResults.some(
          (r) => r.toolName === "fetch_page" && (r.output as { status?: number }).status === 200,
        ),
      );
      taskSli.recordTask(cited);
      clock.advance(60_000); // one question a minute
    };
    const entropyOf = () => {
      const assessment = sre.detector?.assess(AGENT);
      return { risk: assessment?.riskLevel ?? "LOW", bits: assessment?.details.entropyBits ?? null };
    };

    for (let i = 0; i < BEFORE; i++) {
      const topic = TOPICS[i] as string;
      progress(`before the update: brief ${i + 1}/${BEFORE} (${topic})`);
      policy = beforeUpdate(topic);
      await ask(topic, i);
    }
    const healthy: SLOEvaluation = slo.evaluate();
    const beforeSignals = entropyOf();

    const from = fleet.events.length;
    let pagedAfter: number | undefined;
    for (let i = BEFORE; i < BEFORE + AFTER; i++) {
      const topic = TOPICS[i] as string;
      progress(`after the model update: brief ${i - BEFORE + 1}/${AFTER} (${topic})`);
      policy = afterUpdate(topic);
      await ask(topic, i);
      slo.evaluate();
      if (pagedAfter === undefined && fleet.eventsOf("slo.alert", from).some((e) => e.severity === "page")) {
        pagedAfter = i - BEFORE + 1;
      }
    }
    const drifted: SLOEvaluation = slo.evaluate();
    const afterSignals = entropyOf();
    const pages_ = fleet
      .eventsOf("slo.alert", from)
      .filter((e) => e.slo === slo.name && e.severity === "page");
    const page = pages_[0];
    const exhausted = fleet.eventsOf("slo.exhausted", from).some((e) => e.slo === slo.name);
    const bits = (value: number | null) => (value === null ? "—" : `${value.toFixed(2)} bits`);
    const rate = (label: string) => drifted.burnRates[label] ?? 0;
    const hours = (ms: number) => (ms >= 3_600_000 ? `${ms / 3_600_000} h` : `${ms / 60_000} m`);

    return {
      contained:
        healthy.status === "HEALTHY" &&
        page !== undefined &&
        afterSignals.bits !== null &&
        (beforeSignals.bits ?? 0) > afterSignals.bits &&
        afterSignals.risk !== "LOW",
      headline:
        `SLO ${healthy.status} → ${drifted.status}, paged ${nth(pagedAfter)}; ` +
        `entropy ${bits(beforeSignals.bits)} → ${bits(afterSignals.bits)}, risk ${beforeSignals.risk} → ${afterSignals.risk}`,
      lines: [
        `before: ${BEFORE} briefs, each search → fetch → summarise; ${healthy.badEvents}/${healthy.events} failed, SLO ${healthy.status}`,
        `after a silent model update: ${AFTER} briefs, each 5 fetches of made-up URLs (404) and no answer; ` +
          `${drifted.badEvents - healthy.badEvents}/${drifted.events - healthy.events} failed — no call errored, nothing to block`,
        page === undefined
          ? "no burn-rate page"
          : `burn-rate page ${nth(pagedAfter)}: ${page.shortBurnRate.toFixed(1)}× ≥ ${page.burnRateThreshold}× over ` +
            `${hours(page.shortWindowMs)} and ${hours(page.longWindowMs)}; now ${rate("5m").toFixed(0)}× over 5 m, ${rate("1h").toFixed(0)}× over 1 h`,
        `error budget ${drifted.budgetRemainingPercent.toFixed(0)} % left${exhausted ? " → exhausted: deployments frozen (the rollout is held)" : ""}`,
        `action entropy ${bits(beforeSignals.bits)} → ${bits(afterSignals.bits)}: the agent now repeats one action (risk ${afterSignals.risk}, not quarantined)`,
      ],
      facts: {
        agent: AGENT,
        sloBefore: healthy.status,
        sloAfter: drifted.status,
        pagedAfterBadBriefs: pagedAfter ?? null,
        burnRate5m: rate("5m"),
        burnRate1h: rate("1h"),
        pageAlerts: pages_.length,
        budgetExhausted: exhausted,
        deploymentsFrozen: sre.deploymentsFrozen,
        entropyBitsBefore: beforeSignals.bits,
        entropyBitsAfter: afterSignals.bits,
        riskBefore: beforeSignals.risk,
        riskAfter: afterSignals.risk,
        quarantined: sre.isQuarantined(AGENT),
      },
    };
  },
};
