// Where `fleet-misses.mjs`'s misses are: per function (JIT code named through node's perf map), per call, for
// each window of a run kept with `KEEP=1` (which also dumps per instruction). Reads the dumps directory that
// run printed ("dumps kept in …") and /tmp/perf-<pid>.map.
//   KEEP=1 node bench/fleet-misses.mjs --ref   # prints the directory
//   node bench/fleet-lines.mjs <dir> [--event DLmr] [--top 20] [--fn name]
//     --fn: that function's instructions with their counts instead (address offsets within the function,
//     to read beside node's `--print-opt-code` listing).
import { readdirSync } from "node:fs";
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
