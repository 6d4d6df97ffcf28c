import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Transport, TransportSendOptions } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  isInitializeRequest,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type RequestId,
  SUPPORTED_PROTOCOL_VERSIONS,
} from "@modelcontextprotocol/sdk/types.js";

/** Most messages in one batch (as the SDK's transport). */
const MAX_BATCH_SIZE = 100;
/** SSE comment frames keep idle streams open through proxies and idle timeouts (as the SDK: 15 s). */
const DEFAULT_KEEP_ALIVE_MS = 15_000;
const SSE_HEADERS = {
  "Content-Type": "text/event-stream",
  "Cache-Control": "no-cache, no-transform",
  Connection: "keep-alive",
  "X-Accel-Buffering": "no",
} as const;

export interface HttpSessionTransportOptions {
  sessionIdGenerator: () => string;
  /** Called once `initialize` arrived and the session id is chosen (before the request is handled). */
  onsessioninitialized?: (sessionId: string) => void;
  /** Called when the client ends the session with DELETE. */
  onsessionclosed?: (sessionId: string) => void;
  /** Interval of SSE keep-alive comments (default 15 s; 0 turns them off). */
  keepAliveMs?: number;
}

/** One POST carrying requests: answered as JSON unless the server streams something before the answer. */
interface Exchange {
  readonly res: ServerResponse;
  /** Request ids in the order they arrived (a batch is answered in this order). */
  readonly ids: RequestId[];
  /** Answers so far, by position in `ids` (JSON mode). */
  readonly answers: Array<JSONRPCMessage | undefined>;
  pending: number;
  /** Switched to an SSE stream (a notification or a request related to it came before the answer). */
  sse: boolean;
  /** The client went away or the transport closed: later messages for it are dropped. */
  gone: boolean;
}

/**
 * The proxy's Streamable HTTP session transport (MCP 2025-03-26 and later), on `node:http` directly.
 *
 * The spec lets a server answer each POST with either `application/json` or `text/event-stream`. This
 * transport decides per request and as late as possible: a request whose answer comes before anything else
 * related to it (nearly every `tools/call`) gets a plain JSON response; the first related notification
 * (progress, logging) or server-to-client request (sampling, elicitation) switches that response to an SSE
 * stream, which then carries the answer too. So nothing a streaming server sends is lost, and the common case
 * costs one write instead of an event stream. Requests without a related id go to the session's GET stream.
 *
 * Validation and error answers follow the SDK's `StreamableHTTPServerTransport` (406, 415, 400, 404, 409).
 * Session routing (which transport a request reaches) is the HTTP listener's job.
 */
