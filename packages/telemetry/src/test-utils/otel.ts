// Real OpenTelemetry SDK pieces for tests: in-memory span and metric exporters.
import { context, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";

export interface OtelHarness {
  tracer: Tracer;
  tracerProvider: TracerProvider;
  spans: InMemorySpanExporter;
  meterProvider: MeterProvider;
  /** Every span ended so far (the processor exports asynchronously: this flushes first). */
  finished(): Promise<ReadableSpan[]>;
  /** Collects and returns every metric exported so far (cumulative). */
  collect(): Promise<MetricData[]>;
  shutdown(): Promise<void>;
}

/** Sets the global context manager (AsyncLocalStorage) so spans nest across awaits, as an SDK would. */
export function otelHarness(): OtelHarness {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const spans = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
  });
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // A long interval: tests export explicitly with forceFlush().
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    tracer: tracerProvider.getTracer("test"),
    tracerProvider,
    spans,
    meterProvider,
    async finished() {
      await tracerProvider.forceFlush();
      return spans.getFinishedSpans();
    },
    async collect() {
      exporter.reset();
      await reader.forceFlush();
      return exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      context.disable();
    },
  };
}

export function metric(all: MetricData[], name: string): MetricData {
  const found = all.find((m) => m.descriptor.name === name);
  if (found === undefined)
    throw new Error(`no metric ${name} in ${all.map((m) => m.descriptor.name).join(", ")}`);
  return found;
}

/** The data point whose attributes include `attributes`. */
export function point<T>(data: MetricData, attributes: Record<string, unknown>): DataPoint<T> {
  const found = (data.dataPoints as Array<DataPoint<T>>).find((p) =>
    Object.entries(attributes).every(([k, v]) => JSON.stringify(p.attributes[k]) === JSON.stringify(v)),
  );
  if (found === undefined)
    throw new Error(
      `no point of ${data.descriptor.name} with ${JSON.stringify(attributes)}; have ${JSON.stringify(data.dataPoints.map((p) => p.attributes))}`,
    );
  return found;
}

export type HistogramPoint = DataPoint<Histogram>;
