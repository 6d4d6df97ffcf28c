import { injectPayload } from "../../chaos/index.js";
import type { EngineContext } from "../context.js";
import { failedWith, type OutcomeMapping } from "../failure-class.js";
import type { GuardedCall } from "../guarded-call.js";
import type { GuardCall, UsageReport } from "../types.js";
import { applyChaosBefore } from "./chaos.js";
import { runWithDeadline } from "./timeout.js";

/**
 * Execution — chaos faults planned at pre-flight, then `run` under the call's deadline, then the result
 * payload (chaos) and the settlement with the extracted usage. With an adapter's `outcome` mapping, the
 * settled call is translated in the same reaction (no promise of the adapter's own).
 */
export function execute<T, R = T>(
  ctx: EngineContext,
  inFlight: GuardedCall,
  call: GuardCall<T>,
  run: (signal: AbortSignal | undefined, inFlight: GuardedCall) => T | Promise<T>,
  signal: AbortSignal | undefined,
  chaosPending: boolean,
  probe: (call: GuardCall<never>) => GuardedCall,
  outcome?: OutcomeMapping<T, R>,
): Promise<R> {
  // Chaos faults and deadlines are in the call's rare parts: the usual call has none.
  const extras = inFlight.extras;
  if (extras !== undefined && (chaosPending || extras.timeoutMs > 0)) {
    const full = executeFully(ctx, inFlight, call, run, signal, chaosPending, probe);
    if (outcome === undefined) return full as Promise<unknown> as Promise<R>;
    return full.then(
      (result) => outcome.done(result),
      (error: unknown) => outcome.failed(error),
    );
  }
  // The usual call (no chaos fault to apply, no deadline): one `then` on what `run` returns, no async frame.
  let pending: T | Promise<T>;
  try {
    pending = run(inFlight.signal, inFlight);
  } catch (error) {
    inFlight.fail(error);
    return failedWith(outcome, error);
  }
  if (outcome !== undefined) return mapped(inFlight, call, Promise.resolve(pending), outcome);
  // The reactions are bound to the call, not closures: a new closure starts on V8's lazy-compile builtin (CompileLazy) and
  // pays it at its first (here: only) call; a bound function calls code already installed (paired, ~15 ns).
  return Promise.resolve(pending).then(
    finishBound.bind(inFlight) as (result: T) => T,
    failBound.bind(inFlight),
  ) as Promise<unknown> as Promise<R>;
}

/** `finish` as the usual call's fulfilment reaction (`this`: the call in flight; its `call` is execute's). */
function finishBound<T>(this: GuardedCall, result: T): T {
  return finish(this, this.call as GuardCall<T>, result);
}

/** The usual call's rejection reaction: the call fails, the caller gets the error. */
function failBound(this: GuardedCall, error: unknown): never {
  this.fail(error);
  throw error;
}

/**
 * The usual call with the adapter's mapping: settled, then translated, in one reaction. A call object that
 * is its own mapping (LangChain's) gets the reactions bound to the call in flight like the unmapped call's
 * (no closures: see `execute`); another mapping gets closures over it.
 */
function mapped<T, R>(
  inFlight: GuardedCall,
  call: GuardCall<T>,
  pending: Promise<T>,
  outcome: OutcomeMapping<T, R>,
): Promise<R> {
  if ((outcome as unknown) === call) {
    return pending.then(
      selfMappedDone.bind(inFlight) as (value: T) => R,
      selfMappedFailed.bind(inFlight) as (error: unknown) => R,
    );
  }
  return mappedByClosures(inFlight, call, pending, outcome);
}

/**
 * `mapped` with a mapping other than the call: reactions closing over it. A function of its own, so the
 * context its closures share is allocated only here (in `mapped` it was made on entry, 56 bytes on every
 * self-mapped call too).
 */
function mappedByClosures<T, R>(
  inFlight: GuardedCall,
  call: GuardCall<T>,
  pending: Promise<T>,
  outcome: OutcomeMapping<T, R>,
): Promise<R> {
  return pending.then(
    (value) => mappedDone(inFlight, call, outcome, value),
    (error: unknown) => mappedFailed(inFlight, outcome, error),
  );
}

/** `mappedDone` for a call that is its own mapping (`this`: the call in flight; its `call` is execute's). */
function selfMappedDone<T, R>(this: GuardedCall, value: T): R {
  const call = this.call as unknown as GuardCall<T> & OutcomeMapping<T, R>;
  return mappedDone(this, call, call, value);
}

function selfMappedFailed<R>(this: GuardedCall, error: unknown): R {
  return mappedFailed(this, this.call as unknown as OutcomeMapping<unknown, R>, error);
}

function mappedDone<T, R>(
  inFlight: GuardedCall,
  call: GuardCall<T>,
  outcome: OutcomeMapping<T, R>,
  value: T,
): R {
  let result: T;
  try {
    result = finish(inFlight, call, value);
  } catch (error) {
    return outcome.failed(error);
  }
  return outcome.done(result);
}

function mappedFailed<T, R>(inFlight: GuardedCall, outcome: OutcomeMapping<T, R>, error: unknown): R {
  inFlight.fail(error);
  return outcome.failed(error);
}

async function executeFully<T>(
  ctx: EngineContext,
  inFlight: GuardedCall,
  call: GuardCall<T>,
  run: (signal: AbortSignal | undefined, inFlight: GuardedCall) => T | Promise<T>,
  signal: AbortSignal | undefined,
  chaosPending: boolean,
  probe: (call: GuardCall<never>) => GuardedCall,
): Promise<T> {
  if (chaosPending) await applyChaosBefore(ctx, inFlight, signal, probe);
  let result: T;
  try {
    result =
      inFlight.timeoutMs > 0 ? await runWithDeadline(inFlight, run) : await run(inFlight.signal, inFlight);
  } catch (error) {
    inFlight.fail(error);
    throw error;
  }
  return finish(inFlight, call, result);
}

/** The result payload (chaos), then the settlement with the extracted usage. */
function finish<T>(inFlight: GuardedCall, call: GuardCall<T>, value: T): T {
  let result = value;
  const extras = inFlight.extras;
  if (extras !== undefined && extras.resultPayload !== undefined)
    result = injectPayload(result, extras.resultPayload) as T;
  inFlight.succeed(call.usage === undefined ? undefined : extractSafely(call, result));
  return result;
}

/** `call.usage(result)`, called as the call's method (an adapter's call object may keep its state). */
function extractSafely<T>(call: GuardCall<T>, result: T): UsageReport | undefined {
  try {
    return call.usage?.(result);
  } catch {
    // A broken extractor must not turn a successful call into a failure; the estimate is charged instead.
    return undefined;
  }
}
