import { AlertManager } from "@agent-sre/alerts";
import * as core from "@agent-sre/core";
import { AgentSRE, type AgentSREOptions, type ChaosScheduler, type Recorder } from "@agent-sre/core";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { type AuditSink, DEFAULT_REDACT_KEYS, JsonlAuditLog } from "./audit.js";
import { buildExperiment, buildScheduler } from "./config/load.js";
import type { DriftPolicy } from "./config/schema.js";
import { ProxyDelivery } from "./delivery.js";
import { DriftGuard, type DriftReport } from "./drift.js";
import { type HttpListener, type HttpListenOptions, listenHttp } from "./http.js";
import { createLogger, type Logger } from "./logger.js";
import { LoopPolicy } from "./loops.js";
import { ProxyMetrics } from "./metrics.js";
import type { ProxyContext, ResolvedIdentity, UpstreamPlan } from "./proxy-context.js";
import type { McpProxyOptions, ProxyEvents, ProxyStatus, UpstreamStatus } from "./proxy-options.js";
import { buildRecorder } from "./record.js";
import { ProxySession } from "./session.js";
import { SharedUpstreams } from "./shared.js";
import type { UpstreamConnection } from "./upstream.js";
import { type PooledFetch, pooledFetch } from "./upstream-fetch.js";
import { describeTransport, planUpstreams, resolveSupervision } from "./upstream-plan.js";
import type { UpstreamState } from "./upstream-types.js";
import { VERSION } from "./version.js";

export type {
  McpProxyOptions,
  ProxyEvents,
  ProxyStatus,
  ProxyUpstream,
  UpstreamStatus,
} from "./proxy-options.js";

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
    this.#plans = planUpstreams(options, this.sre);
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
      pool: this.#pool,
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
      upstreamPool: this.#pool,
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
}

/** The engine options the proxy builds an engine from: loops are refused by the proxy's `LoopPolicy`. */
function proxyEngineOptions(options: AgentSREOptions | undefined): AgentSREOptions {
  const out: AgentSREOptions = { ...(options ?? {}) };
  if (out.rogue !== false) out.rogue = { refuseLoops: false, ...(out.rogue ?? {}) };
  return out;
}
