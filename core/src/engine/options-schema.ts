import type { KeyRule, KeySchema } from "../config-keys.js";
import type { AgentSREOptions } from "./options.js";

/**
 * Every key `new AgentSRE({...})` accepts, nested. Components validate their own values; this schema makes
 * unknown keys errors everywhere (with the full path) before anything is built. Add a key here when you add
 * an option.
 */
const BREAKER_DEFAULTS: KeySchema = {
  failureThreshold: true,
  recoveryTimeoutMs: true,
  halfOpenMaxCalls: true,
  halfOpenRetryAfterMs: true,
  window: {
    type: true,
    size: true,
    durationMs: true,
    buckets: true,
    minimumCalls: true,
    failureRateThreshold: true,
  },
  slowCallMs: true,
  slowCallRateThreshold: true,
  backoff: { multiplier: true, maxRecoveryTimeoutMs: true },
  isFailure: true,
  historySize: true,
  onStateChange: true,
};

// `satisfies`: an option added to AgentSREOptions but not here is a compile error, not a rejected config.
export const AGENT_SRE_OPTION_KEYS = {
  clock: true,
  prices: true,
  // Model names map to an alias (a string) or a custom price; the price objects are checked by the catalog.
  models: true,
  unknownModel: true,
  unknownModelPrice: { inputPerMTokUsd: true, outputPerMTokUsd: true },
  budget: {
    perTaskLimitUsd: true,
    perAgentDailyLimitUsd: true,
    orgMonthlyBudgetUsd: true,
    alertThresholds: true,
    autoThrottle: true,
    throttleThreshold: true,
    throttleTasksPerMinute: true,
    killSwitchThreshold: true,
    anomalyDetection: true,
    perTaskTokenLimit: true,
    perAgentDailyTokenLimit: true,
    agents: {
      each: { dailyLimitUsd: true, perTaskLimitUsd: true, dailyTokenLimit: true, perTaskTokenLimit: true },
    },
    timeZone: true,
    taskTtl: true,
    store: true,
  },
  breakers: {
    defaults: BREAKER_DEFAULTS,
    overrides: { each: BREAKER_DEFAULTS },
    cascadeThreshold: true,
    scope: true,
  },
  tools: { allow: true, deny: true },
  agents: { each: { allowedTools: true, deniedTools: true } },
  rateLimits: {
    items: { id: true, tools: true, agents: true, limit: true, per: true, burst: true, scope: true },
  },
  timeouts: { modelMs: true, toolMs: true },
  throttle: { mode: true, maxDelayMs: true },
  rogue: {
    frequencyWindowMs: true,
    frequencyZThreshold: true,
    frequencyMinWindows: true,
    frequencyHistoryWindows: true,
    entropyWindowSize: true,
    entropyMinActions: true,
    entropyLowBits: true,
    entropyHighBits: true,
    loopRepeats: true,
    loopWindowMs: true,
    loopTableSize: true,
    fingerprintBudget: true,
    weights: true,
    riskThresholds: true,
    quarantineRiskLevel: true,
    assessmentLogSize: true,
    quarantineAt: true,
    refuseLoops: true,
  },
  slos: true,
  sloEvaluationIntervalMs: true,
  classifyFailure: true,
  chaosSeed: true,
  retryBudget: { ratio: true, windowMs: true, minRetries: true, maxTargets: true, fleetWide: true },
  cascade: { actions: true, newTaskDelayMs: true, maxTrackedTasks: true },
  memory: { maxAgents: true, maxTargets: true, idleMs: true },
  onListenerError: true,
  store: true,
} satisfies Record<keyof AgentSREOptions, KeyRule> as KeySchema;
