import type { Alert } from "../alert.js";
import { labelList, title, topSeverity, truncate } from "../notification.js";
import type { RenderContext } from "./channel.js";
import { type ChatView, ChatWebhookChannel, type ChatWebhookOptions } from "./chat-webhook.js";

/**
 * Microsoft Teams through a Workflows ("Post to a channel when a webhook request is received") webhook:
 * a `message` whose attachment is an Adaptive Card (schema 1.4): a coloured title, a fact set per alert,
 * and a link to the status page. Workflows answer `202 Accepted`; a resolved group gets a resolved card.
 */
export type TeamsChannelOptions = ChatWebhookOptions;

const COLOR = { page: "Attention", ticket: "Warning", info: "Accent" } as const;

export class TeamsChannel extends ChatWebhookChannel {
  readonly type = "teams";

  protected payload({ notification: n, firing, resolved, shown }: ChatView, context: RenderContext) {
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
    return {
      type: "message",
      attachments: [
        { contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: card },
      ],
    };
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
