// The issue-18 targets for the engine, each side by side with its baseline in one run: a default-config
// tool call with fresh arguments every time, a model call with budget + price + SLO, a running chaos
// experiment whose faults never fire (rate 0), and the same calls spread over 10,000 agents instead of one.
// Each figure is paired with its baseline batch after batch, in wall and CPU time, as bench/check.mjs pairs
// them (harness.mjs `pairedAdded`), and shown in reference-machine ns beside (the yardstick's scale).
import { pathToFileURL } from "node:url";
import { AgentSRE, ChaosExperiment, Fault, LatencyPercentile, SLO, TaskSuccessRate } from "@agent-sre/core";
import { modelCall, OUT_OF_REACH, toolArgs, toolCall } from "./fixtures.mjs";
import { fleetInProcesses } from "./fleet-row.mjs";
import { pairedAdded, REFERENCE_YARDSTICK_NS } from "./harness.mjs";

const fn = async (x) => x;
/** Fresh processes the fleet rows are measured in (BENCH_PROCESSES, as bench:check). */
const FLEET_PROCESSES = Number(process.env.BENCH_PROCESSES ?? 5);

function sloOf() {
  return new SLO({
    name: "success",
    indicators: [new TaskSuccessRate(), new LatencyPercentile({ percentile: 0.99, thresholdMs: 5_000 })],
    errorBudget: { total: 0.01, windowMs: "30d" },
  });
}

/** A running experiment whose only fault matches every call and never fires. */
function withIdleChaos(sre) {
  sre.startExperiment(
    new ChaosExperiment({
      name: "idle",
      faults: [Fault.latencyInjection("*", { delayMs: 100, rate: 0 })],
      durationMs: "24h",
    }),
  );
  return sre;
}

export const ROW = {
  direct: "direct `await fn(args)` (args built per call)",
  tool: "sre.guard tool call, default config (fresh args)",
  model: "sre.guard model call: budget + price + SLO",
  lean: "sre.guard tool call, no detector/retry budget",
  leanChaos: "the lean engine (row above) + a running chaos experiment, rate 0",
  one: "default config, 1 agent (bound once: agentRef)",
  many: "default config, 10,000 agents in turn, each bound once (agentRef, as the adapters call)",
  manyById: "default config, 10,000 agents in turn, by id (a direct caller without refs)",
};

/** One paired figure of the table: `pairedAdded`'s result with the row's name, baseline's name and target. */
const row = (name, baseline, target, result) => ({ name, baseline, target, result });

export async function measure({ quick = false } = {}) {
  // Batches of 20,000 calls, the scenario's batch right after its baseline's, round after round (as bench:check),
  // each round with a yardstick batch: load that comes and goes hits both sides of a pair. A batch is long
  // enough to hold its share of scavenges (~one per 16 MB allocated): of batches of 2,000, most hold none and
  // the median left the garbage collector's share out (tool call +375–390 ns CPU against +415). Quick mode
  // still warms up fully: a half-optimised engine measures 2x slower.
  const paired = { batch: 20_000, rounds: quick ? 10 : 30, warmupRounds: quick ? 3 : 5, yardstick: 2_000 };

  const direct = () => fn(toolArgs());
  const sreDefault = new AgentSRE({});
  const sreModel = new AgentSRE({ budget: OUT_OF_REACH, slos: [sloOf()] });
  // The chaos pair: the smallest engine, so a few ns of chaos are not lost in the detector's noise.
  const lean = { rogue: false, retryBudget: false };
  const sreLean = new AgentSRE(lean);
  const sreLeanChaos = withIdleChaos(new AgentSRE(lean));
  const bareCall = { kind: "tool", agentId: "bench", name: "ping" };
  const leanCall = () => sreLean.guard(bareCall, fn);

  const perCall = [
    row(
      ROW.tool,
      ROW.direct,
      "≤ +500 ns",
      await pairedAdded(direct, (i) => sreDefault.guard(toolCall("bench", i), fn), paired),
    ),
    row(
      ROW.model,
      ROW.direct,
      "≤ +700 ns",
      await pairedAdded(direct, () => sreModel.guard(modelCall, fn), paired),
    ),
    row(ROW.lean, ROW.direct, "", await pairedAdded(direct, leanCall, paired)),
    row(
      ROW.leanChaos,
      ROW.lean,
      "≤ +20 ns",
      await pairedAdded(leanCall, () => sreLeanChaos.guard(bareCall, fn), paired),
    ),
  ];

  // Same engine config, one agent vs 10,000: per-agent state must not make a call slower (cache misses,
  // map growth, GC of per-agent tables). The row with the target calls as the adapters do, each agent bound
  // once (as bench/check.mjs's row); by id each call also looks its agent up in the engine's table (shown, no
  // target). Each the median of fresh processes (fleet-row.mjs): one process's figure moves with where V8 put
  // the agents' records, and in this process the engine's code has run the rows above (other configs).
  const fleet = [
    row(ROW.many, ROW.one, "≤ 1.3×", await fleetInProcesses({}, FLEET_PROCESSES)),
    row(ROW.manyById, ROW.one, "", await fleetInProcesses({ byRef: false }, FLEET_PROCESSES)),
  ];
  return { perCall, fleet };
}

