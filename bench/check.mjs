// `pnpm bench:check`: a quick regression guard for the issue-18 targets, safe for CI and a laptop. Each figure
// is measured side by side with its baseline in one run (CPU time, medians of interleaved rounds), scaled
// by how fast this machine runs the baseline `await fn()` compared with the reference machine, and compared
// with the target times a slack (BENCH_SLACK, default 1.5). Exits 1 when a figure is over its limit.
// Not a unit test: it measures time. Usage: node --expose-gc check.mjs [--only engine,ai-sdk,openai,memory]
import { pathToFileURL } from "node:url";

/** `await fn()` CPU ns on the reference machine (EPYC, 2 vCPU, Node 20) where the targets were set. */
const REFERENCE_DIRECT_NS = 52;

export async function check({ slack = 1.5, only } = {}) {
  const results = [];
  const want = (suite) => only === undefined || only.has(suite);
  // Machine speed relative to the reference: the baseline `await fn(args)` of the engine suite.
  let scale = 1;

  const hotPath = await import("./hot-path.mjs");
  const { perCall, fleet } = await hotPath.measure({ quick: true });
  const row = (rows, name) => rows.find((r) => r.name === name);
  scale = Math.max(0.5, row(perCall, hotPath.ROW.direct).cpuMedianNs / REFERENCE_DIRECT_NS);
  const ns = (name, measured, targetNs) =>
    results.push({ name, measured, limit: targetNs * scale * slack, unit: "ns" });
  const ratio = (name, measured, target) =>
    // A ratio of two costs needs no machine scale; the slack applies to the part above 1.
    results.push({ name, measured, limit: 1 + (target - 1) * slack, unit: "×" });

  if (want("engine")) {
    ns("guard tool call, default config", row(perCall, hotPath.ROW.tool).addedCpuNs, 500);
    ns("guard model call: budget + price + SLO", row(perCall, hotPath.ROW.model).addedCpuNs, 700);
    // +20 ns is below what a quick run can resolve on a busy machine: checked at +60 ns before slack.
    ns("running chaos experiment, rate 0", row(perCall, hotPath.ROW.leanChaos).addedCpuNs, 60);
    ratio("10,000 agents vs 1", row(fleet, hotPath.ROW.many).cpuRatio, 1.3);
  }
  if (want("ai-sdk")) {
    const aiSdk = await import("./ai-sdk.mjs");
    const { generate, stream } = await aiSdk.run({ quick: true });
    ns("AI SDK generate (wrapLanguageModel)", generate[2].addedCpuNs, 1_500);
    ns("AI SDK stream, fixed per call (piped)", stream.piped.fixed, 2_000);
    ns("AI SDK stream, per part (read)", stream.read.perPart, 50);
  }
  if (want("openai")) {
    const openai = await import("./openai.mjs");
    const { perChunkCpuNs } = await openai.measure({ quick: true });
    ns("OpenAI stream, per chunk", perChunkCpuNs, 50);
  }
  if (want("memory")) {
    const memory = await import("./memory.mjs");
    const { bytes } = await memory.bytesPerAgent({
      agents: 300,
      toolCalls: 300,
      modelCalls: 20,
      paceMs: 2_000,
    });
    // Heap bytes do not scale with CPU speed.
    results.push({ name: "heap per active agent", measured: bytes / 1024, limit: 4 * slack, unit: "KB" });
  }
  return { results, scale, slack };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const onlyIndex = args.indexOf("--only");
  const only = onlyIndex >= 0 ? new Set(args[onlyIndex + 1]?.split(",")) : undefined;
  const slack = Number(process.env.BENCH_SLACK ?? 1.5);
  const { results, scale } = await check({ slack, only });
  console.log(`machine scale ${scale.toFixed(2)} (baseline await vs reference), slack ${slack}\n`);
  console.log("| check | measured | limit | |\n|---|---:|---:|---|");
  let failed = 0;
  for (const { name, measured, limit, unit } of results) {
    const ok = measured <= limit;
    if (!ok) failed++;
    console.log(
      `| ${name} | ${measured.toFixed(2)} ${unit} | ${limit.toFixed(2)} ${unit} | ${ok ? "ok" : "OVER"} |`,
    );
  }
  if (failed > 0) {
    console.error(`\nbench:check: ${failed} of ${results.length} figures over their limits`);
    process.exitCode = 1;
  }
}
