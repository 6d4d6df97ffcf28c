export {
  type AuditOutcome,
  type AuditRecord,
  type AuditSink,
  argumentShape,
  DEFAULT_REDACT_KEYS,
  JsonlAuditLog,
  MemoryAuditSink,
} from "./audit.js";
export { formatPath, interpolateString } from "./config/interpolate.js";
export {
  buildExperiment,
  ConfigFileError,
  type ConfigIssue,
  type HttpTransportSpec,
  type LoadOptions,
  loadConfigFile,
  type ProxyConfig,
  parseConfig,
  parseListenAddress,
  type StdioTransportSpec,
  type TransportSpec,
  type UpstreamSpec,
} from "./config/load.js";
export { type AgentSreSection, DRIFT_POLICIES, type DriftPolicy } from "./config/schema.js";
export {
  compareDefinitions,
  type DriftChange,
  DriftGuard,
  type DriftGuardOptions,
  type DriftReport,
  type DriftReview,
  type DriftSeverity,
  fingerprint,
} from "./drift.js";
export { createProxyFromConfig, engineOptionsFromConfig } from "./from-config.js";
export { type HttpListener, type HttpListenOptions, isLoopback } from "./http.js";
export { createLogger, type Logger, type LogLevel, silentLogger } from "./logger.js";
export { LoopPolicy, type LoopPolicyOptions, type LoopScope } from "./loops.js";
export { ProxyMetrics } from "./metrics.js";
export { McpProxy } from "./proxy.js";
export type {
  McpProxyOptions,
  ProxyEvents,
  ProxyStatus,
  ProxyUpstream,
  UpstreamStatus,
} from "./proxy-options.js";
export { REDACTED, redactText, redactUrl, urlCredentials } from "./redact.js";
export { DECISION_META_KEY, describeRefusal, type RefusalDecision, refusalResult } from "./refusal.js";
export { MCP_API, type RecordedTool, type ReplayUpstreamOptions, replayUpstream } from "./replay.js";
export type { ProxySession } from "./session.js";
export type { ToolRoute } from "./tool-call.js";
export {
  type CustomTransportSpec,
  DEFAULT_SUPERVISION,
  type SupervisionOptions,
  UpstreamConnectionLostError,
  type UpstreamState,
  type UpstreamTransportSpec,
  UpstreamUnavailableError,
} from "./upstream-types.js";
export { VERSION } from "./version.js";
export { toWireError, WireError } from "./wire.js";
