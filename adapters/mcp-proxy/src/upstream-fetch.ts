import { type ClientRequest, request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { Readable } from "node:stream";
import { ConfigError } from "@agent-sre/core";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { SseParser } from "./sse-parser.js";
import { hintIdle, PoolAgent, PoolHttpsAgent } from "./upstream-agents.js";
import { requestOptions, targetOf } from "./upstream-request.js";
import {
  abortError,
  RawHttpPool,
  type UpstreamExchange,
  type UpstreamResponse,
  type UpstreamSend,
} from "./upstream-socket.js";

/** Connections kept per upstream origin (default). Enough to keep a busy server busy, few enough to stay lean. */
export const DEFAULT_UPSTREAM_SOCKETS = 64;

/**
 * How long a kept connection may sit idle when the server's answers carry no `Keep-Alive: timeout` hint: 4 s,
 * as Node's own fetch, under the 5 s Node's HTTP server keeps an idle connection by default. (The SDK's
 * Streamable HTTP server sets `Connection: keep-alive` itself, which stops Node from sending a hint.) A kept
 * socket the server has closed but whose FIN has not arrived yet is where a request gets `ECONNRESET` or
 * "socket hang up" although the server never saw it; closing first makes that race rare.
 */
export const DEFAULT_UPSTREAM_IDLE_MS = 4_000;

/** Statuses whose response has no body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

const EVENT_STREAM = /^\s*text\/event-stream\s*(;|$)/i;
const JSON_TYPE = /^\s*application\/json\s*(;|$)/i;

/** Delivers a message an upstream sent after the answer it streamed (see `pooledFetch`). */
export type LateMessage = (message: unknown) => void;

/** Makes the fetch of one Streamable HTTP client transport. */
export type UpstreamFetch = (late: LateMessage) => FetchLike;

/** What Streamable HTTP upstream connections use of the pool. */
export type UpstreamPool = Pick<PooledFetch, "fetchFor" | "request" | "exchange" | "send">;

export interface PooledFetch {
  /** A fetch for one transport; `late` receives what its streams carry after an answer they were cut to. */
  readonly fetchFor: UpstreamFetch;
  /**
   * One request through the pool, resolved with the response head (body unread): the proxy's own POSTs of
   * forwarded requests (see `DirectCalls`). `content-length` is the body's; `headers` is not changed.
   */
  readonly request: (
    url: URL,
    method: string,
    headers: Readonly<Record<string, string>>,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ) => Promise<IncomingMessage>;
  /**
   * One of the proxy's own requests (forwarded calls, see `DirectCalls`): `http:` upstreams on the raw
   * keep-alive client (`RawHttpPool`, its own connections), `https:` ones on `node:https` through this pool.
   */
  readonly exchange: UpstreamExchange;
  /** `exchange` with its outcome handed to a sink (no promise per call). */
  readonly send: UpstreamSend;
  /** Ends every request in flight and every kept connection. */
  close(): void;
}

/**
 * The `fetch` the proxy hands the SDK's HTTP client transports: `node:http(s)` over a keep-alive pool of at
 * most `maxSockets` connections per origin, shared by every session of the proxy.
 *
 * Why not the global fetch: under a burst of concurrent calls it opens one connection per request (2,000
 * calls → 2,000 sockets, each with its buffers and web streams), and the SDK passes the same AbortSignal to
 * every request of a session, where each one adds a listener (EventTarget checks for duplicates, so that is
 * O(n²) over concurrent requests). Here requests queue on a bounded pool, and a signal gets one listener no
 * matter how many requests carry it. Redirects are never followed (the SDK asks for `manual` and follows
 * same-origin ones itself). Network failures reject like undici's fetch: a `TypeError("fetch failed")` whose
 * `cause` carries the system error code, which the proxy's error classification reads.
 *
 * An SSE answer to a POST whose first message is the JSON-RPC response (what most servers stream for a
 * plain `tools/call`) is handed to the SDK as the equivalent `application/json` response, which the spec
 * allows either way: that saves the SDK's web-stream SSE pipeline per call. Anything the stream carries
 * after it goes to `late`, in order; a stream whose first message is not the response (progress, logs,
 * sampling) is passed through untouched from its first byte.
 */
export function pooledFetch(
  maxSockets = DEFAULT_UPSTREAM_SOCKETS,
  idleMs = DEFAULT_UPSTREAM_IDLE_MS,
): PooledFetch {
  if (!Number.isInteger(maxSockets) || maxSockets < 1)
    throw new ConfigError("upstreamSockets", maxSockets, "an integer >= 1");
  const options = { keepAlive: true, maxSockets, scheduling: "lifo" as const };
  const agents = { http: new PoolAgent(options, idleMs), https: new PoolHttpsAgent(options, idleMs) };
  /** Requests in flight per signal: one abort listener each, however many requests share the signal. */
  const bySignal = new WeakMap<AbortSignal, Set<(reason: unknown) => void>>();
  const watch = (signal: AbortSignal, abort: (reason: unknown) => void): (() => void) => {
    let set = bySignal.get(signal);
    if (set === undefined) {
      const own = new Set<(reason: unknown) => void>();
      set = own;
      bySignal.set(signal, own);
      signal.addEventListener(
        "abort",
        () => {
          for (const each of own) each(signal.reason);
          own.clear();
        },
        { once: true },
      );
    }
    set.add(abort);
    const entry = set;
    return () => entry.delete(abort);
  };

  /** Requests in flight per origin, at most `maxSockets`; the rest wait here, first come first served. */
  const gates = new Map<string, OriginGate>();
  let closed = false;

  /**
   * One request through the pool: waits for a slot of its origin, sends, resolves with the response once its
   * head arrived (the body unread). Rejects as fetch does (see above); an abort before or after the head
   * ends the request.
   */
  const request = (
    url: URL,
    method: string,
    headers: Readonly<Record<string, string>>,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<IncomingMessage> =>
    new Promise<IncomingMessage>((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal.reason));
      if (closed) return reject(new TypeError("fetch failed", { cause: new Error("the pool is closed") }));
      const https = url.protocol === "https:";
      const key = url.origin;
      let gate = gates.get(key);
      if (gate === undefined) {
        gate = new OriginGate(maxSockets);
        gates.set(key, gate);
      }
      const origin = gate;
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        reject(error);
      };
      let req: ClientRequest | undefined;
      const waiting: Waiting = { start: () => send(), fail };
      const unwatch =
        signal === undefined
          ? undefined
          : watch(signal, (reason) => {
              const error = abortError(reason);
              fail(error);
              if (req !== undefined) req.destroy(error);
              else origin.leave(waiting);
            });
      const send = () => {
        try {
          req = (https ? httpsRequest : httpRequest)(
            requestOptions(targetOf(url), method, headers, body, https ? agents.https : agents.http),
          );
        } catch (error) {
          // Refused before anything was sent (a header the HTTP layer rejects): the slot is free again.
          unwatch?.();
          origin.release();
          return fail(error as Error);
        }
        const sent = req;
        sent.once("close", () => origin.release());
        sent.once("response", (res) => {
          const hint = res.headers["keep-alive"];
          if (typeof hint === "string") hintIdle(res.socket, hint);
          if (unwatch !== undefined) res.once("close", unwatch);
          settled = true;
          resolve(res);
        });
        sent.once("error", (error) => {
          unwatch?.();
          fail(error.name === "AbortError" ? error : new TypeError("fetch failed", { cause: error }));
        });
        sent.end(body);
      };
      origin.enter(waiting);
    });

  const fetchFor =
    (late: LateMessage): FetchLike =>
    (input, init) => {
      const url = typeof input === "string" ? new URL(input) : input;
      const method = init?.method ?? "GET";
      const body = init?.body;
      if (body !== undefined && body !== null && typeof body !== "string") {
        return Promise.reject(new TypeError("pooledFetch: only string bodies are supported"));
      }
      return request(
        url,
        method,
        plainHeaders(init?.headers),
        body ?? undefined,
        init?.signal ?? undefined,
      ).then(
        (res) =>
          new Promise<Response>((resolve, reject) => {
            const status = res.statusCode ?? 0;
            const responseHeaders = new Headers();
            const raw = res.rawHeaders;
            for (let i = 0; i < raw.length; i += 2)
              responseHeaders.append(raw[i] as string, raw[i + 1] as string);
            const head = { status, statusText: res.statusMessage ?? "", headers: responseHeaders };
            if (NULL_BODY.has(status) || method === "HEAD") {
              res.resume();
              return resolve(new Response(null, head));
            }
            const signal = init?.signal;
            const failed = (error: Error) =>
              reject(
                signal?.aborted === true
                  ? abortError(signal.reason)
                  : new TypeError("fetch failed", { cause: error }),
              );
            const type = res.headers["content-type"] ?? "";
            if (method === "POST" && status === 200 && EVENT_STREAM.test(type)) {
              return probeAnswer(res, head, late, resolve, failed);
            }
            if (method === "POST" && status === 200 && JSON_TYPE.test(type))
              return readAnswer(res, head, resolve, failed);
            return resolve(new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, head));
          }),
      );
    };

  const raw = new RawHttpPool(maxSockets, idleMs);
  const exchange: UpstreamExchange = (url, method, headers, body, signal) =>
    url.protocol === "http:"
      ? raw.request(url, method, headers, body, signal)
      : request(url, method, headers, body, signal).then((res) => new NodeResponse(res));
  const send: UpstreamSend = (url, method, headers, body, signal, sink) => {
    if (url.protocol === "http:") return raw.send(url, method, headers, body, signal, sink);
    request(url, method, headers, body, signal).then(
      (res) => sink.response(new NodeResponse(res)),
      (error: unknown) => sink.failed(error),
    );
  };

  return {
    fetchFor,
    request,
    exchange,
    send,
    close() {
      raw.close();
      closed = true;
      const error = new TypeError("fetch failed", { cause: new Error("the pool is closed") });
      for (const gate of gates.values()) gate.failAll(error);
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

/** A `node:http(s)` response as an `UpstreamResponse` (the `https:` upstreams' forwarded calls). */
class NodeResponse implements UpstreamResponse {
  readonly status: number;
  readonly statusMessage: string;
  readonly contentType: string;
  readonly #res: IncomingMessage;

  constructor(res: IncomingMessage) {
    this.#res = res;
    this.status = res.statusCode ?? 0;
    this.statusMessage = res.statusMessage ?? "";
    this.contentType = res.headers["content-type"] ?? "";
  }

  read(onData: (chunk: Buffer) => void, onEnd: () => void, onError: (error: Error) => void): void {
    this.#res.on("data", onData);
    this.#res.once("end", onEnd);
    this.#res.once("error", onError);
  }

  resume(): void {
    this.#res.resume();
  }

  destroy(): void {
    this.#res.destroy();
  }
}

/** A request waiting for a slot: `start` sends it, `fail` rejects it. */
interface Waiting {
  start(): void;
  fail(error: Error): void;
}

/**
 * The requests of one origin: at most `limit` in flight (sent, answer not yet read to its end); the others
 * wait as a closure each, not as a `ClientRequest` with its headers built and its body buffered in the
 * agent's queue. Under a burst of 2,000 concurrent calls that is the difference between 64 request objects
 * alive and 2,000.
 */
class OriginGate {
  readonly #limit: number;
  #active = 0;
  #waiting: Waiting[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  enter(request: Waiting): void {
    if (this.#active < this.#limit) {
      this.#active++;
      request.start();
    } else this.#waiting.push(request);
  }

  /** A request waiting no more (aborted before it was sent). */
  leave(request: Waiting): void {
    const index = this.#waiting.indexOf(request);
    if (index >= 0) this.#waiting.splice(index, 1);
  }

  /** A request in flight ended (answered, failed or aborted): the next waiting one takes its slot. */
  release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#active--;
    else next.start();
  }

  failAll(error: Error): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const request of waiting) request.fail(error);
  }
}

