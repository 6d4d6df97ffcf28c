import { validateHeaderName, validateHeaderValue } from "node:http";
import { connect as netConnect } from "node:net";
import { Connection } from "./upstream-connection.js";
import {
  abortError,
  Exchange,
  type ResponseSink,
  type UpstreamExchange,
  type UpstreamResponse,
  type UpstreamSend,
} from "./upstream-exchange.js";
import { targetOf } from "./upstream-request.js";

export { abortError, type ResponseSink, type UpstreamExchange, type UpstreamResponse, type UpstreamSend };

/** The pool is closed: requests fail as fetch would. */
const poolClosed = () => new TypeError("fetch failed", { cause: new Error("the pool is closed") });

/**
 * A keep-alive HTTP/1.1 client of plain-`http:` upstreams for the proxy's forwarded requests: at most
 * `maxSockets` connections per origin, requests beyond them queued (first come first served) as the
 * exchange object each already is. Per request it writes one string — a request head prebuilt per headers
 * object (the session's), the Content-Length and the body — and parses the answer itself: the status line,
 * the five headers it needs, a Content-Length, chunked or close-delimited body. Against `node:http`'s client
 * that saves, per call, the `ClientRequest` and `IncomingMessage` with their streams' state, the agent's
 * bookkeeping, the header objects and the listeners and closures of both (~10 KB of garbage per call under a
 * burst, a large share of the proxy's GC time).
 *
 * Keep-alive as the pool's `node:http` path: an idle connection is closed at the server's
 * `Keep-Alive: timeout=N` hint less 1 s, else after `idleMs`; one the server ends (FIN) leaves the pool at
 * once, so no request is written onto a connection the server is closing; `Connection: close` and HTTP/1.0
 * without keep-alive are honoured. Failures reject like undici's fetch: a `TypeError("fetch failed")` whose
 * `cause` has the system error's code (`ECONNREFUSED`: nothing was sent); a connection lost after the head
 * fails the body's reader.
 */
export class RawHttpPool {
  readonly #maxSockets: number;
  readonly #idleMs: number;
  readonly #origins = new Map<string, Origin>();
  /** Request heads by the headers object they were built from (a session keeps one for all its POSTs). */
  readonly #heads = new WeakMap<object, { url: URL; method: string; head: string }>();
  /** Exchanges in flight per signal: one abort listener each, however many requests share the signal. */
  readonly #bySignal = new WeakMap<AbortSignal, Set<Exchange>>();
  #closed = false;

  constructor(maxSockets: number, idleMs: number) {
    this.#maxSockets = maxSockets;
    this.#idleMs = idleMs;
  }

