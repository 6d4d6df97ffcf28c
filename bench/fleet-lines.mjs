// Where `fleet-misses.mjs`'s misses are: per function (JIT code named through node's perf map), per call, for
// each window of a run kept with `KEEP=1` (which also dumps per instruction). Reads the dumps directory that
// run printed ("dumps kept in …") and /tmp/perf-<pid>.map.
//   KEEP=1 node bench/fleet-misses.mjs --ref   # prints the directory
//   node bench/fleet-lines.mjs <dir> [--event DLmr] [--top 20] [--fn name]
//     --fn: that function's instructions with their counts instead (address offsets within the function,
//     to read beside node's `--print-opt-code` listing).
//     --diff: one table per function of the one-agent and in-turn windows and their difference (in turn −
//     one), JS and builtins only (TurboFan's compiles fall into a window by timing), names without their
//     file URL; with the JS+builtins totals. Tiers (`*` TurboFan, `^` Sparkplug, `+` Maglev) kept apart.
//     --fn name --listing <file> --opt-id <n>: the TurboFan code of `name` (exactly) instruction by instruction,
//     one-agent and in-turn counts beside the text of code object `optimization_id = n` in <file> (node's
//     `--print-opt-code` output of the same run without valgrind, `--run` as fleet-misses runs itself: the same
//     code; pick the id whose instructions the counts fit, e.g. the function's last compile).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { eachInstructionCost, perfMapNames } from "./callgrind.mjs";
import { takeNumberOption } from "./harness.mjs";

const args = process.argv.slice(2);
const top = takeNumberOption(args, "--top", 20);
const take = (flag, fallback) => {
  const at = args.indexOf(flag);
  if (at < 0) return fallback;
  const [, value] = args.splice(at, 2);
  return value;
};
const event = take("--event", "DLmr");
const onlyFn = take("--fn", undefined);
const listing = take("--listing", undefined);
const optId = take("--opt-id", undefined);
const diffAt = args.indexOf("--diff");
const diff = diffAt >= 0;
if (diff) args.splice(diffAt, 1);
const [dir] = args;
const CALLS = 20_000;
const WINDOWS = ["one agent", "10,000 in turn", "10,000 random"];

// Dumps in order: 0 the setup, then each window's start and end alternate (fleet-misses.mjs).
const dumps = readdirSync(dir)
  .filter((name) => /\.\d+\.\d+$/.test(name))
  .sort((a, b) => Number(a.split(".").pop()) - Number(b.split(".").pop()));
const nameOf = perfMapNames(dumps[0].split(".")[1]);

/** One dump's self costs by instruction address: Map address → { fn, value (the event's), ir }. */
function readDump(file) {
  const byInstr = new Map();
  eachInstructionCost(file, (address, fn, counts) => {
    const entry = byInstr.get(address);
    if (entry === undefined) byInstr.set(address, { fn, value: counts[event] ?? 0, ir: counts.Ir });
    else {
      entry.value += counts[event] ?? 0;
      entry.ir += counts.Ir;
    }
  });
  return byInstr;
}

