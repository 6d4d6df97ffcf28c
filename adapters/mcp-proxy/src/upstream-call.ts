import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, type JSONRPCMessage, McpError } from "@modelcontextprotocol/sdk/types.js";
import { SseParser } from "./sse-parser.js";
import type { ResponseSink, UpstreamResponse, UpstreamSend } from "./upstream-socket.js";

const EVENT_STREAM = /^\s*text\/event-stream\s*(;|$)/i;
const JSON_TYPE = /^\s*application\/json\s*(;|$)/i;
/** Our request ids: strings, so they never meet the SDK client's numeric ids in the same session. */
const ID_PREFIX = "sre-";

/** How a response stream cut before its answer is resumed (the SDK transport's reconnection options). */
export interface Resumption {
  initialDelayMs: number;
  maxDelayMs: number;
  growFactor: number;
  maxRetries: number;
}

export interface DirectCallsOptions {
  url: URL;
  /** The configured headers (credentials), sent with every request. */
  headers: Readonly<Record<string, string>> | undefined;
  /** Sends one request through the pool (the outcome to a sink: no promise per call). */
  send: UpstreamSend;
  /** The session the SDK transport negotiated (`initialize`): its id and protocol version. */
  session(): { sessionId: string | undefined; protocolVersion: string | undefined };
  /** Hands what the upstream sends besides the answer (notifications, its own requests) to the SDK client. */
  deliver(message: JSONRPCMessage): void;
  /** Tells the upstream a request was cancelled (`notifications/cancelled`, sent by the SDK client). */
  cancel(requestId: string, reason: string): void;
  resumption: Resumption;
}

/**
 * One call: settles once (the first of answer, error, abort, close wins). It is its own abort listener and
 * the sink of its POST's response, so a call costs no closures beyond its promise's.
 */
class Pending implements ResponseSink {
  readonly id: string;
  done = false;
  /** Cancelled by the caller: its response, if still open, is cut (an answer-less stream would hold a socket). */
  cancelled = false;
  /** The response being read. */
  res: UpstreamResponse | undefined;
  readonly #owner: Set<Pending>;
  readonly #signal: AbortSignal | undefined;
  readonly #cancel: DirectCallsOptions["cancel"];
  readonly #answer: (res: UpstreamResponse, pending: Pending) => void;
  readonly #resolve: (result: Record<string, unknown>) => void;
  readonly #reject: (error: unknown) => void;

  constructor(
    id: string,
    owner: Set<Pending>,
    signal: AbortSignal | undefined,
    cancel: DirectCallsOptions["cancel"],
    answer: (res: UpstreamResponse, pending: Pending) => void,
    resolve: (result: Record<string, unknown>) => void,
    reject: (error: unknown) => void,
  ) {
    this.id = id;
    this.#owner = owner;
    this.#signal = signal;
    this.#cancel = cancel;
    this.#answer = answer;
    this.#resolve = resolve;
    this.#reject = reject;
    owner.add(this);
    signal?.addEventListener("abort", this, { once: true });
  }

  /** The POST's response head arrived (`ResponseSink`). */
  response(res: UpstreamResponse): void {
    try {
      this.#answer(res, this);
    } catch (error) {
      // Called from the connection's parser: a failure here fails this call, not the connection or process.
      res.destroy();
      this.reject(error);
    }
  }

  /** The POST failed before its head (`ResponseSink`). */
  failed(error: unknown): void {
    this.reject(error);
  }

  resolve(result: Record<string, unknown>): void {
    if (this.done) return;
    this.#finish();
    this.#resolve(result);
  }

  reject(error: unknown): void {
    if (this.done) return;
    this.#finish();
    this.#reject(error);
  }

  /** The caller's signal aborted: cancel upstream, fail the call, cut its response. */
  handleEvent(): void {
    if (this.done) return;
    const reason = (this.#signal as AbortSignal).reason;
    this.#cancel(this.id, String(reason));
    this.cancelled = true;
    this.reject(reason instanceof McpError ? reason : new McpError(ErrorCode.RequestTimeout, String(reason)));
    this.res?.destroy();
  }

  #finish(): void {
    this.done = true;
    this.#owner.delete(this);
    this.#signal?.removeEventListener("abort", this);
  }
}

/** The upstream redirected: it did not take the request; the SDK transport (which follows) sends it again. */
export class RedirectedError extends Error {
  constructor(status: number) {
    super(`the upstream redirected (HTTP ${status})`);
    this.name = "RedirectedError";
  }
}

