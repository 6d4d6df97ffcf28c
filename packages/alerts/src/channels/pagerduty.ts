import { type AlertSeverity, isoTime } from "../alert.js";
import {
  firingOf,
  groupHash,
  type Notification,
  resolvedOf,
  title,
  topSeverity,
  truncate,
} from "../notification.js";
import { type Channel, type ChannelRequest, JSON_HEADERS, type RenderContext } from "./channel.js";

/**
 * PagerDuty Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/overview/): one
 * `trigger` per group notification while it fires (repeats update the same incident), `resolve` with the
 * same `dedup_key` when the whole group has resolved, `acknowledge` on request. The dedup key is the
 * SHA-256 of receiver + group key, so it survives restarts. PagerDuty answers `202 {"status":"success",
 * "message":"Event processed","dedup_key":...}`; `400 {"status":"invalid event","errors":[...]}` is not
 * retried; `429` and `5xx` are.
 */
export type PagerDutySeverity = "critical" | "error" | "warning" | "info";

export interface PagerDutyChannelOptions {
  /** The integration's routing key (32 characters; a secret). */
  routingKey: string;
  /** Default `https://events.pagerduty.com/v2/enqueue` (EU accounts: `https://events.eu.pagerduty.com/v2/enqueue`). */
  url?: string;
  /** Our severity → PagerDuty's. Default page → critical, ticket → warning, info → info. */
  severity?: Partial<Record<AlertSeverity, PagerDutySeverity>>;
  /** `payload.source` (default `agent-sre`). */
  source?: string;
  component?: string;
  group?: string;
  /** Shown in PagerDuty as the sender (default `Agent SRE`). */
  client?: string;
}

export const PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue";
const DEFAULT_SEVERITY: Record<AlertSeverity, PagerDutySeverity> = {
  page: "critical",
  ticket: "warning",
  info: "info",
};

export class PagerDutyChannel implements Channel {
  readonly type = "pagerduty";
  readonly supportsAcknowledge = true;
  readonly secrets: readonly string[];
  readonly #options: PagerDutyChannelOptions;
  readonly #severity: Record<AlertSeverity, PagerDutySeverity>;

  constructor(options: PagerDutyChannelOptions) {
    this.#options = options;
    this.#severity = { ...DEFAULT_SEVERITY, ...(options.severity ?? {}) };
    this.secrets = [options.routingKey];
  }

  render(n: Notification, context: RenderContext): ChannelRequest | undefined {
    const dedupKey = groupHash(n);
    let body: Record<string, unknown>;
    if (n.action === "acknowledge") {
      body = { routing_key: this.#options.routingKey, event_action: "acknowledge", dedup_key: dedupKey };
    } else if (n.status === "resolved") {
      body = { routing_key: this.#options.routingKey, event_action: "resolve", dedup_key: dedupKey };
    } else {
      const firing = firingOf(n);
      const first = firing[0];
      const summary = firing.length === 1 && first !== undefined ? `${title(n)}: ${first.summary}` : title(n);
      const payload: Record<string, unknown> = {
        summary: truncate(summary, 1024),
        source: this.#options.source ?? "agent-sre",
        severity: this.#severity[topSeverity(firing)],
        timestamp: isoTime(Math.min(...firing.map((a) => a.startsAt))),
        class: first?.name ?? "alert",
        custom_details: {
          firing: firing.map((a) => ({
            alert: a.name,
            summary: a.summary,
            labels: a.labels,
            details: a.details,
          })),
          resolved: resolvedOf(n).map((a) => ({ alert: a.name, summary: a.summary, labels: a.labels })),
          groupLabels: n.groupLabels,
        },
      };
      if (this.#options.component !== undefined) payload.component = this.#options.component;
      else if (first?.agent !== undefined) payload.component = first.agent;
      if (this.#options.group !== undefined) payload.group = this.#options.group;
      body = {
        routing_key: this.#options.routingKey,
        event_action: "trigger",
        dedup_key: dedupKey,
        payload,
        client: this.#options.client ?? "Agent SRE",
      };
      if (context.externalUrl !== undefined) {
        body.client_url = context.externalUrl;
        body.links = [{ href: context.externalUrl, text: "Agent SRE status" }];
      }
    }
    return {
      url: this.#options.url ?? PAGERDUTY_URL,
      method: "POST",
      headers: { ...JSON_HEADERS },
      body: JSON.stringify(body),
    };
  }

  checkResponse(_status: number, body: string): string | undefined {
    try {
      const parsed = JSON.parse(body) as { status?: string; message?: string };
      if (parsed.status !== undefined && parsed.status !== "success")
        return `pagerduty: ${parsed.status}: ${parsed.message ?? ""}`;
    } catch {
      // A non-JSON 2xx (a proxy in between) is accepted: the status code said yes.
    }
    return undefined;
  }

  describe(): Record<string, unknown> {
    return { type: this.type, url: this.#options.url ?? PAGERDUTY_URL, routingKey: "[redacted]" };
  }
}
