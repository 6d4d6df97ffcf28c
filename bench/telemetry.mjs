// Telemetry benchmarks: what the call-observer seam and @agent-sre/telemetry add to a guarded call.
// The seam's disabled path (no observer registered) is one field check per stage; a registered observer
// whose hooks do nothing bounds it from above, measured against the same engine without one.

import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { AgentSRE } from "@agent-sre/core";
import { instrument } from "@agent-sre/telemetry";
import {
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { modelCall, OUT_OF_REACH } from "./fixtures.mjs";
import { formatTable, median, pairedAdded, runScenarios } from "./harness.mjs";

const fn = async (x) => x + 1;
const budget = { ...OUT_OF_REACH, anomalyDetection: false };
const engine = () => new AgentSRE({ budget, rogue: false });
const noopObserver = () => ({ start: () => undefined, end: () => {}, refused: () => {} });
/** The engines of the paired rows: the same engine with an observer that does nothing, or instrument()ed. */
const variants = {
  noop: () => {
    const sre = engine();
    sre.use(noopObserver());
    return sre;
  },
  nosdk: () => {
    const sre = engine();
    instrument(sre); // the global providers are the API's no-ops: nothing registered
    return sre;
  },
};

/**
 * One process's paired figure of a variant: only the engine without an observer and the variant's are ever
 * called in it (a process has one telemetry setup; the suite's own process has run every observer class
 * through the seam, the SDK row's set among them, so its call sites are polymorphic there). Both orders:
 * half the rounds run the baseline batch first, half the variant's, and the figure is the mean of the two
 * medians (the garbage of one batch is collected in the next: in one order it is charged to one side only).
 */
async function pairedInProcess(name, { batch, rounds }) {
  const plain = engine();
  const variant = variants[name]();
  const base = () => plain.guard(modelCall, fn);
  const run = () => variant.guard(modelCall, fn);
  const forward = await pairedAdded(base, run, { batch, rounds: rounds / 2 });
  const backward = await pairedAdded(run, base, { batch, rounds: rounds / 2 });
  return {
    baselineNs: (forward.baselineNs + backward.baselineNs + backward.addedNs) / 2,
    addedNs: (forward.addedNs - backward.addedNs) / 2,
  };
}

if (process.argv[2] === "--paired") {
  const [, , , name, batch, rounds] = process.argv;
  const figure = await pairedInProcess(name, { batch: Number(batch), rounds: Number(rounds) });
  process.stdout.write(JSON.stringify(figure));
  process.exit(0);
}

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
  const noop = variants.noop();
  const noSdk = variants.nosdk();
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
  // shared machine where the interleaved rounds above are not. Each row in `processes` fresh processes of
  // its own (pairedInProcess), the median of theirs; beside it the same pairs in this process, after the SDK row.
  const pairs = quick ? { batch: 5_000, rounds: 40 } : { batch: 20_000, rounds: 80 };
  const processes = quick ? 3 : 5;
  const paired = [];
  for (const [name, key, variant] of [
    ["+ use(observer that does nothing) — bounds the disabled seam", "noop", noop],
    ["+ instrument(), no OpenTelemetry SDK (the API's no-ops)", "nosdk", noSdk],
  ]) {
    const own = [];
    for (let i = 0; i < processes; i++) {
      const out = execFileSync(
        process.execPath,
        ["--expose-gc", fileURLToPath(import.meta.url), "--paired", key, pairs.batch, pairs.rounds],
        { encoding: "utf8" },
      );
      own.push(JSON.parse(out));
    }
    const added = median(own.map((figure) => figure.addedNs));
    const baseline = median(own.map((figure) => figure.baselineNs));
    const here = await pairedAdded(
      () => plain.guard(modelCall, fn),
      () => variant.guard(modelCall, fn),
      pairs,
    );
    const signed = (ns) => `${ns >= 0 ? "+" : ""}${ns.toFixed(0)}`;
    paired.push(
      `| ${name} | ${baseline.toFixed(0)} | ${signed(added)} (${own.map((figure) => signed(figure.addedNs)).join(", ")}) | ${signed(here.addedNs)} | ≤ +20 |`,
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
        `"added": the median of ${processes} processes of its own (each: both orders, only the two engines ever called; the processes' figures in brackets). "in the suite's process": the same pairs after every row above (the seam's call sites have seen every observer class, the SDK row's set too).`,
        "",
        "| variant | baseline (no observer) | added | in the suite's process | target |",
        "|---|---:|---:|---:|---:|",
        ...paired,
      ].join("\n"),
    ],
  };
}
