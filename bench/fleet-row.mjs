// Issue 18's "10,000 agents vs 1" row: one module for `pnpm bench` (hot-path.mjs), `pnpm bench:check`
// (check.mjs) and the A/B tool fleet-abs.mjs, which each had a copy of the calls.
//
// A figure: one engine with one agent, one with 10,000, the same default config; batches of 20,000 guarded
// tool calls (fresh arguments each), one agent's batch then the fleet's, round after round, a minor GC before
// each batch (so each holds its one scavenge of the ~16 MB it allocates), CPU time; medians of the rounds.
// The fleet's agents are called in turn (as the row), or in a fixed random order (each as often).
//
// One process's figure is not the row's: the same build read 1.19–1.54× in 16 fresh processes one after
// another (session 19, AMD EPYC, load ~1): where V8 puts the 10,000 agents' records and what shape the JIT
// gives the engine's code differ per process. The row is the median of `processes` fresh processes.
//   node --expose-gc bench/fleet-row.mjs '<options as JSON>' [core-dist]   (one process: its figure as JSON)
import { execFile } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadBuild, shuffledTurns, toolCall } from "./fixtures.mjs";
import { median } from "./harness.mjs";

const BATCH = 20_000;
const fn = async (x) => x;

/**
 * @typedef {object} FleetOptions
 * @property {boolean} [byRef] every call carries its agent's `agentRef` (bound once, as the adapters call;
 *   default true), else the engine looks each call's agent up by id
 * @property {boolean} [random] the agents in a fixed random order instead of in turn
 * @property {number} [agents] default 10,000 (fewer: each makes more calls, its tables grow further)
 * @property {number} [rounds] timed rounds (default 10: each agent ends with 32 calls in its loop window)
 * @property {number} [warmupRounds] default 5
 * @property {number} [paceMs] each engine on a manual clock that every batch moves on by this much (two calls
 *   an agent per `paceMs`: tables in their steady state), warmed over two minutes of it; 0 (default): real time
 * @property {boolean} [oneTool] the one agent calls one tool, as each fleet agent does (default: five in turn)
 */

/** The row's figure in this process, with the engine module `core`. */
export async function fleetFigure(core, options = {}) {
  const { byRef = true, random = false, agents = 10_000, rounds = 10, warmupRounds = 5 } = options;
  const { paceMs = 0, oneTool = false } = options;
  const ids = Array.from({ length: agents }, (_, i) => `agent-${i}`);
  // Agent k of each batch: in turn, or a fixed random permutation of batch / agents turns.
  const order = random ? shuffledTurns(agents, BATCH) : Array.from({ length: BATCH }, (_, k) => k % agents);
  const oneClock = paceMs > 0 ? new core.ManualClock(Date.now()) : undefined;
  const manyClock = paceMs > 0 ? new core.ManualClock(Date.now()) : undefined;
  const one = new core.AgentSRE(oneClock === undefined ? {} : { clock: oneClock });
  const many = new core.AgentSRE(manyClock === undefined ? {} : { clock: manyClock });
  const refs = ids.map((id) => (byRef ? many.agentRef(id) : undefined));
  const soloRef = byRef ? one.agentRef("solo") : undefined;
  // Every agent met before anything is timed (the tool follows the agent: each calls one tool).
  for (let i = 0; i < BATCH; i++)
    await many.guard(toolCall(ids[i % agents], i % agents, refs[i % agents]), fn);
  const oneCall = (k) => one.guard(toolCall("solo", oneTool ? 0 : k, soloRef), fn);
  const manyCall = (k) => {
    const agent = order[k % BATCH];
    return many.guard(toolCall(ids[agent], agent, refs[agent]), fn);
  };
  const cpuNow = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) * 1000;
  };
  let i = 0;
  let wallNs = 0;
  const timed = async (call, clock) => {
    clock?.advance(paceMs);
    globalThis.gc?.({ type: "minor" });
    const wallStart = process.hrtime.bigint();
    const start = cpuNow();
    for (let end = i + BATCH; i < end; i++) await call(i);
    wallNs = Number(process.hrtime.bigint() - wallStart) / BATCH;
    return (cpuNow() - start) / BATCH;
  };
  const warmups = paceMs > 0 ? Math.max(warmupRounds, Math.ceil(120_000 / paceMs)) : warmupRounds;
  const oneNs = [];
  const manyNs = [];
  const ratios = [];
  const wallRatios = [];
  for (let round = -warmups; round < rounds; round++) {
    const a = await timed(oneCall, oneClock);
    const wallA = wallNs;
    const b = await timed(manyCall, manyClock);
    if (round < 0) continue;
    oneNs.push(a);
    manyNs.push(b);
    ratios.push(b / a);
    wallRatios.push(wallNs / wallA);
  }
  return {
    oneNs: median(oneNs),
    manyNs: median(manyNs),
    extraNs: median(manyNs.map((b, k) => b - oneNs[k])),
    ratio: median(ratios),
    wallRatio: median(wallRatios),
    load: loadavg()[0],
  };
}

const self = fileURLToPath(import.meta.url);

/** One fresh process's figure (`node --expose-gc fleet-row.mjs`), with the core build at `dist` if given. */
export function fleetFigureInProcess(options = {}, dist = undefined) {
  const args = ["--expose-gc", self, JSON.stringify(options), ...(dist === undefined ? [] : [dist])];
  return new Promise((resolve, reject) =>
    execFile(process.execPath, args, (error, out) => (error ? reject(error) : resolve(JSON.parse(out)))),
  );
}

/** The row: the medians of `processes` fresh processes' figures, and each process's figure (`each`). */
export async function fleetInProcesses(options, processes) {
  const each = [];
  for (let k = 0; k < processes; k++) each.push(await fleetFigureInProcess(options));
  const of = (key) => median(each.map((figure) => figure[key]));
  return {
    oneNs: of("oneNs"),
    manyNs: of("manyNs"),
    extraNs: of("extraNs"),
    ratio: of("ratio"),
    wallRatio: of("wallRatio"),
    each,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [options = "{}", dist] = process.argv.slice(2);
  const core = dist === undefined ? await import("@agent-sre/core") : await loadBuild(dist);
  process.stdout.write(`${JSON.stringify(await fleetFigure(core, JSON.parse(options)))}\n`);
}
