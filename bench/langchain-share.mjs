// The LangChain group of bench/check.mjs: the middleware's own share over \`sre.guard\` for a model and a tool
// call, measured in fresh processes (the check takes the median of theirs). One process's figure moved by
// ±40 ns from one process to the next on a shared VM (bench/RESULTS.md, session 10 (langchain)): where GC
// falls and which shape V8 compiles the engine's shared code in differ per process, so one process is one
// sample. Not a unit test: it measures time. Usage (one process): node --expose-gc langchain-share.mjs
import { fileURLToPath, pathToFileURL } from "node:url";
import { AgentSRE } from "@agent-sre/core";
import { OUT_OF_REACH } from "./fixtures.mjs";
import { figuresOfProcesses, medianOfFigures, pairedAdded } from "./harness.mjs";
import { langChainRequests, langChainSides } from "./langchain-fixture.mjs";

/** Yardstick units timed per round (check.mjs's). */
const YARD = 2_000;

/** Paired in both orders and averaged (cancels either position's advantage), per yardstick unit too. */
async function pairedBothWays(baseline, run, options) {
  const forward = await pairedAdded(baseline, run, { ...options, yardstick: YARD });
  const backward = await pairedAdded(run, baseline, { ...options, yardstick: YARD });
  return {
    addedNs: (forward.addedNs - backward.addedNs) / 2,
    wallAddedNs: (forward.wall.addedNs - backward.wall.addedNs) / 2,
    addedPerYardstick: (forward.addedPerYardstick - backward.addedPerYardstick) / 2,
    yardsticks: [...forward.yardsticks, ...backward.yardsticks],
  };
}

/** Both own shares in this process. */
export async function langChainShares() {
  // LC_DIST: another build of the adapter (a copy under adapters/langchain, e.g. dist-main), for A/B runs.
  const { agentSREMiddleware } = await import(
    process.env.LC_DIST === undefined
      ? "@agent-sre/langchain"
      : pathToFileURL(`${fileURLToPath(new URL("..", import.meta.url))}${process.env.LC_DIST}/index.js`).href
  );
  const { BaseChatModel } = await import("@langchain/core/language_models/chat_models");
  const messages = await import("@langchain/core/messages");
  const sre = new AgentSRE({ budget: { ...OUT_OF_REACH, anomalyDetection: false } });
  const middleware = agentSREMiddleware(sre, { agentId: "bench" });
  const sides = langChainSides(sre, middleware, langChainRequests({ BaseChatModel, ...messages }));
  // Batches of 10,000 (~20 ms): each holds its share of the scavenges the hooks' garbage causes.
  const quick = { batch: 10_000, rounds: 16 };
  const modelShare = await pairedBothWays(sides.modelGuard, sides.modelHook, quick);
  const toolShare = await pairedBothWays(sides.toolGuard, sides.toolHook, quick);
  return { model: modelShare, tool: toolShare };
}

/** Both own shares, each the median of \`processes\` fresh processes' figures (\`each\`: theirs). */
export async function langChainSharesInProcesses(processes) {
  const each = await figuresOfProcesses(fileURLToPath(import.meta.url), [], processes);
  return {
    model: medianOfFigures(each.map((e) => e.model)),
    tool: medianOfFigures(each.map((e) => e.tool)),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.stdout.write(`${JSON.stringify(await langChainShares())}\n`);
}
