// @agent-sre/telemetry/prometheus: a prom-client registry for the whole engine, and handlers to serve it.
export { metricsHandler, metricsResponse } from "./handler.js";
export { EnginePrometheus, type EnginePrometheusOptions, prometheusMetrics } from "./prometheus.js";
