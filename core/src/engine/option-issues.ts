import { checkKeys } from "../config-keys.js";
import { parseDuration } from "../duration.js";
import { ConfigError } from "../errors.js";
import { requireFiniteNonNegative, requireOneOf } from "../validate.js";
import type { UnknownModelPolicy } from "./context.js";
import type { AgentSREOptions } from "./options.js";
import { AGENT_SRE_OPTION_KEYS } from "./options-schema.js";

/**
 * Strict configuration for `new AgentSRE({...})`: every unknown key (options-schema.ts) and every section's
 * invalid values are collected, each at its full path, and thrown as one `ConfigError` once every section
 * was tried — a typo never hides the next problem.
 */
export class OptionIssues {
  readonly #issues: ConfigError[] = [];

  constructor(options: AgentSREOptions) {
    checkKeys(options, AGENT_SRE_OPTION_KEYS, "", this.#issues);
  }

  /**
   * `build()`'s value, or — when it throws a `ConfigError` — `fallback()`'s, with the error's problems kept
   * at their paths inside `section` (a component names its own fields: `perTaskLimitUsd` is
   * `budget.perTaskLimitUsd` here).
   */
  valid<T>(section: string, build: () => T, fallback: () => T): T {
    try {
      return build();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const issue of error.issues) {
        const field = inSection(section, issue.field);
        if (this.#issues.some((known) => known.field === field)) continue;
        this.#issues.push(new ConfigError(field, issue.value, issue.expected, issue.suggestion));
      }
      return fallback();
    }
  }

  throwIfAny(): void {
    if (this.#issues.length > 0) throw ConfigError.combine(this.#issues);
  }
}

/** The engine's own scalar settings, validated (pricing of unknown models, timeouts, throttle, scope). */
export interface EngineSettings {
  unknownModel: UnknownModelPolicy;
  /** USD per million tokens is numerically µUSD per token. */
  unknownInputMicrosPerToken: number;
  unknownOutputMicrosPerToken: number;
  recordAgentOutcomes: boolean;
  modelTimeoutMs: number;
  toolTimeoutMs: number;
  throttleMode: "delay" | "reject";
  throttleMaxDelayMs: number;
}

const DEFAULT_UNKNOWN_MODEL_PRICE = { inputPerMTokUsd: 15, outputPerMTokUsd: 75 };

export function engineSettings(options: AgentSREOptions, check: OptionIssues): EngineSettings {
  const unknownPrice = options.unknownModelPrice ?? DEFAULT_UNKNOWN_MODEL_PRICE;
  const timeout = (value: unknown, field: string) =>
    check.valid(
      "",
      () => (value === undefined ? 0 : parseDuration(value as number, field, { allowZero: true })),
      () => 0,
    );
  return {
    unknownModel: check.valid<UnknownModelPolicy>(
      "",
      () => requireOneOf(options.unknownModel ?? "warn", ["warn", "block", "free"], "unknownModel"),
      () => "warn",
    ),
    unknownInputMicrosPerToken: check.valid(
      "",
      () => requireFiniteNonNegative(unknownPrice.inputPerMTokUsd, "unknownModelPrice.inputPerMTokUsd"),
      () => 0,
    ),
    unknownOutputMicrosPerToken: check.valid(
      "",
      () => requireFiniteNonNegative(unknownPrice.outputPerMTokUsd, "unknownModelPrice.outputPerMTokUsd"),
      () => 0,
    ),
    recordAgentOutcomes: check.valid(
      "",
      () =>
        requireOneOf(options.breakers?.scope ?? "target", ["target", "both"], "breakers.scope") === "both",
      () => false,
    ),
    modelTimeoutMs: timeout(options.timeouts?.modelMs, "timeouts.modelMs"),
    toolTimeoutMs: timeout(options.timeouts?.toolMs, "timeouts.toolMs"),
    throttleMode: check.valid<"delay" | "reject">(
      "",
      () => requireOneOf(options.throttle?.mode ?? "delay", ["delay", "reject"], "throttle.mode"),
      () => "delay",
    ),
    throttleMaxDelayMs: check.valid(
      "",
      () => parseDuration(options.throttle?.maxDelayMs ?? 60_000, "throttle.maxDelayMs", { allowZero: true }),
      () => 60_000,
    ),
  };
}

/** A component's error field inside its section of the options (`perTaskLimitUsd` → `budget.perTaskLimitUsd`). */
function inSection(section: string, field: string): string {
  if (section === "") return field;
  if (section === "rateLimits") return field.replace(/^(options\.)?rules/, "rateLimits");
  if (field === "options") return section;
  if (field === section || field.startsWith(`${section}.`) || field.startsWith(`${section}[`)) return field;
  return field.startsWith("[") ? `${section}${field}` : `${section}.${field}`;
}

/** `value` if it is a plain options object, else a `ConfigError` at `field`. */
export function requireSection<T>(value: T, field: string): T {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(field, value, "an options object");
  }
  return value;
}