export class HttpSessionTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void) | undefined;
  sessionId: string | undefined;

  readonly #options: HttpSessionTransportOptions;
  readonly #keepAliveMs: number;
  readonly #byRequest = new Map<RequestId, Exchange>();
  /** Open SSE responses (request streams and the GET stream), for keep-alives and close. */
  readonly #streams = new Set<ServerResponse>();
  #standalone: ServerResponse | undefined;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #initialized = false;
  #started = false;
  #closed = false;

  constructor(options: HttpSessionTransportOptions) {
    this.#options = options;
    this.#keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
  }

  async start(): Promise<void> {
    if (this.#started) throw new Error("Transport already started");
    this.#started = true;
  }

  /** Requests waiting for their answer (diagnostics). */
  get pendingRequests(): number {
    return this.#byRequest.size;
  }

  /** Serves one HTTP request of this session. `parsedBody`: the POST body, already parsed. */
  async handleRequest(req: IncomingMessage, res: ServerResponse, parsedBody?: unknown): Promise<void> {
    if (this.#closed) return jsonError(res, 404, -32001, "Session not found");
    switch (req.method) {
      case "POST":
        return this.#post(req, res, parsedBody);
      case "GET":
        return this.#get(req, res);
      case "DELETE":
        return this.#delete(req, res);
      default:
        res.setHeader("Allow", "GET, POST, DELETE");
        return jsonError(res, 405, -32000, "Method not allowed.");
    }
  }

  async #post(req: IncomingMessage, res: ServerResponse, parsedBody: unknown): Promise<void> {
    const accept = req.headers.accept;
    if (!accept?.includes("application/json") || !accept.includes("text/event-stream")) {
      return this.#refuse(
        res,
        406,
        -32000,
        "Not Acceptable: Client must accept both application/json and text/event-stream",
      );
    }
    if (!isJsonContentType(req.headers["content-type"])) {
      return this.#refuse(res, 415, -32000, "Unsupported Media Type: Content-Type must be application/json");
    }
    const body = parsedBody === undefined ? await readBody(req) : parsedBody;
    if (body === INVALID) return this.#refuse(res, 400, -32700, "Parse error: Invalid JSON");
    if (Array.isArray(body) && body.length > MAX_BATCH_SIZE) {
      return this.#refuse(
        res,
        400,
        -32600,
        `Invalid Request: Batch must not exceed ${MAX_BATCH_SIZE} messages`,
      );
    }
    const messages = (Array.isArray(body) ? body : [body]) as JSONRPCMessage[];
    if (messages.length === 0 || !messages.every(isMessage)) {
      return this.#refuse(res, 400, -32700, "Parse error: Invalid JSON-RPC message");
    }
    if (this.#closed) return jsonError(res, 404, -32001, "Session not found");
    const initialize = messages.some(isInitialize);
    if (initialize) {
      if (this.#initialized && this.sessionId !== undefined) {
        return this.#refuse(res, 400, -32600, "Invalid Request: Server already initialized");
      }
      if (messages.length > 1) {
        return this.#refuse(res, 400, -32600, "Invalid Request: Only one initialization request is allowed");
      }
      this.sessionId = this.#options.sessionIdGenerator();
      this.#initialized = true;
      this.#options.onsessioninitialized?.(this.sessionId);
    } else if (!this.#validSession(req, res) || !this.#validProtocolVersion(req, res)) return;
    if (this.#closed) return jsonError(res, 404, -32001, "Session not found");

    const extra: MessageExtraInfo = { requestInfo: new RequestInfo(req) };
    let exchange: Exchange | undefined;
    for (const message of messages) {
      if (!("method" in message) || !("id" in message) || message.id === undefined) continue;
      if (exchange === undefined) {
        exchange = { res, ids: [], answers: [], pending: 0, sse: false, gone: false };
      }
      exchange.ids.push(message.id);
      exchange.answers.push(undefined);
      exchange.pending++;
      this.#byRequest.set(message.id, exchange);
    }
    if (exchange === undefined) {
      // Only notifications and responses: accepted, nothing to answer.
      res.writeHead(202).end();
      for (const message of messages) this.onmessage?.(message, extra);
      return;
    }
    const open = exchange;
    // "close" comes once: a plain listener (no once-wrapper per request).
    res.on("close", () => {
      if (open.pending === 0) return;
      // The client went away before every answer: forget its requests (their answers are dropped).
      open.gone = true;
      this.#streams.delete(res);
      for (const id of open.ids) if (this.#byRequest.get(id) === open) this.#byRequest.delete(id);
    });
    for (const message of messages) this.onmessage?.(message, extra);
  }

  async #get(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!req.headers.accept?.includes("text/event-stream")) {
      return this.#refuse(res, 406, -32000, "Not Acceptable: Client must accept text/event-stream");
    }
    if (!this.#validSession(req, res) || !this.#validProtocolVersion(req, res)) return;
    if (this.#standalone !== undefined) {
      return this.#refuse(res, 409, -32000, "Conflict: Only one SSE stream is allowed per session");
    }
    this.#standalone = res;
    this.#openStream(res);
    res.flushHeaders();
    res.once("close", () => {
      this.#streams.delete(res);
      if (this.#standalone === res) this.#standalone = undefined;
    });
  }

  async #delete(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.#validSession(req, res) || !this.#validProtocolVersion(req, res)) return;
    try {
      this.#options.onsessionclosed?.(this.sessionId as string);
      res.writeHead(200).end();
    } finally {
      await this.close();
    }
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const response = "result" in message || "error" in message;
    const requestId = response ? (message as { id: RequestId }).id : options?.relatedRequestId;
    if (requestId === undefined) {
      if (response) {
        throw new Error(
          "Cannot send a response on a standalone SSE stream unless resuming a previous client request",
        );
      }
      // Nothing related: the GET stream, when the client keeps one open (else dropped, as the SDK does).
      if (this.#standalone !== undefined) writeEvent(this.#standalone, message);
      return;
    }
    const exchange = this.#byRequest.get(requestId);
    if (exchange === undefined) {
      if (this.#closed) return;
      throw new Error(`No connection established for request ID: ${String(requestId)}`);
    }
    if (!response) {
      // Streaming before the answer: this response becomes an event stream from here on.
      if (!exchange.sse) this.#toStream(exchange);
      writeEvent(exchange.res, message);
      return;
    }
    this.#byRequest.delete(requestId);
    exchange.pending--;
    if (exchange.sse) {
      writeEvent(exchange.res, message);
      if (exchange.pending === 0) this.#endStream(exchange.res);
      return;
    }
    if (exchange.ids.length === 1) {
      respondJson(exchange.res, JSON.stringify(message), this.sessionId);
      return;
    }
    exchange.answers[exchange.ids.indexOf(requestId)] = message;
    if (exchange.pending === 0) respondJson(exchange.res, JSON.stringify(exchange.answers), this.sessionId);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
    // Requests still unanswered learn at once that the session is gone (instead of waiting for a timeout).
    for (const exchange of new Set(this.#byRequest.values())) {
      exchange.gone = true;
      if (!exchange.sse && !exchange.res.headersSent)
        jsonError(exchange.res, 404, -32001, "Session not found");
    }
    this.#byRequest.clear();
    for (const res of this.#streams) res.end();
    this.#streams.clear();
    this.#standalone = undefined;
    this.onclose?.();
  }

  #toStream(exchange: Exchange): void {
    exchange.sse = true;
    this.#openStream(exchange.res);
    // Answers of a batch that arrived while it was still JSON go out first, as events.
    for (const answer of exchange.answers) if (answer !== undefined) writeEvent(exchange.res, answer);
  }

  #openStream(res: ServerResponse): void {
    res.writeHead(
      200,
      this.sessionId === undefined ? SSE_HEADERS : { ...SSE_HEADERS, "mcp-session-id": this.sessionId },
    );
    this.#streams.add(res);
    if (this.#keepAlive === undefined && this.#keepAliveMs > 0) {
      // One timer per session for all its streams, armed only while one is open.
      this.#keepAlive = setInterval(() => {
        if (this.#streams.size === 0) {
          clearInterval(this.#keepAlive);
          this.#keepAlive = undefined;
          return;
        }
        for (const stream of this.#streams) stream.write(": keepalive\n\n");
      }, this.#keepAliveMs);
      this.#keepAlive.unref?.();
    }
  }

  #endStream(res: ServerResponse): void {
    this.#streams.delete(res);
    res.end();
  }

  #validSession(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.#initialized) {
      this.#refuse(res, 400, -32000, "Bad Request: Server not initialized");
      return false;
    }
    const id = req.headers["mcp-session-id"];
    if (id === undefined || id === "") {
      this.#refuse(res, 400, -32000, "Bad Request: Mcp-Session-Id header is required");
      return false;
    }
    if (id !== this.sessionId) {
      this.#refuse(res, 404, -32001, "Session not found");
      return false;
    }
    return true;
  }

  #validProtocolVersion(req: IncomingMessage, res: ServerResponse): boolean {
    const version = req.headers["mcp-protocol-version"];
    if (version === undefined || SUPPORTED_PROTOCOL_VERSIONS.includes(version as string)) return true;
    const supported = SUPPORTED_PROTOCOL_VERSIONS.join(", ");
    this.#refuse(
      res,
      400,
      -32000,
      `Bad Request: Unsupported protocol version: ${String(version)} (supported versions: ${supported})`,
    );
    return false;
  }

  #refuse(res: ServerResponse, status: number, code: number, message: string): void {
    this.onerror?.(new Error(message));
    jsonError(res, status, code, message);
  }
}

