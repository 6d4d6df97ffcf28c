import { injectPayload } from "../../chaos/index.js";
import type { EngineContext } from "../context.js";
import type { GuardedCall } from "../guarded-call.js";
import type { GuardCall, UsageReport } from "../types.js";
import { applyChaosBefore } from "./chaos.js";
import { runWithDeadline } from "./timeout.js";

/**
 * Execution — chaos faults planned at pre-flight, then `run` under the call's deadline, then the result
 * payload (chaos) and the settlement with the extracted usage.
 */
export function execute<T>(
  ctx: EngineContext,
  inFlight: GuardedCall,
  call: GuardCall<T>,
  run: (signal: AbortSignal | undefined, inFlight: GuardedCall) => T | Promise<T>,
  signal: AbortSignal | undefined,
  chaosPending: boolean,
  probe: (call: GuardCall<never>) => GuardedCall,
): Promise<T> {
  if (chaosPending || inFlight.timeoutMs > 0) {
    return executeFully(ctx, inFlight, call, run, signal, chaosPending, probe);
  }
  // The usual call (no chaos fault to apply, no deadline): one `then` on what `run` returns, no async frame.
  let pending: T | Promise<T>;
  try {
    pending = run(inFlight.signal, inFlight);
  } catch (error) {
    inFlight.fail(error);
    return Promise.reject(error);
  }
  return Promise.resolve(pending).then(
    (result) => finish(inFlight, call, result),
    (error: unknown) => {
      inFlight.fail(error);
      throw error;
    },
  );
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
  if (inFlight.resultPayload !== undefined) result = injectPayload(result, inFlight.resultPayload) as T;
  const extract = call.usage;
  inFlight.succeed(extract === undefined ? undefined : extractSafely(extract, result));
  return result;
}

function extractSafely<T>(
  extract: (result: T) => UsageReport | undefined,
  result: T,
): UsageReport | undefined {
  try {
    return extract(result);
  } catch {
    // A broken extractor must not turn a successful call into a failure; the estimate is charged instead.
    return undefined;
  }
}
