#!/usr/bin/env node
/**
 * One "life" of the restart scene's process: a nightly reconciliation agent (AI SDK + `agentSREMiddleware`)
 * whose engine keeps its state in a SQLite file (`@agent-sre/store-sqlite`), or in memory with `--state memory`.
 * The demo runs it as a real child process, kills it with SIGKILL mid-scene and starts it again on the same
 * file, so what survives is what the store kept, not anything in the parent.
 *
 *   restart-worker.js --state <file|memory> --life work|check --at <epoch ms>
 *
 * `work`: the agent reconciles batches until the budget kills it, then the process's ledger job finds the
 * ledger database down until the tool's breaker opens; prints its state and waits to be killed (it never
 * exits by itself).
 * `check`: prints the state it finds, tries one model call and one ledger sync, lets the breaker's recovery
 * timeout pass (the ledger is back: the probe closes it) and exits.
 * Every report is one JSON line on stdout.
 */
import { parseArgs } from "node:util";
import { agentSREMiddleware } from "@agent-sre/ai-sdk";
import { AgentSRE, type Store } from "@agent-sre/core";
import { SqliteStore } from "@agent-sre/store-sqlite";
import { generateText, wrapLanguageModel } from "ai";
import { DemoClock } from "../clock.js";
import { fleetPolicy } from "../fleet.js";
import { scriptedLanguageModel } from "../models/ai-model.js";
import {
  RESTART_AGENT,
  RESTART_DAILY_LIMIT_USD,
  RESTART_MODEL,
  RESTART_SYNC_AGENT,
  RESTART_TOOL,
  type WorkerReport,
} from "./restart-protocol.js";

const BATCH = `${"entry 4410 | 1,250.00 | approved; ".repeat(120)}`;

function say(report: WorkerReport): void {
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { state: { type: "string" }, life: { type: "string" }, at: { type: "string" } },
  });
  const at = Number(values.at);
  if (
    values.state === undefined ||
    !Number.isFinite(at) ||
    (values.life !== "work" && values.life !== "check")
  ) {
    throw new Error("usage: restart-worker.js --state <file|memory> --life work|check --at <epoch ms>");
  }
  const clock = new DemoClock(at);
  const store: Store | undefined = values.state === "memory" ? undefined : new SqliteStore(values.state);
  const policy = fleetPolicy(clock, 42);
  const sre = new AgentSRE({
    ...policy,
    ...(store === undefined ? {} : { store }),
    budget: {
      ...policy.budget,
      agents: { [RESTART_AGENT]: { dailyLimitUsd: RESTART_DAILY_LIMIT_USD, perTaskLimitUsd: 0.05 } },
    },
  });
  const { model, meter } = scriptedLanguageModel({
    modelId: RESTART_MODEL,
    clock,
    latencyMs: 2_000,
    decide: () => ({ text: "Batch reconciled: 120 entries, 0 mismatches.", outputTokens: 1_200 }),
  });
  const guarded = wrapLanguageModel({
    model,
    middleware: agentSREMiddleware(sre, { agentId: RESTART_AGENT }),
  });
  const ledgerUp = values.life === "check";
  const spent = () => sre.budget.agentStatus(RESTART_AGENT).spentTodayUsd;
  const reconcile = async (batch: number) => {
    try {
      await generateText({
        model: guarded,
        prompt: `Reconcile batch ${batch}:\n${BATCH}`,
        maxRetries: 0,
        providerOptions: { agentSre: { taskId: `batch-${batch}` } },
      });
      say({ report: "call", kind: "model", ok: true, code: null, spentUsd: spent() });
      return true;
    } catch (error) {
      const code = (error as { code?: string }).code ?? "ERROR";
      say({ report: "call", kind: "model", ok: false, code, spentUsd: spent() });
      return false;
    }
  };
  const syncLedger = async () => {
    try {
      await sre.guard({ kind: "tool", agentId: RESTART_SYNC_AGENT, name: RESTART_TOOL }, async () => {
        if (!ledgerUp) throw new Error("connect ECONNREFUSED ledger-db:5432");
        return "synced";
      });
      say({ report: "call", kind: "tool", ok: true, code: null, spentUsd: spent() });
    } catch (error) {
      const code = (error as { code?: string }).code ?? "UPSTREAM_ERROR";
      say({ report: "call", kind: "tool", ok: false, code, spentUsd: spent() });
    }
  };
  const state = () =>
    say({
      report: "state",
      life: values.life as string,
      store: store === undefined ? "memory" : "sqlite",
      at: clock.now(),
      spentUsd: spent(),
      killed: sre.budget.isKilled(RESTART_AGENT),
      breaker: sre.breakers.get(`tool:${RESTART_TOOL}`).state,
    });

  if (values.life === "work") {
    state();
    for (let batch = 1; batch <= 200 && (await reconcile(batch)); batch++) clock.advance(5_000);
    for (let attempt = 0; attempt < 4; attempt++) await syncLedger(); // 3 failures open it, the 4th is refused
    state();
    say({ report: "ready", at: clock.now(), providerCalls: meter.calls });
    setInterval(() => {}, 60_000); // alive until the demo kills it
    return;
  }
  state();
  await reconcile(201);
  await syncLedger();
  clock.advance(30_000); // the breaker's recovery timeout passes; the ledger is back
  await syncLedger();
  state();
  say({ report: "ready", at: clock.now(), providerCalls: meter.calls });
  await store?.close?.();
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
