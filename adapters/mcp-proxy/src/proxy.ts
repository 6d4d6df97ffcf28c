import {
  AlertManager,
  type AlertManagerOptions,
  type AlertManagerStatus,
  type AlertOutboxStore,
  type AlertsConfig,
} from "@agent-sre/alerts";
import * as core from "@agent-sre/core";
import {
  AgentSRE,
  type AgentSREOptions,
  type AgentSREStatus,
  type ChaosRunStore,
  type ChaosScheduler,
  compileGlob,
  type Duration,
  parseDuration,
  Recorder,
} from "@agent-sre/core";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { Implementation } from "@modelcontextprotocol/sdk/types.js";
import { type AuditSink, DEFAULT_REDACT_KEYS, JsonlAuditLog } from "./audit.js";
import { buildExperiment, buildScheduler, type ProxyConfig, type UpstreamSpec } from "./config/load.js";
import type { AgentSreSection, DriftPolicy } from "./config/schema.js";
import { ProxyDelivery, type ProxyDeliveryOptions } from "./delivery.js";
import { DriftGuard, type DriftReport } from "./drift.js";
import { type HttpListener, type HttpListenOptions, listenHttp } from "./http.js";
import { createLogger, type Logger } from "./logger.js";
import { LoopPolicy, type LoopPolicyOptions } from "./loops.js";
import { ProxyMetrics } from "./metrics.js";
import type { ProxyContext, ResolvedIdentity, UpstreamPlan } from "./proxy-context.js";
import { buildRecorder, recorderOptions } from "./record.js";
import { redactUrl } from "./redact.js";
import { ProxySession } from "./session.js";
import { SharedUpstreams } from "./shared.js";
import {
  DEFAULT_SUPERVISION,
  type SupervisionOptions,
  type UpstreamConnection,
  type UpstreamState,
  type UpstreamTransportSpec,
} from "./upstream.js";
import { type PooledFetch, pooledFetch } from "./upstream-fetch.js";
import { VERSION } from "./version.js";

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

/**
 * An MCP proxy in front of one or more upstream servers. Every `tools/call` goes through the Agent SRE
 * engine (allow/deny, loop detection, budgets, breakers, chaos, timeouts); everything else is relayed
 * untouched. Serve clients with `connect(transport)` (stdio, in-memory, any SDK transport) and/or
 * `listen({ port })` (Streamable HTTP with `/status` and `/metrics`).
 */
export class McpProxy {
  readonly sre: AgentSRE;
  readonly drift: DriftGuard;
  readonly metrics: ProxyMetrics;
  readonly logger: Logger;
  readonly sessions = new Set<ProxySession>();
  /** Scheduled chaos (`chaos.schedules`), if any. */
  readonly scheduler: ChaosScheduler | undefined;
  /** Alert delivery, when configured: engine events and tool drift become pages and messages. */
  readonly alerts: AlertManager | undefined;
  /** Records tool calls into traces, when `record` is set. */
  readonly recorder: Recorder | undefined;
  /** The upstream-version rollouts (`delivery` option), if any; decisions live in `sre.delivery`. */
  readonly delivery: ProxyDelivery | undefined;

  readonly #context: ProxyContext;
  readonly #audit: AuditSink | undefined;
  readonly #collisions = new Map<string, { name: string; kept: string; dropped: string }>();
  readonly #listeners = new Map<keyof ProxyEvents, Set<(payload: never) => void>>();
  readonly #http = new Set<HttpListener>();
  readonly #plans: UpstreamPlan[];
  readonly #shared: SharedUpstreams;
  readonly #pool: PooledFetch;
  #closing: Promise<void> | undefined;

  constructor(options: McpProxyOptions) {
    if (!Array.isArray(options.upstreams) || options.upstreams.length === 0) {
      throw new core.ConfigError("upstreams", options.upstreams, "at least one upstream");
    }
    const names = new Set<string>();
    for (const upstream of options.upstreams) {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(upstream.name)) {
        throw new core.ConfigError("upstreams[].name", upstream.name, "1-64 characters of [A-Za-z0-9_.-]");
      }
      if (names.has(upstream.name))
        throw new core.ConfigError("upstreams[].name", upstream.name, "a unique name");
      names.add(upstream.name);
    }
    this.logger = options.logger ?? createLogger("info");
    this.sre =
      options.sre instanceof AgentSRE
        ? options.sre
        : new AgentSRE({
            ...proxyEngineOptions(options.sre),
            ...(options.store === undefined ? {} : { store: options.store }),
          });
    const sre = this.sre;

