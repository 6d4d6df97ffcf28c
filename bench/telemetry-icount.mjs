// Instruction counts of telemetry.mjs's model call on each of its engines (issue 18, session 11 "telemetry"),
// for valgrind: after the warm-up, `calls` calls of one engine between two `process.cpuUsage()`; under callgrind
// with `--dump-before=uv_getrusage` the dump taken at the second holds the instructions of exactly those calls.
//   FAKE_CLOCK=1 valgrind --tool=callgrind --smc-check=all-non-file --dump-before=uv_getrusage \
//     node --expose-gc --predictable --random-seed=1 --hash-seed=1 bench/telemetry-icount.mjs <engine> <mode> <calls>
// engine: plain (no observer) | noop (an observer whose hooks do nothing) | nosdk (instrument(), the API's
// no-ops) | sdk (instrument() with an SDK tracer and meter). mode: alone (only that engine is ever called) |
// mixed (telemetry.mjs's warm-up: every engine in turn first, as in the suite's process) | paired (batches of
// the engine without an observer and of this one in turn, as the suite's paired rows).
// Without valgrind it prints the window's CPU ns per call (a timing, not a count).
import { AgentSRE } from "@agent-sre/core";
import { instrument } from "@agent-sre/telemetry";
import {
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { modelCall, OUT_OF_REACH } from "./fixtures.mjs";

const [which = "plain", mode = "alone", callsArg = "20000"] = process.argv.slice(2);
if (process.env.FAKE_CLOCK === "1") {
  // Under valgrind a call takes ~50× as long: a clock that moves 1 ms per 1,000 reads keeps time-driven work
  // (windows, ticks) as frequent per call as at full speed (as model-icount.mjs).
  const t0 = Date.now();
  let reads = 0;
  Date.now = () => t0 + Math.floor(reads++ / 1000);
}
const fn = async (x) => x + 1;
const budget = { ...OUT_OF_REACH, anomalyDetection: false };
const engine = () => new AgentSRE({ budget, rogue: false });
const engines = {};
const make = {
  plain: () => engine(),
  noop: () => {
    const sre = engine();
    sre.use({ start: () => undefined, end: () => {}, refused: () => {} });
    return sre;
  },
  nosdk: () => {
    const sre = engine();
    instrument(sre);
    return sre;
  },
  sdk: () => {
    const sre = engine();
    const exporter = {
      export: (_spans, done) => done({ code: 0 }),
      shutdown: () => Promise.resolve(),
      forceFlush: () => Promise.resolve(),
    };
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(0),
      exportIntervalMillis: 3_600_000,
    });
    const meterProvider = new MeterProvider({ readers: [reader] });
    instrument(sre, { tracer: tracerProvider.getTracer("bench"), meter: meterProvider.getMeter("bench") });
    return sre;
  },
};
if (!(which in make)) throw new Error(`engine: one of ${Object.keys(make).join(", ")}`);
const built = mode === "mixed" ? Object.keys(make) : mode === "paired" ? ["plain", which] : [which];
for (const name of built) engines[name] = make[name]();
// One loop function for the warm-up and the window: a loop of the module's body would be compiled on its own
// (on-stack replacement) inside the window.
async function loop(sre, n) {
  for (let i = 0; i < n; i++) await sre.guard(modelCall, fn);
}
const warm = Number(process.env.WARM ?? 1);
if (mode === "mixed") for (const name of Object.keys(make)) await loop(engines[name], 10_000 * warm);
if (mode === "paired") {
  // pairedAdded's order: a batch of the engine without an observer, then one of the measured engine.
  for (let round = 0; round < 3 * warm; round++) {
    await loop(engines.plain, 10_000);
    await loop(engines[which], 10_000);
  }
}
const measured = engines[which];
await loop(measured, 30_000 * warm);
// A full GC drops the optimized code that embeds objects it finds dead ("weak objects"): after it, as many
// calls again before the window, so the window holds no compilation.
globalThis.gc?.();
await loop(measured, 30_000 * warm);
const calls = Number(callsArg);
// paired, mixed: two windows in this process, the engine without an observer's calls then this one's (dumps 2
// and 3); alone: this engine's.
const windows = mode === "alone" ? [measured] : [engines.plain, measured];
const times = [];
let mark = process.cpuUsage();
for (const sre of windows) {
  await loop(sre, calls);
  const now = process.cpuUsage();
  times.push(((now.user + now.system - mark.user - mark.system) * 1000) / calls);
  mark = now;
}
console.log(`${which} ${mode}: ${times.map((t) => t.toFixed(0)).join(" / ")} ns CPU per call`);
if (which === "sdk") process.exit(0); // the meter provider's reader holds an interval