const INVALID = Symbol("invalid");

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        resolve(INVALID);
      }
    });
    req.on("error", () => resolve(INVALID));
  });
}

/** The shape of a JSON-RPC 2.0 request, notification or response (what the SDK's schema checks). */
/** The SDK's (zod) check, run only on a message that names the method: every POST asks this. */
function isInitialize(message: JSONRPCMessage): boolean {
  return (message as { method?: unknown }).method === "initialize" && isInitializeRequest(message);
}

function isMessage(value: unknown): value is JSONRPCMessage {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const message = value as Record<string, unknown>;
  if (message.jsonrpc !== "2.0") return false;
  const id = message.id;
  const validId = typeof id === "string" || (typeof id === "number" && Number.isInteger(id));
  if (typeof message.method === "string") {
    const params = message.params;
    if (params !== undefined && (typeof params !== "object" || params === null)) return false;
    return !("id" in message) || validId;
  }
  if (!validId) return false;
  if ("result" in message) return typeof message.result === "object" && message.result !== null;
  const error = message.error as Record<string, unknown> | null | undefined;
  return (
    typeof error === "object" &&
    error !== null &&
    typeof error.code === "number" &&
    typeof error.message === "string"
  );
}

function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  if (header === "application/json") return true;
  return (header.split(";", 1)[0] as string).trim().toLowerCase() === "application/json";
}

/**
 * What the SDK hands request handlers as `extra.requestInfo`: the headers, and the URL when asked. A class,
 * not an object literal with a getter (which costs a closure and an accessor pair per request).
 */
class RequestInfo {
  readonly headers: IncomingHttpHeaders;
  readonly #req: IncomingMessage;
  #url: URL | undefined;

  constructor(req: IncomingMessage) {
    this.headers = req.headers;
    this.#req = req;
  }

  get url(): URL {
    this.#url ??= new URL(this.#req.url ?? "/", `http://${this.#req.headers.host ?? "localhost"}`);
    return this.#url;
  }
}

function writeEvent(res: ServerResponse, message: JSONRPCMessage): void {
  if (!res.writableEnded) res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
}

function respondJson(res: ServerResponse, payload: string, sessionId: string | undefined): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(
    200,
    sessionId === undefined
      ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) }
      : {
          "Content-Type": "application/json",
          "Content-Length": Buffer.byteLength(payload),
          "mcp-session-id": sessionId,
        },
  );
  res.end(payload);
}

function jsonError(res: ServerResponse, status: number, code: number, message: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const payload = JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null });
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) });
  res.end(payload);
}
