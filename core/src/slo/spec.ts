import type { Duration } from "../duration.js";
import { ConfigError } from "../errors.js";
import type { CallKind } from "../types.js";
import { requireOneOf } from "../validate.js";
import { type BurnRateRuleInput, parseWindow } from "./burn-rate.js";
import { ErrorBudget, type ExhaustionAction } from "./error-budget.js";
import { fieldOf } from "./fields.js";
import {
  CostPerTask,
  ErrorRate,
  FactualAccuracy,
  HallucinationRate,
  HumanFeedbackScore,
  LatencyPercentile,
  SLI_TYPES,
  TaskSuccessRate,
  TokensPerCompletion,
  ToolCallSuccessRate,
} from "./indicators.js";
import type { SLI, SLIType } from "./sli.js";
import { SLO, type SLOContext } from "./slo.js";

interface IndicatorSpecBase {
  /** Defaults to the type's metric name (`latency_p95`, `task_success_rate`, ...). */
  name?: string;
  /** Window of the indicator's own reading, e.g. `"1h"`. */
  window?: Duration;
}

/** An indicator as data (JSON/YAML). */
export type IndicatorSpec =
  | (IndicatorSpecBase & { type: "task_success"; target?: number })
  | (IndicatorSpecBase & {
      type: "error_rate";
      kind?: CallKind;
      maxErrorRate?: number;
      autoObserve?: boolean;
    })
  | (IndicatorSpecBase & {
      type: "latency";
      thresholdMs: number;
      percentile?: number;
      kind?: CallKind;
      autoObserve?: boolean;
    })
  | (IndicatorSpecBase & {
      type: "cost_per_task";
      maxCostUsd: number;
      kind?: CallKind;
      autoObserve?: boolean;
    })
  | (IndicatorSpecBase & {
      type: "tokens_per_completion";
      maxTokens: number;
      count?: "output" | "total";
      autoObserve?: boolean;
    })
  | (IndicatorSpecBase & { type: "tool_call_success"; target?: number; autoObserve?: boolean })
  | (IndicatorSpecBase & { type: "factual_accuracy"; minScore?: number })
  | (IndicatorSpecBase & { type: "hallucination_rate"; maxRate?: number })
  | (IndicatorSpecBase & { type: "human_feedback"; minScore?: number; scaleMin?: number; scaleMax?: number });

/**
 * An SLO as data. `target` is a ratio in (0, 1) — 0.995 for 99.5 % (percentages are rejected so a
 * "99.5" is never read as 9950 %). Give `indicator` or `indicators`.
 */
export interface SloSpec {
  name: string;
  /** The agent it watches; omit for every agent. */
  agentId?: string;
  description?: string;
  target: number;
  /** The SLO window. Default `"30d"`. */
  window?: Duration;
  indicator?: IndicatorSpec;
  indicators?: IndicatorSpec[];
  /** Default `"ALERT"`. */
  exhaustionAction?: ExhaustionAction;
  /** Multi-window rules; default the SRE Workbook policy (see `buildAlertPolicy`). */
  alertPolicy?: BurnRateRuleInput[];
  /** Threshold of the Workbook ticket rule (3 d / 6 h). Not with `alertPolicy`. */
  burnRateAlert?: number;
  /** Threshold of the Workbook fast page rule (1 h / 5 m). Not with `alertPolicy`. */
  burnRateCritical?: number;
}

export interface SloFromSpecOptions extends SLOContext {
  /** Prefix of field names in errors (default none; `parseSloSpecs` uses `slos[i]`). */
  path?: string;
}

const SLO_KEYS = new Set([
  "name",
  "agentId",
  "description",
  "target",
  "window",
  "indicator",
  "indicators",
  "exhaustionAction",
  "alertPolicy",
  "burnRateAlert",
  "burnRateCritical",
]);