/**
 * Reads an SSE answer up to its first message. The JSON-RPC response → settles with it as JSON and sends the
 * rest of the stream's messages to `late`; anything else → settles with the stream, replayed from its start.
 */
function probeAnswer(
  res: IncomingMessage,
  init: ResponseInit & { headers: Headers },
  late: LateMessage,
  settle: (response: Response) => void,
  fail: (error: Error) => void,
): void {
  const chunks: Buffer[] = [];
  const parser = new SseParser();
  let answered = false;
  const passThrough = () => {
    res.off("data", onData);
    res.off("end", onEnd);
    res.off("error", fail);
    res.pause();
    res.unshift(Buffer.concat(chunks));
    chunks.length = 0;
    settle(new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, init));
  };
  const onData = (chunk: Buffer) => {
    if (!answered) chunks.push(chunk);
    for (const data of parser.push(chunk)) {
      if (answered) {
        deliverLate(data, late);
        continue;
      }
      let message: unknown;
      try {
        message = JSON.parse(data);
      } catch {
        return passThrough(); // the SDK reports it its own way
      }
      if (!isResponse(message)) return passThrough();
      answered = true;
      chunks.length = 0;
      init.headers.set("content-type", "application/json");
      init.headers.delete("content-length");
      settle(new ReadResponse(data, init, message));
    }
  };
  const onEnd = () => {
    if (!answered) settle(new Response(Buffer.concat(chunks), init));
  };
  res.on("data", onData);
  res.once("end", onEnd);
  res.once("error", fail);
}

