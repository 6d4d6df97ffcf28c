import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { Transport, TransportSendOptions } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage, MessageExtraInfo } from "@modelcontextprotocol/sdk/types.js";

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
   * their issue lists), on a message the proxy's transports have checked already. A request goes straight to
   * the protocol's request dispatch; anything else, and any SDK without that method, takes the SDK's way.
   */
  override async connect(transport: Transport): Promise<void> {
    await super.connect(transport);
    const dispatch = (this as unknown as { _onrequest?: unknown })._onrequest;
    const guarded = transport.onmessage;
    if (typeof dispatch !== "function" || guarded === undefined) return;
    transport.onmessage = (message, extra) => {
      if (isRequest(message)) dispatch.call(this, message, extra);
      else guarded(message, extra);
    };
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
