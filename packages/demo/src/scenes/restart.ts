/**
 * Scene — Restart. State that decides a refusal must outlive the process. A nightly reconciliation agent
 * runs in its own process with the engine's state in a SQLite file (`@agent-sre/store-sqlite`, the embedded
 * default of the CLI and the proxy); its budget kills it, and the process's ledger job opens the ledger's
 * breaker. The demo then kills the process with SIGKILL — no shutdown hook, no flush — and starts it again
 * on the same file: the agent is still killed (no provider call), its spend is unchanged to the micro-dollar,
 * and the breaker is still OPEN, recovering on its original schedule. The same restart on the in-memory
 * default shows what was at stake: the killed agent comes back with $0 spent and calls the provider again.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { DEMO_START_MS } from "../fleet.js";
import type { Scene } from "../scene.js";
import { seconds, usd } from "../scene.js";
import {
  RESTART_AGENT,
  RESTART_DAILY_LIMIT_USD,
  RESTART_TOOL,
  type WorkerReport,
} from "../servers/restart-protocol.js";

const WORKER = join(dirname(fileURLToPath(import.meta.url)), "..", "servers", "restart-worker.js");
/** Generous: a worker loads the AI SDK and the native SQLite module; a busy machine may take seconds. */
const LIFE_TIMEOUT_MS = 30_000;

interface Life {
  reports: WorkerReport[];
  child: ChildProcess;
}

/** Starts one life of the worker and resolves with its reports once it says `ready` (it may keep running). */
function startLife(state: string, life: "work" | "check", atMs: number): Promise<Life> {
  const child = spawn(process.execPath, [WORKER, "--state", state, "--life", life, "--at", String(atMs)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const reports: WorkerReport[] = [];
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`restart worker (${life}) did not report within ${LIFE_TIMEOUT_MS} ms\n${stderr}`));
    }, LIFE_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("exit", (code) => {
      if (reports.at(-1)?.report === "ready") return;
      clearTimeout(timer);
      reject(new Error(`restart worker (${life}) exited with ${code} before it was ready\n${stderr}`));
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const report = JSON.parse(line) as WorkerReport;
      reports.push(report);
      if (report.report === "ready") {
        clearTimeout(timer);
        resolve({ reports, child });
      }
    });
  });
}

function exited(child: ChildProcess): Promise<NodeJS.Signals | number | null> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve(child.signalCode ?? child.exitCode);
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve(signal ?? code)));
}

type StateReport = Extract<WorkerReport, { report: "state" }>;
type CallReport = Extract<WorkerReport, { report: "call" }>;
type ReadyReport = Extract<WorkerReport, { report: "ready" }>;

function summarize(reports: WorkerReport[]) {
  const states = reports.filter((r): r is StateReport => r.report === "state");
  const calls = reports.filter((r): r is CallReport => r.report === "call");
  const ready = reports.find((r): r is ReadyReport => r.report === "ready") as ReadyReport;
  return { first: states[0] as StateReport, last: states.at(-1) as StateReport, calls, ready };
}

export const restartScene: Scene = {
  name: "restart",
  title: "Restart",
  failure: "the process restarts and a killed agent would come back with its spend forgotten",
  async run({ progress }) {
    const dir = mkdtempSync(join(tmpdir(), "agent-sre-demo-restart-"));
    const stateFile = join(dir, "state.db");
    try {
      progress("life 1: the reconciler spends until its budget kills it");
      const work = await startLife(stateFile, "work", DEMO_START_MS);
      const before = summarize(work.reports);
      progress("kill -9 the process");
      work.child.kill("SIGKILL");
      const signal = await exited(work.child);

      const restartAtMs = before.ready.at + 10_000;
      progress("life 2: restarted on the same SQLite file");
      const after = summarize((await startLife(stateFile, "check", restartAtMs)).reports);
      progress("the same restart without a store");
      const forgot = summarize((await startLife("memory", "check", restartAtMs)).reports);

      const modelCall = after.calls.find((c) => c.kind === "model");
      const [refusedSync, probe] = after.calls.filter((c) => c.kind === "tool");
      const forgotModel = forgot.calls.find((c) => c.kind === "model");
      const killedModelCalls = before.calls.filter((c) => c.kind === "model" && c.ok).length;
      const contained =
        signal === "SIGKILL" &&
        before.last.killed &&
        after.first.killed &&
        after.first.spentUsd === before.last.spentUsd &&
        after.first.breaker === "OPEN" &&
        modelCall?.code === "AGENT_KILLED" &&
        after.ready.providerCalls === 0 &&
        refusedSync?.code === "CIRCUIT_OPEN" &&
        probe?.ok === true &&
        after.last.breaker === "CLOSED";
      return {
        contained,
        headline:
          `killed with SIGKILL and restarted: still killed, ${usd(after.first.spentUsd, 6)} spent (unchanged), ` +
          `breaker still ${after.first.breaker}; 0 provider calls`,
        lines: [
          `life 1: ${killedModelCalls} batches reconciled, then ${before.calls.find((c) => !c.ok && c.kind === "model")?.code ?? "—"} at ` +
            `${usd(before.last.spentUsd, 6)} of ${usd(RESTART_DAILY_LIMIT_USD, 2)}; ${RESTART_TOOL} failed until its breaker opened (${before.last.breaker})`,
          `kill -9 (${String(signal)}); restarted ${seconds(restartAtMs - before.ready.at)} later on the same SQLite file`,
          `life 2: killed=${after.first.killed}, spent ${usd(after.first.spentUsd, 6)}, breaker ${after.first.breaker}; ` +
            `model call ${modelCall?.code ?? "allowed"}, ${RESTART_TOOL} ${refusedSync?.code ?? "allowed"}, ` +
            `then after its original recovery timeout the probe ${probe?.ok ? "succeeded" : "failed"} (breaker ${after.last.breaker})`,
          `the same restart in memory: killed=${forgot.first.killed}, spent ${usd(forgot.first.spentUsd, 2)}, ` +
            `the model call ${forgotModel?.ok ? "went to the provider" : (forgotModel?.code ?? "—")}`,
        ],
        facts: {
          agent: RESTART_AGENT,
          signal: String(signal),
          spentBeforeUsd: before.last.spentUsd,
          spentAfterUsd: after.first.spentUsd,
          killedBefore: before.last.killed,
          killedAfter: after.first.killed,
          breakerBefore: before.last.breaker,
          breakerAfter: after.first.breaker,
          modelCallAfterRestart: modelCall?.code ?? null,
          toolCallAfterRestart: refusedSync?.code ?? null,
          providerCallsAfterRestart: after.ready.providerCalls,
          breakerAfterRecovery: after.last.breaker,
          memoryStoreKilledAfter: forgot.first.killed,
          memoryStoreSpentAfterUsd: forgot.first.spentUsd,
          memoryStoreProviderCalls: forgot.ready.providerCalls,
        },
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