const INDICATOR_KEYS: Record<SLIType, readonly string[]> = {
  task_success: ["target"],
  error_rate: ["kind", "maxErrorRate", "autoObserve"],
  latency: ["thresholdMs", "percentile", "kind", "autoObserve"],
  cost_per_task: ["maxCostUsd", "kind", "autoObserve"],
  tokens_per_completion: ["maxTokens", "count", "autoObserve"],
  tool_call_success: ["target", "autoObserve"],
  factual_accuracy: ["minScore"],
  hallucination_rate: ["maxRate"],
  human_feedback: ["minScore", "scaleMin", "scaleMax"],
};

/** Fields a spec must give for a type (code has defaults; data should say what it means). */
const REQUIRED_INDICATOR_KEYS: Partial<Record<SLIType, readonly string[]>> = {
  latency: ["thresholdMs"],
  cost_per_task: ["maxCostUsd"],
  tokens_per_completion: ["maxTokens"],
};

/** Builds an SLO from a spec, validating it; errors name the field (`indicator.thresholdMs`). */
export function sloFromSpec(spec: unknown, options: SloFromSpecOptions = {}): SLO {
  const path = options.path ?? "";
  const raw = requireRecord(spec, path === "" ? "slo" : path, "an SLO spec { name, target, indicator, ... }");
  rejectUnknownKeys(raw, SLO_KEYS, path);

  const name = raw.name;
  if (typeof name !== "string" || name.trim().length === 0) {
    throw new ConfigError(fieldOf(path, "name"), name, "a non-empty string");
  }
  if (raw.agentId !== undefined && (typeof raw.agentId !== "string" || raw.agentId === "")) {
    throw new ConfigError(fieldOf(path, "agentId"), raw.agentId, "a non-empty string (omit for every agent)");
  }
  if (raw.description !== undefined && typeof raw.description !== "string") {
    throw new ConfigError(fieldOf(path, "description"), raw.description, "a string");
  }
  const target = parseTarget(raw.target, fieldOf(path, "target"));
  const windowMs = parseWindow(raw.window ?? "30d", fieldOf(path, "window"));

  let indicatorSpecs: Array<{ spec: unknown; path: string }>;
  if (raw.indicator !== undefined && raw.indicators !== undefined) {
    throw new ConfigError(
      fieldOf(path, "indicators"),
      raw.indicators,
      "either indicator or indicators, not both",
    );
  }
  if (raw.indicators !== undefined) {
    if (!Array.isArray(raw.indicators) || raw.indicators.length === 0) {
      throw new ConfigError(fieldOf(path, "indicators"), raw.indicators, "a non-empty array of indicators");
    }
    indicatorSpecs = raw.indicators.map((item, i) => ({
      spec: item,
      path: fieldOf(path, `indicators[${i}]`),
    }));
  } else if (raw.indicator !== undefined) {
    indicatorSpecs = [{ spec: raw.indicator, path: fieldOf(path, "indicator") }];
  } else {
    throw new ConfigError(
      fieldOf(path, "indicator"),
      undefined,
      'an indicator such as { type: "task_success" }',
    );
  }
  const indicators = indicatorSpecs.map((item) => indicatorFromSpec(item.spec, item.path));
  const names = new Set<string>();
  indicators.forEach((indicator, i) => {
    if (names.has(indicator.name)) {
      throw new ConfigError(
        `${indicatorSpecs[i]?.path}.name`,
        indicator.name,
        "a name unique within the SLO",
      );
    }
    names.add(indicator.name);
  });

  const errorBudget = new ErrorBudget(
    {
      // Rounded so 1 − 0.995 is 0.005, not 0.0050000000000000044.
      total: Math.round((1 - target) * 1e12) / 1e12,
      windowMs,
      ...(raw.exhaustionAction === undefined
        ? {}
        : { exhaustionAction: raw.exhaustionAction as ExhaustionAction }),
      ...(raw.alertPolicy === undefined ? {} : { alertPolicy: raw.alertPolicy as BurnRateRuleInput[] }),
      ...(raw.burnRateAlert === undefined ? {} : { burnRateAlert: raw.burnRateAlert as number }),
      ...(raw.burnRateCritical === undefined ? {} : { burnRateCritical: raw.burnRateCritical as number }),
    },
    path,
  );

  return new SLO({
    name,
    indicators,
    errorBudget,
    ...(raw.agentId === undefined ? {} : { agentId: raw.agentId as string }),
    ...(raw.description === undefined ? {} : { description: raw.description as string }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.events === undefined ? {} : { events: options.events }),
    ...(options.onExhausted === undefined ? {} : { onExhausted: options.onExhausted }),
    ...(options.onRecovered === undefined ? {} : { onRecovered: options.onRecovered }),
  });
}

