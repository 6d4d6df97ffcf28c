/**
 * The engine's hot-path vocabulary: `tryAcquire()` hands out a permit, and the caller settles every admitted
 * permit exactly once with `onSuccess`, `onFailure` or `cancel`. Plain numbers so nothing is allocated per call.
 */

/** The breaker refused the call; ask `retryAfterMs()` how long to wait. */
export const PERMIT_REJECTED = 0;
/** Admitted while CLOSED: the outcome feeds the trip rules. */
export const PERMIT_CLOSED = 1;
/** Admitted as one of the HALF_OPEN probes: the outcome decides whether the breaker closes or re-opens. */
export const PERMIT_PROBE = 2;

export type Permit = typeof PERMIT_REJECTED | typeof PERMIT_CLOSED | typeof PERMIT_PROBE;
/** A permit that admitted a call and must be settled. */
export type AdmittedPermit = typeof PERMIT_CLOSED | typeof PERMIT_PROBE;

export type BreakerState = "CLOSED" | "OPEN" | "HALF_OPEN";
