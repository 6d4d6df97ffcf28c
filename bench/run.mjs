// `pnpm bench`: runs every benchmark suite, each in a process of its own, and writes the figures to RESULTS.md,
// between its "latest run" markers: the notes around them (each session's paired measurements) are kept.
// A suite runs in a fresh process as an application that uses that part does: run one after another in one
// process, each suite's code ran on feedback the suites before had left (dozens of engine configurations,
// breakers and proxies no one process holds) and on their heap (session 17: the AI SDK generate row +1,296 ns
// CPU after three suites, +1,099 / +1,084 alone, in turn at load ~12).
// Usage: node --expose-gc run.mjs [--quick] [--only core,langchain] [--no-write]
//        node --expose-gc run.mjs --suite <name> [--quick]   (one suite; its sections as JSON on stdout)
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const suiteIndex = args.indexOf("--suite");
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
  "Each suite runs in a process of its own. Tables are medians of interleaved rounds (a minor GC before each) unless",
  'they say "paired" (batch of the baseline, batch of the scenario, round after round: medians of the differences);',
  '"added" is the difference to the baseline measured in the same run.',
  "Machines are noisy: compare ratios and differences within one run, not across runs.",
  "",
];

// After each suite, the heap its process still uses after a full collection (a suite that leaves servers,
// providers or timers alive shows a large figure here).
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
function heapLine() {
  globalThis.gc?.();
  globalThis.gc?.();
  const { heapUsed, rss, external } = process.memoryUsage();
  const peak = process.resourceUsage().maxRSS * 1024;
  return `heap used ${mib(heapUsed)}${globalThis.gc ? " after gc" : " (run with --expose-gc for a collected figure)"}, external ${mib(external)}, rss ${mib(rss)} (peak so far ${mib(peak)})`;
}

/** One suite in this process (the child's part): its sections as JSON on stdout, progress on stderr. */
async function runSuiteHere(suite) {
  const started = performance.now();
  const module = await import(join(here, `${suite}.mjs`));
  const { sections } = await module.run({ quick });
  console.error(
    `bench: ${suite} done in ${((performance.now() - started) / 1000).toFixed(1)} s; ${heapLine()}`,
  );
  // After a marker: a suite's own output on stdout stays out of the JSON.
  process.stdout.write(`\n${MARKER}${JSON.stringify({ sections })}\n`, () => process.exit(0));
}

const MARKER = "BENCH-SECTIONS ";

/** One suite in a child process (this script with `--suite`): its sections. */
function runSuiteApart(suite) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--expose-gc", fileURLToPath(import.meta.url), "--suite", suite, ...(quick ? ["--quick"] : [])],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`bench: suite ${suite} exited with code ${code}`));
      else {
        const at = stdout.lastIndexOf(MARKER);
        // Anything the suite printed itself goes to stderr with the progress lines.
        if (at > 0) process.stderr.write(stdout.slice(0, at));
        resolve(JSON.parse(stdout.slice(at + MARKER.length)).sections);
      }
    });
  });
}

if (suiteIndex >= 0) await runSuiteHere(args[suiteIndex + 1]);
else await runAll();

async function runAll() {
  for (const suite of suites) {
    if (only && !only.has(suite)) continue;
    if (!existsSync(join(here, `${suite}.mjs`))) continue;
    console.error(`bench: running ${suite} (a process of its own)…`);
    const sections = await runSuiteApart(suite);
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
}
