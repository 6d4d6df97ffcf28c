import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A request a fake service received. */
export interface ReceivedRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** How the fake answers the next request: a status (and body/headers), or hang until released. */
export type Reply = { status: number; body?: string; headers?: Record<string, string> } | "hang";

/**
 * A local HTTP server on 127.0.0.1, port 0, that mimics a service: it answers from a script of replies
 * (then `fallback`), records every request, and can hang a request until `release()`.
 */
export class FakeService {
  readonly requests: ReceivedRequest[] = [];
  readonly #server: Server;
  readonly #script: Reply[] = [];
  readonly #hung: ServerResponse[] = [];
  readonly #waiters: Array<{ count: number; resolve: () => void }> = [];
  #fallback: Exclude<Reply, "hang"> | "hang";
  #port = 0;

  private constructor(fallback: Exclude<Reply, "hang"> | "hang") {
    this.#fallback = fallback;
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        this.requests.push({
          method: req.method ?? "",
          path: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        });
        const reply = this.#script.shift() ?? this.#fallback;
        if (reply === "hang") this.#hung.push(res);
        else {
          res.writeHead(reply.status, { "content-type": "text/plain", ...(reply.headers ?? {}) });
          res.end(reply.body ?? "");
        }
        for (const waiter of [...this.#waiters]) {
          if (this.requests.length >= waiter.count) {
            this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
            waiter.resolve();
          }
        }
      });
    });
  }

  static async start(
    fallback: Exclude<Reply, "hang"> | "hang" = { status: 200, body: "ok" },
  ): Promise<FakeService> {
    const service = new FakeService(fallback);
    await new Promise<void>((resolve) => service.#server.listen(0, "127.0.0.1", resolve));
    service.#port = (service.#server.address() as AddressInfo).port;
    return service;
  }

  url(path = "/"): string {
    return `http://127.0.0.1:${this.#port}${path}`;
  }

  /** Queues replies for the next requests. */
  reply(...replies: Reply[]): this {
    this.#script.push(...replies);
    return this;
  }

  setFallback(reply: Exclude<Reply, "hang"> | "hang"): void {
    this.#fallback = reply;
  }

  /** Resolves once `count` requests have arrived in all. */
  waitFor(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  get hanging(): number {
    return this.#hung.filter((res) => !res.writableEnded && !res.destroyed).length;
  }

  /** Answers every hung request. */
  release(reply: Exclude<Reply, "hang"> = { status: 200, body: "ok" }): void {
    for (const res of this.#hung.splice(0)) {
      if (res.writableEnded || res.destroyed) continue;
      res.writeHead(reply.status, reply.headers ?? {});
      res.end(reply.body ?? "");
    }
  }

  json(index: number): unknown {
    const request = this.requests[index];
    if (request === undefined) throw new Error(`no request #${index} (got ${this.requests.length})`);
    return JSON.parse(request.body);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
