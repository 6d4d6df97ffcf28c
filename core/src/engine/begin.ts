import { type SchedulingClock, sleep } from "../clock.js";
import { AgentThrottledError } from "../errors.js";
import type { EngineContext } from "./context.js";
import type { GuardedCall } from "./guarded-call.js";
import { preflight } from "./pipeline.js";
import { applyChaosBefore } from "./stages/chaos.js";
import type { GuardCall } from "./types.js";

/**
 * `AgentSRE.beginNow`'s refusal path: a throttled agent in delay mode waits for its next admission (THROTTLE
 * shapes instead of failing the agent's task: a promise of the call), any other refusal is thrown.
 *
 * `beginNow` gives the usual call at once: no async frame, no promise and no `await` in the caller (an async
 * `begin()` resolved its promise with the call through V8's generic `then` lookup, ~350 instructions, and
 * its caller's `await` took a microtask turn: ~1,200 instructions a streamed call over `guard()`'s).
 */
export function waitOrThrow(
  ctx: EngineContext,
  clock: SchedulingClock,
  call: GuardCall<never>,
  signal: AbortSignal | undefined,
  probe: (call: GuardCall<never>) => GuardedCall,
  error: unknown,
): Promise<GuardedCall> {
  if (error instanceof AgentThrottledError && ctx.options.throttleMode === "delay")
    return beginAfterWaits(ctx, clock, call, signal, probe, error);
  throw error;
}

/** Chaos faults planned before the call (latency, an injected error or timeout), then the call. */
export async function chaosFirst(
  ctx: EngineContext,
  inFlight: GuardedCall,
  signal: AbortSignal | undefined,
  probe: (call: GuardCall<never>) => GuardedCall,
): Promise<GuardedCall> {
  await applyChaosBefore(ctx, inFlight, signal, probe);
  return inFlight;
}

/**
 * A throttled agent's call (delay mode): waits for each next admission, as long as the waits together stay
 * within `throttle.maxDelayMs`, then is refused with the throttle's error.
 */
async function beginAfterWaits(
  ctx: EngineContext,
  clock: SchedulingClock,
  call: GuardCall<never>,
  signal: AbortSignal | undefined,
  probe: (call: GuardCall<never>) => GuardedCall,
  throttled: AgentThrottledError,
): Promise<GuardedCall> {
  let waitedMs = 0;
  let error = throttled;
  for (;;) {
    if (waitedMs + error.retryAfterMs > ctx.options.throttleMaxDelayMs) {
      throw ctx.refused(call, ctx.agent(call.agentId), error);
    }
    waitedMs += error.retryAfterMs;
    await sleep(clock, error.retryAfterMs, signal);
    try {
      const inFlight = preflight(ctx, call, signal, true);
      if (inFlight.plan !== undefined) await applyChaosBefore(ctx, inFlight, signal, probe);
      return inFlight;
    } catch (next) {
      if (!(next instanceof AgentThrottledError) || ctx.options.throttleMode !== "delay") throw next;
      error = next;
    }
  }
}

/** What an aborted signal rejects with: its reason, or a standard `AbortError`. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}
