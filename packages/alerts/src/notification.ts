import { createHash } from "node:crypto";
import type { Alert, AlertSeverity } from "./alert.js";

/**
 * What a route's group flush hands to a receiver: the group's firing and resolved alerts. One notification
 * becomes one request to the channel (one Slack message, one PagerDuty event, ...). Plain JSON, so the
 * outbox can store it and a restarted process can send it.
 */
export interface Notification {
  /** Unique per notification (outbox key; sent as an idempotency hint where a channel takes one). */
  id: string;
  receiver: string;
  /** Stable identity of the group: route path + group labels. Channels derive dedup keys from it. */
  groupKey: string;
  groupLabels: Record<string, string>;
  /** `firing` while any alert of the group fires; `resolved` when all have resolved. */
  status: "firing" | "resolved";
  /** `notify` (trigger / update / resolve) or `acknowledge` (channels that support it). */
  action: "notify" | "acknowledge";
  /** Firing alerts first, then resolved ones; each oldest first. */
  alerts: Alert[];
  at: number;
}

const RANK: Record<AlertSeverity, number> = { page: 0, ticket: 1, info: 2 };

export function firingOf(n: Notification): Alert[] {
  return n.alerts.filter((a) => a.status === "firing");
}

export function resolvedOf(n: Notification): Alert[] {
  return n.alerts.filter((a) => a.status === "resolved");
}

/** The most severe severity among the alerts (page > ticket > info). */
export function topSeverity(alerts: readonly Alert[]): AlertSeverity {
  let best: AlertSeverity = "info";
  for (const alert of alerts) if (RANK[alert.severity] < RANK[best]) best = alert.severity;
  return best;
}

/** Labels every alert of the notification shares. */
export function commonLabels(alerts: readonly Alert[]): Record<string, string> {
  const first = alerts[0];
  if (first === undefined) return {};
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(first.labels)) {
    if (alerts.every((a) => a.labels[key] === value)) out[key] = value;
  }
  return out;
}

/** `[FIRING:2] SloBurnRate research-agent` (Alertmanager's default title, with the group's labels). */
export function title(n: Notification): string {
  const firing = firingOf(n).length;
  const head = n.status === "firing" ? `[FIRING:${firing}]` : "[RESOLVED]";
  // alertname first, then the other group labels by name: "BudgetKill support-bot".
  const values = Object.entries(n.groupLabels)
    .sort(([a], [b]) => (a === "alertname" ? -1 : b === "alertname" ? 1 : a < b ? -1 : 1))
    .map(([, value]) => value)
    .filter((value) => value !== "");
  const common = commonLabels(n.alerts);
  if (values.length === 0 && common.alertname !== undefined) values.push(common.alertname);
  return `${head} ${values.join(" ")}`.trim();
}

/** A dedup key stable for the group across restarts (hex SHA-256 of receiver + group key). */
export function groupHash(n: Pick<Notification, "receiver" | "groupKey">): string {
  return createHash("sha256").update(`${n.receiver}\u0000${n.groupKey}`).digest("hex");
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** `key=value` pairs of the labels, except the ones already shown elsewhere. */
export function labelList(labels: Readonly<Record<string, string>>, skip: readonly string[] = []): string {
  return Object.keys(labels)
    .filter((key) => !skip.includes(key))
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join(", ");
}
