export {
  AgentSRE,
  type AgentSREOptions,
  type AgentSREStatus,
  type AgentStatus,
  type UnknownModelPolicy,
} from "./agent-sre.js";
export { DeadlineQueue } from "./deadlines.js";
export { GuardedCall } from "./guarded-call.js";
export type {
  AgentPolicy,
  CallEstimate,
  GuardCall,
  GuardOptions,
  ThrottleOptions,
  TimeoutOptions,
  UsageReport,
} from "./types.js";
