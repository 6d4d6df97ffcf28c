// Runs a bench script's windows under callgrind and reads its dumps: the driver the counting scripts share
// (openai-icount, ai-sdk-icount, langchain-icount, begin-icount, fleet-misses). A window lies between two
// `process.cpuUsage()`; with `--dump-before=uv_getrusage` callgrind dumps its counts at each one, so dump n + 1
// holds what ran between the n-th and the (n + 1)-th call.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Node's flags for a repeatable count: `--predictable` (one thread: no concurrent compiler or GC) and fixed seeds;
 * with `semiSpaceMb`, a young generation that size, so that a minor GC before each window keeps scavenges out of
 * it; then any flags in `NODE_FLAGS` (space-separated: e.g. `--print-opt-code` to read beside a `KEEP=1` dump).
 */
export function countingFlags({ seed = 1, semiSpaceMb = 0 } = {}) {
  const semiSpace =
    semiSpaceMb > 0 ? [`--min-semi-space-size=${semiSpaceMb}`, `--max-semi-space-size=${semiSpaceMb}`] : [];
  const more = process.env.NODE_FLAGS?.split(" ").filter(Boolean) ?? [];
  return [
    "--expose-gc",
    "--predictable",
    `--random-seed=${seed}`,
    `--hash-seed=${seed}`,
    ...semiSpace,
    ...more,
  ];
}

/**
 * Runs `node [nodeFlags] script [scriptArgs]` under callgrind and returns `read(dumps, dir)`: the dumps in the
 * order they were written, the exit's last, each `{ file, pid, counts }` with `counts` by event (`Ir`, and with
 * the cache simulation `Dr`, `D1mr`, `DLmr` …). With `keep` (default: `KEEP=1`) node also writes its perf map
 * (`/tmp/perf-<pid>.map`, which names the JIT code in the dumps), callgrind takes `keepFlags` too, and the dumps
 * are kept (their folder printed) instead of removed.
 */
