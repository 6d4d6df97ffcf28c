// Core benchmarks: what the guard adds to every call, side by side with the peers, in one run.
import {
  AgentSRE,
  CircuitBreaker,
  CostGuard,
  fingerprintToolCall,
  GenAIPriceCatalog,
  LatencyPercentile,
  RogueAgentDetector,
  SLO,
  TaskSuccessRate,
} from "@agent-sre/core";
import { calcPrice } from "@pydantic/genai-prices";
import { ConsecutiveBreaker, circuitBreaker, handleAll } from "cockatiel";
import Opossum from "opossum";
import { toolCall } from "./fixtures.mjs";
import { formatTable, runScenarios } from "./harness.mjs";

const fn = async (x) => x + 1;
const toolInput = { orderId: 1234, fields: ["status", "eta"] };

/** A clock that still reads real time but never schedules (the engine falls back to runtime timers). */
const usage = { inputTokens: 1200, outputTokens: 300 };
const usageOf = () => usage;

export async function run({ quick = false } = {}) {
  const iterations = quick ? 20_000 : 200_000;
  const rounds = quick ? 3 : 7;
  const warmup = quick ? 20_000 : 100_000;
  const sections = [];

  // ---- 1. Per-call overhead of breakers and the full guard -------------------------------------
  const breaker = new CircuitBreaker({ id: "bench", failureThreshold: 5 });
  const breakerCountWindow = new CircuitBreaker({
    id: "bench-count",
    window: { type: "count", size: 100, minimumCalls: 20, failureRateThreshold: 0.5 },
  });
  const cockatiel = circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) });
  const opossumLean = new Opossum(fn, {
    timeout: false,
    rollingPercentilesEnabled: false,
    enableSnapshots: false,
  });
  const opossumDefault = new Opossum(fn, {});

  const guardBudget = new AgentSRE({
    budget: {
      perTaskLimitUsd: 1e9,
      perAgentDailyLimitUsd: 1e12,
      orgMonthlyBudgetUsd: 1e15,
      anomalyDetection: false,
    },
    rogue: false,
  });
  const modelCall = {
    kind: "model",
    agentId: "bench",
    taskId: "task-1",
    name: "gpt-4o",
    provider: "openai",
    estimate: { inputTokens: 1200, outputTokens: 1000 },
    usage: usageOf,
  };
  const guardTimeout = new AgentSRE({
    budget: {
      perTaskLimitUsd: 1e9,
      perAgentDailyLimitUsd: 1e12,
      orgMonthlyBudgetUsd: 1e15,
      anomalyDetection: false,
    },
    rogue: false,
    timeouts: { modelMs: "60s" },
  });
  const guardFull = new AgentSRE({
    budget: { perTaskLimitUsd: 1e9, perAgentDailyLimitUsd: 1e12, orgMonthlyBudgetUsd: 1e15 },
    rogue: { refuseLoops: false },
    slos: [
      new SLO({
        name: "success",
        indicators: [new TaskSuccessRate(), new LatencyPercentile({ percentile: 0.99, thresholdMs: 5_000 })],
        errorBudget: { total: 0.01, windowMs: "30d" },
      }),
    ],
  });

  const overheadRows = await runScenarios(
    [
      { name: "direct `await fn()`", run: (_, i) => fn(i) },
      {
        name: "CircuitBreaker.call (consecutive)",
        run: (_, i) => breaker.call(() => fn(i)),
        baseline: "direct `await fn()`",
        target: "≤ +100 ns",
      },
      {
        name: "CircuitBreaker.call (count window 100)",
        run: (_, i) => breakerCountWindow.call(() => fn(i)),
        baseline: "direct `await fn()`",
        target: "≤ +100 ns",
      },
      {
        name: "breaker hot path (tryAcquire + onSuccess)",
        run: () => {
          const permit = breaker.tryAcquire();
          breaker.onSuccess(permit, 1);
        },
        async: false,
      },
      {
        name: "cockatiel 3.2.1 ConsecutiveBreaker(5)",
        run: (_, i) => cockatiel.execute(() => fn(i)),
        baseline: "direct `await fn()`",
      },
      {
        name: "opossum 9 lean (no timeout/percentiles)",
        run: (_, i) => opossumLean.fire(i),
        baseline: "direct `await fn()`",
      },
      { name: "opossum 9 defaults", run: (_, i) => opossumDefault.fire(i), baseline: "direct `await fn()`" },
      {
        name: "sre.guard model call (breaker + reservation + pricing)",
        run: () => guardBudget.guard(modelCall, fn),
        baseline: "direct `await fn()`",
        target: "≤ +1 µs",
      },
      {
        name: "sre.guard model call + 60 s timeout",
        run: () => guardTimeout.guard(modelCall, fn),
        baseline: "direct `await fn()`",
      },
      {
        name: "sre.guard model call + SLO + detector",
        run: () => guardFull.guard(modelCall, fn),
        baseline: "direct `await fn()`",
        target: "≤ +1 µs",
      },
      {
        // Fresh arguments and five tools in turn (the same call again is a loop: quarantined at CRITICAL).
        name: "sre.guard tool call + SLO + detector (fresh args fingerprinted)",
        run: (_, i) => guardFull.guard(toolCall("bench", i), fn),
        baseline: "direct `await fn()`",
        target: "≤ +1 µs",
      },
    ],
    { iterations, rounds, warmup },
  );
  sections.push(formatTable("Per-call overhead (sequential awaited calls)", overheadRows));
  // opossum's status window rotates on an (unref'd) interval that never fires inside the awaited loops above:
  // its current bucket holds every call's latency (~15 MB each) until shutdown() stops the intervals.
  opossumLean.shutdown();
  opossumDefault.shutdown();

  // ---- 2. Pricing -----------------------------------------------------------------------------
  const catalog = new GenAIPriceCatalog();
  catalog.costMicros("gpt-4o", usage, "openai");
  const genaiUsage = { input_tokens: 1200, output_tokens: 300 };
  const priceRows = await runScenarios(
    [
      {
        name: "catalog.costMicros (memoized)",
        run: () => catalog.costMicros("gpt-4o", usage, "openai"),
        async: false,
        target: "≤ 100 ns",
      },
      {
        name: "genai-prices calcPrice (unmemoized)",
        run: () => calcPrice(genaiUsage, "gpt-4o", { providerId: "openai" }),
        async: false,
      },
    ],
    { iterations: quick ? 20_000 : 200_000, rounds, warmup: quick ? 5_000 : 50_000 },
  );
  sections.push(formatTable("Price lookup", priceRows));

  // ---- 2b. Budget bookkeeping and fingerprinting (timings moved here from unit tests) -----------
  const costGuard = new CostGuard({
    perTaskLimitUsd: Number.POSITIVE_INFINITY,
    perAgentDailyLimitUsd: Number.POSITIVE_INFINITY,
    orgMonthlyBudgetUsd: Number.POSITIVE_INFINITY,
    anomalyDetection: false,
  });
  const reserveRequest = { agentId: "bench", estimatedCostUsd: 0.01 };
  const hugeInput = { text: "x".repeat(5_000_000) };
  const bookkeepingRows = [
    ...(await runScenarios(
      [
        {
          name: "CostGuard reserve + commit",
          run: () => costGuard.reserve(reserveRequest).commit(0.005),
          async: false,
          target: "≤ 1 µs",
        },
      ],
      { iterations: quick ? 20_000 : 200_000, rounds, warmup: quick ? 5_000 : 50_000 },
    )),
    ...(await runScenarios(
      [
        {
          name: "fingerprintToolCall (5 MB string input, sampled)",
          run: () => fingerprintToolCall("t", hugeInput),
          async: false,
          target: "≤ 50 ms",
        },
      ],
      { iterations: quick ? 100 : 1_000, rounds, warmup: 100 },
    )),
  ];
  sections.push(formatTable("Budget bookkeeping and fingerprints", bookkeepingRows));

  // ---- 3. SLO and detector --------------------------------------------------------------------
  // A 99.5 %, 30-day SLO already fed 1 M calls (the fixture ships in core's build output, not its public API).
  const { buildThirtyDaySloFixture } = await import("../core/dist/slo/bench-fixtures.js");
  const { slo, observation: sloObservation } = buildThirtyDaySloFixture();
  const detector = new RogueAgentDetector();
  const tools = ["search", "lookup_order", "send_email", "fetch_page", "summarise"];
  const sloRows = await runScenarios(
    [
      {
        name: "slo.observe (tool call)",
        run: () => slo.observe(sloObservation),
        async: false,
        target: "≤ 200 ns",
      },
      {
        name: "slo.evaluate (30-day SLO, ≥ 1 M events)",
        run: () => slo.evaluate(),
        async: false,
        target: "≤ 2 µs",
      },
      {
        name: "detector.recordAction (small object input)",
        run: (_, i) =>
          detector.recordAction({
            agentId: "bench",
            action: tools[i % 5],
            toolName: tools[i % 5],
            input: toolInput,
          }),
        async: false,
        target: "≤ 1 µs",
      },
    ],
    { iterations: quick ? 10_000 : 100_000, rounds, warmup: quick ? 5_000 : 20_000 },
  );
  sections.push(formatTable("SLO and rogue detector", sloRows));

  return { sections, rows: [...overheadRows, ...priceRows, ...bookkeepingRows, ...sloRows] };
}
