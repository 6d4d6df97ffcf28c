import type { Reservation } from "../../cost/index.js";
import { RateLimitedError } from "../../errors.js";
import type { AgentState, EngineContext } from "../context.js";
import type { GuardCall } from "../types.js";

/**
 * Stage 5 — tool-call rate limits. They come after the budget, so a throttled call waiting for admission
 * spends no rate token; a refusal here gives the reservation back.
 */
export function checkRateLimit(
  ctx: EngineContext,
  call: GuardCall<never>,
  agent: AgentState,
  reservation: Reservation | undefined,
  now: number,
): void {
  const limiter = ctx.rateLimiter;
  if (limiter === undefined || call.kind !== "tool") return;
  const limited = limiter.tryAcquire(call.agentId, call.name);
  if (limited === undefined) return;
  reservation?.release({ atMs: now });
  throw ctx.refused(
    call,
    agent,
    new RateLimitedError({
      agentId: call.agentId,
      toolName: call.name,
      ruleId: limited.ruleId,
      retryAfterMs: limited.retryAfterMs,
      limit: limited.limit,
      perMs: limited.perMs,
    }),
  );
}
