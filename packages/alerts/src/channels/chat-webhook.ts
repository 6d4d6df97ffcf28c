import type { Alert } from "../alert.js";
import { firingOf, type Notification, resolvedOf } from "../notification.js";
import {
  type Channel,
  type ChannelRequest,
  JSON_HEADERS,
  type RenderContext,
  redactedUrl,
} from "./channel.js";

/** What a chat message shows of one notification. */
export interface ChatView {
  notification: Notification;
  firing: readonly Alert[];
  resolved: readonly Alert[];
  /** Firing then resolved alerts, at most `maxAlerts` of them. */
  shown: readonly Alert[];
  /** Alerts left out of `shown`. */
  hidden: number;
}

export interface ChatWebhookOptions {
  /** The incoming-webhook URL (a secret: it carries a token or a signature). */
  url: string;
  /** Alerts listed per message. Default 10. */
  maxAlerts?: number;
}

/**
 * A chat service's incoming webhook (Slack, Teams): one JSON POST per notification to a secret URL, no
 * incident to acknowledge, a "resolved" message for a resolved group. Subclasses only shape the payload.
 */
export abstract class ChatWebhookChannel implements Channel {
  abstract readonly type: string;
  readonly supportsAcknowledge = false;
  readonly secrets: readonly string[];
  readonly #url: string;
  readonly #maxAlerts: number;

  constructor(options: ChatWebhookOptions) {
    this.#url = options.url;
    this.#maxAlerts = options.maxAlerts ?? 10;
    this.secrets = [options.url];
  }

  /** The message body for a notification (serialized as JSON). */
  protected abstract payload(view: ChatView, context: RenderContext): unknown;

  render(notification: Notification, context: RenderContext): ChannelRequest | undefined {
    if (notification.action !== "notify") return undefined;
    const firing = firingOf(notification);
    const resolved = resolvedOf(notification);
    const shown = [...firing, ...resolved].slice(0, this.#maxAlerts);
    const hidden = firing.length + resolved.length - shown.length;
    return {
      url: this.#url,
      method: "POST",
      headers: { ...JSON_HEADERS },
      body: JSON.stringify(this.payload({ notification, firing, resolved, shown, hidden }, context)),
    };
  }

  describe(): Record<string, unknown> {
    return { type: this.type, url: redactedUrl(this.#url) };
  }
}
