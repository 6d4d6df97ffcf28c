import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import {
  StreamableHTTPClientTransport,
  type StreamableHTTPError,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { RequestOptions } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  type Implementation,
  JSONRPCMessageSchema,
  type Notification,
  type ServerCapabilities,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "./logger.js";
import { redactText } from "./redact.js";
import { DirectCalls, RedirectedError, type Resumption } from "./upstream-call.js";
import {
  describeFailure,
  isConnectionLoss,
  isHttpClientError,
  isSessionLoss,
  neverSent,
  plain,
  truncate,
} from "./upstream-errors.js";
import {
  UpstreamConnectionLostError,
  type UpstreamConnectionOptions,
  type UpstreamState,
  type UpstreamTransportSpec,
  UpstreamUnavailableError,
} from "./upstream-types.js";
import { NO_TIMEOUT_MS, PASSTHROUGH } from "./wire.js";

const STDERR_TAIL = 20;

function messageOf(
  method: string,
  params: Record<string, unknown> | undefined,
): { method: string; params?: Record<string, unknown> } {
  return params === undefined ? { method } : { method, params };
}

/** How the SDK transport resumes a cut SSE stream, and how forwarded requests resume theirs. */
const RESUMPTION: Resumption = {
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  growFactor: 1.5,
  maxRetries: 2,
};

/**
 * One MCP client session to one upstream server, supervised: a stdio server that exits is restarted with
 * exponential backoff (calls meanwhile are refused with a retry hint); a Streamable HTTP session the server
 * forgot ("session not found", HTTP 404) is re-initialised and the request retried once.
 */
export class UpstreamConnection {
  readonly name: string;
  readonly spec: UpstreamTransportSpec;
  /** Shared by every client session (a stateless server); closed with the proxy, not with a session. */
  readonly shared: boolean;
  /** The upstream's tools as last listed (kept while it restarts, so names stay stable). */
  tools: Tool[] = [];
  capabilities: ServerCapabilities | undefined;
  serverInfo: Implementation | undefined;
  instructions: string | undefined;
  /** Successful reconnects after the first connect. */
  restarts = 0;
  /** The latest failure (kept after recovery, for `/status`), credentials in URLs masked. */
  lastError: string | undefined;
  /** When `lastError` happened (clock ms). */
  lastErrorAtMs: number | undefined;
  /** Front request ids of calls in flight on this upstream (routes its sampling/elicitation requests). */
  readonly inFlight = new Set<string | number>();

  readonly #options: UpstreamConnectionOptions;
  #state: UpstreamState = "idle";
  #client: Client | undefined;
  #transport: Transport | undefined;
  /** Forwarded requests of a Streamable HTTP session, posted by the proxy itself (see `DirectCalls`). */
  #direct: DirectCalls | undefined;
  /** The direct calls of the transport being created (adopted with it). */
  #directFor = new WeakMap<Transport, DirectCalls>();
  #failures = 0;
  #readyAt = 0;
  #everConnected = false;
  #nextAttemptAt: number | undefined;
  #timer: unknown;
  #refreshing: Promise<void> | undefined;
  #refreshAgain = false;
  #stderrTail: string[] = [];
  #attempt: Promise<void> | undefined;
  #unreachable = false;

  constructor(options: UpstreamConnectionOptions) {
    // Every line this connection logs may quote a URL or an error carrying one: mask credentials.
    const logger = options.logger;
    this.#options = {
      ...options,
      logger: {
        debug: (message) => logger.debug(redactText(message)),
        info: (message) => logger.info(redactText(message)),
        warn: (message) => logger.warn(redactText(message)),
        error: (message) => logger.error(redactText(message)),
      } as Logger,
    };
    this.name = options.name;
    this.spec = options.transport;
    this.shared = options.shared === true;
  }

  get state(): UpstreamState {
    return this.#state;
  }

  get ready(): boolean {
    return this.#state === "ready";
  }

  /** ms until the next reconnect attempt (0 when one is under way or the upstream is up). */
  retryAfterMs(): number {
    if (this.#nextAttemptAt === undefined) return this.#state === "connecting" ? 1_000 : 0;
    return Math.max(1, this.#nextAttemptAt - this.#options.clock.now());
  }

  /** Why the upstream is not ready, in words. */
  unavailableReason(): string {
    switch (this.#state) {
      case "connecting":
        return this.#everConnected ? "reconnecting" : "starting";
      case "down":
        return `${this.lastError ?? "down"}; restarting`;
      case "closed":
        return "the session is closed";
      default:
        return "not started";
    }
  }

  /** First connection. Resolves once connected or once the first attempt failed (a retry is then scheduled). */
  start(): Promise<void> {
    if (this.#attempt === undefined) this.#attempt = this.#tryConnect();
    return this.#attempt;
  }

  /**
   * Forwards a request and returns the upstream's result untouched. Throws `UpstreamUnavailableError` when
   * not connected, `UpstreamConnectionLostError` when the connection broke mid-request, the upstream's
   * `McpError` otherwise. Not `async`: a call in flight holds one promise and one closure here, not two
   * suspended async frames (2,000 calls in flight are 2,000 of each for the scavenger to copy).
   */
  request(
    method: string,
    params: Record<string, unknown> | undefined,
    options: RequestOptions,
  ): Promise<Record<string, unknown>> {
    const client = this.#client;
    if (this.#state !== "ready" || client === undefined) {
      return Promise.reject(
        new UpstreamUnavailableError(this.name, this.retryAfterMs(), this.unavailableReason()),
      );
    }
    return this.#send(client, method, params, options).then(this.#succeeded, (error: unknown) =>
      this.#recover(error, client, method, params, options),
    );
  }

  /** A forwarded request succeeded (bound once). */
  readonly #succeeded = (result: Record<string, unknown>): Record<string, unknown> => {
    this.#reachable();
    return result;
  };

  /** A forwarded request failed: a redirect, a lost session (retried once), nothing sent, a lost connection. */
  async #recover(
    failure: unknown,
    client: Client,
    method: string,
    params: Record<string, unknown> | undefined,
    options: RequestOptions,
  ): Promise<Record<string, unknown>> {
    let error = failure;
    if (error instanceof RedirectedError) {
      // The direct post met a redirect: the SDK transport (which follows them) sends it again.
      try {
        return this.#succeeded(await client.request(messageOf(method, params), PASSTHROUGH, options));
      } catch (again) {
        error = again;
      }
    }
    if (options.signal?.aborted) throw error;
    if (isSessionLoss(error) && client === this.#client) {
      // The server forgot our session (it restarted, or expired it): it answered without running the
      // request, so initialise a new session and send the request once more.
      this.#fail(`session lost (HTTP ${(error as StreamableHTTPError).code}: ${plain(error)})`);
      this.#options.logger.warn(`upstream "${this.name}": ${this.lastError}; re-initialising the session`);
      await this.#reconnectNow(client);
      const again = this.#client;
      if (this.#state !== "ready" || again === undefined) {
        throw new UpstreamUnavailableError(this.name, this.retryAfterMs(), this.unavailableReason());
      }
      try {
        return await this.#send(again, method, params, options);
      } catch (retried) {
        if (retried instanceof RedirectedError)
          return await again.request(messageOf(method, params), PASSTHROUGH, options);
        throw retried;
      }
    }
    if (neverSent(error)) {
      // Nothing reached the server (connection refused, not connected): a refusal, not a lost call.
      if (this.#unreachable === false) {
        this.#unreachable = true;
        this.#fail(`unreachable (${plain(error)})`);
        this.#options.logger.warn(`upstream "${this.name}": ${this.lastError}`);
      }
      throw new UpstreamUnavailableError(
        this.name,
        Math.max(this.retryAfterMs(), this.#options.supervision.initialDelayMs),
        this.lastError ?? "unreachable",
      );
    }
    if (isConnectionLoss(error)) throw new UpstreamConnectionLostError(this.name, this.retryAfterMs(), error);
    throw error;
  }

  /**
   * One forwarded request: posted by the proxy itself over a Streamable HTTP session (no progress asked
   * for), else through the SDK client. A redirect the direct post met fails with `RedirectedError`.
   */
  #send(
    client: Client,
    method: string,
    params: Record<string, unknown> | undefined,
    options: RequestOptions,
  ): Promise<Record<string, unknown>> {
    const direct = this.#direct;
    if (direct === undefined || !direct.usable || options.onprogress !== undefined)
      return client.request(messageOf(method, params), PASSTHROUGH, options);
    return direct.call(method, params, options.signal);
  }

  /** Records a failure for `/status` (credentials masked). */
  #fail(message: string): void {
    this.lastError = redactText(message);
    this.lastErrorAtMs = this.#options.clock.now();
  }

  /** A request succeeded: if the upstream was unreachable, say it is back. */
  #reachable(): void {
    if (this.#unreachable) {
      this.#unreachable = false;
      this.#options.logger.warn(`upstream "${this.name}": reachable again`);
    }
  }

  /** Sends a notification (e.g. roots/list_changed) if connected. */
  async notify(notification: Notification): Promise<void> {
    if (this.#state === "ready") await this.#client?.notification(notification as never);
  }

  /** Closes the upstream session (HTTP: DELETE; stdio: ends the child) and stops supervising. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#setState("closed");
    this.#clearTimer();
    const client = this.#client;
    const transport = this.#transport;
    this.#client = undefined;
    this.#transport = undefined;
    this.#direct?.close();
    this.#direct = undefined;
    if (transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
      await transport.terminateSession().catch(() => {});
    }
    await client?.close().catch(() => {});
  }

  /** The last lines the upstream wrote to stderr (stdio only). */
  get stderrTail(): readonly string[] {
    return this.#stderrTail;
  }

  async #tryConnect(): Promise<void> {
    if (this.#state === "closed") return;
    this.#nextAttemptAt = undefined;
    this.#setState("connecting");
    try {
      await this.#connect();
      if ((this.#state as UpstreamState) === "closed") return;
      if (this.#everConnected) {
        this.restarts++;
        this.#options.logger.warn(`upstream "${this.name}": reconnected (restart ${this.restarts})`);
      } else {
        this.#options.logger.debug(`upstream "${this.name}": connected`);
      }
      this.#everConnected = true;
      this.#readyAt = this.#options.clock.now();
      this.#unreachable = false;
      this.#setState("ready");
      this.#options.hooks.toolsChanged(this);
    } catch (error) {
      if ((this.#state as UpstreamState) === "closed") return;
      this.#fail(describeFailure(error, this.#stderrTail));
      this.#options.logger.warn(
        `upstream "${this.name}": ${this.#everConnected ? "reconnect" : "start"} failed: ${this.lastError}`,
      );
      this.#scheduleRetry();
    }
  }

  async #connect(): Promise<void> {
    const { supervision } = this.#options;
    const spec = this.spec;
    const first = await this.#open(spec.type === "auto" ? { ...spec, type: "http" } : spec);
    try {
      await this.#initialize(first.client, first.transport, supervision.startupTimeoutMs);
    } catch (error) {
      await first.client.close().catch(() => {});
      if (spec.type === "auto" && isHttpClientError(error)) {
        // Streamable HTTP refused (405/404/400): an older server speaking HTTP+SSE.
        this.#options.logger.info(
          `upstream "${this.name}": Streamable HTTP refused (${plain(error)}); trying SSE`,
        );
        const fallback = await this.#open({ ...spec, type: "sse" });
        await this.#initialize(fallback.client, fallback.transport, supervision.startupTimeoutMs);
        this.#adopt(fallback.client, fallback.transport);
        await this.#listTools(fallback.client);
        return;
      }
      throw error;
    }
    this.#adopt(first.client, first.transport);
    await this.#listTools(first.client);
  }

  async #open(spec: UpstreamTransportSpec): Promise<{ client: Client; transport: Transport }> {
    const { clientInfo, clientCapabilities } = this.#options;
    const client = new Client(clientInfo, { capabilities: clientCapabilities });
    client.fallbackNotificationHandler = async (notification) => this.#onNotification(client, notification);
    client.fallbackRequestHandler = async (request, extra) => {
      if (client !== this.#client) throw new Error("stale upstream session");
      return (await this.#options.hooks.request(this, request, extra.signal)) as never;
    };
    client.onerror = (error) => this.#options.logger.debug(`upstream "${this.name}": ${error.message}`);
    const transport = await this.#createTransport(spec);
    return { client, transport };
  }

  async #initialize(client: Client, transport: Transport, timeoutMs: number): Promise<void> {
    await client.connect(transport, { timeout: timeoutMs });
  }

  #adopt(client: Client, transport: Transport): void {
    this.#client = client;
    this.#transport = transport;
    this.#direct = this.#directFor.get(transport);
    this.capabilities = client.getServerCapabilities();
    this.serverInfo = client.getServerVersion();
    this.instructions = client.getInstructions();
    client.onclose = () => this.#onClosed(client);
  }

  async #createTransport(spec: UpstreamTransportSpec): Promise<Transport> {
    switch (spec.type) {
      case "stdio": {
        const transport = new StdioClientTransport({
          command: spec.command,
          args: spec.args,
          env: spec.env,
          stderr: "pipe",
          ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
        });
        const stream = transport.stderr;
        let partial = "";
        stream?.on("data", (chunk: Buffer) => {
          const lines = (partial + chunk.toString("utf8")).split("\n");
          partial = lines.pop() ?? "";
          for (const line of lines) {
            if (line.trim() === "") continue;
            this.#stderrTail.push(line);
            if (this.#stderrTail.length > STDERR_TAIL) this.#stderrTail.shift();
            this.#options.logger.debug(`[${this.name}] ${line}`);
          }
        });
        return transport;
      }
      case "http":
      case "auto": {
        const pool = this.#options.pool;
        const pooled = pool?.fetchFor((message) => {
          // What an answer's stream carried after the answer: delivered as the SDK would have.
          const parsed = JSONRPCMessageSchema.safeParse(message);
          if (parsed.success) transport.onmessage?.(parsed.data);
        });
        const url = new URL(spec.url);
        const transport: StreamableHTTPClientTransport = new StreamableHTTPClientTransport(url, {
          requestInit: { headers: spec.headers },
          ...(pooled === undefined ? {} : { fetch: pooled }),
          reconnectionOptions: {
            initialReconnectionDelay: RESUMPTION.initialDelayMs,
            maxReconnectionDelay: RESUMPTION.maxDelayMs,
            reconnectionDelayGrowFactor: RESUMPTION.growFactor,
            maxRetries: RESUMPTION.maxRetries,
          },
        });
        if (pool !== undefined) {
          this.#directFor.set(
            transport,
            new DirectCalls({
              url,
              headers: spec.headers,
              send: pool.send,
              session: () => ({ sessionId: transport.sessionId, protocolVersion: transport.protocolVersion }),
              deliver: (message) => {
                // As the SDK transport delivers: only what its message schema accepts.
                const parsed = JSONRPCMessageSchema.safeParse(message);
                if (parsed.success) transport.onmessage?.(parsed.data);
              },
              cancel: (requestId, reason) => {
                void transport
                  .send({
                    jsonrpc: "2.0",
                    method: "notifications/cancelled",
                    params: { requestId, reason },
                  })
                  .catch(() => {});
              },
              resumption: RESUMPTION,
            }),
          );
        }
        return transport;
      }
      case "sse":
        return new SSEClientTransport(new URL(spec.url), {
          requestInit: { headers: spec.headers },
          eventSourceInit: {
            fetch: (url, init) =>
              fetch(url, {
                ...init,
                headers: { ...(init?.headers as Record<string, string>), ...spec.headers },
              }),
          },
        });
      case "custom":
        return await spec.connect();
    }
  }

  async #listTools(client: Client): Promise<void> {
    if (this.capabilities?.tools === undefined) {
      this.tools = [];
      return;
    }
    const tools: Tool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 1_000; page++) {
      const result = await client.request(
        { method: "tools/list", params: cursor === undefined ? {} : { cursor } },
        PASSTHROUGH,
        { timeout: this.#options.supervision.startupTimeoutMs },
      );
      const list = result.tools;
      if (Array.isArray(list)) {
        for (const tool of list) {
          if (typeof tool === "object" && tool !== null && typeof (tool as Tool).name === "string")
            tools.push(tool as Tool);
        }
      }
      cursor =
        typeof result.nextCursor === "string" && result.nextCursor !== "" ? result.nextCursor : undefined;
      if (cursor === undefined) break;
    }
    this.tools = tools;
  }

  #onNotification(client: Client, notification: Notification): void {
    if (client !== this.#client) return;
    if (notification.method === "notifications/tools/list_changed") {
      void this.refreshTools();
      return;
    }
    this.#options.hooks.notification(this, notification);
  }

  /** Lists the tools again (serialised: a burst of list_changed makes at most one extra listing). */
  refreshTools(): Promise<void> {
    if (this.#refreshing !== undefined) {
      this.#refreshAgain = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      try {
        do {
          this.#refreshAgain = false;
          const client = this.#client;
          if (client === undefined || this.#state !== "ready") return;
          try {
            await this.#listTools(client);
          } catch (error) {
            this.#options.logger.warn(`upstream "${this.name}": tools/list failed: ${plain(error)}`);
            return;
          }
          this.#options.hooks.toolsChanged(this);
        } while (this.#refreshAgain);
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  #onClosed(client: Client): void {
    if (client !== this.#client || this.#state === "closed") return;
    this.#client = undefined;
    this.#transport = undefined;
    this.#direct?.close();
    this.#direct = undefined;
    const uptime = this.#options.clock.now() - this.#readyAt;
    if (uptime >= this.#options.supervision.stableAfterMs) this.#failures = 0;
    const detail = this.spec.type === "stdio" ? "the server process exited" : "the connection closed";
    const lastLine = this.#stderrTail.at(-1);
    this.#fail(lastLine === undefined ? detail : `${detail}: ${truncate(lastLine, 200)}`);
    this.#options.logger.warn(`upstream "${this.name}": ${this.lastError}`);
    this.#scheduleRetry();
  }

  async #reconnectNow(stale: Client): Promise<void> {
    if (stale !== this.#client) {
      // Someone else is already reconnecting: wait for that attempt.
      await this.#attempt;
      return;
    }
    this.#client = undefined;
    const transport = this.#transport;
    this.#transport = undefined;
    this.#direct?.close();
    this.#direct = undefined;
    stale.onclose = undefined;
    void transport?.close().catch(() => {});
    this.#attempt = this.#tryConnect();
    await this.#attempt;
  }

  #scheduleRetry(): void {
    this.#failures++;
    const { initialDelayMs, maxDelayMs, multiplier } = this.#options.supervision;
    const delay = Math.min(maxDelayMs, initialDelayMs * multiplier ** (this.#failures - 1));
    const clock = this.#options.clock;
    this.#nextAttemptAt = clock.now() + delay;
    this.#setState("down");
    this.#clearTimer();
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.#attempt = this.#tryConnect();
    }, delay);
    (this.#timer as { unref?: () => void } | undefined)?.unref?.();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      this.#options.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #setState(state: UpstreamState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#options.hooks.stateChanged(this, state);
  }
}

export { NO_TIMEOUT_MS };
