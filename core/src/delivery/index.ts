export * from "./config.js";
export * from "./delivery.js";
export * from "./downgrade.js";
export * from "./rollout.js";
export { MAX_DECISIONS, ROLLOUT_STATE_KIND, type RolloutRecord } from "./rollout-record.js";
export { type RouteModels, type RouteTargetKind, RouteTargets } from "./route-targets.js";
export { fisherExactGreater, logFactorial } from "./stats.js";
export type { VariantSummary } from "./variant-stats.js";
