// @agent-sre/telemetry: OpenTelemetry spans and metrics for every guarded call (depends on
// @opentelemetry/api only).
export * from "./attributes.js";
export { type Instrumentation, type InstrumentOptions, instrument } from "./instrument.js";
export { MetricsObserver, type MetricsObserverOptions } from "./metrics.js";
export {
  INSTRUMENTATION_NAME,
  INSTRUMENTATION_VERSION,
  SpanObserver,
  type SpanObserverOptions,
} from "./tracing.js";