/**
 * The proxy's own POST of a forwarded request (tools/call and the rest) to a Streamable HTTP upstream, on
 * the pool's `node:http`: the SDK client's `request` plus its transport's `send` cost the proxy a `Headers`
 * and a `Response` per call, four zod parses of the answer (the transport's message schema, the protocol's
 * response guards) and the protocol's per-request timer and maps. Everything else of the session — the
 * handshake, `tools/list`, the GET stream, requests from the upstream, `DELETE` — stays with the SDK client
 * and transport, whose session id and protocol version these calls carry.
 *
 * Semantics follow the SDK's: a JSON or SSE answer; what a stream carries besides the answer goes to the SDK
 * client (`deliver`), so related notifications and sampling requests work as before; a stream cut before the
 * answer after an event id is resumed with GET and `Last-Event-ID`; an HTTP error is a
 * `StreamableHTTPError` (404 and a 400 naming the session are the session lost); a network failure is the
 * pool's `TypeError("fetch failed")`; an aborted call is cancelled upstream and rejected with an `McpError`.
 */
export class DirectCalls {
  readonly #options: DirectCallsOptions;
  readonly #pending = new Set<Pending>();
  /** Ends every request of these calls when the upstream session closes. */
  readonly #closing = new AbortController();
  #next = 0;
  #headers: Record<string, string> | undefined;
  #headersSession: string | undefined;
  #headersVersion: string | undefined;
  #post: Record<string, string> | undefined;
  #postCommon: Record<string, string> | undefined;
  /** Off after a redirect: the SDK transport follows redirects, these calls do not. */
  usable = true;

  constructor(options: DirectCallsOptions) {
    this.#options = options;
  }

