// What per-agent state costs a call by itself when 10,000 agents share the caches (issue 18's "10,000 agents
// vs 1" row): skeleton calls that do only the lookups any guard of per-agent state must do — a Map lookup by
// agent id, then one or two levels of records, then a block of typed memory — timed as the row times the guard
// (an awaited call per agent call, batches of 20,000, CPU time, one agent against 10,000), in turn and in a
// fixed random order, beside the default-config guard itself. The row's target allows 0.3 × the guard's
// one-agent cost for all of it.
//   node --expose-gc bench/fleet-floor.mjs [--rounds 10]
import { AgentSRE } from "@agent-sre/core";
import { shuffledTurns, toolCall } from "./fixtures.mjs";
import { median } from "./harness.mjs";

const AGENTS = 10_000;
const BATCH = 20_000;
const roundsAt = process.argv.indexOf("--rounds");
const ROUNDS = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 10;
/** 32-bit words of typed memory per agent (1 KB, about what the detector holds for a busy agent). */
const BLOCK_WORDS = 256;

const fn = async (x) => x;
const agents = Array.from({ length: AGENTS }, (_, i) => `agent-${i}`);
const slab = new Uint32Array(AGENTS * BLOCK_WORDS);
const records = new Map();
// Records allocated as a guard allocates them: one agent after another, among the call's garbage.
for (let i = 0; i < AGENTS; i++) {
  const inner = { calls: 0, at: i * BLOCK_WORDS, head: i % BLOCK_WORDS };
  records.set(agents[i], { id: agents[i], calls: 0, at: i * BLOCK_WORDS, inner, garbage: [i, i] });
}
const solo = "solo";
records.set(solo, { id: solo, calls: 0, at: 0, inner: { calls: 0, at: 0, head: 0 }, garbage: [] });

const skeletons = {
  "await fn()": (_agentId, i) => fn(i),
  "Map lookup": (agentId, i) => {
    records.get(agentId).calls++;
    return fn(i);
  },
  "Map lookup + block": (agentId, i) => {
    const record = records.get(agentId);
    slab[record.at + (i & 7)]++;
    return fn(i);
  },
  "Map lookup + record + block": (agentId, i) => {
    const inner = records.get(agentId).inner;
    slab[inner.at + (i & 7)]++;
    return fn(i);
  },
  "Map lookup + record + 3 lines of block": (agentId, i) => {
    const inner = records.get(agentId).inner;
    slab[inner.at + (i & 7)]++;
    slab[inner.at + 64 + (i & 7)]++;
    slab[inner.at + 160 + inner.head]++;
    return fn(i);
  },
};

const cpuNow = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) * 1000;
};

/** Median CPU ns per call of one agent and of 10,000 (in `order`), over paired batches. */
async function measure(call, order) {
  const one = [];
  const many = [];
  let i = 0;
  // `call(agentId, i, agent)`: the agent's number picks its tool (the one agent's calls take five in turn).
  const timed = async (many) => {
    globalThis.gc?.({ type: "minor" });
    const start = cpuNow();
    for (let end = i + BATCH; i < end; i++) {
      if (many) {
        const agent = order[i % BATCH];
        await call(agents[agent], i, agent);
      } else {
        await call(solo, i, i);
      }
    }
    return (cpuNow() - start) / BATCH;
  };
  for (let round = -3; round < ROUNDS; round++) {
    const a = await timed(false);
    const b = await timed(true);
    if (round < 0) continue;
    one.push(a);
    many.push(b);
  }
  return { oneNs: median(one), manyNs: median(many) };
}

const inTurn = Array.from({ length: BATCH }, (_, k) => k % AGENTS);
const random = shuffledTurns(AGENTS, BATCH);
const sre = new AgentSRE({});
for (let i = 0; i < BATCH; i++) await sre.guard(toolCall(agents[i % AGENTS], i), fn);
// The tool follows the agent, as in bench/check.mjs.
const guard = (agentId, _i, agent) => sre.guard(toolCall(agentId, agent), fn);

console.log("| calls | in turn: one / 10,000 ns | extra ns | random order: one / 10,000 ns | extra ns |");
console.log("|---|---:|---:|---:|---:|");
for (const [name, call] of [...Object.entries(skeletons), ["guard, default config", guard]]) {
  const a = await measure(call, inTurn);
  const b = await measure(call, random);
  console.log(
    `| ${name} | ${a.oneNs.toFixed(0)} / ${a.manyNs.toFixed(0)} | ${(a.manyNs - a.oneNs).toFixed(0)} | ${b.oneNs.toFixed(0)} / ${b.manyNs.toFixed(0)} | ${(b.manyNs - b.oneNs).toFixed(0)} |`,
  );
}
