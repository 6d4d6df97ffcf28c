import { StringDecoder } from "node:string_decoder";

/**
 * The data of each SSE `message` event (event type absent or "message"; others, comments and events without
 * data are skipped, as the SDK's client does), from chunks that may split lines and characters anywhere.
 */
export class SseParser {
  /** The last `id` field seen (what a resumed stream sends as `Last-Event-ID`). */
  lastEventId: string | undefined;
  /** The server's `retry` field: how long to wait before resuming, in ms. */
  retryMs: number | undefined;
  /** Made once a chunk ends inside a character (a whole chunk is decoded as it is until then). */
  #decoder: StringDecoder | undefined;
  #buffer = "";
  /** The data lines of the event being read, joined by "\n" (undefined: none yet). */
  #data: string | undefined;
  #event = "";
  #started = false;

  push(chunk: Buffer): string[] {
    let decoder = this.#decoder;
    // A chunk whose last byte is ASCII ends on a character boundary: decoded whole, no decoder needed.
    if (decoder === undefined && chunk.length > 0 && (chunk[chunk.length - 1] as number) >= 0x80)
      decoder = this.#decoder = new StringDecoder("utf8");
    const decoded = decoder === undefined ? chunk.toString("utf8") : decoder.write(chunk);
    let text = this.#buffer === "" ? decoded : this.#buffer + decoded;
    if (!this.#started && text.length > 0) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const out: string[] = [];
    let start = 0;
    for (;;) {
      const lf = text.indexOf("\n", start);
      const cr = text.indexOf("\r", start);
      let end: number;
      let next: number;
      if (cr >= 0 && (lf < 0 || cr < lf)) {
        // "\r\n" or a lone "\r"; a "\r" at the very end may be the first half of "\r\n": wait for more.
        if (cr === text.length - 1) break;
        end = cr;
        next = text.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
      } else if (lf >= 0) {
        end = lf;
        next = lf + 1;
      } else break;
      this.#line(text.slice(start, end), out);
      start = next;
    }
    this.#buffer = text.slice(start);
    return out;
  }

  #line(line: string, out: string[]): void {
    if (line === "") {
      const data = this.#data;
      if (data !== undefined && data !== "" && (this.#event === "" || this.#event === "message"))
        out.push(data);
      this.#data = undefined;
      this.#event = "";
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ":" comment (keep-alives)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "data") this.#data = this.#data === undefined ? value : `${this.#data}\n${value}`;
    else if (field === "event") this.#event = value;
    else if (field === "id" && !value.includes("\u0000")) this.lastEventId = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retryMs = Number(value);
  }
}
