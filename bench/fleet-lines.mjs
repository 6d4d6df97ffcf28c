// Where `fleet-misses.mjs`'s misses are: per function (JIT code named through node's perf map), per call, for
// each window of a run kept with `KEEP=1` (which also dumps per instruction). Reads the dumps directory that
// run printed ("dumps kept in …") and /tmp/perf-<pid>.map.
//   KEEP=1 node bench/fleet-misses.mjs --ref   # prints the directory
//   node bench/fleet-lines.mjs <dir> [--event DLmr] [--top 20] [--fn name]
//     --fn: that function's instructions with their counts instead (address offsets within the function,
//     to read beside node's `--print-opt-code` listing).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
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

const dumps = readdirSync(dir)
  .filter((name) => /\.\d+$/.test(name))
  .sort((a, b) => Number(a.split(".").pop()) - Number(b.split(".").pop()));
const pid = dumps[0].split(".")[1];

// The perf map: "start size name" (hex), later entries winning where code was moved or replaced.
const symbols = readFileSync(`/tmp/perf-${pid}.map`, "utf8")
  .split("\n")
  .filter(Boolean)
  .map((line) => {
    const [start, size, ...name] = line.split(" ");
    return { start: Number.parseInt(start, 16), size: Number.parseInt(size, 16), name: name.join(" ") };
  });
const byStart = [...symbols].sort((a, b) => a.start - b.start);
const nameOf = (address, fallback) => {
  let lo = 0;
  let hi = byStart.length - 1;
  let found;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (byStart[mid].start <= address) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // The nearest entries starting at or below the address: the latest one that spans it.
  for (let k = found; k !== undefined && k >= 0 && k > found - 50; k--) {
    const s = byStart[k];
    if (address < s.start + s.size) return { name: s.name, offset: address - s.start };
  }
  return { name: fallback, offset: 0 };
};

/** One dump's self costs by instruction address: Map address → [fn name, counts]. */
function readDump(file) {
  const text = readFileSync(file, "utf8");
  const events = /^events: (.*)$/m.exec(text)[1].split(" ");
  const k = events.indexOf(event);
  const ir = events.indexOf("Ir");
  const positions = (/^positions: (.*)$/m.exec(text)?.[1] ?? "line").split(" ").length;
  const names = new Map();
  const byInstr = new Map();
  let fn = "?";
  let skipNext = false;
  let last = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("fn=")) {
      const m = /^fn=\((\d+)\)(?: (.*))?$/.exec(line);
      if (m) {
        if (m[2] !== undefined) names.set(m[1], m[2]);
        fn = names.get(m[1]) ?? "?";
      } else fn = line.slice(3);
      continue;
    }
    if (line.startsWith("calls=")) {
      skipNext = true;
      continue;
    }
    if (!/^(0x|[+-]\d|\*)/.test(line)) continue;
    const parts = line.split(" ");
    const pos = parts[0];
    const address =
      pos === "*" ? last : pos[0] === "+" || pos[0] === "-" ? last + Number(pos) : Number.parseInt(pos, 16);
    last = address;
    if (skipNext) {
      skipNext = false;
      continue;
    }
    // parts: the positions (instr, line), then the events.
    const value = Number(parts[positions + k] ?? 0);
    const irValue = Number(parts[positions + ir] ?? 0);
    const entry = byInstr.get(address);
    if (entry === undefined) byInstr.set(address, { fn, value, ir: irValue });
    else {
      entry.value += value;
      entry.ir += irValue;
    }
  }
  return byInstr;
}

WINDOWS.forEach((window, w) => {
  const file = dumps[2 * w + 1];
  if (file === undefined) return;
  const byInstr = readDump(join(dir, file));
  const byFn = new Map();
  for (const [address, { fn, value, ir }] of byInstr) {
    const { name, offset } = nameOf(address, fn);
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
