import { systemClock } from "../../clock.js";
import type { Reservation } from "../../cost/index.js";
import {
  AgentThrottledError,
  BudgetExceededError,
  ModelNotPricedError,
  RefusalError,
  TokenLimitExceededError,
} from "../../errors.js";
import type { TokenUsage } from "../../types.js";
import { type AgentState, type EngineContext, NO_USAGE } from "../context.js";
import type { GuardedCall } from "../guarded-call.js";
import type { CallEstimate, GuardCall } from "../types.js";

/**
 * Stage 4 — the budget reservation: the call's estimated cost and tokens are held against the task, agent
 * and org limits until it settles. A model call that allows fewer output tokens (`estimate.minOutputTokens`)
 * reserves what still fits instead of being refused. Writes `reservation` and `reservedUsd` on the call.
 */
export function reserveBudget(
  ctx: EngineContext,
  inFlight: GuardedCall,
  agent: AgentState,
  now: number,
): void {
  const call = inFlight.call;
  let estimateUsd = estimateCallUsd(ctx, call, agent, now);
  if (ctx.options.budgetEnforced) {
    try {
      inFlight.reservation = ctx.budget.reserveCall(
        call.agentId,
        call.taskId,
        estimateUsd,
        estimateTokens(call.estimate),
        now,
      );
    } catch (error) {
      // In delay mode a throttled call waits for its next admission (begin() retries): not a refusal yet.
      if (error instanceof AgentThrottledError && ctx.options.throttleMode === "delay") throw error;
      const shrunk = reserveWhatFits(ctx, call, error, now);
      if (shrunk === undefined) throw error instanceof RefusalError ? ctx.refused(call, agent, error) : error;
      inFlight.reservation = shrunk.reservation;
      estimateUsd = shrunk.estimateUsd;
    }
  }
  inFlight.reservedUsd = estimateUsd;
}

/**
 * A model call that allows fewer output tokens (`estimate.minOutputTokens`) reserves as many as still fit
 * instead of being refused. Returns undefined when even the minimum does not fit.
 */
function reserveWhatFits(
  ctx: EngineContext,
  call: GuardCall<never>,
  error: unknown,
  now: number,
): { reservation: Reservation; estimateUsd: number } | undefined {
  const estimate = call.estimate;
  const minOutputTokens = estimate?.minOutputTokens;
  if (
    minOutputTokens === undefined ||
    call.kind !== "model" ||
    estimate?.costUsd !== undefined ||
    !(error instanceof BudgetExceededError || error instanceof TokenLimitExceededError)
  ) {
    return undefined;
  }
  const inputTokens = estimate?.inputTokens ?? 0;
  const headroom = ctx.budget.headroom(call.agentId, call.taskId);
  let fits = Math.min(headroom.tokens, headroom.callLimitTokens) - inputTokens;
  const usd = Math.min(headroom.usd, headroom.callLimitUsd);
  const pricing = ctx.prices.resolve(call.name, call.provider);
  if (pricing !== undefined && pricing.outputPerMTokUsd > 0 && usd !== Number.POSITIVE_INFINITY) {
    const inputUsd = (inputTokens * pricing.inputPerMTokUsd) / 1_000_000;
    fits = Math.min(fits, ((usd - inputUsd) * 1_000_000) / pricing.outputPerMTokUsd);
  }
  // Leave a token of slack: the hold is rounded up to whole micro-dollars.
  const outputTokens = Math.min(estimate?.outputTokens ?? Number.POSITIVE_INFINITY, Math.floor(fits) - 1);
  if (!(outputTokens >= minOutputTokens)) return undefined;
  const micros = ctx.prices.costMicros(call.name, { inputTokens, outputTokens }, call.provider) ?? 0;
  const estimateUsd = micros / 1_000_000;
  try {
    const reservation = ctx.budget.reserve({
      agentId: call.agentId,
      taskId: call.taskId,
      estimatedCostUsd: estimateUsd,
      estimatedTokens: inputTokens + outputTokens,
      atMs: now,
    });
    return { reservation, estimateUsd };
  } catch {
    return undefined;
  }
}

