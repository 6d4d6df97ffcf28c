// What a rogue-detector assessment costs (issue 18): `detector.assess(agentId)` (measure the signals, build
// the entry, canonical JSON, SHA-256, freeze, append), and separately `canonicalJson` of an entry's content,
// `sha256Hex` of the string it is hashed as (~600 bytes) and `computeAssessmentHash(entry)`, per call, µs of
// CPU time (process.cpuUsage over a batch). Compares builds of @agent-sre/core: copy a build before changing
// code (inside core/, so its dependencies resolve), e.g. `cp -r core/dist core/dist-base`, then
//   node --expose-gc bench/assessment-cost.mjs core/dist-base core/dist [sets] [rounds]
// A set runs each build once in a fresh process of its own (one after another; the sets alternate the order:
// A B, B A, ...; default 4 sets); a process gives each figure's median over `rounds` batches (default 21,
// after 3 warm-up batches), and the table the median over the sets (range), and of the per-set ratios to
// the first build. One build per process: with both loaded in one process the old sha256Hex read ~2× faster
// than alone (its TextEncoder arrays and the other build's work share one heap and its GCs).
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const child = args[0] === "--child";
const dists = (child ? args.slice(1) : args).filter((a) => !/^\d+$/.test(a));
const numbers = args.filter((a) => /^\d+$/.test(a)).map(Number);
const [processes, rounds] = child ? [1, numbers[0]] : [numbers[0] ?? 4, numbers[1] ?? 21];
if (dists.length < 1) {
  console.error("usage: node --expose-gc bench/assessment-cost.mjs <distA> [distB ...] [sets] [rounds]");
  process.exit(2);
}

const FIGURES = [
  "assess()",
  "canonicalJson",
  "sha256Hex",
  "computeAssessmentHash",
  "level change, 10,000 agents",
];
const FLEET = 10_000;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** µs of CPU a call of `fn` over a batch of `n`. */
function perCall(fn, n) {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) fn(i);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

/** A detector whose agent repeats one tool: the entry a fleet's level change logs (one reason). */
function setUp(core) {
  let now = 1_000_000;
  const detector = new core.RogueAgentDetector({ clock: { now: () => now } });
  for (let i = 0; i < 12; i++) {
    now += 250;
    detector.recordAction({
      agentId: "agent-00042",
      action: "search",
      toolName: "search",
      input: { query: `q${i}` },
    });
  }
  const entry = detector.assess("agent-00042");
  const { hash: _hash, ...content } = entry;
  const hashed = `${content.prevHash}:${core.canonicalJson(content)}`;
  return {
    "assess()": () => detector.assess("agent-00042"),
    canonicalJson: () => core.canonicalJson(content),
    sha256Hex: () => core.sha256Hex(hashed),
    computeAssessmentHash: () => core.computeAssessmentHash(entry),
    bytes: Buffer.byteLength(hashed),
    reasons: entry.reasons.length,
  };
}

/**
 * µs of CPU a level change adds at the call site: 10,000 agents each record 9 actions of one tool (untimed),
 * then the 10th (entropy now measured: LOW → MEDIUM, an entry appended per agent) and the 11th (no change)
 * are timed for all of them; the figure is their difference per agent.
 */
function fleetLevelChange(core) {
  let now = 1_000_000;
  const detector = new core.RogueAgentDetector({ clock: { now: () => now } });
  const ids = Array.from({ length: FLEET }, (_, i) => `agent-${String(i).padStart(5, "0")}`);
  const act = (id, i) =>
    detector.recordAction({ agentId: id, action: "search", toolName: "search", input: { q: i } });
  // Every call of a batch returns `level`, else the figure is not what it says.
  const batch = (i, level) => {
    now += 250;
    let other = 0;
    const start = process.cpuUsage();
    for (const id of ids) if (act(id, i) !== level) other++;
    const used = process.cpuUsage(start);
    if (other > 0) throw new Error(`${other} of ${FLEET} agents not ${level} after action ${i + 1}`);
    return used.user + used.system;
  };
  for (let i = 0; i < 9; i++) batch(i, "LOW");
  const changing = batch(9, "MEDIUM");
  const steady = batch(10, "MEDIUM");
  return (changing - steady) / FLEET;
}

const BATCH = { "assess()": 2_000, canonicalJson: 5_000, sha256Hex: 5_000, computeAssessmentHash: 3_000 };

async function runChild() {
  const core = await import(pathToFileURL(resolve(dists[0], "index.js")).href);
  const setup = setUp(core);
  const out = { hash: setup.sha256Hex(), bytes: setup.bytes, reasons: setup.reasons, medians: {} };
  for (const figure of FIGURES) {
    const fleet = figure === FIGURES[4];
    const samples = [];
    // A fleet round builds a detector of 10,000 agents (~0.2 s): fewer of those.
    for (let round = fleet ? -1 : -3; round < (fleet ? Math.min(rounds, 9) : rounds); round++) {
      globalThis.gc?.();
      const us = fleet ? fleetLevelChange(core) : perCall(setup[figure], BATCH[figure]);
      if (round >= 0) samples.push(us);
    }
    out.medians[figure] = median(samples);
  }
  process.stdout.write(JSON.stringify(out));
}

function runParent() {
  const self = fileURLToPath(import.meta.url);
  // One set = every build once, each in a fresh process; the sets alternate the order (A B, B A, ...).
  const sets = [];
  for (let p = 0; p < processes; p++) {
    const ordered = p % 2 === 0 ? dists : [...dists].reverse();
    const byDist = {};
    for (const dist of ordered) {
      byDist[dist] = JSON.parse(
        execFileSync(process.execPath, ["--expose-gc", self, "--child", dist, String(rounds)], {
          encoding: "utf8",
        }),
      );
    }
    const hashes = new Set(dists.map((d) => byDist[d].hash));
    if (hashes.size !== 1) throw new Error(`builds disagree on the hash: ${[...hashes].join(" ")}`);
    sets.push(dists.map((d) => byDist[d]));
    console.error(`set ${p + 1}/${processes} done`);
  }
  console.log(
    `${sets[0][0].bytes} bytes hashed per entry, ${sets[0][0].reasons} reason(s); ${processes} sets of fresh processes (one per build, order alternating) × ${rounds} rounds`,
  );
  const fmt = (values) =>
    `${median(values).toFixed(2)} (${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)})`;
  const header = [
    "µs a call, median of sets (range)",
    ...dists,
    ...dists.slice(1).map((d) => `${d} / ${dists[0]}, per set`),
  ];
  console.log(`| ${header.join(" | ")} |`);
  console.log(`|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`);
  for (const f of FIGURES) {
    const cells = [f];
    for (let b = 0; b < dists.length; b++) cells.push(fmt(sets.map((set) => set[b].medians[f])));
    for (let b = 1; b < dists.length; b++)
      cells.push(fmt(sets.map((set) => set[b].medians[f] / set[0].medians[f])));
    console.log(`| ${cells.join(" | ")} |`);
  }
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" / ")}`,
  );
}

if (child) await runChild();
else runParent();
