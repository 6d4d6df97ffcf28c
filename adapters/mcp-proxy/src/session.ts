import { randomUUID } from "node:crypto";
import {
  ChaosInjectedError,
  CircuitOpenError,
  type GuardCall,
  isRefusal,
  LoopDetectedError,
} from "@agent-sre/core";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { UriTemplate } from "@modelcontextprotocol/sdk/shared/uriTemplate.js";
import {
  type CallToolResult,
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
import { type AuditOutcome, type AuditRecord, argumentShape } from "./audit.js";
import type { DriftReview } from "./drift.js";
import { answeredByUpstream, classifyMcpFailure } from "./failure-class.js";
import { FrontServer, HandshakeTransport } from "./front.js";
import type { ProxyContext, UpstreamPlan } from "./proxy-context.js";
import { recordRequest, recordResult } from "./record.js";
import { failureResult, refusalResult } from "./refusal.js";
import {
  UpstreamConnection,
  UpstreamConnectionLostError,
  type UpstreamHooks,
  UpstreamUnavailableError,
} from "./upstream.js";
import {
  invalidParams,
  methodNotFound,
  NO_TIMEOUT_MS,
  PASSTHROUGH,
  plainMessage,
  toWireError,
  WireError,
} from "./wire.js";

// biome-ignore lint/suspicious/noExplicitAny: raw JSON-RPC passthrough
type Extra = RequestHandlerExtra<any, any>;
type Params = Record<string, unknown> & { _meta?: Record<string, unknown> };

/** Where a tool exposed to the client goes. */
export interface ToolRoute {
  /** The name the client uses. */
  readonly name: string;
  readonly server: string;
  readonly connection: UpstreamConnection;
  /** The name the upstream knows. */
  readonly upstreamName: string;
  /** The tool as listed to the client (renamed when prefixed; pinned definition under drift `freeze`). */
  readonly tool: Tool;
  readonly costUsd: number | undefined;
  readonly timeoutMs: number | undefined;
  /** The upstream's own breaker id (`upstream:<server>`), passed to the engine as an extra breaker. */
  readonly breakers: readonly string[];
  /** Set when drift protection holds the tool back: it is not listed and calls are refused. */
  readonly blockedReason: string | undefined;
}

/** A tool result the upstream marked `isError`, carried through the engine as a failure. */
class ToolErrorOutcome extends Error {
  readonly result: CallToolResult;
  constructor(result: CallToolResult) {
    super("tool returned isError");
    this.result = result;
  }
}

/** An upstream JSON-RPC error for tools/call, carried through the engine. */
class ProtocolErrorOutcome extends Error {
  readonly wire: WireError;
  constructor(wire: WireError) {
    super(wire.message);
    this.wire = wire;
  }
}

/**
 * Whether a failed call counts against the upstream's breaker: an `isError` result or a JSON-RPC error is the
 * upstream answering (it is up, a success there); a crash, a lost connection or a timeout is it failing; a fault
 * a chaos experiment injected into one tool says nothing about the server (neither).
 */
function upstreamFailure(error: unknown): boolean | undefined {
  if (error instanceof ChaosInjectedError) return undefined;
  return !(error instanceof ToolErrorOutcome || error instanceof ProtocolErrorOutcome);
}

const PROTOCOL_ERROR = Symbol("protocol-error");
type ForwardResult = CallToolResult | { [PROTOCOL_ERROR]: WireError };

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
  #promptRoutes = new Map<string, { connection: UpstreamConnection; name: string }>();
  #resourceRoutes = new Map<string, UpstreamConnection>();
  #templates = new Map<UpstreamConnection, UriTemplate[]>();
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
        fetch: this.#ctx.upstreamFetch,
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
    server.fallbackRequestHandler = (request, extra) => this.#handle(request, extra);
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
          breakers: plan.breakers,
          blockedReason,
        };
        routes.set(name, route);
        if (blockedReason === undefined) listed.push(exposed);
      };
      for (const tool of review.tools) add(tool, undefined);
      for (const tool of connection.tools) {
        const reason = review.blocked.get(tool.name);
        if (reason !== undefined) add(tool, reason);
      }
    }
    const changed = notify && !sameTools(this.#listed, listed);
    this.#routes = routes;
    this.#listed = listed;
    if (changed && this.#frontReady) {
      this.#server?.sendToolListChanged().catch(() => {});
    }
  }

  // -------------------------------------------------------------------------------------------
  // Requests from the client

  async #handle(request: JSONRPCRequest, extra: Extra): Promise<Record<string, unknown>> {
    this.lastActivityMs = this.#ctx.sre.clock.now();
    const params = (request.params ?? {}) as Params;
    switch (request.method) {
      case "tools/list":
        return this.#listTools(params, extra);
      case "tools/call":
        return (await this.#callTool(params, extra)) as Record<string, unknown>;
      case "prompts/list":
        return this.#listPrompts(params, extra);
      case "prompts/get":
        return this.#getPrompt(params, extra);
      case "resources/list":
        return this.#listResources(params, extra);
      case "resources/templates/list":
        return this.#listTemplates(params, extra);
      case "resources/read":
      case "resources/subscribe":
      case "resources/unsubscribe":
        return this.#forward(await this.#resourceOwner(params.uri, extra), request.method, params, extra);
      case "completion/complete":
        return this.#complete(params, extra);
      case "logging/setLevel":
        return this.#setLevel(params, extra);
      default: {
        const single = this.#single();
        if (single === undefined) throw methodNotFound(request.method);
        return this.#forward(single, request.method, params, extra);
      }
    }
  }

  #single(): UpstreamConnection | undefined {
    return this.#ctx.upstreams.length === 1 ? this.connections[0] : undefined;
  }

  #listTools(params: Params, extra: Extra): Record<string, unknown> {
    const agentId = this.#agentId(extra, params._meta);
    const visible = this.#ctx.hideDenied
      ? this.#listed.filter((tool) => this.#ctx.sre.toolAllowed(agentId, tool.name))
      : this.#listed;
    return { tools: visible };
  }

  /**
   * Forwards a request to one upstream and returns its result untouched. Progress is relayed with the
   * client's token; a cancelled request is cancelled upstream; no SDK timeout is imposed.
   */
  async #forward(
    connection: UpstreamConnection,
    method: string,
    params: Params,
    extra: Extra,
  ): Promise<Record<string, unknown>> {
    const { params: upstreamParams, progressToken } = this.#upstreamParams(params);
    const relay = progressToken === undefined ? undefined : new ProgressRelay(progressToken, extra);
    try {
      const result = await connection.request(method, upstreamParams, {
        signal: extra.signal,
        timeout: NO_TIMEOUT_MS,
        ...(relay === undefined ? {} : { onprogress: relay.onprogress }),
      });
      await relay?.flushed();
      return result;
    } catch (error) {
      if (error instanceof UpstreamUnavailableError || error instanceof UpstreamConnectionLostError) {
        throw new WireError(
          ErrorCode.InternalError,
          `${error.message}; retry after ${Math.ceil(error.retryAfterMs / 1000)} s`,
          {
            retryAfterMs: Math.ceil(error.retryAfterMs),
          },
        );
      }
      throw toWireError(error);
    }
  }

  /** The client's params for the upstream: our `_meta` keys removed, the progress token taken out. */
  #upstreamParams(params: Params): { params: Params; progressToken: string | number | undefined } {
    const meta = params._meta;
    if (meta === undefined) return { params, progressToken: undefined };
    const { progressToken, ...rest } = meta as { progressToken?: string | number } & Record<string, unknown>;
    const ours = this.#ctx.identity;
    delete rest[ours.metaKey];
    delete rest[ours.taskMetaKey];
    delete rest[ATTEMPT_META_KEY];
    const copy: Params = { ...params };
    if (Object.keys(rest).length === 0) delete copy._meta;
    else copy._meta = rest;
    return { params: copy, progressToken };
  }

  // -------------------------------------------------------------------------------------------
  // tools/call: the guarded path

  async #callTool(params: Params, extra: Extra): Promise<CallToolResult> {
    const name = params.name;
    if (typeof name !== "string" || name === "") throw invalidParams("tools/call needs a tool name");
    const route = this.#routes.get(name);
    if (route === undefined) throw invalidParams(`Unknown tool: ${name}`);
    const ctx = this.#ctx;
    const agentId = this.#agentId(extra, params._meta);
    const taskId = this.#taskId(extra, params._meta);
    const startedAt = performance.now();
    const time = new Date(ctx.sre.clock.now()).toISOString();
    const args = params.arguments;

    const finish = (
      decision: "allowed" | "refused",
      outcome: AuditOutcome,
      extraFields: { code?: string; error?: string; costUsd?: number } = {},
    ) => {
      const latencyMs = performance.now() - startedAt;
      ctx.metrics.call(
        route.server,
        name,
        decision,
        outcome,
        decision === "allowed" ? latencyMs / 1000 : undefined,
      );
      if (extraFields.code !== undefined && decision === "refused") ctx.metrics.refusal(extraFields.code);
      const audit = ctx.audit;
      if (audit === undefined) return;
      const record: AuditRecord = {
        time,
        kind: "tool",
        agent: agentId,
        session: this.id,
        server: route.server,
        tool: name,
        upstreamTool: route.upstreamName,
        decision,
        outcome,
        latencyMs: Math.round(latencyMs * 1000) / 1000,
        costUsd: extraFields.costUsd ?? 0,
        args: argumentShape(args ?? {}, ctx.redactKeys),
      };
      if (taskId !== undefined) record.task = taskId;
      if (this.clientInfo?.name !== undefined) record.client = this.clientInfo.name;
      if (extraFields.code !== undefined) record.code = extraFields.code;
      if (extraFields.error !== undefined) record.error = extraFields.error;
      audit.write(record);
    };

    if (route.blockedReason !== undefined) {
      finish("refused", "refused", { code: "DRIFT_BLOCKED", error: route.blockedReason });
      return failureResult(`Tool "${name}" was not called: ${route.blockedReason}. Do not retry it.`, {
        decision: "refused",
        code: "DRIFT_BLOCKED",
        retryable: false,
      });
    }

    try {
      // Allow-list first: a denied tool is refused as such, however often it is tried.
      if (ctx.sre.toolAllowed(agentId, name)) ctx.loops.check(agentId, this.id, taskId, name, args ?? {});
    } catch (error) {
      if (!(error instanceof LoopDetectedError)) throw error;
      finish("refused", "refused", { code: error.code, error: error.message });
      return refusalResult(error, name);
    }

    const call: GuardCall<ForwardResult> = {
      kind: "tool",
      agentId,
      name,
      input: args ?? {},
      breakers: route.breakers,
      breakerFailure: upstreamFailure,
      classifyFailure: classifyMcpFailure,
    };
    if (taskId !== undefined) call.taskId = taskId;
    const attempt = attemptOf(extra, params._meta);
    if (attempt > 1) call.attempt = attempt;
    if (route.costUsd !== undefined && route.costUsd > 0) call.estimate = { costUsd: route.costUsd };
    if (route.timeoutMs !== undefined) call.timeoutMs = route.timeoutMs;

    recordRequest(ctx, call, args ?? {});
    let result: ForwardResult;
    try {
      result = await ctx.sre.guard(
        call,
        (signal) => this.#forwardTool(route, params, signal, extra, agentId),
        {
          signal: extra.signal,
        },
      );
    } catch (error) {
      if (error instanceof ToolErrorOutcome) {
        recordResult(ctx, call, route, error.result);
        finish("allowed", "tool_error");
        return error.result;
      }
      if (error instanceof ProtocolErrorOutcome) {
        finish("allowed", "protocol_error", { error: error.wire.message });
        throw error.wire;
      }
      if (error instanceof UpstreamConnectionLostError) {
        finish("allowed", "unavailable", { error: error.message });
        return failureResult(
          `Tool "${name}" failed: ${error.message} (the server crashed or lost the session). The call may or may not have taken effect. The server is being restarted; retry after ${Math.ceil(Math.max(error.retryAfterMs, 1000) / 1000)} s.`,
          {
            decision: "allowed",
            code: "UPSTREAM_LOST",
            retryable: true,
            retryAfterMs: Math.ceil(error.retryAfterMs),
          },
        );
      }
      if (error instanceof CircuitOpenError && error.breakerId.startsWith("upstream:")) {
        // Not connected (supervision), or the upstream's own breaker is open (the engine refused).
        const message =
          error instanceof UpstreamUnavailableError
            ? error.message
            : `upstream server "${error.breakerId.slice("upstream:".length)}" is unavailable (its circuit "${error.breakerId}" is open after repeated failures)`;
        finish("refused", "unavailable", { code: "UPSTREAM_UNAVAILABLE", error: message });
        return failureResult(
          `Tool "${name}" was not called: ${message}. Retry after ${Math.ceil(Math.max(error.retryAfterMs, 1000) / 1000)} s.`,
          {
            decision: "refused",
            code: "UPSTREAM_UNAVAILABLE",
            retryable: true,
            retryAfterMs: Math.ceil(error.retryAfterMs),
          },
        );
      }
      if (isRefusal(error)) {
        if (error.code === "TIMEOUT" || error.code === "CHAOS_INJECTED") {
          finish("allowed", error.code === "TIMEOUT" ? "timeout" : "tool_error", {
            code: error.code,
            error: error.message,
          });
        } else {
          finish("refused", "refused", { code: error.code, error: error.message });
        }
        return refusalResult(error, name);
      }
      if (extra.signal.aborted) {
        finish("allowed", "cancelled", { error: plainMessage(error) });
        throw toWireError(error);
      }
      finish("allowed", "protocol_error", { error: plainMessage(error) });
      throw toWireError(error);
    }
    recordResult(ctx, call, route, result);
    if (PROTOCOL_ERROR in result) {
      finish("allowed", "protocol_error", { error: result[PROTOCOL_ERROR].message });
      throw result[PROTOCOL_ERROR];
    }
    finish("allowed", result.isError === true ? "tool_error" : "ok", {
      costUsd: route.costUsd ?? 0,
    });
    return result;
  }

  async #forwardTool(
    route: ToolRoute,
    params: Params,
    signal: AbortSignal | undefined,
    extra: Extra,
    agentId: string,
  ): Promise<ForwardResult> {
    const connection = route.connection;
    if (!connection.ready) {
      throw new UpstreamUnavailableError(
        route.server,
        connection.retryAfterMs(),
        connection.unavailableReason(),
        agentId,
      );
    }
    const { params: forwarded, progressToken } = this.#upstreamParams(params);
    const upstreamParams: Params =
      route.upstreamName === route.name ? forwarded : { ...forwarded, name: route.upstreamName };
    const relay = progressToken === undefined ? undefined : new ProgressRelay(progressToken, extra);
    connection.inFlight.add(extra.requestId);
    try {
      const result = (await connection.request("tools/call", upstreamParams, {
        ...(signal === undefined ? {} : { signal }),
        timeout: NO_TIMEOUT_MS,
        ...(relay === undefined ? {} : { onprogress: relay.onprogress }),
      })) as CallToolResult;
      // Progress sent before the result reaches the client before it (the client drops late progress).
      await relay?.flushed();
      if (result.isError === true && this.#ctx.errorsAreFailures) throw new ToolErrorOutcome(result);
      return result;
    } catch (error) {
      // The engine records the outcome on the tool's and the upstream's breakers (see `upstreamFailure`):
      // our timeout is the upstream failing, the client's own cancel is neither, an answer is the upstream up.
      if (error instanceof ToolErrorOutcome || signal?.aborted) throw error;
      if (error instanceof McpError && answeredByUpstream(error.code)) {
        const wire = toWireError(error);
        if (this.#ctx.errorsAreFailures) throw new ProtocolErrorOutcome(wire);
        return { [PROTOCOL_ERROR]: wire };
      }
      throw error;
    } finally {
      connection.inFlight.delete(extra.requestId);
    }
  }

  #agentId(extra: Extra, meta: Record<string, unknown> | undefined): string {
    const identity = this.#ctx.identity;
    const fromMeta = meta?.[identity.metaKey];
    if (typeof fromMeta === "string" && fromMeta !== "" && fromMeta.length <= 128) return fromMeta;
    const header = extra.requestInfo?.headers?.[identity.header];
    const fromHeader = Array.isArray(header) ? header[0] : header;
    if (typeof fromHeader === "string" && fromHeader !== "" && fromHeader.length <= 128) return fromHeader;
    return this.defaultAgentId;
  }

  #taskId(extra: Extra, meta: Record<string, unknown> | undefined): string | undefined {
    const identity = this.#ctx.identity;
    const fromMeta = meta?.[identity.taskMetaKey];
    if (typeof fromMeta === "string" && fromMeta !== "" && fromMeta.length <= 256) return fromMeta;
    const header = extra.requestInfo?.headers?.[identity.taskHeader];
    const fromHeader = Array.isArray(header) ? header[0] : header;
    if (typeof fromHeader === "string" && fromHeader !== "" && fromHeader.length <= 256) return fromHeader;
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Prompts, resources, completions, logging

  #withCapability(key: "prompts" | "resources" | "logging" | "completions"): UpstreamConnection[] {
    return this.connections.filter((c) => c.ready && c.capabilities?.[key] !== undefined);
  }

  async #listPrompts(params: Params, extra: Extra): Promise<Record<string, unknown>> {
    const single = this.#single();
    const prefixless = single !== undefined && this.#planByName.get(single.name)?.prefix === "";
    if (single !== undefined && prefixless) {
      const result = await this.#forward(single, "prompts/list", params, extra);
      for (const prompt of (result.prompts as Array<{ name: string }> | undefined) ?? []) {
        this.#promptRoutes.set(prompt.name, { connection: single, name: prompt.name });
      }
      return result;
    }
    const prompts: unknown[] = [];
    for (const connection of this.#withCapability("prompts")) {
      const plan = this.#planByName.get(connection.name) as UpstreamPlan;
      for (const prompt of await this.#all(connection, "prompts/list", "prompts", extra)) {
        const original = (prompt as { name: string }).name;
        const name = plan.exposedName(original);
        if (
          this.#promptRoutes.get(name)?.connection.name !== connection.name &&
          this.#promptRoutes.has(name)
        ) {
          this.#ctx.reportCollision(
            name,
            (this.#promptRoutes.get(name) as { connection: UpstreamConnection }).connection.name,
            connection.name,
          );
          continue;
        }
        this.#promptRoutes.set(name, { connection, name: original });
        prompts.push({ ...(prompt as object), name });
      }
    }
    return { prompts };
  }

  async #getPrompt(params: Params, extra: Extra): Promise<Record<string, unknown>> {
    const name = params.name;
    if (typeof name !== "string") throw invalidParams("prompts/get needs a prompt name");
    let route = this.#promptRoutes.get(name);
    if (route === undefined) {
      await this.#listPrompts({}, extra);
      route = this.#promptRoutes.get(name);
    }
    if (route === undefined) throw invalidParams(`Unknown prompt: ${name}`);
    return this.#forward(route.connection, "prompts/get", { ...params, name: route.name }, extra);
  }

  /** Every page of a list from one upstream (aggregated listings carry no cursor). */
  async #all(connection: UpstreamConnection, method: string, key: string, extra: Extra): Promise<unknown[]> {
    const items: unknown[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 1_000; page++) {
      let result: Record<string, unknown>;
      try {
        result = await connection.request(method, cursor === undefined ? {} : { cursor }, {
          signal: extra.signal,
          timeout: NO_TIMEOUT_MS,
        });
      } catch (error) {
        this.#ctx.logger.warn(`upstream "${connection.name}": ${method} failed: ${plainMessage(error)}`);
        break;
      }
      const list = result[key];
      if (Array.isArray(list)) items.push(...list);
      cursor =
        typeof result.nextCursor === "string" && result.nextCursor !== "" ? result.nextCursor : undefined;
      if (cursor === undefined) break;
    }
    return items;
  }

  async #listResources(params: Params, extra: Extra): Promise<Record<string, unknown>> {
    const single = this.#single();
    if (single !== undefined) {
      const result = await this.#forward(single, "resources/list", params, extra);
      for (const resource of (result.resources as Array<{ uri: string }> | undefined) ?? []) {
        this.#resourceRoutes.set(resource.uri, single);
      }
      return result;
    }
    const resources: unknown[] = [];
    for (const connection of this.#withCapability("resources")) {
      for (const resource of await this.#all(connection, "resources/list", "resources", extra)) {
        const uri = (resource as { uri: string }).uri;
        const owner = this.#resourceRoutes.get(uri);
        if (owner !== undefined && owner !== connection) {
          this.#ctx.reportCollision(uri, owner.name, connection.name);
          continue;
        }
        this.#resourceRoutes.set(uri, connection);
        resources.push(resource);
      }
    }
    return { resources };
  }

  async #listTemplates(params: Params, extra: Extra): Promise<Record<string, unknown>> {
    const single = this.#single();
    if (single !== undefined) return this.#forward(single, "resources/templates/list", params, extra);
    const templates: unknown[] = [];
    for (const connection of this.#withCapability("resources")) {
      const list = await this.#all(connection, "resources/templates/list", "resourceTemplates", extra);
      this.#templates.set(
        connection,
        list.map((t) => new UriTemplate((t as { uriTemplate: string }).uriTemplate)),
      );
      templates.push(...list);
    }
    return { resourceTemplates: templates };
  }

  /** Which upstream serves a resource URI: listed URIs first, then URI templates, then the only candidate. */
  async #resourceOwner(uri: unknown, extra: Extra): Promise<UpstreamConnection> {
    if (typeof uri !== "string") throw invalidParams("a resource request needs a uri");
    const single = this.#single();
    if (single !== undefined) return single;
    const known = this.#resourceRoutes.get(uri);
    if (known !== undefined) return known;
    const candidates = this.#withCapability("resources");
    if (candidates.length === 1) return candidates[0] as UpstreamConnection;
    if (this.#templates.size === 0) await this.#listTemplates({}, extra);
    for (const connection of candidates) {
      for (const template of this.#templates.get(connection) ?? []) {
        try {
          if (template.match(uri) !== null) return connection;
        } catch {
          // a template the SDK cannot match: ignore it
        }
      }
    }
    await this.#listResources({}, extra);
    const listed = this.#resourceRoutes.get(uri);
    if (listed !== undefined) return listed;
    throw new WireError(-32002, `Resource not found: ${uri}`);
  }

  async #complete(params: Params, extra: Extra): Promise<Record<string, unknown>> {
    const ref = params.ref as { type?: string; name?: string; uri?: string } | undefined;
    if (ref?.type === "ref/prompt" && typeof ref.name === "string") {
      let route = this.#promptRoutes.get(ref.name);
      if (route === undefined) {
        await this.#listPrompts({}, extra);
        route = this.#promptRoutes.get(ref.name);
      }
      if (route === undefined) throw invalidParams(`Unknown prompt: ${ref.name}`);
      return this.#forward(
        route.connection,
        "completion/complete",
        { ...params, ref: { ...ref, name: route.name } },
        extra,
      );
    }
    if (ref?.type === "ref/resource" && typeof ref.uri === "string") {
      const single = this.#single();
      if (single !== undefined) return this.#forward(single, "completion/complete", params, extra);
      if (this.#templates.size === 0) await this.#listTemplates({}, extra);
      for (const connection of this.#withCapability("resources")) {
        const owns = (this.#templates.get(connection) ?? []).some((t) => t.toString() === ref.uri);
        if (owns) return this.#forward(connection, "completion/complete", params, extra);
      }
      return this.#forward(await this.#resourceOwner(ref.uri, extra), "completion/complete", params, extra);
    }
    throw invalidParams("completion/complete needs a ref/prompt or ref/resource");
  }

  async #setLevel(params: Params, extra: Extra): Promise<Record<string, unknown>> {
    const targets = this.#withCapability("logging");
    const single = this.#single();
    if (single !== undefined && targets.length === 1)
      return this.#forward(single, "logging/setLevel", params, extra);
    await Promise.all(
      targets.map((connection) =>
        this.#forward(connection, "logging/setLevel", params, extra).catch((error) => {
          this.#ctx.logger.debug(`logging/setLevel on "${connection.name}" failed: ${plainMessage(error)}`);
        }),
      ),
    );
    return {};
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
    if (notification.method === "notifications/prompts/list_changed") this.#promptRoutes.clear();
    if (notification.method === "notifications/resources/list_changed") {
      this.#resourceRoutes.clear();
      this.#templates.clear();
    }
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
      const { params } = this.#upstreamParams((request.params ?? {}) as Params);
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