    const policies: Record<string, DriftPolicy> = {};
    for (const upstream of options.upstreams)
      if (upstream.drift !== undefined) policies[upstream.name] = upstream.drift;
    this.drift = new DriftGuard({
      policies,
      ...(options.drift?.policy === undefined ? {} : { policy: options.drift.policy }),
      ...(options.drift?.pinFile === undefined ? {} : { pinFile: options.drift.pinFile }),
      now: () => sre.clock.now(),
      onReport: (report) => this.#onDrift(report),
    });

    const audit = options.audit;
    let redactKeys: readonly string[] = DEFAULT_REDACT_KEYS;
    if (audit === undefined || audit === false) this.#audit = undefined;
    else if ("write" in audit) this.#audit = audit;
    else {
      this.#audit = new JsonlAuditLog(audit.file, {
        onError: (e) => this.logger.error(`audit log: ${e.message}`),
      });
      if (audit.redactKeys !== undefined)
        redactKeys = [...DEFAULT_REDACT_KEYS, ...audit.redactKeys.map((k) => k.toLowerCase())];
    }

    this.recorder = buildRecorder(options.record, sre, this.logger);
    this.#plans = this.#planUpstreams(options);
    this.delivery =
      options.delivery === undefined
        ? undefined
        : new ProxyDelivery(
            sre.delivery ?? new core.Delivery(sre),
            options.delivery,
            this.#plans,
            this.logger,
          );
    this.metrics = new ProxyMetrics(
      sre,
      () => this.#upstreamUp(),
      () => this.sessions.size,
    );
    const supervision = resolveSupervision(options.supervision);
    this.#pool = pooledFetch(options.upstreamSockets);
    this.#shared = new SharedUpstreams({
      fetch: this.#pool.fetchFor,
      clientInfo: { name: "agent-sre-mcp-proxy", version: VERSION },
      clock: sre.clock,
      logger: this.logger,
      supervision,
      stateChanged: (connection, state) => {
        if (state === "ready" && connection.restarts > 0) this.metrics.restart(connection.name);
        this.#emit("upstream.state", {
          session: "shared",
          server: connection.name,
          state,
          error: connection.lastError,
        });
      },
    });
    const identity: ResolvedIdentity = {
      header: (options.identity?.header ?? "x-agent-sre-agent").toLowerCase(),
      metaKey: options.identity?.metaKey ?? "io.github.agent-sre/agent",
      taskHeader: (options.identity?.taskHeader ?? "x-agent-sre-task").toLowerCase(),
      taskMetaKey: options.identity?.taskMetaKey ?? "io.github.agent-sre/task",
      default: options.identity?.default ?? "client",
    };
    this.#context = {
      sre,
      logger: this.logger,
      drift: this.drift,
      metrics: this.metrics,
      audit: this.#audit,
      redactKeys,
      upstreams: this.#plans,
      serverInfo: options.serverInfo ?? { name: "agent-sre-mcp-proxy", version: VERSION },
      supervision,
      identity,
      hideDenied: options.tools?.hideDenied ?? true,
      errorsAreFailures: options.tools?.errorsAreFailures ?? true,
      loops: new LoopPolicy(options.loops ?? {}, sre.clock),
      shared: this.#shared,
      upstreamFetch: this.#pool.fetchFor,
      recorder: this.recorder,
      delivery: this.delivery,
      reportCollision: (name, kept, dropped) => {
        const key = `${name}\u0000${dropped}`;
        if (this.#collisions.has(key)) return;
        this.#collisions.set(key, { name, kept, dropped });
        this.logger.warn(
          `name collision: "${name}" from "${dropped}" is hidden ("${kept}" has it); give "${dropped}" a prefix`,
        );
      },
      upstreamStateChanged: (session, connection, state) => {
        if (state === "ready" && connection.restarts > 0) this.metrics.restart(connection.name);
        this.#emit("upstream.state", {
          session: session.id,
          server: connection.name,
          state,
          error: connection.lastError,
        });
      },
    };

    for (const experiment of options.chaos?.experiments ?? [])
      sre.startExperiment(buildExperiment(experiment));
    const chaos = options.chaos;
    if (chaos?.schedules !== undefined && chaos.schedules.length > 0) {
      this.scheduler = buildScheduler(sre, chaos, chaos.store);
      this.scheduler
        .start()
        .catch((error: unknown) => this.logger.error(`chaos scheduler: ${String(error)}`));
    }

    if (options.alerts instanceof AlertManager) {
      this.alerts = options.alerts;
      this.alerts.attach(sre);
    } else if (options.alerts !== undefined) {
      const store = options.alerts.store ?? options.alertStore;
      this.alerts = new AlertManager({ ...options.alerts, sre, ...(store === undefined ? {} : { store }) });
    }
  }

  /** Serves one client over `transport` (unstarted). Resolves once the transport is listening. */
  async connect(transport: Transport): Promise<ProxySession> {
    if (this.#closing !== undefined) throw new Error("the proxy is closed");
    const session = new ProxySession(this.#context, transport, (closed) => {
      if (this.sessions.delete(closed)) this.#emit("session.close", { session: closed.id });
      // The session's own run (its agent, no task) ends with it; task runs end when idle or at close.
      this.recorder?.endRun(closed.defaultAgentId);
    });
    this.sessions.add(session);
    await session.open();
    this.#emit("session.open", { session: session.id });
    return session;
  }

  /** Serves Streamable HTTP (plus `/status`, `/metrics`, `/healthz`) on 127.0.0.1 unless told otherwise. */
  async listen(options: HttpListenOptions = {}): Promise<HttpListener> {
    const listener = await listenHttp(this, options);
    this.#http.add(listener);
    return listener;
  }

  /** Accepts an upstream's current tool definitions as the new pins (drift `block`/`freeze`). */
  approveTools(server: string, tool?: string): void {
    const connection = [...this.sessions]
      .flatMap((s) => s.connections)
      .find((c) => c.name === server && c.ready);
    if (connection === undefined) throw new Error(`no connected session of upstream "${server}"`);
    this.drift.approve(server, connection.tools, tool);
    for (const session of this.sessions) {
      for (const c of session.connections) if (c.name === server) void c.refreshTools();
    }
  }

  on<K extends keyof ProxyEvents>(event: K, listener: (payload: ProxyEvents[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  status(): ProxyStatus {
    const sessions = [...this.sessions].map((session) => ({
      id: session.id,
      client: session.clientInfo?.name ?? null,
      agent: session.defaultAgentId,
      tools: session.tools.length,
      upstreams: Object.fromEntries(session.connections.map((c) => [c.name, c.state])),
    }));
    const upstreams: UpstreamStatus[] = this.#plans.map((plan) => {
      // A shared connection serves many sessions: count it once.
      const connections = [
        ...new Set([...this.sessions].flatMap((s) => s.connections.filter((c) => c.name === plan.spec.name))),
      ];
      const states: Partial<Record<UpstreamState, number>> = {};
      for (const c of connections) states[c.state] = (states[c.state] ?? 0) + 1;
      const latest = connections.at(-1);
      let failed: UpstreamConnection | undefined;
      for (const c of connections) {
        if (c.lastErrorAtMs !== undefined && (failed?.lastErrorAtMs ?? -1) <= c.lastErrorAtMs) failed = c;
      }
      return {
        server: plan.spec.name,
        transport: describeTransport(plan.spec.transport),
        shared: plan.spec.shared === true,
        states,
        tools: latest?.tools.length ?? 0,
        restarts: connections.reduce((sum, c) => sum + c.restarts, 0),
        lastError: failed?.lastError ?? null,
        lastErrorAt:
          failed?.lastErrorAtMs === undefined ? null : new Date(failed.lastErrorAtMs).toISOString(),
        breaker: plan.breaker.state,
        drift: this.drift.policyFor(plan.spec.name),
      };
    });
    return {
      version: VERSION,
      sessions,
      upstreams,
      collisions: [...this.#collisions.values()],
      drift: this.drift.snapshot(),
      sre: this.sre.status(),
      ...(this.alerts === undefined ? {} : { alerts: this.alerts.status() }),
    };
  }

  /** Closes every session (and its upstream sessions), every HTTP listener, and flushes the audit log. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closing = (async () => {
      this.scheduler?.stop("the proxy is shutting down");
      await Promise.all([...this.#http].map((listener) => listener.close()));
      await Promise.all([...this.sessions].map((session) => session.close()));
      await this.#shared.close();
      this.#pool.close();
      await this.#audit?.close();
      this.recorder?.flush();
      await this.recorder?.drain();
      await this.alerts?.close();
    })();
    return this.#closing;
  }

  #emit<K extends keyof ProxyEvents>(event: K, payload: ProxyEvents[K]): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        (listener as (p: ProxyEvents[K]) => void)(payload);
      } catch (error) {
        this.logger.error(`listener for "${event}" threw: ${String(error)}`);
      }
    }
  }

  #onDrift(report: DriftReport): void {
    this.metrics.drift(report.server, report.severity);
    const summary = report.changes
      .map((c) => `${c.tool}: ${c.kind} (${c.severity}: ${c.details.join("; ")})`)
      .join(", ");
    const log = report.severity === "info" ? this.logger.info : this.logger.warn;
    log(`tool drift on "${report.server}" [${report.severity}, ${report.action}]: ${summary}`);
    this.#emit("drift", report);
    this.alerts?.observeDrift(report);
  }

  #upstreamUp(): Array<{ server: string; up: number }> {
    return this.#plans.map((plan) => ({
      server: plan.spec.name,
      up: new Set(
        [...this.sessions].flatMap((s) =>
          s.connections.filter((c: UpstreamConnection) => c.name === plan.spec.name && c.ready),
        ),
      ).size,
    }));
  }

  #planUpstreams(options: McpProxyOptions): UpstreamPlan[] {
    const mode = options.naming?.prefix ?? "auto";
    const separator = options.naming?.separator ?? "__";
    const many = options.upstreams.length > 1;
    const globalCosts = compileCosts(options.tools?.costs);
    const globalTimeout =
      options.tools?.timeoutMs === undefined
        ? undefined
        : parseDuration(options.tools.timeoutMs, "tools.timeoutMs", { allowZero: true });
    return options.upstreams.map((upstream) => {
      const prefix = upstream.prefix ?? (mode === "always" || (mode === "auto" && many) ? upstream.name : "");
      const allow = upstream.tools?.allow?.map(compileGlob);
      const deny = upstream.tools?.deny?.map(compileGlob);
      const serverCosts = compileCosts(upstream.tools?.costs);
      return {
        spec: upstream,
        prefix,
        exposedName:
          prefix === "" ? (name: string) => name : (name: string) => `${prefix}${separator}${name}`,
        visible: (name: string) =>
          (allow === undefined || allow.some((m) => m(name))) && !(deny?.some((m) => m(name)) ?? false),
        costFor: (name: string, exposed: string) => serverCosts(name) ?? globalCosts(exposed),
        timeoutMs: upstream.timeoutMs ?? globalTimeout,
        isErrorClass: upstream.isErrorClass ?? options.tools?.isErrorClass ?? "caller",
        breaker: this.sre.breakers.get(`upstream:${upstream.name}`),
        breakers: [`upstream:${upstream.name}`],
      };
    });
  }
}

/** Builds a proxy from a validated config file (`loadConfigFile`). */
export function createProxyFromConfig(
  config: ProxyConfig,
  overrides: Partial<McpProxyOptions> = {},
): McpProxy {
  const section = config.agentSre;
  const options: McpProxyOptions = { upstreams: config.upstreams, sre: engineOptionsFromConfig(config) };
  if (section.naming !== undefined) options.naming = section.naming;
  const tools: NonNullable<McpProxyOptions["tools"]> = {};
  if (section.tools?.costs !== undefined) tools.costs = section.tools.costs;
  if (section.tools?.timeoutMs !== undefined) tools.timeoutMs = section.tools.timeoutMs;
  if (section.tools?.hideDenied !== undefined) tools.hideDenied = section.tools.hideDenied;
  if (section.tools?.errorsAreFailures !== undefined)
    tools.errorsAreFailures = section.tools.errorsAreFailures;
  if (section.tools?.isErrorClass !== undefined) tools.isErrorClass = section.tools.isErrorClass;
  options.tools = tools;
  if (section.drift !== undefined) options.drift = section.drift;
  if (section.audit !== undefined && section.audit !== false) options.audit = section.audit;
  if (section.record !== undefined && section.record !== false) {
    // The section is the recorded config: `agent-sre replay` replays a trace under it by default.
    options.record = new Recorder({
      ...recorderOptions(section.record),
      config: section,
      source: "mcp-proxy",
    });
  }
  if (section.identity !== undefined) options.identity = section.identity;
  if (section.supervision !== undefined) options.supervision = section.supervision;
  if (section.chaos !== undefined) options.chaos = section.chaos;
  // Validated (and its ${VAR}s expanded) by the loader; the AlertManager checks it again.
  if (section.alerts !== undefined) options.alerts = section.alerts as AlertsConfig;
  if (section.loops !== undefined) options.loops = section.loops;
  // Validated by the loader (every problem with its path).
  if (section.delivery !== undefined) options.delivery = section.delivery as unknown as ProxyDeliveryOptions;
  return new McpProxy({ ...options, ...overrides });
}

/** The engine options of a validated config's `agentSre` section (what the proxy's engine is built from). */
export function engineOptionsFromConfig(config: ProxyConfig): AgentSREOptions {
  const section = config.agentSre;
  const sreOptions: AgentSREOptions = {};
  if (section.budgets !== undefined) sreOptions.budget = section.budgets as AgentSREOptions["budget"];
  if (section.breakers !== undefined) sreOptions.breakers = section.breakers as AgentSREOptions["breakers"];
  if (section.rogue !== undefined) sreOptions.rogue = section.rogue as AgentSREOptions["rogue"];
  if (section.agents !== undefined) sreOptions.agents = section.agents;
  if (section.rateLimits !== undefined) sreOptions.rateLimits = section.rateLimits;
  if (section.tools?.allow !== undefined || section.tools?.deny !== undefined) {
    sreOptions.tools = {};
    if (section.tools.allow !== undefined) sreOptions.tools.allow = section.tools.allow;
    if (section.tools.deny !== undefined) sreOptions.tools.deny = section.tools.deny;
  }
  if (section.chaos?.seed !== undefined) sreOptions.chaosSeed = section.chaos.seed;
  if (section.retryBudget !== undefined) sreOptions.retryBudget = section.retryBudget;
  if (section.cascade !== undefined) sreOptions.cascade = section.cascade as AgentSREOptions["cascade"];
  return sreOptions;
}

/** The engine options the proxy builds an engine from: loops are refused by the proxy's `LoopPolicy`. */
function proxyEngineOptions(options: AgentSREOptions | undefined): AgentSREOptions {
  const out: AgentSREOptions = { ...(options ?? {}) };
  if (out.rogue !== false) out.rogue = { refuseLoops: false, ...(out.rogue ?? {}) };
  return out;
}

function compileCosts(costs: Record<string, number> | undefined): (name: string) => number | undefined {
  if (costs === undefined) return () => undefined;
  const exact = new Map<string, number>();
  const patterns: Array<{ match: (name: string) => boolean; cost: number; length: number }> = [];
  for (const [pattern, cost] of Object.entries(costs)) {
    if (!Number.isFinite(cost) || cost < 0)
      throw new core.ConfigError(`tools.costs["${pattern}"]`, cost, "a price >= 0");
    if (pattern.includes("*")) patterns.push({ match: compileGlob(pattern), cost, length: pattern.length });
    else exact.set(pattern, cost);
  }
  // The most specific (longest) pattern wins.
  patterns.sort((a, b) => b.length - a.length);
  return (name) => exact.get(name) ?? patterns.find((p) => p.match(name))?.cost;
}

function resolveSupervision(options: McpProxyOptions["supervision"]): SupervisionOptions {
  const out: SupervisionOptions = { ...DEFAULT_SUPERVISION };
  if (options === undefined) return out;
  for (const key of ["initialDelayMs", "maxDelayMs", "startupTimeoutMs", "stableAfterMs"] as const) {
    const value = options[key];
    if (value !== undefined) out[key] = parseDuration(value, `supervision.${key}`);
  }
  if (options.multiplier !== undefined) {
    if (!(options.multiplier >= 1))
      throw new core.ConfigError("supervision.multiplier", options.multiplier, "a number >= 1");
    out.multiplier = options.multiplier;
  }
  return out;
}

function describeTransport(spec: UpstreamTransportSpec): string {
  switch (spec.type) {
    case "stdio":
      return `stdio: ${[spec.command, ...spec.args].join(" ")}`;
    case "custom":
      return "custom";
    default:
      return `${spec.type}: ${redactUrl(spec.url)}`;
  }
}
