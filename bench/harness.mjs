// A tiny, honest benchmark harness: every scenario runs the same number of sequential awaited calls,
// rounds are interleaved across scenarios (so machine noise hits all of them alike), and we report the
// median ns per call of the rounds, plus the overhead over a baseline scenario measured in the same run.

import { execFile } from "node:child_process";

const now = () => process.hrtime.bigint();

/**
 * @param {Array<{ name: string, setup?: () => unknown, run: (state: unknown, i: number) => unknown, async?: boolean, baseline?: string, target?: string }>} scenarios
 * @param {{ iterations: number, rounds: number, warmup: number }} options
 */
export async function runScenarios(scenarios, { iterations, rounds, warmup }) {
  const states = new Map();
  for (const scenario of scenarios)
    states.set(scenario.name, scenario.setup ? await scenario.setup() : undefined);

  // Warm-up: let the JIT settle every scenario before measuring any.
  for (const scenario of scenarios) await measure(scenario, states.get(scenario.name), warmup);

  const samples = new Map(scenarios.map((s) => [s.name, []]));
  // CPU time per call too: on a shared machine wall time includes other processes' turns, CPU time less so.
  const cpuSamples = new Map(scenarios.map((s) => [s.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const scenario of scenarios) {
      // A minor GC: the round does not pay for the young garbage of the scenario before. Not a full one:
      // V8 keeps a map that no live object uses for two full GCs only, and optimized code that relied on it
      // is thrown away with it — between rounds no call is in flight, so a full GC before every round
      // deoptimized the guard's pipeline each round (71 deopts against 6 in one run; the tool call read
      // +497–564 ns CPU over 200,000-call rounds after a full GC, +375–427 without: session 17).
      globalThis.gc?.({ type: "minor" });
      const cpuBefore = process.cpuUsage();
      const nsPerCall = await measure(scenario, states.get(scenario.name), iterations);
      const cpu = process.cpuUsage(cpuBefore);
      samples.get(scenario.name).push(nsPerCall);
      cpuSamples.get(scenario.name).push(((cpu.user + cpu.system) * 1000) / iterations);
    }
  }

  const medians = new Map();
  for (const [name, values] of samples) medians.set(name, median(values));
  const cpuMedians = new Map();
  for (const [name, values] of cpuSamples) cpuMedians.set(name, median(values));
  return scenarios.map((scenario) => {
    const value = medians.get(scenario.name);
    const cpu = cpuMedians.get(scenario.name);
    const base = scenario.baseline ? medians.get(scenario.baseline) : undefined;
    const cpuBase = scenario.baseline ? cpuMedians.get(scenario.baseline) : undefined;
    return {
      name: scenario.name,
      medianNs: value,
      cpuMedianNs: cpu,
      minNs: Math.min(...samples.get(scenario.name)),
      maxNs: Math.max(...samples.get(scenario.name)),
      addedNs: base === undefined ? undefined : value - base,
      ratio: base === undefined ? undefined : value / base,
      // The same, in CPU time: on a loaded machine wall time counts other processes' turns too.
      addedCpuNs: cpuBase === undefined ? undefined : cpu - cpuBase,
      cpuRatio: cpuBase === undefined ? undefined : cpu / cpuBase,
      target: scenario.target,
    };
  });
}

async function measure(scenario, state, iterations) {
  const run = scenario.run;
  if (scenario.async === false) {
    const start = now();
    for (let i = 0; i < iterations; i++) run(state, i);
    return Number(now() - start) / iterations;
  }
  const start = now();
  for (let i = 0; i < iterations; i++) await run(state, i);
  return Number(now() - start) / iterations;
}

/**
 * Takes `name` and the number after it out of `args` (a script's argv, so what is left are its positional
 * arguments); `fallback` when it is absent.
 */
export function takeNumberOption(args, name, fallback) {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  args.splice(at, 2);
  return value;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function formatTable(title, rows) {
  const lines = [
    `### ${title}`,
    "",
    "| scenario | median ns/op | CPU median ns/op | added over baseline | added (CPU) | ratio (CPU) | target |",
    "|---|---:|---:|---:|---:|---:|---|",
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.name} | ${row.medianNs.toFixed(1)} | ${row.cpuMedianNs === undefined ? "—" : row.cpuMedianNs.toFixed(1)} | ${signed(row.addedNs)} | ${signed(row.addedCpuNs)} | ${row.cpuRatio === undefined ? "—" : `${row.cpuRatio.toFixed(2)}×`} | ${row.target ?? ""} |`,
    );
  }
  return lines.join("\n");
}

function signed(value) {
  if (value === undefined) return "—";
  return `${value >= 0 ? "+" : ""}${value.toFixed(1)}`;
}

/**
 * The yardstick `bench:check` measures this machine's speed with, in the same rounds as each figure: a fixed
 * mix of the pure-JS work a guarded call does — three times an FNV-1a hash over a ~20-character key, a `Map`
 * lookup by that key, a small object kept in a ring (it escapes: really allocated) — and one promise hop.
 * Its batches start after a minor GC, so the garbage of the batch before (a guard's) is not charged to it: the
 * bare `await fn()` it replaces read 40–69 ns in the same build between runs, largely by whose GC fell in it.
 */
const YARD_KEYS = Array.from({ length: 64 }, (_, i) => `agent-${i}:task-${(i * 7919) % 1000}`);
const YARD_ROWS = new Map(YARD_KEYS.map((key, i) => [key, i]));
const yardRing = new Array(16);
let yardSink = 0;
function yardWork(i) {
  const key = YARD_KEYS[i & 63];
  let hash = 0x811c9dc5;
  for (let c = 0; c < key.length; c++) {
    hash ^= key.charCodeAt(c);
    hash = Math.imul(hash, 0x01000193);
  }
  const record = { key, row: YARD_ROWS.get(key) ?? 0, hash: hash >>> 0, at: i };
  yardRing[i & 15] = record;
  yardSink = (yardSink + record.row + (record.hash & 7)) | 0;
}

/**
 * The yardstick's CPU ns per unit on the reference machine (EPYC, 2 vCPU, Node 20, where `await fn()` took
 * 52 ns and the targets were set): 52 ns × 6.6, the median ratio yardstick / `await fn()` measured interleaved
 * (no guard work around them) on this class of VM, 6.3–7.0 over four runs (bench/RESULTS.md, session 7).
 * A figure's added CPU ns / the yardstick's ns in its round, × this: the figure in reference-machine ns.
 */
export const REFERENCE_YARDSTICK_NS = 343;

/** One unit of the yardstick (see above). */
export async function yardstickUnit(i) {
  yardWork(i);
  yardWork(i + 17);
  yardWork(i + 31);
  await null;
}

/** CPU ns per yardstick unit over `batch` units, after a minor GC (outside the timing). */
export async function yardstickBatch(batch) {
  globalThis.gc?.({ type: "minor" });
  const start = process.cpuUsage();
  for (let i = 0; i < batch; i++) await yardstickUnit(i);
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / batch;
}

/**
 * Added cost of `run` over `baseline`, measured in paired batches: each round runs a batch of the baseline
 * then a batch of `run` and keeps the difference (CPU ns per call), so load that comes and goes hits both
 * sides of every pair; the median difference over the rounds is returned (with the baseline's and the run's
 * medians, and the same three in wall time under `wall`).
 * More robust on a shared machine than comparing medians of separately timed rounds.
 * `yardstick: n`: each round also times n yardstick units (`yardstickBatch`), and the result has the
 * yardstick's median (`yardstickNs`) and the median of the per-round ratios added / yardstick
 * (`addedPerYardstick`): load that slows a round slows its yardstick too, and the ratio cancels it.
 */
export async function pairedAdded(baseline, run, { batch, rounds, warmupRounds = 5, yardstick = 0 }) {
  const cpuNow = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) * 1000;
  };
  let i = 0;
  // Each batch's wall time too (the CPU time is the figure; wall time is reported beside it).
  let lastWallNs = 0;
  const timed = async (fn) => {
    const wallStart = now();
    const start = cpuNow();
    for (let end = i + batch; i < end; i++) await fn(i);
    const cpu = (cpuNow() - start) / batch;
    lastWallNs = Number(now() - wallStart) / batch;
    return cpu;
  };
  for (let round = 0; round < warmupRounds; round++) {
    await timed(baseline);
    await timed(run);
    if (yardstick > 0) await yardstickBatch(yardstick);
  }
  const added = [];
  const base = [];
  const runs = [];
  const ratios = [];
  const wallAdded = [];
  const wallBase = [];
  const wallRuns = [];
  const yards = [];
  const perYard = [];
  for (let round = 0; round < rounds; round++) {
    // The yardstick before the pair in even rounds, after it in odd ones.
    const before = yardstick > 0 && round % 2 === 0 ? await yardstickBatch(yardstick) : 0;
    const a = await timed(baseline);
    const wallA = lastWallNs;
    const b = await timed(run);
    const wallB = lastWallNs;
    base.push(a);
    runs.push(b);
    added.push(b - a);
    ratios.push(b / a);
    wallBase.push(wallA);
    wallRuns.push(wallB);
    wallAdded.push(wallB - wallA);
    if (yardstick > 0) {
      const yard = round % 2 === 0 ? before : await yardstickBatch(yardstick);
      yards.push(yard);
      perYard.push((b - a) / yard);
    }
  }
  const result = {
    addedNs: median(added),
    baselineNs: median(base),
    runNs: median(runs),
    ratio: median(ratios),
    wall: { addedNs: median(wallAdded), baselineNs: median(wallBase), runNs: median(wallRuns) },
  };
  if (yardstick > 0) {
    result.yardstickNs = median(yards);
    result.addedPerYardstick = median(perYard);
    result.yardsticks = yards;
  }
  return result;
}

/**
 * Heap bytes V8 reports allocated between an `ALLOC-BEGIN` and an `ALLOC-END` line of a child's stdout run with
 * `--trace-gc-nvp`: the sum of the `allocated=` of the GC lines between them (each counts the bytes allocated
 * since the GC before; the window closes with a forced GC). alloc-count.mjs, langchain-alloc.mjs.
 */
export function bytesAllocatedInWindow(stdout) {
  let on = false;
  let total = 0;
  for (const line of stdout.split("\n")) {
    if (line.startsWith("ALLOC-BEGIN")) on = true;
    else if (line.startsWith("ALLOC-END")) on = false;
    else if (on) total += Number(/ allocated=(\d+)/.exec(line)?.[1] ?? 0);
  }
  return total;
}

/**
 * The parent side of an allocation count (alloc-count.mjs, langchain-alloc.mjs): each wanted scenario (and its
 * baseline) in a fresh child — `script` with `args`, run by `node --expose-gc --trace-gc-nvp` and `flags`,
 * `ALLOC_CHILD` naming the scenario — then the bytes a call per scenario, over its baseline, printed.
 * `scenarios`: name → { baseline?, about }.
 */
export async function printAllocationsPerCall({ script, scenarios, names, flags = [], args, calls, label }) {
  const { spawnSync } = await import("node:child_process");
  const wanted = new Set(names.flatMap((name) => [name, scenarios[name]?.baseline].filter(Boolean)));
  const bytes = {};
  for (const name of Object.keys(scenarios)) {
    if (!wanted.has(name)) continue;
    const child = spawnSync(process.execPath, ["--expose-gc", ...flags, "--trace-gc-nvp", script, ...args], {
      env: { ...process.env, ALLOC_CHILD: name },
      encoding: "utf8",
      maxBuffer: 64 * 2 ** 20,
    });
    if (child.status !== 0) throw new Error(`${script}: ${name} exited ${child.status}: ${child.stderr}`);
    bytes[name] = bytesAllocatedInWindow(child.stdout) / calls;
  }
  const width = Math.max(...names.map((name) => name.length)) + 1;
  console.log(`heap bytes allocated per call (${calls.toLocaleString("en")} calls, ${label})`);
  for (const name of names) {
    const { baseline, about } = scenarios[name];
    const own = bytes[name];
    const added = baseline ? ` (+${(own - bytes[baseline]).toFixed(0)} B over ${baseline})` : "";
    console.log(`  ${name.padEnd(width)} ${own.toFixed(0).padStart(5)} B${added}  ${about}`);
  }
}

/**
 * `node --expose-gc script ...args` run `processes` times, one process after another (each fresh: its own JIT
 * feedback and heap), each printing one JSON figure: the parsed figures.
 */
export async function figuresOfProcesses(script, args, processes) {
  const figures = [];
  for (let k = 0; k < processes; k++) {
    const stdout = await new Promise((resolve, reject) =>
      execFile(process.execPath, ["--expose-gc", script, ...args], (error, out) =>
        error ? reject(error) : resolve(out),
      ),
    );
    figures.push(JSON.parse(stdout));
  }
  return figures;
}

/**
 * Paired figures of several processes as one: the median of each of their `addedNs`, `wallAddedNs`,
 * `baselineNs` and `addedPerYardstick` (those they have), the figures themselves (`each`) and all their rounds'
 * yardsticks.
 */
export function medianOfFigures(figures) {
  const summary = { each: figures, yardsticks: figures.flatMap((f) => f.yardsticks) };
  for (const key of ["addedNs", "wallAddedNs", "baselineNs", "addedPerYardstick"]) {
    if (figures[0]?.[key] !== undefined) summary[key] = median(figures.map((f) => f[key]));
  }
  return summary;
}