/** How many output tokens the call may still produce within its reservation and the free budget. */
export function outputTokenAllowance(ctx: EngineContext, inFlight: GuardedCall): number {
  if (!ctx.options.budgetEnforced) return Number.POSITIVE_INFINITY;
  const call = inFlight.call;
  const headroom = ctx.budget.headroom(call.agentId, call.taskId);
  const inputTokens = call.estimate?.inputTokens ?? 0;
  // The call's own reservation is already counted as used in the shared scopes: add it back there.
  let allowance =
    Math.min(headroom.tokens + (inFlight.reservation?.reservedTokens ?? 0), headroom.callLimitTokens) -
    inputTokens;
  const usd = Math.min(headroom.usd + inFlight.reservedUsd, headroom.callLimitUsd);
  if (call.kind === "model" && usd !== Number.POSITIVE_INFINITY) {
    const pricing = ctx.prices.resolve(call.name, call.provider);
    if (pricing !== undefined && pricing.outputPerMTokUsd > 0) {
      const inputUsd = (inputTokens * pricing.inputPerMTokUsd) / 1_000_000;
      allowance = Math.min(allowance, ((usd - inputUsd) * 1_000_000) / pricing.outputPerMTokUsd);
    }
  }
  return allowance === Number.POSITIVE_INFINITY ? allowance : Math.max(0, Math.floor(allowance));
}

/**
 * The call's estimated cost in USD: its own `estimate.costUsd`, or the model's price for the estimate (at
 * `now`, the time pre-flight read, when that is the system clock's: no clock read of the catalog's own).
 */
export function estimateCallUsd(
  ctx: EngineContext,
  call: GuardCall<never>,
  agent: AgentState,
  now?: number,
): number {
  const estimate = call.estimate;
  if (call.kind !== "model") return estimate?.costUsd ?? 0;
  const policy = ctx.options.unknownModel;
  if (estimate?.costUsd !== undefined) {
    // "block" means no call to an unpriced model runs, even one that states its own cost.
    if (policy === "block" && ctx.prices.resolve(call.name, call.provider) === undefined) {
      throw ctx.refused(call, agent, new ModelNotPricedError(call.agentId, call.name));
    }
    return estimate.costUsd;
  }
  const usage = estimateUsage(estimate);
  const micros = ctx.prices.costMicros(call.name, usage, call.provider, systemTimeOf(ctx, now));
  if (micros !== undefined) return micros / 1_000_000;
  if (policy === "block") throw ctx.refused(call, agent, new ModelNotPricedError(call.agentId, call.name));
  if (policy === "free") return 0;
  // "warn": fail safe, never $0 — held at the unknown-model price (settle charges at least this).
  ctx.warnUnknownModel(call.name, call.provider);
  return ctx.unknownModelUsd(usage.inputTokens, usage.outputTokens);
}

/** The estimate as a usage to price (no allocation when both counts are given). */
export function estimateUsage(estimate: CallEstimate | undefined): TokenUsage {
  if (estimate === undefined) return NO_USAGE;
  if (estimate.inputTokens !== undefined && estimate.outputTokens !== undefined)
    return estimate as TokenUsage;
  return { inputTokens: estimate.inputTokens ?? 0, outputTokens: estimate.outputTokens ?? 0 };
}

export function estimateTokens(estimate: CallEstimate | undefined): number {
  if (estimate === undefined) return 0;
  return (estimate.inputTokens ?? 0) + (estimate.outputTokens ?? 0);
}

/**
 * `now` when the engine reads the system clock (a price catalog may take it as its own `Date.now()`, see
 * `PriceCatalog.costMicros`), else undefined.
 */
export function systemTimeOf(ctx: EngineContext, now: number | undefined): number | undefined {
  return ctx.clock === systemClock ? now : undefined;
}
