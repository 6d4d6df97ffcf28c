import type { Connection } from "./upstream-connection.js";

/**
 * The response to one of the proxy's own requests (see `DirectCalls`): the status, the one header the caller
 * reads, and the body, read once. The raw pool's exchanges are this; a `node:https` response is wrapped as it.
 */
export interface UpstreamResponse {
  readonly status: number;
  readonly statusMessage: string;
  /** The Content-Type header ("" without one). */
  readonly contentType: string;
  /** Reads the body: each chunk as it comes, then `onEnd` or `onError` (one of them, once). Call once. */
  read(onData: (chunk: Buffer) => void, onEnd: () => void, onError: (error: Error) => void): void;
  /** Drops the body; the connection is kept when the body ends cleanly. */
  resume(): void;
  /** Cuts the response: its connection is closed. */
  destroy(): void;
}

/**
 * Receives the outcome of one request: its response once the head arrived, or its failure before that
 * (rejected as fetch rejects: a `TypeError("fetch failed")` with the cause, or an `AbortError`).
 */
export interface ResponseSink {
  response(response: UpstreamResponse): void;
  failed(error: unknown): void;
}

/** One request, its outcome handed to `sink` (the proxy's forwarded calls: no promise per call). */
export type UpstreamSend = (
  url: URL,
  method: string,
  headers: Readonly<Record<string, string>>,
  body: string | undefined,
  signal: AbortSignal | undefined,
  sink: ResponseSink,
) => void;

/** One request, resolved with the response once its head arrived (see `UpstreamResponse`). */
export type UpstreamExchange = (
  url: URL,
  method: string,
  headers: Readonly<Record<string, string>>,
  body: string | undefined,
  signal: AbortSignal | undefined,
) => Promise<UpstreamResponse>;

/** Where an exchange waits for a connection (its origin's queue). */
export interface ExchangeQueue {
  leave(exchange: Exchange): void;
}

/**
 * One request and its response: waits in its origin's queue, is written on a connection, then is the
 * `UpstreamResponse` handed to its sink. Body chunks that arrive before `read` are kept.
 */
export class Exchange implements UpstreamResponse {
  status = 0;
  statusMessage = "";
  contentType = "";
  /** The request head (without its last line) and body, made into one string when written. */
  #head: string;
  #body: string | undefined;
  readonly headRequest: boolean;
  connection: Connection | undefined;
  watchers: Set<Exchange> | undefined;
  readonly #origin: ExchangeQueue;
  #sink: ResponseSink | undefined;
  /** 0 before the head, 1 reading the body, 2 done (ended, failed or cut). */
  #phase = 0;
  #chunks: Buffer[] | undefined;
  #ended = false;
  #failure: Error | undefined;
  #discard = false;
  #onData: ((chunk: Buffer) => void) | undefined;
  #onEnd: (() => void) | undefined;
  #onError: ((error: Error) => void) | undefined;

  constructor(
    origin: ExchangeQueue,
    head: string,
    body: string | undefined,
    headRequest: boolean,
    sink: ResponseSink,
  ) {
    this.#origin = origin;
    this.#head = head;
    this.#body = body;
    this.headRequest = headRequest;
    this.#sink = sink;
  }

  /**
   * The request as one string, made when it is written (a request waiting in the queue holds no copy);
   * dropped from the exchange once taken.
   */
  takeRequest(): string {
    const head = this.#head;
    const body = this.#body;
    this.#head = "";
    this.#body = undefined;
    return body === undefined
      ? `${head}\r\n`
      : `${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  }

  headArrived(): void {
    this.#phase = 1;
    const sink = this.#sink;
    this.#sink = undefined;
    sink?.response(this);
  }

  data(chunk: Buffer): void {
    if (this.#onData !== undefined) this.#onData(chunk);
    else if (this.#discard) return;
    else if (this.#chunks === undefined) this.#chunks = [chunk];
    else this.#chunks.push(chunk);
  }

  end(): void {
    if (this.#phase === 2) return;
    this.#phase = 2;
    this.#unwatch();
    if (this.#onEnd !== undefined) this.#onEnd();
    else this.#ended = true;
  }

  /** Failed: before the head, the promise rejects as fetch does; after it, the body's reader gets the error. */
  fail(error: Error): void {
    const phase = this.#phase;
    if (phase === 2) return;
    this.#phase = 2;
    this.#unwatch();
    if (phase === 0) {
      const sink = this.#sink;
      this.#sink = undefined;
      sink?.failed(error.name === "AbortError" ? error : new TypeError("fetch failed", { cause: error }));
    } else if (this.#onError !== undefined) this.#onError(error);
    else this.#failure = error;
  }

  /** The signal aborted: out of the queue, or cut on its connection. */
  abort(error: Error): void {
    if (this.#phase === 2) return;
    if (this.connection === undefined) this.#origin.leave(this);
    this.fail(error);
    this.connection?.cut(this);
  }

  read(onData: (chunk: Buffer) => void, onEnd: () => void, onError: (error: Error) => void): void {
    this.#onData = onData;
    this.#onEnd = onEnd;
    this.#onError = onError;
    const chunks = this.#chunks;
    this.#chunks = undefined;
    if (chunks !== undefined) for (const chunk of chunks) onData(chunk);
    if (this.#ended) onEnd();
    else if (this.#failure !== undefined) onError(this.#failure);
  }

  resume(): void {
    this.#discard = true;
    this.#chunks = undefined;
  }

  destroy(): void {
    if (this.#phase === 2) return;
    this.#phase = 2;
    this.#unwatch();
    this.connection?.cut(this);
  }

  #unwatch(): void {
    this.watchers?.delete(this);
    this.watchers = undefined;
  }
}

export function abortError(reason: unknown): Error {
  if (reason instanceof Error && reason.name === "AbortError") return reason;
  return new DOMException(
    reason instanceof Error ? reason.message : "This operation was aborted",
    "AbortError",
  ) as Error;
}
