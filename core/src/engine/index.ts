export { type AgentRef, refForAgent } from "./agent-ref.js";
export {
  AgentSRE,
  type AgentSREOptions,
  type AgentSREStatus,
  type AgentStatus,
  type UnknownModelPolicy,
} from "./agent-sre.js";
export { DeadlineQueue } from "./deadlines.js";
export {
  DEFAULT_CHARS_PER_TOKEN,
  DEFAULT_MAX_OUTPUT_TOKENS,
  DEFAULT_MIN_OUTPUT_TOKENS,
  type ModelEstimateOptions,
  type ResolvedModelEstimateOptions,
  resolveModelEstimateOptions,
} from "./estimate-options.js";
export {
  defaultClassifyFailure,
  type FailureClass,
  type FailureClassifier,
  failedWith,
  failureClassOfStatus,
  type GuardRun,
  type OutcomeMapping,
  tagFailure,
} from "./failure-class.js";
export type { MemoryOptions, TrackedEntries } from "./generations.js";
export { GuardedCall } from "./guarded-call.js";
export { type CallObserver, type CallOutcome, ObserverSet } from "./observer.js";
export type {
  AgentPolicy,
  CallEstimate,
  GuardCall,
  GuardOptions,
  ThrottleOptions,
  TimeoutOptions,
  UsageReport,
} from "./types.js";
