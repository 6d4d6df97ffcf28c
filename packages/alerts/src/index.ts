export {
  type Alert,
  type AlertInput,
  type AlertSeverity,
  type AlertStatus,
  type DetailValue,
  fingerprintOf,
  isoTime,
} from "./alert.js";
export { backoffDelay, DEFAULT_RETRY, parseRetryAfter, type RetryOptions } from "./backoff.js";
export type { Channel, ChannelRequest, RenderContext } from "./channels/channel.js";
export {
  OPSGENIE_URL,
  OpsgenieChannel,
  type OpsgenieChannelOptions,
  type OpsgeniePriority,
} from "./channels/opsgenie.js";
export {
  PAGERDUTY_URL,
  PagerDutyChannel,
  type PagerDutyChannelOptions,
  type PagerDutySeverity,
} from "./channels/pagerduty.js";
export { SlackChannel, type SlackChannelOptions } from "./channels/slack.js";
export { TeamsChannel, type TeamsChannelOptions } from "./channels/teams.js";
export {
  SIGNATURE_HEADER,
  signWebhook,
  TIMESTAMP_HEADER,
  WebhookChannel,
  type WebhookChannelOptions,
} from "./channels/webhook.js";
export {
  type AlertsConfig,
  alertsConfigSchema,
  type ConfigIssue,
  type NormalizedAlertsConfig,
  parseAlertsConfig,
  type ReceiverConfig,
} from "./config.js";
export type { ReceiverDeliveryStatus } from "./delivery.js";
export { DEFAULT_INHIBIT_RULES, type InhibitRule } from "./inhibit.js";
export { AlertManager } from "./manager.js";
export {
  type ActiveAlertStatus,
  type AlertEngine,
  type AlertManagerEvents,
  type AlertManagerLogger,
  type AlertManagerOptions,
  type AlertManagerStatus,
  AlertsConfigError,
} from "./manager-types.js";
export { compileMatcher, type Matcher, type MatchType, parseMatcher } from "./matchers.js";
export { groupHash, type Notification, title } from "./notification.js";
export {
  type AlertOutboxStore,
  type Awaitable,
  type ClaimVerdict,
  type DeadLetter,
  MemoryOutboxStore,
  type OutboxEntry,
} from "./outbox.js";
export type { RateLimitOptions } from "./rate-limit.js";
export { ROUTE_DEFAULTS, type RouteOptions } from "./route.js";
export { interpolateSecret, REDACTED, Redactor } from "./secrets.js";
export type { Silence, SilenceInput } from "./silences.js";
export { ALERT_NAMES, type AlertName, type DriftReportLike, SOURCE_EVENTS } from "./sources.js";