  /** One request (`http:` URLs only), its outcome handed to `sink`. */
  readonly send: UpstreamSend = (url, method, headers, body, signal, sink) => {
    if (signal?.aborted) return sink.failed(abortError(signal.reason));
    if (this.#closed) return sink.failed(poolClosed());
    let head: string;
    try {
      head = this.#head(url, method, headers, body !== undefined);
    } catch (error) {
      return sink.failed(error); // a header the HTTP layer refuses: nothing was sent
    }
    const origin = this.#origin(url);
    const exchange = new Exchange(origin, head, body, method === "HEAD", sink);
    if (signal !== undefined) this.#watch(signal, exchange);
    origin.enter(exchange);
  };

  /** One request (`http:` URLs only), resolved with the response once its head arrived. */
  readonly request: UpstreamExchange = (url, method, headers, body, signal) =>
    new Promise<UpstreamResponse>((resolve, reject) =>
      this.send(url, method, headers, body, signal, { response: resolve, failed: reject }),
    );

  /** Connections open per origin (tests, diagnostics). */
  sockets(url: URL): number {
    return this.#origins.get(url.origin)?.open ?? 0;
  }

  close(): void {
    this.#closed = true;
    for (const origin of this.#origins.values()) origin.close(poolClosed());
    this.#origins.clear();
  }

  #origin(url: URL): Origin {
    let origin = this.#origins.get(url.origin);
    if (origin === undefined) {
      const target = targetOf(url);
      origin = new Origin(target.hostname, target.port ?? 80, this.#maxSockets, this.#idleMs);
      this.#origins.set(url.origin, origin);
    }
    return origin;
  }

  /**
   * The request head without its last line: the request line, the caller's headers (validated as
   * `node:http` validates them), Host and Authorization (from URL credentials) unless given, and
   * `connection: keep-alive`. Built once per headers object, URL and method.
   */
  #head(url: URL, method: string, headers: Readonly<Record<string, string>>, hasBody: boolean): string {
    const cached = this.#heads.get(headers);
    if (cached !== undefined && cached.url === url && cached.method === method) return cached.head;
    const target = targetOf(url);
    let head = `${method} ${target.path} HTTP/1.1\r\n`;
    let host = false;
    let authorization = false;
    let connection = false;
    for (const name in headers) {
      const value = headers[name] as string;
      const lower = name.toLowerCase();
      if (lower === "content-length" && hasBody) continue; // ours, per request
      validateHeaderName(name);
      validateHeaderValue(name, value);
      head += `${name}: ${value}\r\n`;
      if (lower === "host") host = true;
      else if (lower === "authorization") authorization = true;
      else if (lower === "connection") connection = true;
    }
    if (!host) head += `host: ${target.host}\r\n`;
    if (!authorization && target.authorization !== undefined)
      head += `authorization: ${target.authorization}\r\n`;
    if (!connection) head += "connection: keep-alive\r\n";
    this.#heads.set(headers, { url, method, head });
    return head;
  }

  #watch(signal: AbortSignal, exchange: Exchange): void {
    let set = this.#bySignal.get(signal);
    if (set === undefined) {
      const own = new Set<Exchange>();
      set = own;
      this.#bySignal.set(signal, own);
      signal.addEventListener(
        "abort",
        () => {
          const error = abortError(signal.reason);
          for (const each of [...own]) each.abort(error);
          own.clear();
        },
        { once: true },
      );
    }
    set.add(exchange);
    exchange.watchers = set;
  }
}

/** The connections and the queue of one origin. */
class Origin {
  readonly host: string;
  readonly port: number;
  readonly idleMs: number;
  readonly #max: number;
  /** Sockets open or connecting. */
  open = 0;
  /** Idle connections, most recently used last (taken first: the least used ones age out). */
  readonly #idle: Connection[] = [];
  readonly #all = new Set<Connection>();
  #waiting: Exchange[] = [];

  constructor(host: string, port: number, max: number, idleMs: number) {
    this.host = host;
    this.port = port;
    this.#max = max;
    this.idleMs = idleMs;
  }

  enter(exchange: Exchange): void {
    let connection = this.#idle.pop();
    while (connection !== undefined && !connection.usable) connection = this.#idle.pop();
    if (connection !== undefined) connection.start(exchange);
    else if (this.open < this.#max) this.#connect(exchange);
    else this.#waiting.push(exchange);
  }

  /** A request waiting no more (aborted before it was sent). */
  leave(exchange: Exchange): void {
    const index = this.#waiting.indexOf(exchange);
    if (index >= 0) this.#waiting.splice(index, 1);
  }

  /** A connection finished its response and may be reused: the next waiting request, else idle. */
  release(connection: Connection): void {
    const next = this.#waiting.shift();
    if (next !== undefined) connection.start(next);
    else if (connection.idle()) this.#idle.push(connection);
  }

  /** A connection closed: a waiting request gets a new one. */
  gone(connection: Connection): void {
    if (!this.#all.delete(connection)) return;
    this.open--;
    const index = this.#idle.lastIndexOf(connection);
    if (index >= 0) this.#idle.splice(index, 1);
    const next = this.#waiting.shift();
    if (next !== undefined) this.#connect(next);
  }

  close(error: Error): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const exchange of waiting) exchange.fail(error);
    for (const connection of [...this.#all]) connection.socket.destroy();
  }

  #connect(exchange: Exchange): void {
    this.open++;
    const connection = new Connection(this, netConnect({ host: this.host, port: this.port }));
    this.#all.add(connection);
    connection.start(exchange);
  }
}
