import type { Alert } from "../alert.js";
import {
  firingOf,
  labelList,
  type Notification,
  resolvedOf,
  title,
  topSeverity,
  truncate,
} from "../notification.js";
import {
  type Channel,
  type ChannelRequest,
  JSON_HEADERS,
  type RenderContext,
  redactedUrl,
} from "./channel.js";

/**
 * Slack incoming webhook (https://api.slack.com/messaging/webhooks) with Block Kit: a header, one section
 * per alert (at most `maxAlerts`, the rest counted), a context line. `text` is the notification fallback.
 * Slack answers `200 ok`; failures are `400 invalid_payload`, `403`, `404 no_service`, `410`, `429` with
 * `Retry-After`, `5xx`. Resolved groups get a "resolved" message (Slack has no incident to close).
 */
export interface SlackChannelOptions {
  /** The webhook URL (a secret: it carries the token). */
  url: string;
  /** Legacy webhooks honour these; app webhooks post to their own channel. */
  channel?: string;
  username?: string;
  iconEmoji?: string;
  /** Alerts listed per message (Slack allows 50 blocks). Default 10. */
  maxAlerts?: number;
}

const ICON = { page: "🔴", ticket: "🟠", info: "🔵" } as const;

export class SlackChannel implements Channel {
  readonly type = "slack";
  readonly supportsAcknowledge = false;
  readonly secrets: readonly string[];
  readonly #options: SlackChannelOptions;

  constructor(options: SlackChannelOptions) {
    this.#options = options;
    this.secrets = [options.url];
  }

  render(n: Notification, context: RenderContext): ChannelRequest | undefined {
    if (n.action !== "notify") return undefined;
    const firing = firingOf(n);
    const resolved = resolvedOf(n);
    const head = n.status === "firing" ? `${ICON[topSeverity(firing)]} ${title(n)}` : `✅ ${title(n)}`;
    const max = this.#options.maxAlerts ?? 10;
    const shown = [...firing, ...resolved].slice(0, max);
    const blocks: unknown[] = [
      { type: "header", text: { type: "plain_text", text: truncate(head, 150), emoji: true } },
    ];
    for (const alert of shown) {
      blocks.push({ type: "section", text: { type: "mrkdwn", text: truncate(alertText(alert), 3000) } });
    }
    const hidden = firing.length + resolved.length - shown.length;
    const context_: string[] = [`${firing.length} firing, ${resolved.length} resolved`];
    if (hidden > 0) context_.push(`${hidden} more not shown`);
    context_.push(`agent-sre · ${n.receiver}`);
    if (context.externalUrl !== undefined) context_.push(`<${context.externalUrl}|status>`);
    blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: context_.join(" · ") }] });
    const payload: Record<string, unknown> = { text: fallback(n, firing, resolved), blocks };
    if (this.#options.channel !== undefined) payload.channel = this.#options.channel;
    if (this.#options.username !== undefined) payload.username = this.#options.username;
    if (this.#options.iconEmoji !== undefined) payload.icon_emoji = this.#options.iconEmoji;
    return {
      url: this.#options.url,
      method: "POST",
      headers: { ...JSON_HEADERS },
      body: JSON.stringify(payload),
    };
  }

  checkResponse(_status: number, body: string): string | undefined {
    const text = body.trim();
    return text === "" || text === "ok" ? undefined : `slack answered ${JSON.stringify(truncate(text, 200))}`;
  }

  describe(): Record<string, unknown> {
    return { type: this.type, url: redactedUrl(this.#options.url) };
  }
}

function alertText(alert: Alert): string {
  const state = alert.status === "firing" ? `*${alert.severity.toUpperCase()}*` : "*RESOLVED*";
  const who = alert.agent === undefined ? "" : ` · agent \`${alert.agent}\``;
  const labels = labelList(alert.labels, ["alertname", "severity", "agent"]);
  return `${state} *${alert.name}*${who}\n${alert.summary}${labels === "" ? "" : `\n\`${labels}\``}`;
}

function fallback(n: Notification, firing: readonly Alert[], resolved: readonly Alert[]): string {
  const first = (n.status === "firing" ? firing : resolved)[0];
  return truncate(`${title(n)}${first === undefined ? "" : `: ${first.summary}`}`, 1000);
}
