import { InvalidArgumentError, RefusalError } from "../../errors.js";
import { riskAtLeast } from "../../rogue/index.js";
import { agentByRef } from "../agent-ref.js";
import { type AgentState, type EngineContext, NO_USAGE } from "../context.js";
import type { FailureClass } from "../failure-class.js";
import type { CallExtras, GuardedCall } from "../guarded-call.js";
import { type ObserverHooks, observeEnd, observeRecorded } from "../observer.js";
import type { GuardCall, UsageReport } from "../types.js";
import { classifyFailure, countsAsFailure, recordBreakerOutcome, recordPlainSuccess } from "./breaker.js";
import { systemTimeOf } from "./budget.js";
import { observe, quarantineRisky } from "./observe.js";

/**
 * Stage 9 — settle, exactly once per call: usage → cost → commit or release the reservation → breaker
 * outcome → observation (stage 10).
 */
export function settle(
  ctx: EngineContext,
  inFlight: GuardedCall,
  ok: boolean,
  error: unknown,
  usage: UsageReport | undefined,
): void {
  // The usual call — a free tool call that succeeded, with nothing to price, time or observe but the
  // detector — in a body small enough that V8 inlines it, with the detector's entry, into the call's
  // settlement (its inlining budget, ~920 bytes of bytecode, is shared along the chain).
  if (isPlainToolCall(ctx, inFlight, ok, usage)) {
    // A running chaos experiment that counts the call plainly (`ChaosController.countsPlainly`) leaves it here.
    if (!ctx.chaos.hasActive || ctx.chaos.countsPlainly(inFlight.startedAtMs)) settlePlainTool(ctx, inFlight);
    else settleFully(ctx, inFlight, ok, error, usage);
  } else {
    settleFully(ctx, inFlight, ok, error, usage);
  }
}

/**
 * `settleFully` for the call `settle` tests for: the same steps in the same order, without those that do
 * nothing for it (no clock read, no cost, no observation but the detector's).
 */
function settlePlainTool(ctx: EngineContext, inFlight: GuardedCall): void {
  const call = inFlight.call;
  const agent = (inFlight.agentState ?? ctx.agents.get(call.agentId)) as AgentState;
  agent.inFlight--;
  recordPlainSuccess(ctx, inFlight);
  const detector = ctx.detector;
  if (detector === undefined) return;
  // As observe.ts's recordToolAction: the action counts at the call's start.
  const level = detector.recordToolCallOf(
    ctx.signalsOf(agent),
    call.agentId,
    call.name,
    call.input,
    call.taskId,
    inFlight.startedAtMs,
    false,
  );
  const quarantineAt = ctx.options.quarantineAt;
  if (quarantineAt !== undefined && riskAtLeast(level, quarantineAt))
    quarantineRisky(ctx, call, agent, level);
}

/** Every call `settle` does not take the plain path for. */
function settleFully(
  ctx: EngineContext,
  inFlight: GuardedCall,
  ok: boolean,
  error: unknown,
  usage: UsageReport | undefined,
): void {
  const call = inFlight.call;
  // The clock is read again only when something reads the end time or the duration: the usual tool call
  // (no reservation, observer, SLO or timed breaker) reads it once, at pre-flight. A running chaos
  // experiment wants every call's duration only for a p99 check, else a sample (ChaosController.timesCall).
  const startedAtMs = inFlight.startedAtMs;
  const extras = inFlight.extras;
  const completed = ctx.events.completedListened;
  const timed =
    completed || readsEndTime(ctx, inFlight, ok, extras) || (ctx.chaos.hasActive && ctx.chaos.timesCall());
  const now = timed ? ctx.clock.now() : startedAtMs;
  const durationMs = now - startedAtMs;
  if (extras !== undefined) extras.unlinkCallerSignal?.();
  // The agent is kept while its call is in flight: its state is the one pre-flight found.
  const agent = (inFlight.agentState ?? ctx.agents.get(call.agentId)) as AgentState;
  agent.inFlight--;

  // Usage → cost → settle the reservation once (out of line: a free tool call, the usual one, has nothing
  // to price or settle and inlines none of it).
  const used = usage ?? NO_USAGE;
  const costUsd =
    usage === undefined &&
    inFlight.reservation === undefined &&
    call.kind === "tool" &&
    (!ok || inFlight.reservedUsd === 0)
      ? 0
      : settleCost(ctx, inFlight, call, agent, ok, usage, now, timed);

  // Breaker outcome. A caller's own abort is not the target failing; refusals raised inside `run`
  // (a nested guard said no) are not either.
  const failure = !ok && countsAsFailure(error, inFlight);
  recordBreakerOutcome(
    ctx,
    inFlight,
    ok,
    failure ? classifyFailure(ctx, inFlight, call, error) : null,
    error,
    durationMs,
  );
  if (failure) agent.failed++;
  if (inFlight.observer !== undefined)
    observeSettled(inFlight, inFlight.observer, ok, failure, error, durationMs, costUsd, used);

  if (!ok && !failure) return; // cancelled by the caller: not an observation of the agent's behaviour
  // Untimed, only chaos reads the duration (no SLO, no `call.completed`): NaN tells it so.
  observe(
    ctx,
    call,
    now,
    startedAtMs,
    ok,
    timed ? durationMs : Number.NaN,
    costUsd,
    used,
    error,
    completed,
    agent,
  );
}