  /** Sends one request and resolves with the upstream's result, untouched. */
  call(
    method: string,
    params: Record<string, unknown> | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Record<string, unknown>> {
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      if (this.#closing.signal.aborted) return reject(new Error("Not connected"));
      if (signal?.aborted) return reject(signal.reason);
      const id = `${ID_PREFIX}${++this.#next}`;
      const body = JSON.stringify(
        params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params },
      );
      const pending = new Pending(
        id,
        this.#pending,
        signal,
        this.#options.cancel,
        this.#answer,
        resolve,
        reject,
      );
      this.#options.send(this.#options.url, "POST", this.#postHeaders(), body, this.#closing.signal, pending);
    });
  }

  /** The upstream session ended: calls still waiting fail as the SDK client fails them. */
  close(): void {
    if (this.#closing.signal.aborted) return;
    const error = new McpError(ErrorCode.ConnectionClosed, "Connection closed");
    for (const pending of [...this.#pending]) pending.reject(error);
    this.#closing.abort(error);
  }

  #common(): Record<string, string> {
    const { sessionId, protocolVersion } = this.#options.session();
    if (
      this.#headers === undefined ||
      sessionId !== this.#headersSession ||
      protocolVersion !== this.#headersVersion
    ) {
      const headers: Record<string, string> = {};
      if (sessionId !== undefined) headers["mcp-session-id"] = sessionId;
      if (protocolVersion !== undefined) headers["mcp-protocol-version"] = protocolVersion;
      for (const [name, value] of Object.entries(this.#options.headers ?? {}))
        headers[name.toLowerCase()] = value;
      this.#headers = headers;
      this.#headersSession = sessionId;
      this.#headersVersion = protocolVersion;
    }
    return this.#headers;
  }

  /** The headers of every POST (the pool adds the content-length), kept while the session is the same. */
  #postHeaders(): Record<string, string> {
    const common = this.#common();
    if (this.#post === undefined || this.#postCommon !== common) {
      this.#post = {
        ...common,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      };
      this.#postCommon = common;
    }
    return this.#post;
  }

  /** The response to a call's POST (bound: every `Pending` is handed it). */
  readonly #answer = (res: UpstreamResponse, pending: Pending): void => {
    const status = res.status;
    if (pending.done) {
      if (pending.cancelled) res.destroy();
      else res.resume();
      return;
    }
    pending.res = res;
    if (status >= 300 && status < 400) {
      res.resume();
      this.usable = false;
      pending.reject(new RedirectedError(status));
      return;
    }
    if (status < 200 || status >= 300) {
      readText(res, pending, (text) =>
        pending.reject(new StreamableHTTPError(status, `Error POSTing to endpoint: ${text}`)),
      );
      return;
    }
    const type = res.contentType;
    if (status !== 202 && EVENT_STREAM.test(type)) {
      this.#stream(res, pending, false, 0);
      return;
    }
    if (status !== 202 && JSON_TYPE.test(type)) {
      readText(res, pending, (text) => {
        let data: unknown;
        try {
          data = JSON.parse(text);
        } catch (error) {
          pending.reject(error);
          return;
        }
        for (const message of Array.isArray(data) ? data : [data]) this.#receive(message, pending, false);
        if (!pending.done) pending.reject(noAnswer(pending.id));
      });
      return;
    }
    res.resume();
    pending.reject(
      status === 202 ? noAnswer(pending.id) : new StreamableHTTPError(-1, `Unexpected content type: ${type}`),
    );
  };

  /** Reads an SSE answer (or a resumed stream) to its end; resumes once more if it ends before the answer. */
  #stream(res: UpstreamResponse, pending: Pending, resumed: boolean, attempt: number): void {
    pending.res = res;
    const parser = new SseParser();
    const onData = (chunk: Buffer) => {
      for (const data of parser.push(chunk)) {
        let message: unknown;
        try {
          message = JSON.parse(data);
        } catch {
          continue; // the SDK reports it and reads on
        }
        try {
          this.#receive(message, pending, resumed);
        } catch (error) {
          // A message the SDK client could not take: this call fails, the stream is cut.
          pending.reject(error);
          res.destroy();
          return;
        }
      }
    };
    const ended = () => {
      if (pending.done) return;
      const lastEventId = parser.lastEventId;
      if (lastEventId === undefined || this.#closing.signal.aborted) {
        pending.reject(
          new McpError(ErrorCode.ConnectionClosed, "the upstream ended its response before the answer"),
        );
      } else this.#resume(pending, lastEventId, attempt, parser.retryMs);
    };
    res.read(onData, ended, ended);
  }

  #resume(pending: Pending, lastEventId: string, attempt: number, retryMs: number | undefined): void {
    const { initialDelayMs, maxDelayMs, growFactor, maxRetries } = this.#options.resumption;
    if (attempt >= maxRetries) {
      pending.reject(
        new McpError(ErrorCode.ConnectionClosed, `Maximum reconnection attempts (${maxRetries}) exceeded.`),
      );
      return;
    }
    const delayMs = retryMs ?? Math.min(initialDelayMs * growFactor ** attempt, maxDelayMs);
    const timer = setTimeout(() => {
      if (pending.done) return;
      const headers = { ...this.#common(), accept: "text/event-stream", "last-event-id": lastEventId };
      this.#options.send(this.#options.url, "GET", headers, undefined, this.#closing.signal, {
        response: (res) => {
          if (pending.done) {
            res.destroy();
            return;
          }
          const status = res.status;
          if (status !== 200 || !EVENT_STREAM.test(res.contentType)) {
            res.resume();
            pending.reject(
              new StreamableHTTPError(status, `Failed to open SSE stream: ${res.statusMessage}`),
            );
          } else this.#stream(res, pending, true, attempt + 1);
        },
        failed: (error) => pending.reject(error),
      });
    }, delayMs);
    timer.unref?.();
  }

  /** One message of an answer: ours settles the call; anything else is the SDK client's. */
  #receive(message: unknown, pending: Pending, resumed: boolean): void {
    if (typeof message !== "object" || message === null) return;
    const m = message as { id?: unknown; result?: unknown; error?: unknown; method?: unknown };
    if (!pending.done && m.method === undefined && (m.id === pending.id || (resumed && "result" in m))) {
      if (typeof m.result === "object" && m.result !== null) {
        pending.resolve(m.result as Record<string, unknown>);
        return;
      }
      const error = m.error as { code?: unknown; message?: unknown; data?: unknown } | undefined;
      if (typeof error === "object" && error !== null && typeof error.code === "number") {
        pending.reject(McpError.fromError(error.code, String(error.message ?? ""), error.data));
        return;
      }
    }
    this.#options.deliver(message as JSONRPCMessage);
  }
}

function noAnswer(id: string): McpError {
  return new McpError(ErrorCode.InternalError, `the upstream answered request ${id} without a response`);
}

/** Reads a body whole; a connection lost on the way fails as the pool's fetch does. */
function readText(res: UpstreamResponse, pending: Pending, done: (text: string) => void): void {
  const chunks: Buffer[] = [];
  res.read(
    (chunk) => chunks.push(chunk),
    () =>
      done(
        chunks.length === 1 ? (chunks[0] as Buffer).toString("utf8") : Buffer.concat(chunks).toString("utf8"),
      ),
    (error) => pending.reject(new TypeError("fetch failed", { cause: error })),
  );
}
