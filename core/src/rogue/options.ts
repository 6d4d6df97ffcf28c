import type { Clock } from "../clock.js";
import { type Duration, parseDuration } from "../duration.js";
import { ConfigError } from "../errors.js";
import type { EventSink } from "../events.js";
import {
  requireFiniteNonNegative,
  requireOneOf,
  requirePositive,
  requirePositiveInteger,
} from "../validate.js";
import { DEFAULT_FINGERPRINT_BUDGET } from "./fingerprint.js";
import { MAX_LOOP_TABLE_ENTRIES } from "./loop-table.js";
import { DEFAULT_RISK_THRESHOLDS, RISK_LEVELS, type RiskLevel, type RiskThresholds } from "./risk.js";

/** Weight of each [0, 1] signal in the composite score. */
export interface RogueSignalWeights {
  frequency: number;
  entropy: number;
  capability: number;
  loop: number;
}

/**
 * Default weights. With the default thresholds (MEDIUM ≥ 1, HIGH ≥ 2, CRITICAL ≥ 3):
 * - a full frequency burst or a fully degenerate entropy alone → MEDIUM (1);
 * - both together → HIGH (2);
 * - a capability violation or a detected loop alone → HIGH (2): they are the clearest signals;
 * - a violation or loop plus any full statistical signal, or a violation plus a loop → CRITICAL (≥ 3).
 */
export const DEFAULT_SIGNAL_WEIGHTS: Readonly<RogueSignalWeights> = Object.freeze({
  frequency: 1,
  entropy: 1,
  capability: 2,
  loop: 2,
});

export interface RogueDetectorOptions {
  clock?: Clock;
  events?: EventSink;
  /** Aligned frequency window length. Default 60 s. */
  frequencyWindowMs?: Duration;
  /** z-score above which a burst starts to score. Default 2.5. */
  frequencyZThreshold?: number;
  /** Completed windows (idle ones included) needed before the frequency signal scores. Default 5. */
  frequencyMinWindows?: number;
  /** Completed windows kept as the baseline (ring). Default 60. */
  frequencyHistoryWindows?: number;
  /** Sliding window of recent actions for entropy and capability violations. Default 100. */
  entropyWindowSize?: number;
  /** Actions needed in the window before entropy scores. Default 10 (or the window size if smaller). */
  entropyMinActions?: number;
  /** Entropy below this many bits scores as repetition. Default 0.3. */
  entropyLowBits?: number;
  /** Entropy above this many bits scores as chaos; must be < log2(entropyWindowSize). Default 3.5. */
  entropyHighBits?: number;
  /** Identical calls (same tool, same arguments) within `loopWindowMs` that make a loop. Default 3. */
  loopRepeats?: number;
  /** Loop window; also how long a detected loop keeps scoring. Default 60 s. */
  loopWindowMs?: Duration;
  /** Distinct call fingerprints tracked per agent (first seen, first evicted). Default 256, at most 32,768. */
  loopTableSize?: number;
  /** Work budget per argument fingerprint (values + string characters). Default 4096. */
  fingerprintBudget?: number;
  /** Signal weights (partial: missing ones keep their default). */
  weights?: Partial<RogueSignalWeights>;
  /** Composite cut points (partial; must stay ascending). Default 1 / 2 / 3. */
  riskThresholds?: Partial<RiskThresholds>;
  /** Level from which `quarantineRecommended` is true. Default "HIGH". */
  quarantineRiskLevel?: RiskLevel;
  /** Assessments retained in the hash-chained log. Default 1000. */
  assessmentLogSize?: number;
}

/** Validated options with defaults applied (times in ms). */
export interface ResolvedRogueDetectorOptions {
  readonly frequencyWindowMs: number;
  readonly frequencyZThreshold: number;
  readonly frequencyMinWindows: number;
  readonly frequencyHistoryWindows: number;
  readonly entropyWindowSize: number;
  readonly entropyMinActions: number;
  readonly entropyLowBits: number;
  readonly entropyHighBits: number;
  readonly loopRepeats: number;
  readonly loopWindowMs: number;
  readonly loopTableSize: number;
  readonly fingerprintBudget: number;
  readonly weights: Readonly<RogueSignalWeights>;
  readonly riskThresholds: Readonly<RiskThresholds>;
  readonly quarantineRiskLevel: RiskLevel;
  readonly assessmentLogSize: number;
}

