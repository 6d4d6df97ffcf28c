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
 * Microsoft Teams through a Workflows ("Post to a channel when a webhook request is received") webhook:
 * a `message` whose attachment is an Adaptive Card (schema 1.4): a coloured title, a fact set per alert,
 * and a link to the status page. Workflows answer `202 Accepted`; a resolved group gets a resolved card.
 */
export interface TeamsChannelOptions {
  /** The workflow's HTTP POST URL (a secret: it carries a signature). */
  url: string;
  /** Alerts listed per card. Default 10. */
  maxAlerts?: number;
}

const COLOR = { page: "Attention", ticket: "Warning", info: "Accent" } as const;

export class TeamsChannel implements Channel {
  readonly type = "teams";
  readonly supportsAcknowledge = false;
  readonly secrets: readonly string[];
  readonly #options: TeamsChannelOptions;

  constructor(options: TeamsChannelOptions) {
    this.#options = options;
    this.secrets = [options.url];
  }

  render(n: Notification, context: RenderContext): ChannelRequest | undefined {
    if (n.action !== "notify") return undefined;
    const firing = firingOf(n);
    const resolved = resolvedOf(n);
    const shown = [...firing, ...resolved].slice(0, this.#options.maxAlerts ?? 10);
    const body: unknown[] = [
      {
        type: "TextBlock",
        size: "Large",
        weight: "Bolder",
        wrap: true,
        color: n.status === "firing" ? COLOR[topSeverity(firing)] : "Good",
        text: truncate(title(n), 200),
      },
      {
        type: "TextBlock",
        isSubtle: true,
        spacing: "None",
        wrap: true,
        text: `${firing.length} firing, ${resolved.length} resolved · receiver ${n.receiver}`,
      },
    ];
    for (const alert of shown) body.push(...alertBlocks(alert));
    const card: Record<string, unknown> = {
      $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
      type: "AdaptiveCard",
      version: "1.4",
      msteams: { width: "Full" },
      body,
    };
    if (context.externalUrl !== undefined) {
      card.actions = [{ type: "Action.OpenUrl", title: "Open Agent SRE status", url: context.externalUrl }];
    }
    const message = {
      type: "message",
      attachments: [
        { contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: card },
      ],
    };
    return {
      url: this.#options.url,
      method: "POST",
      headers: { ...JSON_HEADERS },
      body: JSON.stringify(message),
    };
  }

  describe(): Record<string, unknown> {
    return { type: this.type, url: redactedUrl(this.#options.url) };
  }
}

function alertBlocks(alert: Alert): unknown[] {
  const facts = [
    { title: "Status", value: alert.status === "firing" ? alert.severity.toUpperCase() : "RESOLVED" },
    { title: "Alert", value: alert.name },
  ];
  if (alert.agent !== undefined) facts.push({ title: "Agent", value: alert.agent });
  const labels = labelList(alert.labels, ["alertname", "severity", "agent"]);
  if (labels !== "") facts.push({ title: "Labels", value: labels });
  return [
    { type: "TextBlock", wrap: true, separator: true, text: truncate(alert.summary, 2000) },
    { type: "FactSet", facts },
  ];
}
