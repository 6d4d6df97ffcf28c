// Telemetry benchmarks: what the call-observer seam and @agent-sre/telemetry add to a guarded call.
// The seam's disabled path (no observer registered) is one field check per stage; a registered observer
// whose hooks do nothing bounds it from above, measured against the same engine without one.
import { AgentSRE } from "@agent-sre/core";
import { instrument } from "@agent-sre/telemetry";
import {
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { formatTable, pairedAdded, runScenarios } from "./harness.mjs";

const fn = async (x) => x + 1;
const usage = { inputTokens: 1200, outputTokens: 300 };
const modelCall = {
  kind: "model",
  agentId: "bench",
  taskId: "task-1",
  name: "gpt-4o",
  provider: "openai",
  estimate: { inputTokens: 1200, outputTokens: 1000 },
  usage: () => usage,
};
const budget = {
  perTaskLimitUsd: 1e9,
  perAgentDailyLimitUsd: 1e12,
  orgMonthlyBudgetUsd: 1e15,
  anomalyDetection: false,
};
const engine = () => new AgentSRE({ budget, rogue: false });

/**
 * A span exporter that counts the spans and answers at once. The SDK's InMemorySpanExporter answers on a
 * `setTimeout`, which never fires inside a measured loop of awaited calls: SimpleSpanProcessor kept every span
 * as a pending export (~2 KB a call) and the suite ran out of heap.
 */
class CountingSpanExporter {
  exported = 0;
  export(spans, resultCallback) {
    this.exported += spans.length;
    resultCallback({ code: 0 }); // ExportResultCode.SUCCESS
  }
  shutdown() {
    return Promise.resolve();
  }
  forceFlush() {
    return Promise.resolve();
  }
}

export async function run({ quick = false } = {}) {
  const iterations = quick ? 20_000 : 200_000;
  const rounds = quick ? 3 : 9;
  const warmup = quick ? 20_000 : 100_000;

  const plain = engine();
  const noop = engine();
  noop.use({ start: () => undefined, end: () => {}, refused: () => {} });
  const noSdk = engine();
  instrument(noSdk); // the global providers are the API's no-ops: nothing registered
  const withSdk = engine();
  const spans = new CountingSpanExporter();
  const tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
  });
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(0),
    exportIntervalMillis: 3_600_000,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  instrument(withSdk, {
    tracer: tracerProvider.getTracer("bench"),
    meter: meterProvider.getMeter("bench"),
  });

  const base = "sre.guard model call, no observer (the disabled path)";
  const rows = await runScenarios(
    [
      { name: base, run: () => plain.guard(modelCall, fn) },
      {
        name: "+ use(observer that does nothing)",
        run: () => noop.guard(modelCall, fn),
        baseline: base,
        target: "≤ +20 ns (bounds the disabled seam)",
      },
      {
        name: "+ instrument(), no OpenTelemetry SDK",
        run: () => noSdk.guard(modelCall, fn),
        baseline: base,
      },
      {
        name: "+ instrument(), SDK (SimpleSpanProcessor, an exporter that counts) + in-memory metrics",
        run: () => withSdk.guard(modelCall, fn),
        baseline: base,
      },
    ],
    { iterations, rounds, warmup },
  );
  // Paired batches (baseline batch, then the variant, round after round; CPU time, median of the differences):
  // load that comes and goes hits both sides of every pair, so a figure of tens of ns is resolvable on a
  // shared machine where the interleaved rounds above are not.
  const pairs = quick ? { batch: 5_000, rounds: 40 } : { batch: 20_000, rounds: 80 };
  const paired = [];
  for (const [name, variant] of [
    ["+ use(observer that does nothing) — bounds the disabled seam", noop],
    ["+ instrument(), no OpenTelemetry SDK (the API's no-ops)", noSdk],
  ]) {
    const figure = await pairedAdded(
      () => plain.guard(modelCall, fn),
      () => variant.guard(modelCall, fn),
      pairs,
    );
    paired.push(
      `| ${name} | ${figure.baselineNs.toFixed(0)} | ${figure.addedNs >= 0 ? "+" : ""}${figure.addedNs.toFixed(0)} | ≤ +20 |`,
    );
  }
  // The SDK row measured real spans: every call of it exported one.
  if (spans.exported === 0) throw new Error("telemetry bench: the SDK row exported no spans");
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
  return {
    sections: [
      formatTable("Telemetry per guarded call (sequential awaited calls)", rows),
      [
        "### Disabled path, paired batches (CPU ns per call, median of per-round differences)",
        "",
        "| variant | baseline (no observer) | added | target |",
        "|---|---:|---:|---:|",
        ...paired,
      ].join("\n"),
    ],
  };
}
