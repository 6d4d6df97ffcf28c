import { type Clock, systemClock } from "../clock.js";
import { type Duration, parseDuration } from "../duration.js";
import { ConfigError, InvalidArgumentError } from "../errors.js";
import { type EventSink, silentSink } from "../events.js";
import type { LedgerStore } from "../store/ledger-store.js";
import { MemoryStore } from "../store/memory-store.js";
import { requirePositiveInteger } from "../validate.js";
import { type ResolvedCostAnomalyOptions, resolveCostAnomalyOptions } from "./cost-anomaly.js";
import type { AgentBudgetOverride, CostGuardOptions } from "./cost-types.js";
import { isFiniteNonNegative, usdToMicros } from "./money.js";

const OPTION_KEYS = new Set([
  "perTaskLimitUsd",
  "perAgentDailyLimitUsd",
  "orgMonthlyBudgetUsd",
  "alertThresholds",
  "autoThrottle",
  "throttleThreshold",
  "throttleTasksPerMinute",
  "killSwitchThreshold",
  "anomalyDetection",
  "perTaskTokenLimit",
  "perAgentDailyTokenLimit",
  "agents",
  "timeZone",
  "taskTtl",
  "clock",
  "events",
  "store",
  "memory",
]);
const AGENT_KEYS = new Set(["dailyLimitUsd", "perTaskLimitUsd", "dailyTokenLimit", "perTaskTokenLimit"]);

/** One agent's limits: money in µUSD, tokens as counts; `Infinity` = none. */
export interface AgentLimits {
  dailyLimitMicros: number;
  perTaskLimitMicros: number;
  dailyTokenLimit: number;
  perTaskTokenLimit: number;
}

/** `CostGuardOptions` validated (every bad value is a `ConfigError` naming its field) with defaults applied. */
export interface ResolvedCostGuardOptions {
  clock: Clock;
  events: EventSink;
  store: LedgerStore;
  defaults: AgentLimits;
  overrides: Map<string, AgentLimits>;
  orgLimitMicros: number;
  alertThresholds: readonly number[];
  autoThrottle: boolean;
  throttleThreshold: number;
  throttleTasksPerMinute: number;
  killThreshold: number;
  anomaly: ResolvedCostAnomalyOptions | undefined;
  taskTtlMs: number;
  timeZone: string;
  /** Bounds of the per-agent records (`memory`). */
  maxAgents: number;
  agentIdleMs: number;
}

export function resolveCostGuardOptions(options: CostGuardOptions): ResolvedCostGuardOptions {
  if (typeof options !== "object" || options === null) throw new ConfigError("options", options, "an object");
  // Every problem at once: each check that fails adds its error and yields a fallback so the rest run.
  const issues: ConfigError[] = [];
  const check = <T>(build: () => T, fallback: T): T => {
    try {
      return build();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      issues.push(error);
      return fallback;
    }
  };
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      issues.push(
        new ConfigError(key, (options as Record<string, unknown>)[key], "a known CostGuard option"),
      );
    }
  }
  const defaults: AgentLimits = {
    perTaskLimitMicros: usdToMicros(check(() => limitUsd(options.perTaskLimitUsd, "perTaskLimitUsd", 2), 2)),
    dailyLimitMicros: usdToMicros(
      check(() => limitUsd(options.perAgentDailyLimitUsd, "perAgentDailyLimitUsd", 100), 100),
    ),
    perTaskTokenLimit: check(() => tokenLimit(options.perTaskTokenLimit, "perTaskTokenLimit"), Infinity),
    dailyTokenLimit: check(
      () => tokenLimit(options.perAgentDailyTokenLimit, "perAgentDailyTokenLimit"),
      Infinity,
    ),
  };
  if (options.autoThrottle !== undefined && typeof options.autoThrottle !== "boolean") {
    issues.push(new ConfigError("autoThrottle", options.autoThrottle, "a boolean"));
  }
  const throttleThreshold = check(() => ratio(options.throttleThreshold, "throttleThreshold", 0.85), 0.85);
  const killThreshold = check(() => ratio(options.killSwitchThreshold, "killSwitchThreshold", 0.95), 0.95);
  if (throttleThreshold > killThreshold) {
    issues.push(
      new ConfigError(
        "throttleThreshold",
        throttleThreshold,
        `a ratio <= killSwitchThreshold (${killThreshold})`,
      ),
    );
  }
  const throttleTasksPerMinute = options.throttleTasksPerMinute ?? 6;
  if (
    typeof throttleTasksPerMinute !== "number" ||
    !Number.isFinite(throttleTasksPerMinute) ||
    throttleTasksPerMinute <= 0
  ) {
    issues.push(new ConfigError("throttleTasksPerMinute", throttleTasksPerMinute, "a finite number > 0"));
  }
  const resolved: ResolvedCostGuardOptions = {
    clock: check(() => requireObjectWith(options.clock, "clock", ["now"]), undefined) ?? systemClock,
    events:
      check(() => requireObjectWith(options.events, "events", ["emit", "has"]), undefined) ?? silentSink,
    store:
      check(
        () => requireObjectWith(options.store, "store", ["reserve", "settle", "add", "read", "expire"]),
        undefined,
      ) ?? new MemoryStore(),
    defaults,
    overrides: check(() => resolveAgentOverrides(options.agents, defaults), new Map()),
    orgLimitMicros: usdToMicros(
      check(() => limitUsd(options.orgMonthlyBudgetUsd, "orgMonthlyBudgetUsd", 5000), 5000),
    ),
    alertThresholds: check(() => resolveThresholds(options.alertThresholds), []),
    autoThrottle: options.autoThrottle ?? true,
    throttleThreshold,
    throttleTasksPerMinute,
    killThreshold,
    anomaly: check(() => resolveCostAnomalyOptions(options.anomalyDetection), undefined),
    taskTtlMs: check(() => parseDuration(options.taskTtl ?? "24h", "taskTtl"), 86_400_000),
    timeZone: options.timeZone ?? "UTC",
    maxAgents: check(
      () => requirePositiveInteger(memoryOf(options.memory).maxAgents ?? 100_000, "memory.maxAgents"),
      100_000,
    ),
    agentIdleMs: check(
      () => parseDuration((memoryOf(options.memory).idleMs ?? "2d") as Duration, "memory.idleMs"),
      DEFAULT_AGENT_IDLE_MS,
    ),
  };
  if (issues.length > 0) throw ConfigError.combine(issues);
  return resolved;
}

