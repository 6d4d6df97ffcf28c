// State stores: what keeping spend and decisions in SQLite (durable) or Redis (shared) adds to a guarded
// call, beside the in-memory store, in one run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentSRE } from "@agent-sre/core";
import { RedisStore } from "@agent-sre/store-redis";
import { SqliteStore } from "@agent-sre/store-sqlite";
import { formatTable, runScenarios } from "./harness.mjs";

const fn = async (x) => x + 1;
const budget = {
  perTaskLimitUsd: 1e9,
  perAgentDailyLimitUsd: 1e12,
  orgMonthlyBudgetUsd: 1e15,
  anomalyDetection: false,
};
const modelCall = {
  kind: "model",
  agentId: "bench",
  taskId: "task-1",
  name: "gpt-4o",
  provider: "openai",
  estimate: { inputTokens: 1200, outputTokens: 1000 },
  usage: () => ({ inputTokens: 1200, outputTokens: 300 }),
};

export async function run({ quick = false } = {}) {
  const iterations = quick ? 5_000 : 50_000;
  const rounds = quick ? 3 : 5;
  const warmup = quick ? 5_000 : 20_000;
  const dir = mkdtempSync(join(tmpdir(), "agent-sre-bench-"));
  const sqlite = new SqliteStore(join(dir, "state.db"));
  let redis;
  let redisNote = "";
  try {
    redis = await RedisStore.connect({
      url: process.env.AGENT_SRE_BENCH_REDIS ?? "redis://127.0.0.1:6379",
      keyPrefix: `agent-sre-bench:${process.pid}:`,
    });
  } catch (error) {
    redisNote = `Redis not measured: ${error.message}`;
  }
  const memoryGuard = new AgentSRE({ budget, rogue: false });
  const sqliteGuard = new AgentSRE({ budget, rogue: false, store: sqlite });
  const redisGuard = redis && new AgentSRE({ budget, rogue: false, store: redis });
  const scenarios = [
    { name: "direct `await fn()`", run: (_, i) => fn(i) },
    {
      name: "sre.guard model call, MemoryStore (default)",
      run: () => memoryGuard.guard(modelCall, fn),
      baseline: "direct `await fn()`",
    },
    {
      name: "sre.guard model call, SqliteStore (WAL, 1 transaction per reserve/settle)",
      run: () => sqliteGuard.guard(modelCall, fn),
      baseline: "sre.guard model call, MemoryStore (default)",
      target: "report",
    },
  ];
  if (redisGuard) {
    scenarios.push({
      name: "sre.guard model call, RedisStore (leased chunks)",
      run: () => redisGuard.guard(modelCall, fn),
      baseline: "sre.guard model call, MemoryStore (default)",
      target: "≤ +2 µs",
    });
  }
  const rows = await runScenarios(scenarios, { iterations, rounds, warmup });
  const propagation = redis ? await measurePropagation(quick ? 50 : 200) : undefined;
  const calls = warmup * 1 + iterations * rounds;
  const notes = [
    `SQLite: a real file in ${tmpdir()} (synchronous = NORMAL). Redis: 127.0.0.1:6379, ${
      redis ? `${redis.leaseRequests} lease round trips for ${calls.toLocaleString("en")} calls` : redisNote
    }. "added" is over the memory store in the same run.`,
  ];
  sqlite.close();
  if (redis) {
    await redis.close();
  }
  rmSync(dir, { recursive: true, force: true });
  const sections = [formatTable("Per-call overhead of the state stores", rows), notes.join("\n")];
  if (propagation) sections.push(propagation);
  return { sections };
}

/**
 * How soon a kill or a breaker opening in one engine refuses in another sharing the Redis (target: within
 * 100 ms): two engines on their own connections in this process, timed from the write to the moment the
 * other engine refuses (its own store listener runs after the engine's, so the engine has applied it).
 */
async function measurePropagation(samples) {
  const keyPrefix = `agent-sre-bench:propagation:${process.pid}:`;
  const url = process.env.AGENT_SRE_BENCH_REDIS ?? "redis://127.0.0.1:6379";
  const [storeA, storeB] = await Promise.all([
    RedisStore.connect({ url, keyPrefix }),
    RedisStore.connect({ url, keyPrefix }),
  ]);
  const options = {
    rogue: false,
    budget,
    breakers: { defaults: { failureThreshold: 1, recoveryTimeoutMs: 600_000 } },
  };
  const a = new AgentSRE({ ...options, store: storeA });
  const b = new AgentSRE({ ...options, store: storeB });
  const seen = (kind, id, check) =>
    new Promise((resolve) => {
      const off = storeB.subscribe((change) => {
        if (change.kind === kind && change.id === id && check()) {
          off();
          resolve(performance.now());
        }
      });
    });
  const kills = [];
  const breakers = [];
  for (let i = 0; i < samples; i++) {
    const agent = `victim-${i}`;
    b.budget.refusalFor(agent); // seen before, as a live agent would be
    const refused = seen("kill", agent, () => b.budget.refusalFor(agent)?.code === "AGENT_KILLED");
    let started = performance.now();
    a.kill(agent, "bench");
    kills.push((await refused) - started);
    const id = `upstream:${i}`;
    b.breakers.get(id);
    const open = seen("breaker", id, () => b.breakers.get(id).state === "OPEN");
    started = performance.now();
    a.breakers.get(id).recordFailure();
    breakers.push((await open) - started);
  }
  for (let i = 0; i < samples; i++) {
    storeA.deleteState("kill", `victim-${i}`);
    storeA.deleteState("breaker", `upstream:${i}`);
  }
  await Promise.all([storeA.close(), storeB.close()]);
  const row = (name, values) => {
    values.sort((x, y) => x - y);
    const at = (q) => values[Math.min(values.length - 1, Math.floor(q * values.length))].toFixed(2);
    return `| ${name} | ${at(0.5)} | ${at(0.99)} | ${values[values.length - 1].toFixed(2)} | ≤ 100 ms |`;
  };
  return [
    `### Propagation between two engines on one Redis (${samples} samples each)`,
    "",
    "| change | p50 ms | p99 ms | max ms | target |",
    "|---|---:|---:|---:|---|",
    row("kill in A → B refuses AGENT_KILLED", kills),
    row("breaker opens in A → OPEN in B", breakers),
  ].join("\n");
}
