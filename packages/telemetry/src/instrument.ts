import type { AgentSRE } from "@agent-sre/core";
import type { Meter, Tracer } from "@opentelemetry/api";
import { MetricsObserver } from "./metrics.js";
import { SpanObserver } from "./tracing.js";

export interface InstrumentOptions {
  /** Default: the global tracer provider's `@agent-sre/telemetry` tracer. `false`: no spans. */
  tracer?: Tracer | false;
  /** Default: the global meter provider's `@agent-sre/telemetry` meter. `false`: no metrics. */
  meter?: Meter | false;
  /** `gen_ai.operation.name` of model calls (default `chat`). */
  modelOperation?: string;
  /** Spans for refused calls (default true). */
  refusalSpans?: boolean;
}

export interface Instrumentation {
  readonly spans: SpanObserver | undefined;
  readonly metrics: MetricsObserver | undefined;
  /** Detaches everything from the engine. */
  dispose(): void;
}

/**
 * Traces and meters every call the engine guards — in every adapter and the MCP proxy, since they all go
 * through it. Uses the global OpenTelemetry providers unless given a tracer or meter; without an SDK
 * registered both are no-ops.
 *
 * ```ts
 * const sre = new AgentSRE({ ... });
 * instrument(sre); // after your OpenTelemetry SDK is set up
 * ```
 */
export function instrument(sre: AgentSRE, options: InstrumentOptions = {}): Instrumentation {
  const modelOperation =
    options.modelOperation === undefined ? {} : { modelOperation: options.modelOperation };
  const spans =
    options.tracer === false
      ? undefined
      : new SpanObserver({
          ...modelOperation,
          ...(options.tracer === undefined ? {} : { tracer: options.tracer }),
          ...(options.refusalSpans === undefined ? {} : { refusals: options.refusalSpans }),
        });
  const meters =
    options.meter === false
      ? undefined
      : new MetricsObserver(sre, {
          ...modelOperation,
          ...(options.meter === undefined ? {} : { meter: options.meter }),
        });
  const offSpans = spans === undefined ? undefined : sre.use(spans);
  // A no-op meter stays one (metrics have no global proxy): an observer that drops everything is not registered.
  const offMetrics = meters === undefined || meters.disabled ? undefined : sre.use(meters);
  return {
    spans,
    metrics: meters,
    dispose() {
      offSpans?.();
      offMetrics?.();
      meters?.dispose();
    },
  };
}
