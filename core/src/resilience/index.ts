export {
  CASCADE_ACTIONS,
  type CascadeAction,
  CascadeResponse,
  type CascadeResponseEvent,
  type CascadeResponseHost,
  type CascadeResponseOptions,
} from "./cascade-response.js";
export { FailedAttempts } from "./failed-attempts.js";
export {
  RetryBudget,
  RetryBudgetExceededError,
  type RetryBudgetOptions,
  type RetryBudgetSnapshot,
} from "./retry-budget.js";