const DEFAULT_AGENT_IDLE_MS = 2 * 86_400_000;
const MEMORY_KEYS = new Set(["maxAgents", "idleMs"]);

function memoryOf(memory: unknown): { maxAgents?: unknown; idleMs?: unknown } {
  if (memory === undefined) return {};
  if (typeof memory !== "object" || memory === null) {
    throw new ConfigError("memory", memory, "an object { maxAgents?, idleMs? }");
  }
  for (const key of Object.keys(memory)) {
    if (!MEMORY_KEYS.has(key)) throw new ConfigError(`memory.${key}`, key, "maxAgents or idleMs");
  }
  return memory;
}

function limitUsd(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new ConfigError(field, value, "a limit in USD >= 0, or Infinity for none");
  }
  return value;
}

function tokenLimit(value: unknown, field: string): number {
  if (value === undefined || value === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new ConfigError(field, value, "a whole number of tokens >= 0, or Infinity for none");
  }
  return value;
}

function ratio(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0 && value <= 1)) {
    throw new ConfigError(field, value, "a ratio in (0, 1]");
  }
  return value;
}

function resolveThresholds(value: unknown): readonly number[] {
  if (value === undefined) return [0.5, 0.75, 0.9, 0.95];
  if (!Array.isArray(value)) throw new ConfigError("alertThresholds", value, "an array of ratios in (0, 1]");
  for (const [index, threshold] of value.entries()) ratio(threshold, `alertThresholds[${index}]`, 0);
  return [...new Set(value as number[])].sort((a, b) => a - b);
}

function resolveAgentOverrides(
  value: Readonly<Record<string, AgentBudgetOverride>> | undefined,
  defaults: AgentLimits,
): Map<string, AgentLimits> {
  const overrides = new Map<string, AgentLimits>();
  if (value === undefined) return overrides;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError("agents", value, "an object keyed by agent id");
  }
  for (const [agentId, override] of Object.entries(value)) {
    const field = `agents.${agentId}`;
    if (agentId === "") throw new ConfigError("agents", agentId, "non-empty agent ids as keys");
    if (typeof override !== "object" || override === null || Array.isArray(override)) {
      throw new ConfigError(
        field,
        override,
        "{ dailyLimitUsd?, perTaskLimitUsd?, dailyTokenLimit?, perTaskTokenLimit? }",
      );
    }
    for (const key of Object.keys(override)) {
      if (!AGENT_KEYS.has(key)) {
        throw new ConfigError(
          `${field}.${key}`,
          (override as Record<string, unknown>)[key],
          "a known agent limit",
        );
      }
    }
    overrides.set(agentId, {
      dailyLimitMicros:
        override.dailyLimitUsd === undefined
          ? defaults.dailyLimitMicros
          : usdToMicros(limitUsd(override.dailyLimitUsd, `${field}.dailyLimitUsd`, 0)),
      perTaskLimitMicros:
        override.perTaskLimitUsd === undefined
          ? defaults.perTaskLimitMicros
          : usdToMicros(limitUsd(override.perTaskLimitUsd, `${field}.perTaskLimitUsd`, 0)),
      dailyTokenLimit:
        override.dailyTokenLimit === undefined
          ? defaults.dailyTokenLimit
          : tokenLimit(override.dailyTokenLimit, `${field}.dailyTokenLimit`),
      perTaskTokenLimit:
        override.perTaskTokenLimit === undefined
          ? defaults.perTaskTokenLimit
          : tokenLimit(override.perTaskTokenLimit, `${field}.perTaskTokenLimit`),
    });
  }
  return overrides;
}

function requireObjectWith<T>(
  value: T | undefined,
  field: string,
  methods: readonly string[],
): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null) throw new ConfigError(field, value, "an object");
  for (const method of methods) {
    if (typeof (value as Record<string, unknown>)[method] !== "function") {
      throw new ConfigError(`${field}.${method}`, (value as Record<string, unknown>)[method], "a function");
    }
  }
  return value;
}

// Runtime argument checks of the guard's calls (reserve, commit, recordCost, ...).

export function requireTokenCount(value: unknown, field: string): void {
  if (!isFiniteNonNegative(value)) throw new InvalidArgumentError(field, value, "a token count >= 0");
}

export function requireTaskId(taskId: unknown): void {
  if (taskId !== undefined && typeof taskId !== "string") {
    throw new InvalidArgumentError("taskId", taskId, "a string");
  }
}

export function requireBreakdown(breakdown: unknown): void {
  if (typeof breakdown !== "object" || breakdown === null || Array.isArray(breakdown)) {
    throw new InvalidArgumentError("breakdown", breakdown, "an object of USD amounts");
  }
  for (const [label, usd] of Object.entries(breakdown)) {
    if (!isFiniteNonNegative(usd))
      throw new InvalidArgumentError(`breakdown.${label}`, usd, "a cost in USD >= 0");
  }
}
