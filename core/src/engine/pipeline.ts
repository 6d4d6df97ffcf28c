import { ConfigError, RefusalError } from "../errors.js";
import { agentByRef } from "./agent-ref.js";
import type { EngineContext } from "./context.js";
import { GuardedCall } from "./guarded-call.js";
import { observeStart } from "./observer.js";
import { checkToolAllowed } from "./stages/allow-list.js";
import { acquireBreakers } from "./stages/breaker.js";
import { reserveBudget } from "./stages/budget.js";
import { carriesCanary, planChaos } from "./stages/chaos.js";
import { checkLoop } from "./stages/loops.js";
import { checkQuarantine } from "./stages/quarantine.js";
import { checkRateLimit } from "./stages/rate-limit.js";
import { admitRetry } from "./stages/retry-budget.js";
import { armDeadline } from "./stages/timeout.js";
import type { GuardCall } from "./types.js";

/**
 * Pre-flight, in order. Each stage either passes, or gives back what earlier stages took and throws a typed
 * refusal. The call that comes out holds its reservation and breaker permits until it is settled
 * (stages/settle.ts); execution is stages/run.ts.
 *
 * ```
 *  1 quarantine      stages/quarantine.ts
 *  2 allow-list      stages/allow-list.ts   (tools)
 *  3 loops           stages/loops.ts        (tools)
 *  3b retries        stages/retry-budget.ts retry budget, cascade response (new tasks)
 *  4 budget          stages/budget.ts       reservation (estimate)
 *  5 rate limit      stages/rate-limit.ts   (tools)
 *  6 breakers        stages/breaker.ts      target, agent, extra permits
 *  7 deadline        stages/timeout.ts      timeout + abort signal
 *  8 chaos plan      stages/chaos.ts
 *  — run             stages/run.ts          chaos faults, run(signal), usage
 *  9 settle          stages/settle.ts       cost, commit/release, breaker outcome
 * 10 observe         stages/observe.ts      detector, SLOs, chaos metrics, events
 * ```
 */
export function preflight(
  ctx: EngineContext,
  call: GuardCall<never>,
  callerSignal: AbortSignal | undefined,
  withChaos: boolean,
  sharedSignal = false,
): GuardedCall {
  // Small enough to inline into the caller: a model call goes straight to its own pre-flight.
  return call.kind === "model"
    ? preflightModel(ctx, call, callerSignal, withChaos, sharedSignal)
    : preflightTool(ctx, call, callerSignal, withChaos, sharedSignal, false);
}

/** `preflight` of a tool call (or of a call whose kind is neither: refused with a `ConfigError`). */
function preflightTool(
  ctx: EngineContext,
  call: GuardCall<never>,
  callerSignal: AbortSignal | undefined,
  withChaos: boolean,
  sharedSignal: boolean,
  adversarialChecked: boolean,
): GuardedCall {
  if (call.kind !== "tool") throw new ConfigError("call.kind", call.kind, '"model" or "tool"');
  // One clock read for the whole pre-flight (Date.now() is ~40 ns; the stages used to read it four times).
  const now = ctx.clock.now();
  ctx.tick(now);
  const agentId = call.agentId;
  const ref = call.agentRef;
  const agent =
    ref === undefined ? (ctx.agents.get(agentId) ?? ctx.addAgent(agentId)) : agentByRef(ctx, ref, agentId);

  checkQuarantine(ctx, call, agent);
  // Chaos only: a call that carries the canary of an injected payload shows the agent obeyed it.
  if (!adversarialChecked && ctx.pendingAdversarial.size > 0 && carriesCanary(ctx, agentId, call.input)) {
    try {
      const admitted = preflightTool(ctx, call, callerSignal, withChaos, sharedSignal, true);
      ctx.settleAdversarial(agentId, "passed");
      return admitted;
    } catch (error) {
      ctx.settleAdversarial(agentId, error instanceof RefusalError ? "blocked" : "passed");
      throw error;
    }
  }
  // Stages a call does not need are not called at all: V8 inlines a function into this one only while the
  // inlined code stays under a budget (~920 bytes of bytecode), and a stage never called takes none of it.
  if (agent.capability !== undefined) checkToolAllowed(ctx, call, agent);
  if (ctx.options.refuseLoops) checkLoop(ctx, call, agent, now);
  // The target's record, looked up once: its retry-budget handle (3b) and its breaker (6).
  const target = ctx.target(true, call.name);
  if (ctx.retryBudget !== undefined || ctx.cascade !== undefined) admitRetry(ctx, call, agent, target, now);

  const inFlight = new GuardedCall(ctx.settler, call, now);
  inFlight.agentState = agent;
  // A tool call without an estimate reserves nothing and holds $0 when the budget is not enforced.
  if (ctx.options.budgetEnforced || call.estimate !== undefined) reserveBudget(ctx, inFlight, agent, now);
  if (ctx.rateLimiter !== undefined) checkRateLimit(ctx, call, agent, inFlight.reservation, now);
  acquireBreakers(ctx, inFlight, agent, target);
  agent.calls++;
  agent.inFlight++;
  armDeadline(ctx, inFlight, callerSignal, sharedSignal, now);
  if (withChaos && ctx.chaos.mayInject) planChaos(ctx, inFlight);
  // The chaos tool-abuse probe (withChaos false) is not a call of its own: no telemetry for it.
  if (ctx.observer !== undefined && withChaos) observeStart(ctx.observer, inFlight);
  return inFlight;
}

/**
 * `preflight` of a model call (the tool-only stages left out): a function of its own, so that in a process
 * that makes both kinds of call (every real one) each kind's stages have their own feedback and inlining
 * budget. With one `preflight` for both, V8 inlined the stages of the more frequent tool calls (the loop
 * check, the tables' promotion) and called the model call's budget and retry stages out of line.
 */
function preflightModel(
  ctx: EngineContext,
  call: GuardCall<never>,
  callerSignal: AbortSignal | undefined,
  withChaos: boolean,
  sharedSignal: boolean,
): GuardedCall {
  const now = ctx.clock.now();
  ctx.tick(now);
  const ref = call.agentRef;
  const agent =
    ref === undefined
      ? (ctx.agents.get(call.agentId) ?? ctx.addAgent(call.agentId))
      : agentByRef(ctx, ref, call.agentId);
  checkQuarantine(ctx, call, agent);
  const target = ctx.target(false, call.name);
  if (ctx.retryBudget !== undefined || ctx.cascade !== undefined) admitRetry(ctx, call, agent, target, now);
  const inFlight = new GuardedCall(ctx.settler, call, now);
  inFlight.agentState = agent;
  reserveBudget(ctx, inFlight, agent, now);
  // (No rate limits: they are tool calls'.)
  acquireBreakers(ctx, inFlight, agent, target);
  agent.calls++;
  agent.inFlight++;
  armDeadline(ctx, inFlight, callerSignal, sharedSignal, now);
  if (withChaos && ctx.chaos.mayInject) planChaos(ctx, inFlight);
  if (ctx.observer !== undefined && withChaos) observeStart(ctx.observer, inFlight);
  return inFlight;
}
