import { randomUUID } from "node:crypto";
import type { AgentRef } from "@agent-sre/core";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  type ClientCapabilities,
  ErrorCode,
  type Implementation,
  type JSONRPCMessage,
  type JSONRPCRequest,
  McpError,
  type Notification,
  type ServerCapabilities,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { AuditOutcome } from "./audit.js";
import { agentIdOf } from "./caller.js";
import { UpstreamCatalog } from "./catalog.js";
import type { DriftReview } from "./drift.js";
import { type Extra, forward, type Params, paramsForUpstream } from "./forwarding.js";
import { FrontServer, HandshakeTransport } from "./front.js";
import type { ProxyContext, UpstreamPlan } from "./proxy-context.js";
import { callTool, type ToolRoute } from "./tool-call.js";
import { UpstreamConnection } from "./upstream.js";
import type { UpstreamHooks } from "./upstream-types.js";
import { methodNotFound, NO_TIMEOUT_MS, PASSTHROUGH, plainMessage, toWireError } from "./wire.js";

export type { ToolRoute } from "./tool-call.js";

let sessionCounter = 0;

/**
 * One client session: a front `Server` for the client and one supervised upstream session per configured
 * server (so sampling, elicitation, roots, log levels and subscriptions stay per client, and closing the
 * client's session closes the upstream sessions).
 */
export class ProxySession {
  readonly id: string;
  readonly index: number;
  clientInfo: Implementation | undefined;
  clientCapabilities: ClientCapabilities = {};
  /** The agent id calls are attributed to unless a header or `_meta` field names another. */
  defaultAgentId = "mcp-client";
  /** `defaultAgentId` bound once for this session (one ref a session, not one per id a call names). */
  #defaultAgentRef: AgentRef | undefined;
  readonly connections: UpstreamConnection[] = [];
  lastActivityMs: number;

  readonly #ctx: ProxyContext;
  readonly #transport: Transport;
  readonly #handshake: HandshakeTransport;
  #server: FrontServer | undefined;
  #frontReady = false;
  #held: Array<{ notification: Notification; connection: UpstreamConnection }> = [];
  #routes = new Map<string, ToolRoute>();
  #listed: Tool[] = [];
  #reviews = new Map<string, DriftReview>();
  readonly #catalog: UpstreamCatalog;
  #closed = false;
  #closing: Promise<void> | undefined;
  #started = false;
  readonly #onClosed: (session: ProxySession) => void;
  readonly #planByName: Map<string, UpstreamPlan>;