export function resolveRogueDetectorOptions(
  options: RogueDetectorOptions = {},
): ResolvedRogueDetectorOptions {
  const frequencyWindowMs = parseDuration(options.frequencyWindowMs ?? 60_000, "frequencyWindowMs");
  const frequencyZThreshold = requirePositive(options.frequencyZThreshold ?? 2.5, "frequencyZThreshold");
  const frequencyMinWindows = requirePositiveInteger(options.frequencyMinWindows ?? 5, "frequencyMinWindows");
  const frequencyHistoryWindows = requirePositiveInteger(
    options.frequencyHistoryWindows ?? Math.max(60, frequencyMinWindows),
    "frequencyHistoryWindows",
  );
  if (frequencyHistoryWindows < frequencyMinWindows) {
    throw new ConfigError(
      "frequencyHistoryWindows",
      frequencyHistoryWindows,
      `an integer >= frequencyMinWindows (${frequencyMinWindows})`,
    );
  }

  const entropyWindowSize = requirePositiveInteger(options.entropyWindowSize ?? 100, "entropyWindowSize");
  if (entropyWindowSize < 2) throw new ConfigError("entropyWindowSize", entropyWindowSize, "an integer >= 2");
  const entropyMinActions = requirePositiveInteger(
    options.entropyMinActions ?? Math.min(10, entropyWindowSize),
    "entropyMinActions",
  );
  if (entropyMinActions > entropyWindowSize) {
    throw new ConfigError(
      "entropyMinActions",
      entropyMinActions,
      `an integer <= entropyWindowSize (${entropyWindowSize})`,
    );
  }
  const entropyLowBits = requireFiniteNonNegative(options.entropyLowBits ?? 0.3, "entropyLowBits");
  const entropyHighBits = requireFiniteNonNegative(options.entropyHighBits ?? 3.5, "entropyHighBits");
  if (entropyHighBits <= entropyLowBits) {
    throw new ConfigError(
      "entropyHighBits",
      entropyHighBits,
      `a number > entropyLowBits (${entropyLowBits})`,
    );
  }
  const maxEntropyBits = Math.log2(entropyWindowSize);
  if (entropyHighBits >= maxEntropyBits) {
    throw new ConfigError(
      "entropyHighBits",
      entropyHighBits,
      `a number < log2(entropyWindowSize) = ${maxEntropyBits.toFixed(3)}, the most a window of ${entropyWindowSize} actions can reach`,
    );
  }

  const loopRepeats = options.loopRepeats ?? 3;
  if (typeof loopRepeats !== "number" || !Number.isInteger(loopRepeats) || loopRepeats < 2) {
    throw new ConfigError("loopRepeats", loopRepeats, "an integer >= 2");
  }
  const loopWindowMs = parseDuration(options.loopWindowMs ?? 60_000, "loopWindowMs");
  const loopTableSize = requirePositiveInteger(options.loopTableSize ?? 256, "loopTableSize");
  if (loopTableSize > MAX_LOOP_TABLE_ENTRIES) {
    throw new ConfigError("loopTableSize", loopTableSize, `an integer <= ${MAX_LOOP_TABLE_ENTRIES}`);
  }
  const fingerprintBudget = requirePositiveInteger(
    options.fingerprintBudget ?? DEFAULT_FINGERPRINT_BUDGET,
    "fingerprintBudget",
  );

  const weights = resolveWeights(options.weights);
  const riskThresholds = resolveThresholds(options.riskThresholds);
  const quarantineRiskLevel = requireOneOf(
    options.quarantineRiskLevel ?? "HIGH",
    RISK_LEVELS,
    "quarantineRiskLevel",
  );
  const assessmentLogSize = requirePositiveInteger(options.assessmentLogSize ?? 1000, "assessmentLogSize");

  return Object.freeze({
    frequencyWindowMs,
    frequencyZThreshold,
    frequencyMinWindows,
    frequencyHistoryWindows,
    entropyWindowSize,
    entropyMinActions,
    entropyLowBits,
    entropyHighBits,
    loopRepeats,
    loopWindowMs,
    loopTableSize,
    fingerprintBudget,
    weights,
    riskThresholds,
    quarantineRiskLevel,
    assessmentLogSize,
  });
}

function resolveWeights(weights: Partial<RogueSignalWeights> | undefined): Readonly<RogueSignalWeights> {
  if (weights !== undefined && (weights === null || typeof weights !== "object")) {
    throw new ConfigError("weights", weights, "an object of per-signal weights");
  }
  const resolved = { ...DEFAULT_SIGNAL_WEIGHTS };
  for (const key of Object.keys(weights ?? {})) {
    if (!(key in DEFAULT_SIGNAL_WEIGHTS)) {
      throw new ConfigError(`weights.${key}`, (weights as Record<string, unknown>)[key], "no such signal");
    }
    const value = (weights as Record<string, unknown>)[key];
    if (value !== undefined) {
      resolved[key as keyof RogueSignalWeights] = requireFiniteNonNegative(value, `weights.${key}`);
    }
  }
  return Object.freeze(resolved);
}

function resolveThresholds(thresholds: Partial<RiskThresholds> | undefined): Readonly<RiskThresholds> {
  if (thresholds !== undefined && (thresholds === null || typeof thresholds !== "object")) {
    throw new ConfigError("riskThresholds", thresholds, "an object { medium, high, critical }");
  }
  const medium = requirePositive(
    thresholds?.medium ?? DEFAULT_RISK_THRESHOLDS.medium,
    "riskThresholds.medium",
  );
  const high = requirePositive(thresholds?.high ?? DEFAULT_RISK_THRESHOLDS.high, "riskThresholds.high");
  const critical = requirePositive(
    thresholds?.critical ?? DEFAULT_RISK_THRESHOLDS.critical,
    "riskThresholds.critical",
  );
  if (high <= medium) {
    throw new ConfigError("riskThresholds.high", high, `a number > riskThresholds.medium (${medium})`);
  }
  if (critical <= high) {
    throw new ConfigError("riskThresholds.critical", critical, `a number > riskThresholds.high (${high})`);
  }
  return Object.freeze({ medium, high, critical });
}
