import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { Transport, TransportSendOptions } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  ErrorCode,
  type JSONRPCMessage,
  type JSONRPCRequest,
  McpError,
  type MessageExtraInfo,
  RELATED_TASK_META_KEY,
} from "@modelcontextprotocol/sdk/types.js";

/**
 * The proxy's face to one client: the SDK's low-level `Server` (it negotiates `initialize`, answers `ping`,
 * relays cancellation and progress), with every other request handled by the proxy's fallback handler, so
 * nothing is validated or reshaped on the way. Notifications are relayed whatever the advertised
 * capabilities say: the upstream decided to send them.
 */
// biome-ignore lint/suspicious/noExplicitAny: the low-level Server is the documented way to forward raw requests
export class FrontServer extends Server<any, any, any> {
  protected override assertNotificationCapability(): void {}

  /**
   * Connects as the SDK does, then lets requests skip the protocol's message guards: it tells requests,
   * responses and notifications apart with three zod parses per message (two of them failing, which builds
   * their issue lists), on a message the proxy's transports have checked already. A request the proxy's
   * fallback handler answers (tools/call and every forwarded method) is served by `#serve`; other requests go
   * to the protocol's request dispatch; anything else, and any SDK without these internals, takes the SDK's way.
   */
  override async connect(transport: Transport): Promise<void> {
    await super.connect(transport);
    const internals = this as unknown as SdkInternals;
    const dispatch = internals._onrequest;
    const guarded = transport.onmessage;
    if (typeof dispatch !== "function" || guarded === undefined) return;
    const own =
      internals._requestHandlers instanceof Map &&
      internals._requestHandlerAbortControllers instanceof Map &&
      typeof internals._onerror === "function";
    transport.onmessage = (message, extra) => {
      if (!isRequest(message)) guarded(message, extra);
      else if (own && this.#ours(message as JSONRPCRequest, internals))
        void this.#serve(message as JSONRPCRequest, extra, internals);
      else dispatch.call(this, message, extra);
    };
  }

  /**
   * Whether `#serve` answers a request exactly as the protocol's `_onrequest` would: no handler of its own
   * (initialize, ping), no task store, no task augmentation or related task (the protocol's task paths).
   */
  #ours(request: JSONRPCRequest, internals: SdkInternals): boolean {
    if (this.fallbackRequestHandler === undefined || internals._taskStore !== undefined) return false;
    if (internals._requestHandlers.has(request.method)) return false;
    const params = request.params as { task?: unknown; _meta?: Record<string, unknown> } | undefined;
    return params?.task === undefined && params?._meta?.[RELATED_TASK_META_KEY] === undefined;
  }

  /**
   * The protocol's `_onrequest` for a request the fallback handler answers, without its per-request closures,
   * promise chain and zod check of the params: the same abort controller (registered where the protocol's
   * cancellation and close find it), the same handler context, the same answer or error on the same transport.
   */
  async #serve(request: JSONRPCRequest, info: MessageExtraInfo | undefined, internals: SdkInternals) {
    const handler = this.fallbackRequestHandler as NonNullable<typeof this.fallbackRequestHandler>;
    const transport = this.transport;
    const controllers = internals._requestHandlerAbortControllers;
    const controller = new AbortController();
    controllers.set(request.id, controller);
    let response: JSONRPCMessage;
    try {
      const extra = new HandlerExtra(this, request, controller.signal, transport?.sessionId, info);
      const result = await handler(request, extra as never);
      if (controller.signal.aborted) return;
      response = { result, jsonrpc: "2.0", id: request.id } as JSONRPCMessage;
    } catch (error) {
      if (controller.signal.aborted) return;
      const e = error as { code?: unknown; message?: string; data?: unknown };
      response = {
        jsonrpc: "2.0",
        id: request.id,
        error: {
          code: Number.isSafeInteger(e.code) ? (e.code as number) : ErrorCode.InternalError,
          message: e.message ?? "Internal error",
          ...(e.data !== undefined && { data: e.data }),
        },
      };
    } finally {
      // As the protocol: only our own controller (a reconnect may have reused the id).
      if (controllers.get(request.id) === controller) controllers.delete(request.id);
    }
    try {
      await transport?.send(response);
    } catch (error) {
      internals._onerror.call(this, new Error(`Failed to send response: ${error}`));
    }
  }
}

/** The protocol's internals `connect` reads (SDK 1.x). */
interface SdkInternals {
  _onrequest?: unknown;
  _requestHandlers: Map<string, unknown>;
  _requestHandlerAbortControllers: Map<string | number, AbortController>;
  _taskStore?: unknown;
  _onerror: (error: Error) => void;
}

