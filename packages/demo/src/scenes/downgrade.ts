/**
 * Scene 4 — Budget downgrade. An AI SDK digest agent (`generateText` + `agentSREMiddleware` with `models`)
 * writes 40 customer digests a day on gpt-4.1 against a $1.00 daily budget: at that price the kill switch
 * (95 %) would stop it after about 30, and the last ten customers would get nothing. The fleet's delivery
 * has a downgrade policy instead: past 70 % of the day's budget the same call sites are routed to
 * gpt-4.1-mini, the agent finishes its day, and the switch is an event and a line in `status()`.
 */
import { agentSREMiddleware } from "@agent-sre/ai-sdk";
import { generateText, wrapLanguageModel } from "ai";
import { scriptedLanguageModel } from "../models/ai-model.js";
import { type Scene, usd } from "../scene.js";

const AGENT = "digest-agent";
const MODEL = "gpt-4.1";
const CHEAPER = "gpt-4.1-mini";
const DIGESTS = 40;
const OUTPUT_TOKENS = 4_000;

export const downgradeScene: Scene = {
  name: "downgrade",
  title: "Budget downgrade",
  failure: "an agent near its daily budget is about to be killed with work left to do",
  async run({ fleet, progress }) {
    const { sre, clock } = fleet;
    fleet.addAgent(AGENT, "AI SDK");
    const delivery = fleet.delivery();
    const decide = () => ({
      text: "Your weekly digest: 3 orders shipped, 1 refund processed.",
      outputTokens: OUTPUT_TOKENS,
    });
    const big = scriptedLanguageModel({ modelId: MODEL, clock, latencyMs: 4_000, decide });
    const mini = scriptedLanguageModel({ modelId: CHEAPER, clock, latencyMs: 2_000, decide });
    const model = wrapLanguageModel({
      model: big.model,
      middleware: agentSREMiddleware(sre, { agentId: AGENT, models: { [CHEAPER]: mini.model } }),
    });

    const from = fleet.events.length;
    const served: string[] = [];
    let refused = 0;
    for (let i = 0; i < DIGESTS; i++) {
      progress(
        `digest ${i + 1}/${DIGESTS}: ${Math.round(sre.budget.utilization(AGENT) * 100)} % of the day's budget`,
      );
      try {
        const result = await generateText({
          model,
          prompt: `Write customer ${i + 1}'s weekly digest.`,
          maxOutputTokens: OUTPUT_TOKENS,
          maxRetries: 0,
          providerOptions: { agentSre: { taskId: `digest-${i + 1}` } },
        });
        served.push(result.response.modelId as string);
      } catch {
        refused++;
      }
      clock.advance(60_000);
    }
    const budget = sre.budget.agentStatus(AGENT);
    const downgrade = fleet.eventsOf("budget.downgrade", from).find((e) => e.agentId === AGENT);
    const firstCheap = served.indexOf(CHEAPER);
    const perDigest = (id: string) =>
      (sre.prices.costMicros(id, { inputTokens: 20, outputTokens: OUTPUT_TOKENS }, "openai.chat") ?? 0) / 1e6;
    // Without the policy: gpt-4.1 all day, until the 95 % kill switch refuses the next digest.
    let wouldServe = 0;
    for (let spent = 0; wouldServe < DIGESTS && spent < 0.95; wouldServe++) spent += perDigest(MODEL);
    const active = delivery.status().downgrade?.active.find((a) => a.agentId === AGENT);

    return {
      contained: served.length === DIGESTS && refused === 0 && !budget.killed && downgrade !== undefined,
      headline: `all ${DIGESTS} digests written: gpt-4.1 until ${Math.round((downgrade?.utilization ?? 0) * 100)} % of the budget, then ${CHEAPER}; never killed (without the policy: killed after ${wouldServe})`,
      lines: [
        `downgrade policy: past 70 % of the $1.00 day, ${MODEL} calls go to ${CHEAPER} (same call site, routed by the middleware)`,
        `digests 1–${firstCheap} on ${MODEL} (${usd(perDigest(MODEL))} each), ${firstCheap + 1}–${DIGESTS} on ${CHEAPER} (${usd(perDigest(CHEAPER))} each)`,
        `spent ${usd(budget.spentTodayUsd)} of $1.00 (${Math.round(budget.utilization * 100)} %): below the 85 % throttle and the 95 % kill`,
        `status(): ${AGENT} downgraded ${MODEL} → ${CHEAPER} since digest ${firstCheap + 1}, ${active?.calls ?? 0} calls routed`,
      ],
      facts: {
        agent: AGENT,
        digests: DIGESTS,
        served: served.length,
        refused,
        onModel: served.filter((m) => m === MODEL).length,
        onCheaper: served.filter((m) => m === CHEAPER).length,
        downgradedAtUtilization: downgrade?.utilization ?? null,
        spentUsd: budget.spentTodayUsd,
        killed: budget.killed,
        withoutPolicyServed: wouldServe,
        routedCalls: active?.calls ?? 0,
      },
    };
  },
};
