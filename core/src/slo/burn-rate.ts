import { type Duration, parseDuration } from "../duration.js";
import { ConfigError } from "../errors.js";
import { requireOneOf, requirePositive } from "../validate.js";
import { fieldOf } from "./fields.js";
import { MAX_WINDOW_MS } from "./prefix-sums.js";

/** `page` wakes someone up (makes the SLO CRITICAL); `ticket` can wait (makes it WARNING). */
export type AlertSeverity = "page" | "ticket";

export const ALERT_SEVERITIES: readonly AlertSeverity[] = ["page", "ticket"];

/**
 * One multi-window burn-rate rule: it fires when the burn rate over BOTH the long and the short window
 * is at least `burnRate` (the short window makes the alert stop soon after the burning stops).
 */
export interface BurnRateRule {
  severity: AlertSeverity;
  burnRate: number;
  longWindowMs: number;
  shortWindowMs: number;
}

/** A rule as users write it: windows may be durations such as `"1h"`. */
export interface BurnRateRuleInput {
  severity: AlertSeverity;
  burnRate: number;
  longWindow: Duration;
  shortWindow: Duration;
}

/** A rule that fires now, with the burn rates measured over its windows. */
export interface FiringAlert {
  severity: AlertSeverity;
  burnRateThreshold: number;
  longWindowMs: number;
  shortWindowMs: number;
  /** The same windows as labels (`"1h"`, `"5m"`), for logs and dashboards. */
  longWindow: string;
  shortWindow: string;
  longBurnRate: number;
  shortBurnRate: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * The Google SRE Workbook policy for a 30-day SLO (ch. 5, "Multiwindow, Multi-Burn-Rate Alerts"):
 * 14.4× over 1 h and 5 m (2 % of the budget in an hour) pages, 6× over 6 h and 30 m (5 % in six hours)
 * pages, 1× over 3 d and 6 h (10 % in three days) opens a ticket.
 */
export const WORKBOOK_POLICY: readonly BurnRateRule[] = Object.freeze([
  Object.freeze({ severity: "page", burnRate: 14.4, longWindowMs: HOUR, shortWindowMs: 5 * MINUTE }),
  Object.freeze({ severity: "page", burnRate: 6, longWindowMs: 6 * HOUR, shortWindowMs: 30 * MINUTE }),
  Object.freeze({ severity: "ticket", burnRate: 1, longWindowMs: 3 * DAY, shortWindowMs: 6 * HOUR }),
]) as readonly BurnRateRule[];

/**
 * Relative tolerance when comparing a measured ratio with a threshold: 144 bad of 10,000 against a
 * 99.9 % target is a burn of exactly 14.4, which floating point computes as 14.399999999999999.
 */
export const RATIO_TOLERANCE = 1e-9;

/** Whether `measured` reaches `threshold`, forgiving floating-point noise. */
export function reaches(measured: number, threshold: number): boolean {
  return measured >= threshold * (1 - RATIO_TOLERANCE);
}

/**
 * Builds the alert policy of an error budget.
 * - `alertPolicy` given: used as is (then `burnRateAlert`/`burnRateCritical` must be absent).
 * - otherwise the Workbook policy, where `burnRateCritical` replaces the threshold of the fast page rule
 *   (1 h / 5 m, default 14.4) and `burnRateAlert` the threshold of the ticket rule (3 d / 6 h, default 1).
 *   The slow page rule (6× over 6 h / 30 m) is kept.
 */
export function buildAlertPolicy(
  input: {
    alertPolicy?: readonly (BurnRateRuleInput | BurnRateRule)[] | undefined;
    burnRateAlert?: number | undefined;
    burnRateCritical?: number | undefined;
  },
  field = "errorBudget",
): BurnRateRule[] {
  const { alertPolicy, burnRateAlert, burnRateCritical } = input;
  if (burnRateAlert !== undefined) requirePositive(burnRateAlert, fieldOf(field, "burnRateAlert"));
  if (burnRateCritical !== undefined) requirePositive(burnRateCritical, fieldOf(field, "burnRateCritical"));
  if (alertPolicy !== undefined) {
    if (burnRateAlert !== undefined || burnRateCritical !== undefined) {
      throw new ConfigError(
        fieldOf(field, "alertPolicy"),
        alertPolicy,
        "either alertPolicy or burnRateAlert/burnRateCritical, not both",
      );
    }
    if (!Array.isArray(alertPolicy) || alertPolicy.length === 0) {
      throw new ConfigError(
        fieldOf(field, "alertPolicy"),
        alertPolicy,
        "a non-empty array of burn-rate rules",
      );
    }
    return alertPolicy.map((rule, i) => parseRule(rule, fieldOf(field, `alertPolicy[${i}]`)));
  }
  if (burnRateAlert !== undefined && burnRateCritical !== undefined && burnRateCritical < burnRateAlert) {
    throw new ConfigError(
      fieldOf(field, "burnRateCritical"),
      burnRateCritical,
      `a burn rate >= burnRateAlert (${burnRateAlert})`,
    );
  }
  const [fastPage, slowPage, ticket] = WORKBOOK_POLICY as [BurnRateRule, BurnRateRule, BurnRateRule];
  return [
    { ...fastPage, burnRate: burnRateCritical ?? fastPage.burnRate },
    { ...slowPage },
    { ...ticket, burnRate: burnRateAlert ?? ticket.burnRate },
  ];
}

function parseRule(rule: unknown, field: string): BurnRateRule {
  if (typeof rule !== "object" || rule === null) {
    throw new ConfigError(field, rule, "a rule { severity, burnRate, longWindow, shortWindow }");
  }
  const raw = rule as Partial<BurnRateRuleInput & BurnRateRule>;
  const severity = requireOneOf(raw.severity, ALERT_SEVERITIES, `${field}.severity`);
  const burnRate = requirePositive(raw.burnRate, `${field}.burnRate`);
  const longWindowMs = parseWindow(raw.longWindow ?? raw.longWindowMs, `${field}.longWindow`);
  const shortWindowMs = parseWindow(raw.shortWindow ?? raw.shortWindowMs, `${field}.shortWindow`);
  if (shortWindowMs >= longWindowMs) {
    throw new ConfigError(
      `${field}.shortWindow`,
      raw.shortWindow ?? raw.shortWindowMs,
      "a window shorter than longWindow",
    );
  }
  return { severity, burnRate, longWindowMs, shortWindowMs };
}

/** Parses a window duration and checks the bucketed counters can hold it. */
export function parseWindow(value: unknown, field: string): number {
  const ms = parseDuration(value as Duration, field);
  if (ms > MAX_WINDOW_MS)
    throw new ConfigError(field, value, `a window up to ${formatWindow(MAX_WINDOW_MS)}`);
  return ms;
}

/** A compact label for a window: `"5m"`, `"1h"`, `"30d"`, else `"90s"` or `"1500ms"`. */
export function formatWindow(ms: number): string {
  if (ms >= DAY && ms % DAY === 0) return `${ms / DAY}d`;
  if (ms >= HOUR && ms % HOUR === 0) return `${ms / HOUR}h`;
  if (ms >= MINUTE && ms % MINUTE === 0) return `${ms / MINUTE}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
