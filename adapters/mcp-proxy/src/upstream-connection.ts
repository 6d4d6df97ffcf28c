import type { Socket } from "node:net";
import type { Exchange } from "./upstream-exchange.js";

/** The longest response head accepted (Node's default header limit). */
const MAX_HEAD_BYTES = 16 * 1024;

const HEAD = 0;
const LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_EXT = 3;
const CHUNK_SIZE_LF = 4;
const CHUNK_DATA = 5;
const CHUNK_DATA_CR = 6;
const CHUNK_DATA_LF = 7;
const TRAILER = 8;
const UNTIL_CLOSE = 9;

const STATUS_LINE = /^HTTP\/1\.[01] \d{3}(?: |$)/;

/** What a connection tells its origin. */
export interface ConnectionOwner {
  /** How long an idle connection is kept without a hint from the server. */
  readonly idleMs: number;
  /** The response is complete and the connection may take another request. */
  release(connection: Connection): void;
  /** The socket closed. */
  gone(connection: Connection): void;
}

/** One kept connection: writes a request, parses its response, then goes back to its origin. */
export class Connection {
  readonly socket: Socket;
  readonly #origin: ConnectionOwner;
  /** The exchange whose response is being read (undefined while idle). */
  #exchange: Exchange | undefined;
  #state = HEAD;
  /** Bytes of a head split across chunks. */
  #partial: Buffer | undefined;
  #remaining = 0;
  #trailerLine = 0;
  /** The current response lets the connection be reused (HTTP/1.1 without `Connection: close`, …). */
  #keep = true;
  /** The server's `Keep-Alive: timeout` hint less 1 s, once it sent one. */
  #hintMs: number | undefined;
  #ended = false;
  #error: Error | undefined;
  #idleSince = 0;
  #idleFor = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(origin: ConnectionOwner, socket: Socket) {
    this.#origin = origin;
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1_000);
    socket.on("data", (chunk: Buffer) => this.#data(chunk));
    socket.on("end", () => this.#end());
    socket.on("error", (error: Error) => {
      this.#error ??= error;
    });
    socket.on("close", () => this.#close());
  }

  /** Can take a request: open, not ended by the server, not busy. */
  get usable(): boolean {
    return this.#exchange === undefined && !this.#ended && !this.socket.destroyed;
  }

  start(exchange: Exchange): void {
    this.#exchange = exchange;
    this.#state = HEAD;
    this.#keep = true;
    exchange.connection = this;
    this.socket.write(exchange.takeRequest());
  }

  /** Becomes idle; false when it is not to be kept (the hint leaves no idle time). */
  idle(): boolean {
    const ms = this.#hintMs ?? this.#origin.idleMs;
    if (ms <= 0) {
      this.socket.destroy();
      return false;
    }
    this.#idleSince = performance.now();
    this.#idleFor = ms;
    if (this.#timer === undefined) this.#arm(ms);
    return true;
  }

  /** Cuts the exchange being read (aborted, or its reader is done with it): the socket is closed. */
  cut(exchange: Exchange): void {
    if (this.#exchange !== exchange) return;
    this.#exchange = undefined;
    this.socket.destroy();
  }

  /** One timer per connection, armed when it goes idle and re-armed for what is left when it fires early. */
  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#exchange !== undefined || this.socket.destroyed) return;
      const left = this.#idleFor - (performance.now() - this.#idleSince);
      if (left <= 0) this.socket.destroy();
      else this.#arm(left);
    }, ms);
    this.#timer.unref();
  }

  #data(input: Buffer): void {
    const exchange = this.#exchange;
    if (exchange === undefined) {
      this.socket.destroy(); // bytes nobody asked for
      return;
    }
    let chunk = input;
    if (this.#partial !== undefined) {
      chunk = Buffer.concat([this.#partial, input]);
      this.#partial = undefined;
    }
    let at = 0;
    const length = chunk.length;
    while (at < length) {
      switch (this.#state) {
        case HEAD: {
          const end = chunk.indexOf("\r\n\r\n", at, "latin1");
          if (end < 0) {
            if (length - at > MAX_HEAD_BYTES) this.#protocolError(exchange, "response head too large");
            else this.#partial = chunk.subarray(at);
            return;
          }
          const error = this.#head(exchange, chunk.toString("latin1", at, end));
          if (error !== undefined) {
            this.#protocolError(exchange, error);
            return;
          }
          at = end + 4;
          if (this.#state === HEAD) continue; // an interim (1xx) response: the real one follows
          exchange.headArrived();
          if (this.#exchange !== exchange) return; // cut by whoever read the head
          if (this.#state === LENGTH && this.#remaining === 0) this.#complete(exchange, at, length);
          break;
        }
        case LENGTH: {
          const take = Math.min(this.#remaining, length - at);
          exchange.data(chunk.subarray(at, at + take));
          this.#remaining -= take;
          at += take;
          if (this.#remaining === 0) this.#complete(exchange, at, length);
          break;
        }
        case UNTIL_CLOSE:
          exchange.data(at === 0 ? chunk : chunk.subarray(at));
          at = length;
          break;
        case CHUNK_DATA: {
          const take = Math.min(this.#remaining, length - at);
          exchange.data(chunk.subarray(at, at + take));
          this.#remaining -= take;
          at += take;
          if (this.#remaining === 0) this.#state = CHUNK_DATA_CR;
          break;
        }
        default: {
          const byte = chunk[at++] as number;
          const error = this.#chunkByte(byte);
          if (error !== undefined) {
            this.#protocolError(exchange, error);
            return;
          }
          if (this.#state === HEAD) this.#complete(exchange, at, length);
        }
      }
      if (this.#exchange !== exchange) return; // completed, failed or cut
    }
  }

  /** One byte of chunked framing (sizes, extensions, CRLFs, trailers); an error text when malformed. */
  #chunkByte(byte: number): string | undefined {
    switch (this.#state) {
      case CHUNK_SIZE: {
        const digit = hexDigit(byte);
        if (digit >= 0) {
          if (this.#remaining > 0x7fffffff) return "chunk too large";
          this.#remaining = this.#remaining * 16 + digit;
          this.#trailerLine++;
        } else if (byte === 13 && this.#trailerLine > 0) this.#state = CHUNK_SIZE_LF;
        else if ((byte === 59 || byte === 32 || byte === 9) && this.#trailerLine > 0) this.#state = CHUNK_EXT;
        else return "invalid chunk size";
        return undefined;
      }
      case CHUNK_EXT:
        if (byte === 13) this.#state = CHUNK_SIZE_LF;
        return undefined;
      case CHUNK_SIZE_LF:
        if (byte !== 10) return "invalid chunk size line";
        this.#trailerLine = 0;
        this.#state = this.#remaining === 0 ? TRAILER : CHUNK_DATA;
        return undefined;
      case CHUNK_DATA_CR:
        if (byte !== 13) return "missing CRLF after chunk";
        this.#state = CHUNK_DATA_LF;
        return undefined;
      case CHUNK_DATA_LF:
        if (byte !== 10) return "missing CRLF after chunk";
        this.#state = CHUNK_SIZE;
        this.#remaining = 0;
        this.#trailerLine = 0;
        return undefined;
      case TRAILER:
        if (byte === 10) {
          if (this.#trailerLine === 0) this.#state = HEAD; // the empty line: the message is complete
          this.#trailerLine = 0;
        } else if (byte !== 13) this.#trailerLine++;
        return undefined;
      default:
        return "unexpected state";
    }
  }

  /**
   * Parses a response head (without its blank line) into the exchange and the body's framing; an error
   * text when it is not HTTP/1.x. A 1xx head leaves the state at HEAD.
   */
  #head(exchange: Exchange, text: string): string | undefined {
    const lineEnd = text.indexOf("\r\n");
    const statusLine = lineEnd < 0 ? text : text.slice(0, lineEnd);
    if (!STATUS_LINE.test(statusLine)) return "invalid status line";
    const status = Number(statusLine.slice(9, 12));
    if (!Number.isInteger(status) || status < 100) return "invalid status code";
    const http10 = statusLine.charCodeAt(7) === 48; // HTTP/1.0
    let contentType = "";
    let contentLength = -1;
    let chunked = false;
    let connection = "";
    let keepAlive: string | undefined;
    let at = lineEnd < 0 ? text.length : lineEnd + 2;
    while (at < text.length) {
      let end = text.indexOf("\r\n", at);
      if (end < 0) end = text.length;
      const colon = text.indexOf(":", at);
      if (colon > at && colon < end) {
        const nameLength = colon - at;
        // Only five headers matter here: compare names of their lengths.
        if (nameLength === 12 || nameLength === 14 || nameLength === 17 || nameLength === 10) {
          const name = text.slice(at, colon).toLowerCase();
          const value = text.slice(colon + 1, end).trim();
          if (name === "content-type") contentType = value;
          else if (name === "content-length") {
            if (!/^\d+$/.test(value) || (contentLength >= 0 && Number(value) !== contentLength))
              return "invalid content-length";
            contentLength = Number(value);
          } else if (name === "transfer-encoding") chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
          else if (name === "connection") connection = connection === "" ? value : `${connection}, ${value}`;
          else if (name === "keep-alive") keepAlive = value;
        }
      }
      at = end + 2;
    }
    if (status < 200) {
      if (status === 101) return "unexpected protocol switch";
      return undefined; // interim: keep reading heads
    }
    exchange.status = status;
    exchange.statusMessage = statusLine.slice(13);
    exchange.contentType = contentType;
    const close = /(?:^|,)\s*close\s*(?:,|$)/i.test(connection);
    this.#keep = http10 ? /(?:^|,)\s*keep-alive\s*(?:,|$)/i.test(connection) && !close : !close;
    if (keepAlive !== undefined) {
      const seconds = /(?:^|[\s,])timeout=(\d+)/.exec(keepAlive)?.[1];
      if (seconds !== undefined) this.#hintMs = Math.max(0, Number(seconds) * 1000 - 1000);
    }
    if (exchange.headRequest || status === 204 || status === 304) {
      this.#state = LENGTH;
      this.#remaining = 0;
    } else if (chunked) {
      this.#state = CHUNK_SIZE;
      this.#remaining = 0;
      this.#trailerLine = 0;
    } else if (contentLength >= 0) {
      this.#state = LENGTH;
      this.#remaining = contentLength;
    } else {
      this.#state = UNTIL_CLOSE;
      this.#keep = false;
    }
    return undefined;
  }

  /** The response ended at `at` of a chunk of `length` bytes: the connection goes back (or closes). */
  #complete(exchange: Exchange, at: number, length: number): void {
    this.#exchange = undefined;
    this.#state = HEAD;
    // Bytes after the response were never asked for (no pipelining): the connection is not trusted further.
    if (!this.#keep || at < length || this.#ended) this.socket.destroy();
    else this.#origin.release(this);
    exchange.end();
  }

  #protocolError(exchange: Exchange, message: string): void {
    this.#exchange = undefined;
    this.socket.destroy();
    exchange.fail(
      Object.assign(new Error(`invalid response from the upstream: ${message}`), { code: "HPE_INVALID" }),
    );
  }

  /** The server ended its side: the end of a close-delimited body, else the connection is done. */
  #end(): void {
    this.#ended = true;
    const exchange = this.#exchange;
    if (exchange !== undefined && this.#state === UNTIL_CLOSE) {
      this.#exchange = undefined;
      exchange.end();
    }
    this.socket.destroy();
  }

  #close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#origin.gone(this);
    const exchange = this.#exchange;
    if (exchange === undefined) return;
    this.#exchange = undefined;
    exchange.fail(this.#error ?? hangUp());
  }
}

function hexDigit(byte: number): number {
  if (byte >= 48 && byte <= 57) return byte - 48;
  const lower = byte | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

/** The server closed the connection before the response was complete (as `node:http` names it). */
function hangUp(): Error {
  return Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
}