/** Telemetry's end of the call (out of line: the usual call has no observer). */
function observeSettled(
  inFlight: GuardedCall,
  observer: ObserverHooks,
  ok: boolean,
  failure: boolean,
  error: unknown,
  durationMs: number,
  costUsd: number,
  used: UsageReport,
): void {
  observeEnd(observer, inFlight.observed, inFlight.call, {
    ok,
    cancelled: inFlight.cancelled,
    failure,
    error,
    durationMs,
    costUsd,
    usage: used,
    breakerState: (inFlight.targetBreaker as { state: "CLOSED" | "OPEN" | "HALF_OPEN" }).state,
  });
}

/**
 * Usage → cost → the reservation settled once. Money is never dropped: a model call that ran without
 * reported usage is charged its estimate; a failure charges what was reported before it failed.
 */
function settleCost(
  ctx: EngineContext,
  inFlight: GuardedCall,
  call: GuardCall<never>,
  agent: AgentState,
  ok: boolean,
  usage: UsageReport | undefined,
  now: number,
  /** Whether `now` is the end time (read for this call), else its start. */
  timed: boolean,
): number {
  let costUsd = 0;
  const used = usage ?? NO_USAGE;
  if (usage !== undefined) {
    costUsd = price(ctx, call, agent, usage, inFlight.reservedUsd, systemTimeOf(ctx, now));
  } else if (ok && call.kind === "model") {
    costUsd = inFlight.reservedUsd;
    if (ctx.events.has("usage.missing")) {
      ctx.events.emit("usage.missing", {
        at: now,
        agentId: call.agentId,
        name: call.name,
        committedUsd: costUsd,
      });
    }
  } else if (call.kind === "tool") {
    costUsd = ok ? inFlight.reservedUsd : 0;
  }
  const reservation = inFlight.reservation;
  const tokens = used.inputTokens + used.outputTokens;
  if (reservation !== undefined) {
    if (costUsd > 0 || tokens > 0) ctx.budget.commitUnread(reservation, costUsd, tokens, now);
    else reservation.release({ atMs: now });
  } else if (costUsd > 0 || tokens > 0) {
    // The end time when it was read (a model call): no clock read of its own (cost helper, issue 18).
    ctx.budget.recordCostCall(call.agentId, call.taskId, costUsd, tokens, timed ? now : undefined);
  }
  return costUsd;
}

/**
 * Whether settling this call needs the time it ended: a failure, a model call, money held, telemetry, SLOs
 * or a breaker with a slow-call rule (`call.completed` listeners and chaos: the caller asks). Otherwise
 * nothing sees the end time (the rogue detector records a tool call at its start).
 */
function readsEndTime(
  ctx: EngineContext,
  inFlight: GuardedCall,
  ok: boolean,
  extras: CallExtras | undefined,
): boolean {
  return (
    !ok ||
    inFlight.call.kind !== "tool" ||
    inFlight.reservation !== undefined ||
    inFlight.observer !== undefined ||
    ctx.slos.size > 0 ||
    (extras !== undefined && extras.extraBreakers !== undefined) ||
    ctx.timedBreakers
  );
}

/**
 * Records a call that ran outside the pipeline (observation-only integrations): prices and records its
 * spend, feeds the breakers, SLOs, the rogue detector, chaos metrics and events.
 */