export function underCallgrind(
  {
    prefix,
    script,
    scriptArgs = [],
    nodeFlags = [],
    valgrindFlags = [],
    keepFlags = [],
    env = process.env,
    keep = process.env.KEEP === "1",
  },
  read,
) {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  try {
    execFileSync(
      "valgrind",
      [
        "--tool=callgrind",
        "--smc-check=all-non-file",
        "--dump-before=uv_getrusage",
        ...valgrindFlags,
        ...(keep ? keepFlags : []),
        `--callgrind-out-file=${join(dir, "cg.%p")}`,
        process.execPath,
        ...(keep ? ["--perf-basic-prof"] : []),
        ...nodeFlags,
        script,
        ...scriptArgs,
      ],
      { env, stdio: ["ignore", "inherit", "ignore"], maxBuffer: 1 << 26 },
    );
    // cg.<pid>.<n> for the dumps at each `process.cpuUsage()`, cg.<pid> for the exit's.
    const dumps = readdirSync(dir)
      .map((name) => ({ name, n: /\.\d+\.\d+$/.test(name) ? Number(name.split(".").pop()) : Infinity }))
      .sort((x, y) => x.n - y.n)
      .map(({ name }) => {
        const file = join(dir, name);
        const text = readFileSync(file, "utf8");
        const events = /^events: (.*)$/m.exec(text)?.[1].trim().split(" ") ?? [];
        const totals = /^(?:summary|totals): (.*)$/m.exec(text)?.[1].trim().split(" ").map(Number) ?? [];
        const counts = Object.fromEntries(events.map((event, k) => [event, totals[k] ?? 0]));
        return { file, pid: Number(name.split(".")[1]), counts };
      });
    return read(dumps, dir);
  } finally {
    if (keep) console.log(`dumps kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Each window's instructions when a script ran `passes` passes of `windowsPerPass` windows (each between two
 * `cpuUsage()`), the last right before its exit: a window's least over the passes after the first, since a
 * compilation or a GC that falls in one pass's window only adds to it.
 */
export function leastOverPasses(dumps, windowsPerPass, passes) {
  // Two `cpuUsage()` a window (its start and its end): a window's dump is each second one before the exit's.
  const windows = dumps.slice(-(2 * windowsPerPass * passes + 1), -1).filter((_, i) => i % 2 === 1);
  return Array.from({ length: windowsPerPass }, (_, w) =>
    Math.min(
      ...Array.from({ length: passes - 1 }, (_, p) => windows[(p + 1) * windowsPerPass + w].counts.Ir),
    ),
  );
}

/**
 * Names code addresses through node's perf map (`--perf-basic-prof`: "start size name" in hex, one line per
 * code object): `(address) => { name, offset } | undefined`, the entry written last that spans the address
 * (code space is reused: an address may lie in several entries over a run).
 */
export function perfMapNames(pid) {
  const entries = readFileSync(`/tmp/perf-${pid}.map`, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line, order) => {
      const [start, size, ...name] = line.split(" ");
      const from = Number.parseInt(start, 16);
      return { start: from, end: from + Number.parseInt(size, 16), name: name.join(" "), order };
    })
    .sort((a, b) => a.start - b.start);
  const maxSize = Math.max(...entries.map((e) => e.end - e.start));
  return (address) => {
    let lo = 0;
    let hi = entries.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (entries[mid].start <= address) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    let best;
    for (let k = at; k >= 0 && entries[k].start > address - maxSize; k--) {
      const e = entries[k];
      if (address < e.end && (best === undefined || e.order > best.order)) best = e;
    }
    return best === undefined ? undefined : { name: best.name, offset: address - best.start };
  };
}

/**
 * A dump's self costs per instruction (callgrind `--dump-instr=yes`): calls `each(address, fn, counts)` for
 * every cost line, `counts` by event (`Ir`, `DLmr` …), `fn` callgrind's function name. Call lines' inclusive
 * costs are skipped (they are the callee's, counted where it runs).
 */
export function eachInstructionCost(file, each) {
  const text = readFileSync(file, "utf8");
  const events = /^events: (.*)$/m.exec(text)?.[1].trim().split(" ") ?? [];
  const positions = (/^positions: (.*)$/m.exec(text)?.[1] ?? "line").trim().split(" ").length;
  const names = new Map();
  let fn = "?";
  let last = 0;
  let skipNext = false;
  const named = (id) => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(id);
    if (m === null) return id;
    if (m[2] !== undefined) names.set(m[1], m[2]);
    return names.get(m[1]) ?? id;
  };
  for (const line of text.split("\n")) {
    if (line.startsWith("fn=")) fn = named(line.slice(3));
    else if (line.startsWith("cfn=")) named(line.slice(4));
    else if (line.startsWith("calls=")) skipNext = true;
    else if (/^(0x|[0-9+*-])/.test(line)) {
      const parts = line.split(" ");
      const position = parts[0];
      if (position[0] === "+" || position[0] === "-") last += Number(position);
      else if (position !== "*") last = Number(position);
      if (skipNext) {
        skipNext = false;
        continue;
      }
      const counts = {};
      events.forEach((event, k) => {
        counts[event] = Number(parts[positions + k] ?? 0);
      });
      each(last, fn, counts);
    }
  }
}

/**
 * A dump's instruction costs (`--dump-instr=yes --dump-line=no`) summed per symbol, per call: JIT code named
 * by node's perf map, else callgrind's function name. Sorted, highest first.
 */
export function symbolCosts(dump, pid, perCall) {
  const jitName = perfMapNames(pid);
  const costs = new Map();
  eachInstructionCost(dump, (address, fn, counts) => {
    const symbol = jitName(address)?.name ?? fn;
    costs.set(symbol, (costs.get(symbol) ?? 0) + counts.Ir);
  });
  return [...costs].map(([symbol, cost]) => [symbol, cost / perCall]).sort((a, b) => b[1] - a[1]);
}
