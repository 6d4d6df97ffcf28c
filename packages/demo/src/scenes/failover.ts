/**
 * Scene 7 — Provider outage. A LangChain.js `createAgent` booking agent runs with LangChain's own
 * resilience middleware around `agentSREMiddleware`: `modelFallbackMiddleware` (gpt-4.1 → gpt-4.1-mini)
 * and `toolRetryMiddleware`. The primary provider starts answering 503: the guard counts each real
 * failure against `model:gpt-4.1`, opens its breaker, and from then on refuses the primary before any
 * request is sent (`CIRCUIT_OPEN`, thrown like the provider error it stands for), so the fallback answers
 * at once. A flaky flight search fails once per request; the retry middleware retries it, each attempt
 * guarded, and a retry of a failed call is not a loop. When the provider recovers, the breaker's probe
 * closes it again.
 */
import { agentSREMiddleware, retryableError } from "@agent-sre/langchain";
import type { BaseMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { createAgent, modelFallbackMiddleware, tool, toolRetryMiddleware } from "langchain";
import { z } from "zod";
import { ScriptedChatModel, type TurnPolicy } from "../models/langchain-model.js";
import type { Scene } from "../scene.js";

const AGENT = "booking-agent";
const PRIMARY = "gpt-4.1";
const FALLBACK = "gpt-4.1-mini";
const REQUESTS = 6;

/** The primary provider: answers like the scripted model, or fails with a 503 while it is down. */
class PrimaryProvider extends ScriptedChatModel {
  down = true;
  failures = 0;

  override async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    if (this.down) {
      this.failures++;
      throw Object.assign(new Error("503 Service Unavailable"), { status: 503 });
    }
    return super._generate(messages);
  }
}

export const failoverScene: Scene = {
  name: "failover",
  title: "Provider outage",
  failure: "the primary model's provider fails; every request waits on it and errors",
  async run({ fleet, progress }) {
    const { sre, clock } = fleet;
    fleet.addAgent(AGENT, "LangChain.js");
    let searches = 0;
    const searchFlights = tool(
      async ({ route }: { route: string; day: number }) => {
        searches++;
        // A transient upstream error on every first attempt of a request.
        if (searches % 2 === 1) throw new Error("flights API: 502 Bad Gateway");
        return JSON.stringify({ route, flights: ["LH 1234 08:05", "AF 2201 11:40"] });
      },
      {
        name: "search_flights",
        description: "Searches flights on a route.",
        schema: z.object({ route: z.string(), day: z.number() }),
      },
    );
    // Each request asks about another day, so its search has other arguments.
    const policy: TurnPolicy = (messages) => {
      const last = messages.at(-1);
      if (last?.type === "tool") {
        return { text: "Two flights: LH 1234 at 08:05 and AF 2201 at 11:40.", outputTokens: 20 };
      }
      const day = /day (\d+)/.exec(String(messages.findLast((m) => m.type === "human")?.content))?.[1];
      return {
        tools: [{ name: "search_flights", args: { route: "MUC-CDG", day: Number(day ?? 0) } }],
        outputTokens: 24,
      };
    };
    const primary = new PrimaryProvider({ model: PRIMARY, policy, clock, latencyMs: 900 });
    const fallback = new ScriptedChatModel({ model: FALLBACK, policy, clock, latencyMs: 500 });
    const agent = createAgent({
      model: primary,
      tools: [searchFlights],
      systemPrompt: "You are a travel agent. Use the tools. Be brief.",
      middleware: [
        modelFallbackMiddleware(fallback),
        toolRetryMiddleware({ maxRetries: 2, initialDelayMs: 0, jitter: false, retryOn: retryableError }),
        agentSREMiddleware(sre, { agentId: AGENT }),
      ],
    });

    const from = fleet.events.length;
    let answered = 0;
    for (let i = 0; i < REQUESTS; i++) {
      progress(`request ${i + 1}/${REQUESTS} (primary provider down)`);
      const result = await agent.invoke({
        messages: [{ role: "user", content: `Flights Munich to Paris on day ${i + 1}?` }],
      });
      if (result.messages.at(-1)?.text.startsWith("Two flights") === true) answered++;
      clock.advance(2_000);
    }
    const refused = fleet.eventsOf("call.refused", from).filter((e) => e.agentId === AGENT);
    const skipped = refused.filter((e) => e.code === "CIRCUIT_OPEN" && e.name === PRIMARY).length;
    const loops = refused.filter((e) => e.code === "LOOP_DETECTED").length;
    const opened = fleet.eventsOf("breaker.open", from).some((e) => e.breakerId === `model:${PRIMARY}`);
    const failuresDuringOutage = primary.failures;
    const fallbackCalls = fallback.calls;

    // The provider recovers; after the breaker's recovery timeout a probe closes it again.
    progress("provider recovered: the breaker probes the primary");
    primary.down = false;
    clock.advance(30_000);
    let recoveredAnswers = 0;
    let probes = 0;
    while (sre.breakers.get(`model:${PRIMARY}`).state !== "CLOSED" && probes < 5) {
      probes++;
      const recovered = await agent.invoke({
        messages: [{ role: "user", content: `Flights Munich to Paris on day ${REQUESTS + probes}?` }],
      });
      if (recovered.messages.at(-1)?.text.startsWith("Two flights") === true) recoveredAnswers++;
      clock.advance(2_000);
    }
    const recoveredAnswer = recoveredAnswers === probes;
    const breaker = sre.breakers.get(`model:${PRIMARY}`).state;
    const toolAttempts = fleet
      .eventsOf("call.completed", from)
      .filter((e) => e.agentId === AGENT && e.kind === "tool").length;

    return {
      contained:
        answered === REQUESTS &&
        opened &&
        skipped > 0 &&
        loops === 0 &&
        recoveredAnswer &&
        breaker === "CLOSED",
      headline:
        `${answered}/${REQUESTS} requests answered during the outage: ${failuresDuringOutage} primary failures ` +
        `opened its breaker, then ${skipped} model calls went straight to ${FALLBACK}; closed again after recovery`,
      lines: [
        `modelFallbackMiddleware + toolRetryMiddleware around agentSREMiddleware (innermost: every attempt guarded)`,
        `primary ${PRIMARY}: ${failuresDuringOutage} × 503, then CIRCUIT_OPEN refused it ${skipped} times ` +
          `before any request was sent; ${FALLBACK} answered ${fallbackCalls} model calls`,
        `flaky search_flights: ${searches} runs, ${toolAttempts} guarded attempts, retries of failures ` +
          `not counted as loops (${loops} loop refusals)`,
        `after recovery: ${probes} request(s) probed ${PRIMARY}; the breaker is ${breaker}`,
      ],
      facts: {
        agent: AGENT,
        requests: REQUESTS,
        answered,
        primaryFailures: failuresDuringOutage,
        primarySkipped: skipped,
        fallbackModelCalls: fallbackCalls,
        toolRuns: searches,
        toolAttempts,
        loopRefusals: loops,
        breakerAfterRecovery: breaker,
      },
    };
  },
};
