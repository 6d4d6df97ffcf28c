export {
  ALERT_SEVERITIES,
  type AlertSeverity,
  type BurnRateRule,
  type BurnRateRuleInput,
  buildAlertPolicy,
  type FiringAlert,
  formatWindow,
  RATIO_TOLERANCE,
  WORKBOOK_POLICY,
} from "./burn-rate.js";
export {
  ErrorBudget,
  type ErrorBudgetOptions,
  EXHAUSTION_ACTIONS,
  ExhaustionAction,
  type WindowCounts,
} from "./error-budget.js";
export {
  CostPerTask,
  type CostPerTaskOptions,
  ErrorRate,
  type ErrorRateOptions,
  FactualAccuracy,
  type FactualAccuracyOptions,
  HallucinationRate,
  type HallucinationRateOptions,
  HumanFeedbackScore,
  type HumanFeedbackScoreOptions,
  type KindFilteredSLIOptions,
  LatencyPercentile,
  type LatencyPercentileOptions,
  type ObservedSLIOptions,
  SLI_TYPES,
  TaskSuccessRate,
  type TaskSuccessRateOptions,
  TokensPerCompletion,
  type TokensPerCompletionOptions,
  ToolCallSuccessRate,
  type ToolCallSuccessRateOptions,
} from "./indicators.js";
export { LATENCY_HISTOGRAM_MAX_MS } from "./latency-histogram.js";
export { MAX_WINDOW_MS } from "./prefix-sums.js";
export { SLORegistry, type SLORegistryOptions } from "./registry.js";
export {
  SLI,
  SLI_SLOTS,
  type SLIDirection,
  type SLIInit,
  type SLIOptions,
  type SLIOwner,
  type SLIType,
  type SLIValue,
  type SLIWindowSlice,
} from "./sli.js";
export {
  SLO,
  type SLOBudgetHook,
  type SLOContext,
  type SLOEvaluation,
  type SLOOptions,
  SLOStatus,
} from "./slo.js";
export {
  type IndicatorSpec,
  indicatorFromSpec,
  parseSloSpecs,
  type SloFromSpecOptions,
  type SloSpec,
  sloFromSpec,
} from "./spec.js";
