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

for (const suite of suites) {
  if (only && !only.has(suite)) continue;
  const file = join(here, `${suite}.mjs`);
  if (!existsSync(file)) continue;
  console.error(`bench: running ${suite}…`);
  const module = await import(file);
  const { sections } = await module.run({ quick });
  out.push(`## ${suite}`, "");
  for (const section of sections) out.push(section, "");
  console.log(`\n## ${suite}\n`);
  for (const section of sections) console.log(`${section}\n`);
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