/** JS code and builtins (what the engine runs), not the VM's C++ (TurboFan's compiles among it). */
const isJsOrBuiltin = (name) => name.startsWith("JS:") || name.startsWith("Builtin:");
/** A perf-map name without its file URL's directories: `JS:*scan loop-table.js:332:9`. */
const shortName = (name) => name.replace(/file:\/\/\S*\//, "");

/** One window's costs per function: Map name → { value, ir }. */
function byFunction(w) {
  const file = dumps[2 * w + 1];
  if (file === undefined) return undefined;
  const byFn = new Map();
  for (const [address, { fn, value, ir }] of readDump(join(dir, file))) {
    const { name } = nameOf(address) ?? { name: fn };
    const row = byFn.get(name) ?? { value: 0, ir: 0 };
    row.value += value;
    row.ir += ir;
    byFn.set(name, row);
  }
  return byFn;
}

if (diff) {
  const [one, inTurn] = [byFunction(0), byFunction(1)];
  const names = new Set([...one.keys(), ...inTurn.keys()].filter(isJsOrBuiltin));
  const perCall = (map, name) => (map.get(name)?.value ?? 0) / CALLS;
  const rows = [...names]
    .map((name) => [shortName(name), perCall(one, name), perCall(inTurn, name)])
    .sort((a, b) => Math.abs(b[2] - b[1]) - Math.abs(a[2] - a[1]))
    .slice(0, top);
  const sum = (map) => [...names].reduce((total, name) => total + perCall(map, name), 0);
  console.log(
    `${event} a call, JS and builtins: one agent ${sum(one).toFixed(1)}, in turn ${sum(inTurn).toFixed(1)}`,
  );
  console.log(`| function | one agent | in turn | in turn − one |`);
  console.log("|---|---:|---:|---:|");
  for (const [name, a, b] of rows)
    console.log(
      `| \`${name}\` | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b - a >= 0 ? "+" : "") + (b - a).toFixed(1)} |`,
    );
  process.exit(0);
}

/** Instruction text by offset of code object `optimization_id = id` in a `--print-opt-code` listing. */
function listingOf(file, id) {
  const lines = readFileSync(file, "utf8").split("\n");
  const at = lines.indexOf(`optimization_id = ${id}`);
  if (at < 0) throw new Error(`no optimization_id = ${id} in ${file}`);
  const text = new Map();
  let k = lines.findIndex((line, i) => i > at && line.startsWith("Instructions"));
  for (k++; k < lines.length && lines[k].trim() !== "" && !lines[k].startsWith("---"); k++) {
    const m = /^0x[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(.*)$/.exec(lines[k]);
    if (m !== null) text.set(Number.parseInt(m[1], 16), m[2].trim());
  }
  return text;
}

if (listing !== undefined && onlyFn !== undefined) {
  const text = listingOf(listing, optId);
  const counts = new Map();
  for (const w of [0, 1]) {
    for (const [address, { fn, value }] of readDump(join(dir, dumps[2 * w + 1]))) {
      const { name, offset } = nameOf(address) ?? { name: fn, offset: 0 };
      if (!name.startsWith(`JS:*${onlyFn} `)) continue;
      const row = counts.get(offset) ?? [0, 0];
      row[w] += value / CALLS;
      counts.set(offset, row);
    }
  }
  const totals = [0, 0];
  console.log(`${event} a call of JS:*${onlyFn}: offset, one agent, in turn, instruction`);
  for (const offset of [...counts.keys()].sort((a, b) => a - b)) {
    const [one, inTurn] = counts.get(offset);
    totals[0] += one;
    totals[1] += inTurn;
    const cells = `${one.toFixed(2).padStart(7)} ${inTurn.toFixed(2).padStart(7)}`;
    console.log(
      `${offset.toString(16).padStart(5)} ${cells}  ${text.get(offset) ?? "? (another code object)"}`,
    );
  }
  console.log(`total ${totals[0].toFixed(1)} / ${totals[1].toFixed(1)}`);
  process.exit(0);
}

WINDOWS.forEach((window, w) => {
  const file = dumps[2 * w + 1];
  if (file === undefined) return;
  const byInstr = readDump(join(dir, file));
  const byFn = new Map();
  for (const [address, { fn, value, ir }] of byInstr) {
    const { name, offset } = nameOf(address) ?? { name: fn, offset: 0 };
    if (onlyFn !== undefined) {
      if (!name.includes(onlyFn) || value === 0) continue;
      const key = `${name} +0x${offset.toString(16)}`;
      const row = byFn.get(key) ?? { value: 0, ir: 0 };
      row.value += value;
      row.ir += ir;
      byFn.set(key, row);
      continue;
    }
    const row = byFn.get(name) ?? { value: 0, ir: 0 };
    row.value += value;
    row.ir += ir;
    byFn.set(name, row);
  }
  const rows = [...byFn].sort((a, b) => b[1].value - a[1].value).slice(0, top);
  const total = [...byFn.values()].reduce((sum, r) => sum + r.value, 0);
  console.log(`\n${window}: ${event} ${(total / CALLS).toFixed(2)} a call`);
  for (const [name, { value, ir }] of rows)
    console.log(
      `${(value / CALLS).toFixed(3).padStart(8)}  Ir ${(ir / CALLS).toFixed(0).padStart(5)}  ${name}`,
    );
});