/**
 * Builds SLOs from a list of specs (an array, or `{ slos: [...] }` as in a YAML file). Errors name the
 * path, e.g. `slos[2].indicator.thresholdMs`; names must be unique.
 */
export function parseSloSpecs(specs: unknown, options: SLOContext = {}): SLO[] {
  const list =
    typeof specs === "object" && specs !== null && !Array.isArray(specs)
      ? (specs as { slos?: unknown }).slos
      : specs;
  if (!Array.isArray(list)) {
    throw new ConfigError("slos", list, "an array of SLO specs (or { slos: [...] })");
  }
  const names = new Set<string>();
  return list.map((spec, i) => {
    const slo = sloFromSpec(spec, { ...options, path: `slos[${i}]` });
    if (names.has(slo.name))
      throw new ConfigError(`slos[${i}].name`, slo.name, "a name unique among the SLOs");
    names.add(slo.name);
    return slo;
  });
}

/** Builds one built-in indicator from its spec; `path` prefixes field names in errors. */
export function indicatorFromSpec(spec: unknown, path = "indicator"): SLI {
  const raw = requireRecord(spec, path, "an indicator { type, ... }");
  const type = requireOneOf(raw.type, SLI_TYPES, fieldOf(path, "type"));
  rejectUnknownKeys(raw, new Set(["type", "name", "window", ...INDICATOR_KEYS[type]]), path);
  for (const key of REQUIRED_INDICATOR_KEYS[type] ?? []) {
    if (raw[key] === undefined)
      throw new ConfigError(fieldOf(path, key), undefined, `a value (required for ${type})`);
  }
  // The indicator constructors validate each field and name it with `path`.
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === "type" || key === "window" || value === undefined) continue;
    options[key] = value;
  }
  if (raw.window !== undefined) options.windowMs = parseWindow(raw.window, fieldOf(path, "window"));
  switch (type) {
    case "task_success":
      return new TaskSuccessRate(options, path);
    case "error_rate":
      return new ErrorRate(options, path);
    case "latency":
      return new LatencyPercentile(options, path);
    case "cost_per_task":
      return new CostPerTask(options, path);
    case "tokens_per_completion":
      return new TokensPerCompletion(options as { maxTokens: number }, path);
    case "tool_call_success":
      return new ToolCallSuccessRate(options, path);
    case "factual_accuracy":
      return new FactualAccuracy(options, path);
    case "hallucination_rate":
      return new HallucinationRate(options, path);
    case "human_feedback":
      return new HumanFeedbackScore(options, path);
  }
}

function parseTarget(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ConfigError(field, value, "a ratio in (0, 1) such as 0.995");
  }
  if (value > 1 && value <= 100) {
    throw new ConfigError(field, value, `a ratio in (0, 1) such as ${value / 100} (not a percentage)`);
  }
  if (value <= 0 || value >= 1) {
    throw new ConfigError(field, value, "a ratio in (0, 1) such as 0.995 (1 would leave no error budget)");
  }
  return value;
}

function requireRecord(value: unknown, field: string, expected: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(field, value, expected);
  }
  return value as Record<string, unknown>;
}

function rejectUnknownKeys(raw: Record<string, unknown>, allowed: ReadonlySet<string>, path: string): void {
  for (const key of Object.keys(raw)) {
    if (!allowed.has(key)) {
      throw new ConfigError(
        fieldOf(path, key),
        raw[key],
        `one of the known fields: ${[...allowed].join(", ")}`,
      );
    }
  }
}