const fixed = (value, digits = 1) => value.toFixed(digits);
const plus = (value, digits = 1) => `${value >= 0 ? "+" : ""}${value.toFixed(digits)}`;

/** The paired rows: each scenario beside its baseline, wall and CPU, and the added CPU in reference ns. */
function pairedTable(title, rows) {
  const lines = [
    `### ${title}`,
    "",
    "| scenario | baseline | baseline ns (wall / CPU) | scenario ns (wall / CPU) | added (wall) | added (CPU) | added, reference ns | target |",
    "|---|---|---:|---:|---:|---:|---:|---|",
  ];
  for (const { name, baseline, target, result } of rows) {
    const reference =
      result.addedPerYardstick === undefined ? "—" : plus(result.addedPerYardstick * REFERENCE_YARDSTICK_NS);
    lines.push(
      `| ${name} | ${baseline} | ${fixed(result.wall.baselineNs)} / ${fixed(result.baselineNs)} | ${fixed(result.wall.runNs)} / ${fixed(result.runNs)} | ${plus(result.wall.addedNs)} | ${plus(result.addedNs)} | ${reference} | ${target} |`,
    );
  }
  return lines.join("\n");
}

/** The fleet rows: the scenario's time over the one agent's (medians of the processes' medians of rounds). */
function fleetTable(title, rows) {
  const lines = [
    `### ${title}`,
    "",
    "| scenario | 1 agent ns (CPU) | scenario ns (CPU) | extra ns (CPU) | ratio (wall) | ratio (CPU) | each process (CPU) | target |",
    "|---|---:|---:|---:|---:|---:|---|---|",
  ];
  for (const { name, target, result } of rows) {
    const each = result.each.map((figure) => fixed(figure.ratio, 2)).join(" ");
    lines.push(
      `| ${name} | ${fixed(result.oneNs)} | ${fixed(result.manyNs)} | ${plus(result.extraNs)} | ${fixed(result.wallRatio, 2)}× | ${fixed(result.ratio, 2)}× | ${each} | ${target} |`,
    );
  }
  return lines.join("\n");
}

export async function run({ quick = false } = {}) {
  const { perCall, fleet } = await measure({ quick });
  return {
    sections: [
      pairedTable("Engine per call (issue 18 targets; fresh arguments per tool call)", perCall),
      "Paired batches: 20,000 calls of the baseline, then 20,000 of the scenario, round after round (the median of " +
        "the rounds' differences; CPU time counts the GC's helper threads, wall time other processes' turns). " +
        "Each round also times a yardstick batch (harness.mjs): the reference-ns column is the added CPU time over " +
        "the yardstick's, × its time on the reference machine, the unit of the targets (`pnpm bench:check`).",
      fleetTable(
        `10,000 agents vs 1 (same default config; batches of 20,000 calls, paired; ${FLEET_PROCESSES} fresh processes)`,
        fleet,
      ),
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { sections } = await run({ quick: process.argv.includes("--quick") });
  console.log(sections.join("\n\n"));
}
