export { CircuitOpenError } from "../errors.js";
export type { BreakerTransition } from "../events.js";
export {
  type BreakerCallOptions,
  type BreakerSnapshot,
  CircuitBreaker,
  type SavedBreakerState,
} from "./circuit-breaker.js";
export { CountWindow } from "./count-window.js";
export {
  type BackoffOptions,
  type CircuitBreakerOptions,
  type CountWindowOptions,
  DEFAULT_FAILURE_THRESHOLD,
  DEFAULT_HALF_OPEN_MAX_CALLS,
  DEFAULT_HALF_OPEN_RETRY_AFTER_MS,
  DEFAULT_HISTORY_SIZE,
  DEFAULT_RECOVERY_TIMEOUT_MS,
  DEFAULT_SLOW_CALL_RATE_THRESHOLD,
  DEFAULT_SLOW_CALL_WINDOW,
  DEFAULT_TIME_WINDOW_BUCKETS,
  type SlidingWindowOptions,
  type TimeWindowOptions,
} from "./options.js";
export type { OutcomeWindow, WindowStats, WindowSummary } from "./outcome-window.js";
export {
  type AdmittedPermit,
  type BreakerState,
  PERMIT_CLOSED,
  PERMIT_PROBE,
  PERMIT_REJECTED,
  type Permit,
} from "./permit.js";
export {
  type BreakerDefaults,
  BreakerRegistry,
  type BreakerRegistryOptions,
  type BreakerRegistrySnapshot,
  DEFAULT_CASCADE_THRESHOLD,
} from "./registry.js";
export { TimeWindow } from "./time-window.js";
