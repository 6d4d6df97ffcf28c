import type { Notification } from "../notification.js";

/** One HTTP request a channel wants sent for a notification. */
export interface ChannelRequest {
  url: string;
  method: "POST";
  headers: Record<string, string>;
  body: string;
}

export interface RenderContext {
  /** Time of sending (ms): signatures and timestamps. */
  now: number;
  /** Link to the operator's status page, when configured. */
  externalUrl: string | undefined;
}

/**
 * A channel speaks one service's documented API. It renders notifications to requests and reads the
 * service's answer; the delivery loop owns timeouts, retries, rate limits and the outbox.
 */
export interface Channel {
  readonly type: "slack" | "pagerduty" | "teams" | "opsgenie" | "webhook" | (string & {});
  /** Whether the service can take an `acknowledge` (PagerDuty, Opsgenie). */
  readonly supportsAcknowledge: boolean;
  /** Secret strings (URLs with tokens, keys) to redact from logs, status and errors. */
  readonly secrets: readonly string[];
  /** The request for a notification, or `undefined` when the channel has nothing to send for it. */
  render(notification: Notification, context: RenderContext): ChannelRequest | undefined;
  /** An error message when a 2xx answer still reports a failure (e.g. Slack's body other than `ok`). */
  checkResponse?(status: number, body: string): string | undefined;
  /** A JSON view without secrets, for status. */
  describe(): Record<string, unknown>;
}

export const JSON_HEADERS = { "content-type": "application/json", "user-agent": "agent-sre-alerts/0.1" };

/** `https://hooks.slack.com/services/T0/B0/xyz` → `https://hooks.slack.com/…` (the path holds the token). */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}/[redacted]`;
  } catch {
    return "[redacted]";
  }
}