  constructor(ctx: ProxyContext, transport: Transport, onClosed: (session: ProxySession) => void) {
    this.#ctx = ctx;
    this.#transport = transport;
    this.#onClosed = onClosed;
    this.index = ++sessionCounter;
    this.id = transport.sessionId ?? `session-${this.index}-${randomUUID().slice(0, 8)}`;
    this.lastActivityMs = ctx.sre.clock.now();
    this.#planByName = new Map(ctx.upstreams.map((plan) => [plan.spec.name, plan]));
    this.#catalog = new UpstreamCatalog(ctx, {
      connections: this.connections,
      single: () => this.#single(),
      plan: (server) => this.#planByName.get(server),
      forward: (connection, method, params, extra) =>
        forward(connection, method, params, extra, ctx.identity),
    });
    this.#handshake = new HandshakeTransport(
      transport,
      (message) => void this.#bootstrap(message),
      () => void this.close(),
    );
  }

  /** Starts the client transport; the session then waits for the client's `initialize`. */
  async open(): Promise<void> {
    await this.#transport.start();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The session's default agent, bound at its first call (the id is known once the client has introduced
   * itself): its calls reach the agent's state without the engine's lookup by id.
   */
  get defaultAgentRef(): AgentRef {
    const ref = this.#defaultAgentRef;
    if (ref !== undefined && ref.agentId === this.defaultAgentId) return ref;
    this.#defaultAgentRef = this.#ctx.sre.agentRef(this.defaultAgentId);
    return this.#defaultAgentRef;
  }

  /** The tools the client sees (before per-agent filtering). */
  get tools(): readonly Tool[] {
    return this.#listed;
  }

  get routes(): ReadonlyMap<string, ToolRoute> {
    return this.#routes;
  }

  /** The transport session id (Streamable HTTP) or the proxy's own id. */
  get transportSessionId(): string | undefined {
    return this.#transport.sessionId;
  }

  async close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closing = (async () => {
      this.#closed = true;
      await Promise.all(
        this.connections.map((connection) =>
          connection.shared ? this.#ctx.shared.release(connection, this.#hooks) : connection.close(),
        ),
      );
      await this.#server?.close().catch(() => {});
      await this.#transport.close().catch(() => {});
      this.#onClosed(this);
    })();
    return this.#closing;
  }

  // -------------------------------------------------------------------------------------------
  // Start-up

  async #bootstrap(first: JSONRPCMessage): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const params =
      "method" in first &&
      first.method === "initialize" &&
      typeof first.params === "object" &&
      first.params !== null
        ? (first.params as Params)
        : {};
    const clientInfo = params.clientInfo as Implementation | undefined;
    this.clientInfo = clientInfo;
    this.clientCapabilities = (params.capabilities as ClientCapabilities | undefined) ?? {};
    const clientName =
      typeof clientInfo?.name === "string" && clientInfo.name !== "" ? clientInfo.name : "mcp-client";
    this.defaultAgentId =
      this.#ctx.identity.default === "session" ? `${clientName}#${this.index}` : clientName;

    // The client's sampling/elicitation/roots support is passed upstream; tasks are not relayed.
    const { tasks: _tasks, ...upstreamCapabilities } = this.clientCapabilities as ClientCapabilities & {
      tasks?: unknown;
    };
    const upstreamClientInfo: Implementation = {
      name: clientName,
      version: typeof clientInfo?.version === "string" ? clientInfo.version : "0.0.0",
    };
    for (const plan of this.#ctx.upstreams) {
      if (plan.spec.shared === true) {
        this.connections.push(this.#ctx.shared.acquire(plan, this.#hooks));
        continue;
      }
      const connection = new UpstreamConnection({
        name: plan.spec.name,
        transport: plan.spec.transport,
        clientInfo: upstreamClientInfo,
        clientCapabilities: upstreamCapabilities,
        clock: this.#ctx.sre.clock,
        logger: this.#ctx.logger,
        supervision: this.#ctx.supervision,
        hooks: this.#hooks,
        pool: this.#ctx.upstreamPool,
      });
      this.connections.push(connection);
    }
    try {
      await Promise.all(this.connections.map((connection) => connection.start()));
      if (this.#closed) return;
      for (const connection of this.connections) this.#review(connection);
      this.#rebuildRoutes(false);
      const server = this.#createServer();
      this.#server = server;
      await server.connect(this.#handshake);
    } catch (error) {
      this.#ctx.logger.error(`session ${this.id}: start failed: ${plainMessage(error)}`);
      await this.close();
    }
  }

  #createServer(): FrontServer {
    const ready = this.connections.filter((c) => c.ready);
    const single = this.#ctx.upstreams.length === 1 ? this.connections[0] : undefined;
    const capabilities: ServerCapabilities = { tools: { listChanged: true } };
    for (const connection of ready) {
      const caps = connection.capabilities ?? {};
      if (caps.logging) capabilities.logging = {};
      if (caps.completions) capabilities.completions = {};
      if (caps.prompts) {
        capabilities.prompts = { ...(capabilities.prompts ?? {}) };
        if (caps.prompts.listChanged) capabilities.prompts.listChanged = true;
      }
      if (caps.resources) {
        capabilities.resources = { ...(capabilities.resources ?? {}) };
        if (caps.resources.listChanged) capabilities.resources.listChanged = true;
        if (caps.resources.subscribe) capabilities.resources.subscribe = true;
      }
      if (caps.experimental)
        capabilities.experimental = { ...(capabilities.experimental ?? {}), ...caps.experimental };
    }
    let serverInfo: Implementation = this.#ctx.serverInfo;
    let instructions: string | undefined;
    if (single !== undefined) {
      if (single.serverInfo !== undefined) serverInfo = single.serverInfo;
      instructions = single.instructions;
    } else {
      const parts = ready.filter((c) => c.instructions).map((c) => `## ${c.name}\n${c.instructions}`);
      if (parts.length > 0) instructions = parts.join("\n\n");
    }
    const server = new FrontServer(serverInfo, {
      capabilities,
      ...(instructions === undefined ? {} : { instructions }),
    });
    // logging/setLevel is forwarded to the upstreams, not answered here.
    server.removeRequestHandler("logging/setLevel");
    // tools/call (nearly every request) without an async frame of its own around callTool's.
    server.fallbackRequestHandler = (request, extra) =>
      request.method === "tools/call" ? this.#callTool(request, extra) : this.#handle(request, extra);
    server.fallbackNotificationHandler = async (notification) => {
      for (const connection of this.connections) {
        // One client's roots or other notifications mean nothing to a server all clients share.
        if (connection.shared) continue;
        await connection.notify(notification).catch((error) => {
          this.#ctx.logger.debug(
            `forwarding ${notification.method} to "${connection.name}" failed: ${plainMessage(error)}`,
          );
        });
      }
    };
    server.oninitialized = () => {
      this.#frontReady = true;
      const held = this.#held;
      this.#held = [];
      for (const { notification, connection } of held) this.#relayNotification(connection, notification);
    };
    server.onclose = () => void this.close();
    server.onerror = (error) => this.#ctx.logger.debug(`session ${this.id}: ${error.message}`);
    return server;
  }

  readonly #hooks: UpstreamHooks = {
    notification: (connection, notification) => {
      if (!this.#frontReady) {
        this.#held.push({ notification, connection });
        return;
      }
      this.#relayNotification(connection, notification);
    },
    request: (connection, request, signal) => this.#relayRequest(connection, request, signal),
    toolsChanged: (connection) => {
      this.#review(connection);
      this.#rebuildRoutes(true);
    },
    stateChanged: (connection, state) => this.#ctx.upstreamStateChanged(this, connection, state),
  };

  // -------------------------------------------------------------------------------------------
  // Routing

  #review(connection: UpstreamConnection): void {
    this.#reviews.set(connection.name, this.#ctx.drift.review(connection.name, connection.tools));
  }

  /** Rebuilds the exposed tool names from every upstream's reviewed tools. */
  #rebuildRoutes(notify: boolean): void {
    const routes = new Map<string, ToolRoute>();
    const listed: Tool[] = [];
    for (const connection of this.connections) {
      const plan = this.#planByName.get(connection.name) as UpstreamPlan;
      const review = this.#reviews.get(connection.name);
      if (review === undefined) continue;
      const add = (tool: Tool, blockedReason: string | undefined) => {
        if (!plan.visible(tool.name)) return;
        const name = plan.exposedName(tool.name);
        const existing = routes.get(name);
        if (existing !== undefined) {
          this.#ctx.reportCollision(name, existing.server, connection.name);
          return;
        }
        const exposed = name === tool.name ? tool : { ...tool, name };
        const route: ToolRoute = {
          name,
          server: connection.name,
          connection,
          upstreamName: tool.name,
          tool: exposed,
          costUsd: plan.costFor(tool.name, name),
          timeoutMs: plan.timeoutMs,
          isErrorClass: plan.isErrorClass,
          breakers: plan.breakers,
          blockedReason,
        };
        routes.set(name, route);
        // A rollout's candidate server is reached only through the rollout, never listed.
        if (blockedReason === undefined && !this.#ctx.delivery?.hidden.has(connection.name))
          listed.push(exposed);
      };
      for (const tool of review.tools) add(tool, undefined);
      for (const tool of connection.tools) {
        const reason = review.blocked.get(tool.name);
        if (reason !== undefined) add(tool, reason);
      }
    }
    this.#ctx.delivery?.checkCompatibility(this.connections);
    const changed = notify && !sameTools(this.#listed, listed);
    this.#routes = routes;
    this.#listed = listed;
    if (changed && this.#frontReady) {
      this.#server?.sendToolListChanged().catch(() => {});
    }
  }

  // -------------------------------------------------------------------------------------------
  // Requests from the client

  #callTool(request: JSONRPCRequest, extra: Extra): Promise<Record<string, unknown>> {
    this.lastActivityMs = this.#ctx.sre.clock.now();
    const params = (request.params ?? {}) as Params;
    return callTool(this.#ctx, this, this.#routes, params, extra) as Promise<Record<string, unknown>>;
  }

  async #handle(request: JSONRPCRequest, extra: Extra): Promise<Record<string, unknown>> {
    this.lastActivityMs = this.#ctx.sre.clock.now();
    const params = (request.params ?? {}) as Params;
    switch (request.method) {
      case "tools/list":
        return this.#listTools(params, extra);
      case "tools/call":
        return (await callTool(this.#ctx, this, this.#routes, params, extra)) as Record<string, unknown>;
      case "prompts/list":
        return this.#catalog.listPrompts(params, extra);
      case "prompts/get":
        return this.#catalog.getPrompt(params, extra);
      case "resources/list":
        return this.#catalog.listResources(params, extra);
      case "resources/templates/list":
        return this.#catalog.listTemplates(params, extra);
      case "resources/read":
      case "resources/subscribe":
      case "resources/unsubscribe": {
        const owner = await this.#catalog.resourceOwner(params.uri, extra);
        return forward(owner, request.method, params, extra, this.#ctx.identity);
      }
      case "completion/complete":
        return this.#catalog.complete(params, extra);
      case "logging/setLevel":
        return this.#catalog.setLevel(params, extra);
      default: {
        const single = this.#single();
        if (single === undefined) throw methodNotFound(request.method);
        return forward(single, request.method, params, extra, this.#ctx.identity);
      }
    }
  }

  #single(): UpstreamConnection | undefined {
    return this.#ctx.upstreams.length === 1 ? this.connections[0] : undefined;
  }

  #listTools(params: Params, extra: Extra): Record<string, unknown> {
    const agentId = agentIdOf(this.#ctx.identity, extra, params._meta, this.defaultAgentId);
    const visible = this.#ctx.hideDenied
      ? this.#listed.filter((tool) => this.#ctx.sre.toolAllowed(agentId, tool.name))
      : this.#listed;
    return { tools: visible };
  }

  // -------------------------------------------------------------------------------------------
  // From the upstreams to the client

  #relayNotification(connection: UpstreamConnection, notification: Notification): void {
    const server = this.#server;
    if (server === undefined || this.#closed) return;
    let message = notification;
    const multi = this.#ctx.upstreams.length > 1;
    if (notification.method === "notifications/message" && multi) {
      const params = (notification.params ?? {}) as { logger?: unknown };
      if (params.logger === undefined)
        message = { ...notification, params: { ...params, logger: connection.name } };
    }
    this.#catalog.listChanged(notification.method);
    // Log messages sent while a call runs go with that call (its SSE stream under Streamable HTTP).
    const related =
      notification.method === "notifications/message" && !connection.shared
        ? lastOf(connection.inFlight)
        : undefined;
    server
      .notification(message as never, related === undefined ? undefined : { relatedRequestId: related })
      .catch(() => server.notification(message as never).catch(() => {}));
  }

  async #relayRequest(
    connection: UpstreamConnection,
    request: JSONRPCRequest,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const server = this.#server;
    if (server === undefined || this.#closed)
      throw new McpError(ErrorCode.InternalError, "the client session is not ready");
    const kind =
      request.method === "sampling/createMessage"
        ? "sampling"
        : request.method === "elicitation/create"
          ? "elicitation"
          : undefined;
    const related = lastOf(connection.inFlight);
    const startedAt = performance.now();
    const time = new Date(this.#ctx.sre.clock.now()).toISOString();
    let outcome: AuditOutcome = "ok";
    try {
      const { params } = paramsForUpstream((request.params ?? {}) as Params, this.#ctx.identity);
      return await server.request({ method: request.method, params } as never, PASSTHROUGH, {
        signal,
        timeout: NO_TIMEOUT_MS,
        ...(related === undefined ? {} : { relatedRequestId: related }),
      });
    } catch (error) {
      outcome = signal.aborted ? "cancelled" : "protocol_error";
      throw toWireError(error);
    } finally {
      if (kind !== undefined && this.#ctx.audit !== undefined) {
        this.#ctx.audit.write({
          time,
          kind,
          agent: this.defaultAgentId,
          session: this.id,
          server: connection.name,
          decision: "allowed",
          outcome,
          latencyMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
          costUsd: 0,
        });
      }
    }
  }
}

function lastOf<T>(set: Set<T>): T | undefined {
  let last: T | undefined;
  for (const item of set) last = item;
  return last;
}

function sameTools(a: readonly Tool[], b: readonly Tool[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return JSON.stringify(a) === JSON.stringify(b);
  return true;
}