/**
 * What a request handler receives (the protocol's `RequestHandlerExtra`, without a task): its notifications
 * and requests go out related to the request, and nothing more is sent once it was cancelled.
 */
class HandlerExtra {
  readonly signal: AbortSignal;
  readonly sessionId: string | undefined;
  readonly _meta: Record<string, unknown> | undefined;
  readonly authInfo: MessageExtraInfo["authInfo"];
  readonly requestId: string | number;
  readonly requestInfo: MessageExtraInfo["requestInfo"];
  readonly taskId = undefined;
  readonly taskStore = undefined;
  readonly taskRequestedTtl = undefined;
  readonly closeSSEStream: MessageExtraInfo["closeSSEStream"];
  readonly closeStandaloneSSEStream: MessageExtraInfo["closeStandaloneSSEStream"];
  readonly #server: FrontServer;

  constructor(
    server: FrontServer,
    request: JSONRPCRequest,
    signal: AbortSignal,
    sessionId: string | undefined,
    info: MessageExtraInfo | undefined,
  ) {
    this.#server = server;
    this.signal = signal;
    this.sessionId = sessionId;
    this._meta = (request.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
    this.authInfo = info?.authInfo;
    this.requestId = request.id;
    this.requestInfo = info?.requestInfo;
    this.closeSSEStream = info?.closeSSEStream;
    this.closeStandaloneSSEStream = info?.closeStandaloneSSEStream;
  }

  // Arrow-function fields in the protocol; methods here (callers call them on the object, as `extra.x()`).
  async sendNotification(notification: Parameters<FrontServer["notification"]>[0]): Promise<void> {
    if (this.signal.aborted) return;
    await this.#server.notification(notification, { relatedRequestId: this.requestId });
  }

  async sendRequest(
    request: Parameters<FrontServer["request"]>[0],
    resultSchema: Parameters<FrontServer["request"]>[1],
    options?: Parameters<FrontServer["request"]>[2],
  ): Promise<unknown> {
    if (this.signal.aborted) throw new McpError(ErrorCode.ConnectionClosed, "Request was cancelled");
    return await this.#server.request(request, resultSchema, {
      ...options,
      relatedRequestId: this.requestId,
    });
  }
}

/** A JSON-RPC request as the SDK's guard accepts it: version, a method, an integer or string id, object params. */
function isRequest(message: JSONRPCMessage): boolean {
  const m = message as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
  if (m.jsonrpc !== "2.0" || typeof m.method !== "string") return false;
  const id = m.id;
  if (typeof id !== "string" && !(typeof id === "number" && Number.isInteger(id))) return false;
  const params = m.params;
  return params === undefined || (typeof params === "object" && params !== null && !Array.isArray(params));
}

/**
 * Holds a client's first messages until the proxy has connected its upstreams (their capabilities decide
 * what the proxy advertises, and the client's capabilities are passed upstream), then hands the transport
 * to the front `Server` and replays them. The inner transport is started once, by the proxy.
 */
export class HandshakeTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void) | undefined;

  readonly inner: Transport;
  #buffer: Array<[JSONRPCMessage, MessageExtraInfo | undefined]> = [];
  #released = false;
  #closed = false;
  #onFirst: (message: JSONRPCMessage) => void;
  #onEarlyClose: () => void;
  #sawFirst = false;

  constructor(inner: Transport, onFirst: (message: JSONRPCMessage) => void, onEarlyClose: () => void) {
    this.inner = inner;
    this.#onFirst = onFirst;
    this.#onEarlyClose = onEarlyClose;
    inner.onmessage = (message, extra) => {
      if (this.#released) {
        this.onmessage?.(message, extra);
        return;
      }
      this.#buffer.push([message, extra]);
      if (!this.#sawFirst) {
        this.#sawFirst = true;
        this.#onFirst(message);
      }
    };
    inner.onclose = () => {
      if (this.#closed) return;
      this.#closed = true;
      if (this.onclose) this.onclose();
      else this.#onEarlyClose();
    };
    inner.onerror = (error) => this.onerror?.(error);
  }

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  get setProtocolVersion(): ((version: string) => void) | undefined {
    const inner = this.inner;
    return inner.setProtocolVersion === undefined
      ? undefined
      : (version) => inner.setProtocolVersion?.(version);
  }

  /** Called by `Server.connect`: the handlers are set, so the held messages can be delivered. */
  async start(): Promise<void> {
    this.#released = true;
    const held = this.#buffer;
    this.#buffer = [];
    for (const [message, extra] of held) this.onmessage?.(message, extra);
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.inner.send(message, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