/**
 * Relays an upstream's progress to the client under the client's own token (the SDK gives the upstream a
 * token of its own), in order, and lets the caller wait until every relayed notification was handed to the
 * client's transport, so the result never overtakes the last progress.
 */
class ProgressRelay {
  #last: Promise<void> = Promise.resolve();
  readonly onprogress: (progress: { progress: number; total?: number; message?: string }) => void;

  constructor(token: string | number, extra: Extra) {
    this.onprogress = (progress) => {
      const sent = extra
        .sendNotification({ method: "notifications/progress", params: { ...progress, progressToken: token } })
        .catch(() => {});
      this.#last = this.#last.then(() => sent);
    };
  }

  flushed(): Promise<void> {
    return this.#last;
  }
}

/** Clients tag retries so they count against the upstream's retry budget (`_meta` key or header). */
export const ATTEMPT_META_KEY = "io.github.agent-sre/attempt";
const ATTEMPT_HEADER = "x-agent-sre-attempt";

function attemptOf(extra: Extra, meta: Record<string, unknown> | undefined): number {
  const fromMeta = meta?.[ATTEMPT_META_KEY];
  const header = extra.requestInfo?.headers?.[ATTEMPT_HEADER];
  const raw = fromMeta ?? (Array.isArray(header) ? header[0] : header);
  const attempt = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw) : 1;
  return Number.isInteger(attempt) && attempt >= 1 && attempt <= 1_000 ? attempt : 1;
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
