export * from "./config.js";
export * from "./downgrade.js";
export * from "./rollout.js";
export { fisherExactGreater, logFactorial } from "./stats.js";
export type { VariantSummary } from "./variant-stats.js";