export function recordExternal(
  ctx: EngineContext,
  call: Omit<GuardCall<never>, "usage">,
  outcome: {
    ok: boolean;
    durationMs: number;
    usage?: UsageReport;
    error?: unknown;
    failureClass?: FailureClass;
  },
): void {
  const ref = call.agentRef;
  const agent = ref === undefined ? ctx.agent(call.agentId) : agentByRef(ctx, ref, call.agentId);
  const now = ctx.clock.now();
  const durationMs = outcome.durationMs;
  if (!(durationMs >= 0))
    throw new InvalidArgumentError("outcome.durationMs", durationMs, "a duration in ms >= 0");
  const recorded = call as GuardCall<never>;
  const usage = outcome.usage;
  const used = usage ?? NO_USAGE;
  // As in the pipeline: without usage, a successful paid tool costs its price, a failed one nothing.
  const costUsd =
    usage !== undefined
      ? price(ctx, recorded, agent, usage, call.estimate?.costUsd ?? 0)
      : outcome.ok
        ? (call.estimate?.costUsd ?? 0)
        : 0;
  const tokens = used.inputTokens + used.outputTokens;
  if (costUsd > 0 || tokens > 0) {
    ctx.budget.recordCost({ agentId: call.agentId, taskId: call.taskId, costUsd, tokens });
  }
  agent.calls++;
  const failure =
    !outcome.ok && !(outcome.error instanceof RefusalError && outcome.error.code !== "CHAOS_INJECTED");
  const target = ctx.target(call.kind === "tool", call.name).breaker;
  const failureClass = failure
    ? (outcome.failureClass ?? classifyFailure(ctx, undefined, recorded, outcome.error))
    : undefined;
  if (outcome.ok) target.recordSuccess(durationMs);
  else if (failureClass === "provider") target.recordFailure(durationMs);
  if (outcome.ok) {
    if (ctx.options.recordAgentOutcomes) agent.breaker.recordSuccess(durationMs);
  } else if (failureClass === "caller" || (failureClass === "provider" && ctx.options.recordAgentOutcomes)) {
    agent.breaker.recordFailure(durationMs);
  }
  if (failure) agent.failed++;
  if (ctx.observer !== undefined) {
    observeRecorded(ctx.observer, recorded, now - durationMs, {
      ok: outcome.ok,
      cancelled: false,
      failure,
      error: outcome.error,
      durationMs,
      costUsd,
      usage: used,
      breakerState: target.state,
    });
  }
  if (!outcome.ok && !failure) return;
  const completed = ctx.events.completedListened;
  observe(
    ctx,
    recorded,
    now,
    now - durationMs,
    outcome.ok,
    durationMs,
    costUsd,
    used,
    outcome.error,
    completed,
    agent,
  );
}

/**
 * The call's cost from its usage: the usage's own `costUsd`, or the model's price (the response's model
 * wins). A model without a price is never free unless `unknownModel: "free"`: it is charged at the request's
 * model price if that one is known, else at the unknown-model price, and never less than what was reserved.
 */
function price(
  ctx: EngineContext,
  call: GuardCall<never>,
  agent: AgentState,
  usage: UsageReport,
  reservedUsd: number,
  /** The end time when the system clock gave it (prices that change with time are read at it). */
  atMs?: number,
): number {
  if (usage.costUsd !== undefined) return usage.costUsd;
  if (call.kind !== "model") return 0;
  const model = usage.model ?? call.name;
  const micros = ctx.prices.costMicros(model, usage, call.provider, atMs);
  if (micros !== undefined) return micros / 1_000_000;
  const tokens = usage.inputTokens + usage.outputTokens;
  agent.unpricedTokens += tokens;
  ctx.budget.noteUnpricedTokens(call.agentId, model, tokens);
  if (ctx.options.unknownModel === "free") return 0;
  // The unknown name may appear only in the response (a deployment answering as a model we cannot price).
  ctx.warnUnknownModel(model, call.provider);
  const byRequest = model === call.name ? undefined : ctx.prices.costMicros(call.name, usage, call.provider);
  const usd =
    byRequest !== undefined
      ? byRequest / 1_000_000
      : ctx.unknownModelUsd(usage.inputTokens, usage.outputTokens);
  return Math.max(usd, reservedUsd);
}

/**
 * The plain path's conditions but chaos: a free tool call that succeeded, with nothing to price, time or
 * observe but the detector (a running chaos experiment: `settle` asks it).
 */
function isPlainToolCall(
  ctx: EngineContext,
  inFlight: GuardedCall,
  ok: boolean,
  usage: UsageReport | undefined,
): boolean {
  return (
    ok &&
    usage === undefined &&
    inFlight.extras === undefined &&
    inFlight.reservation === undefined &&
    inFlight.reservedUsd === 0 &&
    inFlight.observer === undefined &&
    inFlight.call.kind === "tool" &&
    ctx.slos.size === 0 &&
    !ctx.events.completedListened &&
    !ctx.timedBreakers
  );
}
