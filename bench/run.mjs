// `pnpm bench`: runs every benchmark suite in one process and writes the figures to RESULTS.md, between its
// "latest run" markers: the notes around them (each session's paired measurements) are kept.
// Usage: node --expose-gc run.mjs [--quick] [--only core,langchain] [--no-write]
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const noWrite = args.includes("--no-write");
const onlyIndex = args.indexOf("--only");
const only = onlyIndex >= 0 ? new Set(args[onlyIndex + 1]?.split(",")) : undefined;

// Suites in the order they are reported. A suite file exports `run({ quick })` → { sections: string[] }.
const suites = [
  "hot-path",
  "core",
  "memory",
  "langchain",
  "ai-sdk",
  "openai",
  "mcp-proxy",
  "mcp-proxy-load",
  "telemetry",
  "stores",
];

const machine = `${os.cpus()[0]?.model ?? "unknown CPU"} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
const BEGIN =
  "<!-- pnpm bench: latest run begins (rewritten by each `pnpm bench`; everything outside these markers is kept) -->";
const END = "<!-- pnpm bench: latest run ends -->";
const out = [
  BEGIN,
  `Run: ${new Date().toISOString()}${quick ? " (quick mode: fewer iterations)" : ""}${only ? ` (only: ${[...only].join(", ")})` : ""}`,
  `Machine: ${machine}`,
  // Other processes' load skews wall times (CPU-time columns less so): recorded with every run.
  `Load average at start (1/5/15 min): ${os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(" / ")}`,
  "",
  'Median of interleaved rounds; "added" is the difference to the baseline measured in the same run.',
  "Machines are noisy: compare ratios and differences within one run, not across runs.",
  "",
];

// After each suite, the heap still in use after a full collection (a suite that leaves servers, providers or timers
// alive shows as a growing figure here; the whole run shares one heap).
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
function heapLine() {
  globalThis.gc?.();
  globalThis.gc?.();
  const { heapUsed, rss, external } = process.memoryUsage();
  const peak = process.resourceUsage().maxRSS * 1024;
  return `heap used ${mib(heapUsed)}${globalThis.gc ? " after gc" : " (run with --expose-gc for a collected figure)"}, external ${mib(external)}, rss ${mib(rss)} (peak so far ${mib(peak)})`;
}

for (const suite of suites) {
  if (only && !only.has(suite)) continue;
  const file = join(here, `${suite}.mjs`);
  if (!existsSync(file)) continue;
  console.error(`bench: running ${suite}…`);
  const started = performance.now();
  const module = await import(file);
  const { sections } = await module.run({ quick });
  out.push(`## ${suite}`, "");
  for (const section of sections) out.push(section, "");
  console.log(`\n## ${suite}\n`);
  for (const section of sections) console.log(`${section}\n`);
  console.error(
    `bench: ${suite} done in ${((performance.now() - started) / 1000).toFixed(1)} s; ${heapLine()}`,
  );
}

if (!noWrite) {
  const path = join(here, "RESULTS.md");
  const block = `${out.join("\n").trimEnd()}\n${END}`;
  const previous = existsSync(path) ? await readFile(path, "utf8") : "# Benchmark results\n\n";
  const begin = previous.indexOf(BEGIN);
  const end = previous.indexOf(END, begin);
  const next =
    begin >= 0 && end > begin
      ? `${previous.slice(0, begin)}${block}${previous.slice(end + END.length)}`
      : `${previous.trimEnd()}\n\n${block}\n`;
  await writeFile(path, next);
  console.error("bench: wrote bench/RESULTS.md");
}