/** Reads a plain JSON answer whole, then settles with it already read (see `ReadResponse`). */
function readAnswer(
  res: IncomingMessage,
  init: ResponseInit,
  settle: (response: Response) => void,
  fail: (error: Error) => void,
): void {
  const chunks: Buffer[] = [];
  res.on("data", (chunk: Buffer) => chunks.push(chunk));
  res.once("end", () =>
    settle(
      new ReadResponse(
        chunks.length === 1 ? (chunks[0] as Buffer).toString("utf8") : Buffer.concat(chunks).toString("utf8"),
        init,
      ),
    ),
  );
  res.once("error", fail);
}

/**
 * A `Response` whose body the pool has read already: the JSON-RPC answer of a POST (cut out of an SSE stream,
 * or a JSON body). The SDK reads such an answer with `json()`; a `Response` built on the text would wrap it in
 * a web stream and read that back, chunk by chunk, per call. This one is built without a body and answers
 * `json()` / `text()` from the string; `body` makes the stream only if someone asks for it.
 */
export class ReadResponse extends Response {
  #text: string | undefined;
  /** The text already parsed (the SSE probe parsed it to see it is the answer), given once by `json()`. */
  #parsed: unknown;
  #stream: ReadableStream<Uint8Array> | undefined;

  constructor(text: string, init: ResponseInit, parsed?: unknown) {
    super(null, init);
    this.#text = text;
    this.#parsed = parsed;
  }

