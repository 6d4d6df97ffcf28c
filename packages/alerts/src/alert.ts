import { createHash } from "node:crypto";

/**
 * The one alert model every source maps into and every channel renders. Labels identify an alert (its
 * fingerprint is a hash of them); `summary` and `details` describe it and may change while it fires
 * without making it a new alert — as in Prometheus, where labels are identity and annotations are text.
 */

export type AlertSeverity = "page" | "ticket" | "info";
export type AlertStatus = "firing" | "resolved";

export type DetailValue = string | number | boolean | null;

export interface Alert {
  /** `alertname`: `SloBurnRate`, `BudgetKill`, `BreakerOpen`, ... */
  name: string;
  severity: AlertSeverity;
  /** The agent it concerns (`undefined` for org-wide or target-wide alerts). */
  agent: string | undefined;
  /** Identity labels; always include `alertname` and `severity` (and `agent` when set). */
  labels: Readonly<Record<string, string>>;
  summary: string;
  details: Readonly<Record<string, DetailValue>>;
  /** Stable across processes and restarts: the first 16 hex of SHA-256 over the sorted labels. */
  fingerprint: string;
  status: AlertStatus;
  /** When it started firing (ms). */
  startsAt: number;
  /** When it resolved (ms), for resolved alerts. */
  endsAt: number | undefined;
  /**
   * When its condition lapses by itself (ms), e.g. the end of a budget period, when a kill ends: it resolves
   * then unless something resolved it before.
   */
  resolvesAt: number | undefined;
  /** The event that produced (or last updated) it: `breaker.open`, `mcp.drift`, ... or `manual`. */
  source: string;
}

export interface AlertInput {
  name: string;
  severity: AlertSeverity;
  agent?: string | undefined;
  labels?: Record<string, string>;
  summary: string;
  details?: Record<string, DetailValue>;
  at: number;
  source?: string;
  /** See `Alert.resolvesAt`. */
  resolvesAt?: number | undefined;
}

const SEVERITIES: readonly AlertSeverity[] = ["page", "ticket", "info"];

export function isSeverity(value: unknown): value is AlertSeverity {
  return SEVERITIES.includes(value as AlertSeverity);
}

/** The identity labels of an alert: `alertname`, `severity`, `agent` (when set) and the source's own. */
export function alertLabels(
  input: Pick<AlertInput, "name" | "severity" | "agent" | "labels">,
): Record<string, string> {
  const labels: Record<string, string> = { ...(input.labels ?? {}) };
  labels.alertname = input.name;
  labels.severity = input.severity;
  if (input.agent !== undefined) labels.agent = input.agent;
  return labels;
}

/** SHA-256 of the sorted `name=value` pairs (separated by bytes that cannot appear in them ambiguously). */
export function fingerprintOf(labels: Readonly<Record<string, string>>): string {
  const hash = createHash("sha256");
  for (const key of Object.keys(labels).sort()) {
    hash.update(key);
    hash.update("\u0000");
    hash.update(labels[key] as string);
    hash.update("\u0001");
  }
  return hash.digest("hex").slice(0, 16);
}

/** Builds a firing alert from an input. */
export function firingAlert(input: AlertInput): Alert {
  const labels = alertLabels(input);
  return {
    name: input.name,
    severity: input.severity,
    agent: input.agent,
    labels,
    summary: input.summary,
    details: { ...(input.details ?? {}) },
    fingerprint: fingerprintOf(labels),
    status: "firing",
    startsAt: input.at,
    endsAt: undefined,
    resolvesAt: input.resolvesAt,
    source: input.source ?? "manual",
  };
}

/** ISO-8601 (RFC 3339) in UTC, as Alertmanager and PagerDuty expect. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
