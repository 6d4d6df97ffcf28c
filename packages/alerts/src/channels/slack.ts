import type { Alert } from "../alert.js";
import { labelList, type Notification, title, topSeverity, truncate } from "../notification.js";
import type { RenderContext } from "./channel.js";
import { type ChatView, ChatWebhookChannel, type ChatWebhookOptions } from "./chat-webhook.js";

/**
 * Slack incoming webhook (https://api.slack.com/messaging/webhooks) with Block Kit: a header, one section
 * per alert (at most `maxAlerts`, the rest counted), a context line. `text` is the notification fallback.
 * Slack answers `200 ok`; failures are `400 invalid_payload`, `403`, `404 no_service`, `410`, `429` with
 * `Retry-After`, `5xx`. Resolved groups get a "resolved" message (Slack has no incident to close).
 */
export interface SlackChannelOptions extends ChatWebhookOptions {
  /** Legacy webhooks honour these; app webhooks post to their own channel. */
  channel?: string;
  username?: string;
  iconEmoji?: string;
  /** Alerts listed per message (Slack allows 50 blocks). Default 10. */
  maxAlerts?: number;
}

const ICON = { page: "🔴", ticket: "🟠", info: "🔵" } as const;

export class SlackChannel extends ChatWebhookChannel {
  readonly type = "slack";
  readonly #options: SlackChannelOptions;

  constructor(options: SlackChannelOptions) {
    super(options);
    this.#options = options;
  }

  protected payload({ notification: n, firing, resolved, shown, hidden }: ChatView, context: RenderContext) {
    const head = n.status === "firing" ? `${ICON[topSeverity(firing)]} ${title(n)}` : `✅ ${title(n)}`;
    const blocks: unknown[] = [
      { type: "header", text: { type: "plain_text", text: truncate(head, 150), emoji: true } },
    ];
    for (const alert of shown) {
      blocks.push({ type: "section", text: { type: "mrkdwn", text: truncate(alertText(alert), 3000) } });
    }
    const footer: string[] = [`${firing.length} firing, ${resolved.length} resolved`];
    if (hidden > 0) footer.push(`${hidden} more not shown`);
    footer.push(`agent-sre · ${n.receiver}`);
    if (context.externalUrl !== undefined) footer.push(`<${context.externalUrl}|status>`);
    blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: footer.join(" · ") }] });
    const payload: Record<string, unknown> = { text: fallback(n, firing, resolved), blocks };
    if (this.#options.channel !== undefined) payload.channel = this.#options.channel;
    if (this.#options.username !== undefined) payload.username = this.#options.username;
    if (this.#options.iconEmoji !== undefined) payload.icon_emoji = this.#options.iconEmoji;
    return payload;
  }

  checkResponse(_status: number, body: string): string | undefined {
    const text = body.trim();
    return text === "" || text === "ok" ? undefined : `slack answered ${JSON.stringify(truncate(text, 200))}`;
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
