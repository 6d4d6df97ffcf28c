import type {
  AlertManager,
  AlertManagerOptions,
  AlertManagerStatus,
  AlertOutboxStore,
} from "@agent-sre/alerts";
import type * as core from "@agent-sre/core";
import type {
  AgentSRE,
  AgentSREOptions,
  AgentSREStatus,
  ChaosRunStore,
  Duration,
  Recorder,
} from "@agent-sre/core";
import type { Implementation } from "@modelcontextprotocol/sdk/types.js";
import type { AuditSink } from "./audit.js";
import type { UpstreamSpec } from "./config/load.js";
import type { AgentSreSection, DriftPolicy } from "./config/schema.js";
import type { ProxyDeliveryOptions } from "./delivery.js";
import type { DriftGuard, DriftReport } from "./drift.js";
import type { Logger } from "./logger.js";
import type { LoopPolicyOptions } from "./loops.js";
import type { ResolvedIdentity } from "./proxy-context.js";
import type { SupervisionOptions, UpstreamState, UpstreamTransportSpec } from "./upstream-types.js";

// The options, status and events of `McpProxy` (proxy.ts), apart from the class so each file stays readable.

/** One upstream for the programmatic API: a config entry, or a custom transport (e.g. in-memory). */
export interface ProxyUpstream extends Omit<UpstreamSpec, "transport"> {
  transport: UpstreamTransportSpec;
}

export interface McpProxyOptions {
  upstreams: ProxyUpstream[];
  /**
   * The engine, or options to build one (default: a fresh engine with default options). Every policy lives
   * here: `tools` allow/deny, `agents`, `budget`, `breakers`, `rateLimits`, `rogue`, `timeouts`, `slos`.
   */
  sre?: AgentSRE | AgentSREOptions;
  /**
   * Where the engine keeps spend, kills, quarantines and breaker states when `sre` is options (see
   * `AgentSREOptions.store`): e.g. a `SqliteStore` so a restart keeps them. The caller closes it.
   */
  store?: core.Store;
  naming?: {
    /** `auto` (default): prefix names with `<server><separator>` only when there is more than one upstream. */
    prefix?: "auto" | "always" | "never";
    separator?: string;
  };
  tools?: {
    /** Price per call in USD, by glob over the exposed names. */
    costs?: Record<string, number>;
    /** Timeout of every tool call (ms or `"30s"`; 0 = none). Default: none (the engine's `timeouts.toolMs`). */
    timeoutMs?: Duration;
    /** Hide tools an agent may not call from its tools/list (default true). */
    hideDenied?: boolean;
    /** Count `isError` results and upstream protocol errors as breaker failures (default true). */
    errorsAreFailures?: boolean;
    /**
     * Whose failure an `isError` tool result is (core's `FailureClass`): `"caller"` (default) — the tool
     * answered about the calling agent's request (bad arguments, not found, not permitted): it counts against
     * that agent's breaker (`agent:<id>`) only, so one agent's mistakes never open `tool:<name>` for the
     * others; `"provider"` — the tool itself is failing (servers that report their own outages as `isError`):
     * the shared `tool:<name>` breaker; `"ignore"` — no breaker. Per server: `isErrorClass` on the upstream.
     */
    isErrorClass?: core.FailureClass;
  };
  drift?: { policy?: DriftPolicy; pinFile?: string };
  /** Audit: a JSONL file, any sink, or `false` (default: none). */
  audit?: { file: string; redactKeys?: string[] } | AuditSink | false;
  identity?: Partial<ResolvedIdentity>;
  supervision?: Partial<Record<keyof SupervisionOptions, Duration>> & { multiplier?: number };
  /**
   * Chaos: experiments started with the proxy, and recurring ones on cron schedules with blackout windows
   * (the `agentSre.chaos` section; `store` keeps the run history, default in memory).
   */
  chaos?: NonNullable<AgentSreSection["chaos"]> & { store?: ChaosRunStore };
  /** Alert delivery (`agentSre.alerts`): an AlertManager, or its options (attached to `sre`). */
  alerts?: AlertManager | Omit<AlertManagerOptions, "sre">;
  /**
   * Where the AlertManager built from `alerts` options keeps its outbox, dead letters and alert state when
   * they name no `store` of their own: e.g. `SqliteStore.alertOutbox()`, so queued pages survive a restart
   * (the CLI does this with its state file). The caller closes it.
   */
  alertStore?: AlertOutboxStore;
  /**
   * Which repeated identical calls are refused as loops (default: within a task only, so clients that poll
   * a tool are not blocked; see `LoopScope`). When the proxy builds the engine it turns the engine's own
   * per-agent loop refusal off in favour of this policy; an engine you pass keeps its own settings.
   */
  loops?: LoopPolicyOptions;
  /**
   * Most connections kept to each Streamable HTTP upstream origin, shared by every session (default 64).
   * Requests beyond it queue in the proxy instead of opening a socket each.
   */
  upstreamSockets?: number;
  /**
   * Record each run's tool calls as traces: a `Recorder`, or the `agentSre.record` section (traces written
   * to `dir`, one JSON Lines file per run). Runs are keyed by agent and task; each ends when its session
   * closes, after `runIdleMs` without calls, or when the proxy closes.
   */
  record?: Recorder | NonNullable<Exclude<AgentSreSection["record"], false>>;
  /**
   * Progressive delivery of upstream server versions (`agentSre.delivery`): rollouts whose variants name two
   * upstreams; clients see the baseline's tools, and calls are routed to the candidate's for the tasks it is
   * assigned. Added to the engine's `Delivery` (`sre.delivery`, created when absent).
   */
  delivery?: ProxyDeliveryOptions;
  /** Server info advertised when aggregating (a single upstream's own info is passed through). */
  serverInfo?: Implementation;
  logger?: Logger;
}

export interface UpstreamStatus {
  server: string;
  transport: string;
  /** Sessions per connection state. */
  states: Partial<Record<UpstreamState, number>>;
  tools: number;
  restarts: number;
  /** One connection shared by every session (`x-agentSre.shared`). */
  shared: boolean;
  /** The latest failure of any session's connection (kept after recovery; URL credentials masked). */
  lastError: string | null;
  /** When `lastError` happened (ISO 8601), or null. */
  lastErrorAt: string | null;
  breaker: string;
  drift: DriftPolicy;
}

export interface ProxyStatus {
  version: string;
  sessions: Array<{
    id: string;
    client: string | null;
    agent: string;
    tools: number;
    upstreams: Record<string, UpstreamState>;
  }>;
  upstreams: UpstreamStatus[];
  collisions: Array<{ name: string; kept: string; dropped: string }>;
  drift: ReturnType<DriftGuard["snapshot"]>;
  sre: AgentSREStatus;
  /** Present when alerts are configured (secrets redacted). */
  alerts?: AlertManagerStatus;
}

export interface ProxyEvents {
  drift: DriftReport;
  "upstream.state": { session: string; server: string; state: UpstreamState; error: string | undefined };
  "session.open": { session: string };
  "session.close": { session: string };
}