  /** The body as JSON, once: not parsed a second time when the probe has parsed it. */
  parse(): unknown {
    const parsed = this.#parsed;
    const text = this.take();
    return parsed === undefined ? JSON.parse(text) : parsed;
  }

  /** The text, once (a second read fails as `Response` does). */
  take(): string {
    const text = this.#text;
    if (text === undefined) throw new TypeError("Body is unusable: Body has already been read");
    this.#text = undefined;
    this.#parsed = undefined;
    return text;
  }

  /** The text as a stream, made on first access (nothing on the proxy's path asks for it). */
  streamBody(): ReadableStream<Uint8Array> | null {
    if (this.#stream === undefined && this.#text !== undefined) {
      const bytes = new TextEncoder().encode(this.take());
      this.#stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes);
          controller.close();
        },
      });
    }
    return this.#stream ?? null;
  }

  static {
    // The body methods and accessors of `Response`, answered from the text: defined on the prototype, as
    // TypeScript types them as fields of `Response`.
    const read = <T>(response: ReadResponse, map: (text: string) => T): Promise<T> => {
      try {
        return Promise.resolve(map(response.take()));
      } catch (error) {
        return Promise.reject(error);
      }
    };
    Object.defineProperties(ReadResponse.prototype, {
      text: {
        value: function text(this: ReadResponse) {
          return read(this, (t) => t);
        },
        configurable: true,
        writable: true,
      },
      json: {
        value: function json(this: ReadResponse) {
          try {
            return Promise.resolve(this.parse());
          } catch (error) {
            return Promise.reject(error);
          }
        },
        configurable: true,
        writable: true,
      },
      arrayBuffer: {
        value: function arrayBuffer(this: ReadResponse) {
          return read(this, (t) => {
            const bytes = Buffer.from(t, "utf8");
            return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
          });
        },
        configurable: true,
        writable: true,
      },
      body: {
        get(this: ReadResponse) {
          return this.streamBody();
        },
        configurable: true,
      },
      bodyUsed: {
        get(this: ReadResponse) {
          return this.#text === undefined && this.#stream === undefined;
        },
        configurable: true,
      },
    });
  }
}

function deliverLate(data: string, late: LateMessage): void {
  try {
    late(JSON.parse(data));
  } catch {
    // Not JSON: the SDK would have reported it and gone on; the answer has been delivered already.
  }
}

function isResponse(message: unknown): boolean {
  if (typeof message !== "object" || message === null) return false;
  return "id" in message && ("result" in message || "error" in message) && !("method" in message);
}

function plainHeaders(headers: RequestInit["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined) return out;
  if (headers instanceof Headers) {
    headers.forEach((value, key) => {
      out[key] = value;
    });
  } else if (Array.isArray(headers)) {
    for (const [key, value] of headers) out[(key as string).toLowerCase()] = value as string;
  } else {
    for (const [key, value] of Object.entries(headers))
      out[key.toLowerCase()] = typeof value === "string" ? value : value.join(", ");
  }
  return out;
}
