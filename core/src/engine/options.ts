import type { BreakerRegistryOptions } from "../breaker/index.js";
import type { Clock } from "../clock.js";
import type { CostGuardOptions, ModelsConfig, PriceCatalog } from "../cost/index.js";
import type { AgentSREEventName } from "../events.js";
import type { RateLimitRule } from "../ratelimit/index.js";
import type { CascadeResponseOptions } from "../resilience/cascade-response.js";
import type { RetryBudgetOptions } from "../resilience/retry-budget.js";
import type { RiskLevel, RogueDetectorOptions } from "../rogue/index.js";
import type { SLO } from "../slo/index.js";
import type { Store } from "../store/state-store.js";
import type { UnknownModelPolicy } from "./context.js";
import type { FailureClassifier } from "./failure-class.js";
import type { MemoryOptions } from "./generations.js";
import type { AgentPolicy, ThrottleOptions, TimeoutOptions } from "./types.js";

/** Options of `new AgentSRE({...})`. Every key is checked: an unknown one is a `ConfigError` (options-schema.ts). */
export interface AgentSREOptions {
  /** Time source (and timers, if it has them). Default: the system clock. */
  clock?: Clock;
  /** Price data. Default: `@pydantic/genai-prices` behind a memoized catalog. */
  prices?: PriceCatalog;
  /**
   * Model aliases and custom prices, consulted before the price data: `{ "my-azure-deployment": "gpt-4o",
   * "llama3:70b": { inputPerMTokUsd: 0, outputPerMTokUsd: 0 } }`. Names match case-insensitively.
   */
  models?: ModelsConfig;
  /**
   * What to do with a model that has no price (neither in `models` nor in the data), whether named by the
   * call or only by the provider's response: `"warn"` (default) fails safe — it reserves and charges the
   * call at `unknownModelPrice` (never $0; at least what was reserved), emits `price.unknown` once per model
   * and shows the unpriced tokens in the status; `"block"` refuses the call with `MODEL_NOT_PRICED` (also
   * calls that carry `estimate.costUsd`); `"free"` counts it as $0 silently.
   */
  unknownModel?: UnknownModelPolicy;
  /**
   * The price of a model without one under `unknownModel: "warn"`. Default $15 input / $75 output per
   * million tokens (the top of common models' prices): conservative, so an unpriced model cannot overspend.
   */
  unknownModelPrice?: { inputPerMTokUsd: number; outputPerMTokUsd: number };
  /** Budgets. Without it the engine still prices and records spend, and enforces nothing. */
  budget?: Omit<CostGuardOptions, "clock" | "events" | "memory">;
  /**
   * Circuit breakers: one per model (`model:<name>`), one per tool (`tool:<name>`), and one per agent
   * (`agent:<id>`). `scope` says which of them record call outcomes: `"target"` (default) trips the model or
   * tool that fails; `"both"` also trips the agent after its own run of failures. The agent breaker is
   * always checked, so `forceOpen` and the SLO action `CIRCUIT_BREAK` stop an agent.
   */
  breakers?: Omit<BreakerRegistryOptions, "clock" | "events"> & { scope?: "target" | "both" };
  /** Fleet-wide tool lists (globs with `*`), merged into each agent's capability profile. */
  tools?: { allow?: string[]; deny?: string[] };
  /** Per-agent policy, keyed by agent id. */
  agents?: Record<string, AgentPolicy>;
  /**
   * Call-rate rules for tool calls (token buckets per agent, tool, agent+tool or fleet). A call over a
   * limit is refused with `RATE_LIMITED` and `retryAfterMs`; a refused attempt still spends its admission.
   */
  rateLimits?: RateLimitRule[];
  timeouts?: TimeoutOptions;
  /** How a throttled agent is slowed down. */
  throttle?: ThrottleOptions;
  /**
   * Rogue-agent detection (on by default). `quarantineAt` quarantines an agent whose risk reaches that
   * level (default `"CRITICAL"`; `"never"` for detection only); `refuseLoops` refuses the K-th identical
   * tool call within one task (or within `loopWindowMs` for calls without a task) with `LOOP_DETECTED`
   * (default true).
   */
  rogue?:
    | false
    | (Omit<RogueDetectorOptions, "clock" | "events"> & {
        quarantineAt?: RiskLevel | "never";
        refuseLoops?: boolean;
      });
  /** SLOs to feed from the pipeline and to act on when their budget is exhausted. */
  slos?: SLO[];
  /** How often (at most) SLOs are evaluated from the hot path. Default 1 s. */
  sloEvaluationIntervalMs?: number;
  /**
   * Which breaker a failed call counts against. Provider-side failures (HTTP 5xx, 429, 408, timeouts,
   * connection errors) count against the target's breaker (`model:<name>`, `tool:<name>`, an MCP upstream),
   * shared by all agents; caller-side failures (other 4xx, validation errors, the agent's own tool errors)
   * count against that agent's breaker (`agent:<id>`) only. Return `undefined` to keep the adapter's
   * classification or the default rule (`defaultClassifyFailure`).
   */
  classifyFailure?: FailureClassifier;
  /** Seed of the chaos RNG (reproducible experiments). */
  chaosSeed?: number;
  /**
   * Retry budgets (on by default): calls an adapter tags as retries (`call.attempt > 1`) are capped per
   * target at `minRetries + ratio × first attempts` over a window; over it → `RETRY_BUDGET_EXCEEDED`.
   * `false` turns them off.
   */
  retryBudget?: RetryBudgetOptions | false;
  /** What to do when a cascade is detected (`breaker.cascade`); default: only the event. */
  cascade?: CascadeResponseOptions;
  /**
   * Bounds on per-agent and per-tool/model state (agent and tool names may come from untrusted input):
   * `{ maxAgents: 100_000, maxTargets: 10_000, idleMs: "1h" }` by default; see the README's "Memory".
   */
  memory?: MemoryOptions;
  /** Where listener errors go. Default: `console.error`. */
  onListenerError?: (error: unknown, event: AgentSREEventName) => void;
  /**
   * Where spend, reservations, kills, throttles, quarantines and breaker states are kept. Default: a
   * `MemoryStore` (this process only, lost on exit). `@agent-sre/store-sqlite` survives restarts;
   * `@agent-sre/store-redis` is shared by a fleet of processes. `budget.store`, if set, wins for the ledger.
   */
  store?: Store;
}
