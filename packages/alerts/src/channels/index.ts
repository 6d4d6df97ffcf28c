import type { NormalizedReceiver } from "../config.js";
import type { Channel } from "./channel.js";
import { OpsgenieChannel, type OpsgenieChannelOptions } from "./opsgenie.js";
import { PagerDutyChannel, type PagerDutyChannelOptions } from "./pagerduty.js";
import { SlackChannel, type SlackChannelOptions } from "./slack.js";
import { TeamsChannel, type TeamsChannelOptions } from "./teams.js";
import { WebhookChannel, type WebhookChannelOptions } from "./webhook.js";

const RECEIVER_ONLY = ["type", "sendResolved", "timeoutMs", "retry", "rateLimit"];

/** The channel a validated receiver config describes. */
export function createChannel(config: NormalizedReceiver["config"]): Channel {
  if (config.type === "custom") return config.channel;
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config))
    if (!RECEIVER_ONLY.includes(key) && value !== undefined) options[key] = value;
  switch (config.type) {
    case "slack":
      return new SlackChannel(options as unknown as SlackChannelOptions);
    case "pagerduty":
      return new PagerDutyChannel(options as unknown as PagerDutyChannelOptions);
    case "teams":
      return new TeamsChannel(options as unknown as TeamsChannelOptions);
    case "opsgenie":
      return new OpsgenieChannel(options as unknown as OpsgenieChannelOptions);
    case "webhook":
      return new WebhookChannel(options as unknown as WebhookChannelOptions);
  }
}
