import { createHmac } from "node:crypto";
import { isoTime } from "../alert.js";
import { commonLabels, type Notification } from "../notification.js";
import {
  type Channel,
  type ChannelRequest,
  JSON_HEADERS,
  type RenderContext,
  redactedUrl,
} from "./channel.js";

/**
 * A generic webhook with Alertmanager's webhook body (version "4"), so receivers written for Alertmanager
 * work unchanged. With a `secret`, each request is signed:
 *
 *   X-Agent-SRE-Timestamp: <unix seconds>
 *   X-Agent-SRE-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 *
 * A receiver recomputes the HMAC over the timestamp, a dot and the raw body, compares in constant time
 * and rejects stale timestamps (replay protection).
 */
export interface WebhookChannelOptions {
  url: string;
  /** HMAC-SHA256 key; without it requests are unsigned. */
  secret?: string;
  /** Extra headers (e.g. an `Authorization` the receiver expects; treated as secrets). */
  headers?: Record<string, string>;
  /** Alerts per body; the rest are counted in `truncatedAlerts`. Default 0 = all. */
  maxAlerts?: number;
}

export const SIGNATURE_HEADER = "x-agent-sre-signature";
export const TIMESTAMP_HEADER = "x-agent-sre-timestamp";

/** Alertmanager writes this for "no end time" (Go's zero time). */
const ZERO_TIME = "0001-01-01T00:00:00Z";

export class WebhookChannel implements Channel {
  readonly type = "webhook";
  readonly supportsAcknowledge = false;
  readonly secrets: readonly string[];
  readonly #options: WebhookChannelOptions;

  constructor(options: WebhookChannelOptions) {
    this.#options = options;
    const secrets = [options.url, ...Object.values(options.headers ?? {})];
    if (options.secret !== undefined) secrets.push(options.secret);
    this.secrets = secrets;
  }

  render(n: Notification, context: RenderContext): ChannelRequest | undefined {
    if (n.action !== "notify") return undefined;
    const max = this.#options.maxAlerts ?? 0;
    const alerts = max > 0 ? n.alerts.slice(0, max) : n.alerts;
    const common = commonLabels(n.alerts);
    const summaries = new Set(n.alerts.map((a) => a.summary));
    const commonAnnotations: Record<string, string> = {};
    if (summaries.size === 1) commonAnnotations.summary = [...summaries][0] as string;
    const payload = {
      version: "4",
      groupKey: n.groupKey,
      truncatedAlerts: n.alerts.length - alerts.length,
      status: n.status,
      receiver: n.receiver,
      groupLabels: n.groupLabels,
      commonLabels: common,
      commonAnnotations,
      externalURL: context.externalUrl ?? "",
      alerts: alerts.map((a) => {
        const annotations: Record<string, string> = { summary: a.summary };
        for (const [key, value] of Object.entries(a.details)) annotations[key] = String(value);
        return {
          status: a.status,
          labels: a.labels,
          annotations,
          startsAt: isoTime(a.startsAt),
          endsAt: a.endsAt === undefined ? ZERO_TIME : isoTime(a.endsAt),
          generatorURL: context.externalUrl ?? "",
          fingerprint: a.fingerprint,
        };
      }),
    };
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = { ...JSON_HEADERS, ...(this.#options.headers ?? {}) };
    headers["x-agent-sre-notification"] = n.id;
    if (this.#options.secret !== undefined) {
      const timestamp = String(Math.floor(context.now / 1000));
      headers[TIMESTAMP_HEADER] = timestamp;
      headers[SIGNATURE_HEADER] = signWebhook(this.#options.secret, timestamp, body);
    }
    return { url: this.#options.url, method: "POST", headers, body };
  }

  describe(): Record<string, unknown> {
    return {
      type: this.type,
      url: redactedUrl(this.#options.url),
      signed: this.#options.secret !== undefined,
    };
  }
}

/** `sha256=<hex>` over `"<timestamp>.<body>"`: what a receiver recomputes to verify a request. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}
