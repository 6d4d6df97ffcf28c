export { AdmissionBucket } from "./admission-bucket.js";
export {
  COST_ANOMALY_ACTIONS,
  type CostAnomalyAction,
  type CostAnomalyOptions,
  LogCostBaseline,
  type ResolvedCostAnomalyOptions,
  resolveCostAnomalyOptions,
} from "./cost-anomaly.js";
export { CostGuard } from "./cost-guard.js";
export {
  type AgentBudgetOverride,
  type AgentBudgetStatus,
  BudgetAction,
  type BudgetAlert,
  type BudgetLimits,
  type BudgetOverrunAlert,
  type BudgetReservation,
  type BudgetReservation as Reservation,
  type BudgetThresholdAlert,
  type CommitOptions,
  type CostAnomalyAlert,
  type CostGuardOptions,
  type CostGuardSnapshot,
  type RecordCostRequest,
  type ReserveRequest,
  type TaskCheck,
} from "./cost-types.js";
export {
  defaultModelLimits,
  type ModelLimits,
  type ModelLimitsCatalog,
  ModelsDevLimitsCatalog,
  type ModelsDevLimitsOptions,
  modelOutputCeiling,
  outputTokenCap,
  reservedOutputTokens,
  UNKNOWN_MODEL_OUTPUT_CAP_TOKENS,
} from "./model-limits.js";
export { type ModelsConfig, ModelTable } from "./model-table.js";
export {
  chargeMicros,
  exactMicrosToUsd,
  formatUsd,
  isFiniteNonNegative,
  MICROS_PER_USD,
  type MoneyCarry,
  microsToUsd,
  usdToMicros,
  usdToMicrosUp,
} from "./money.js";
export { CalendarPeriods, type PeriodBounds } from "./periods.js";
export {
  GenAIPriceCatalog,
  type GenAIPriceCatalogOptions,
  type ModelPricing,
  type PriceCatalog,
  type PriceOverride,
  type PriceTier,
  type TokenRates,
} from "./price-catalog.js";
