import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Socket } from "node:net";

// node:http(s) agents for the upstream requests that do not go through the raw pool (https upstreams and the
// SDK transport's own requests): idle sockets kept as the server's keep-alive hint allows, and dropped as soon
// as the server ends them.

/**
 * A kept socket the server closes (it restarted, or its keep-alive timed out) leaves the pool as soon as its
 * end is read, not once the close handshake finishes: a call in between would be written to a dead socket
 * and come back as "connection lost" although the server never saw it.
 */
function dropOnEnd(socket: Socket): void {
  const marked = socket as PoolSocket;
  if (marked[POOLED]) return;
  marked[POOLED] = true;
  socket.on("end", () => socket.destroy());
}

const POOLED = Symbol("pooled");
/** The idle time the server's last `Keep-Alive: timeout=N` hint allows (N s less 1 s, as Node's agent). */
const HINT_MS = Symbol("keepAliveHintMs");

type PoolSocket = Socket & { [POOLED]?: true; [HINT_MS]?: number };

export function hintIdle(socket: Socket | null, hint: string): void {
  const seconds = /(?:^|[\s,])timeout=(\d+)/.exec(hint)?.[1];
  if (socket !== null && seconds !== undefined)
    (socket as PoolSocket)[HINT_MS] = Math.max(0, Number(seconds) * 1000 - 1000);
}

/**
 * Keeps a socket for the server's hint, else for `idleMs` (Node's agent keeps one forever unless given a
 * `timeout`, and then applies that timeout to requests in flight too). The agent destroys a free socket
 * whose timeout fires.
 */
function keepFor(socket: Socket, idleMs: number): boolean {
  dropOnEnd(socket);
  const ms = (socket as PoolSocket)[HINT_MS] ?? idleMs;
  if (ms <= 0) return false;
  socket.setTimeout(ms);
  return true;
}

export class PoolAgent extends HttpAgent {
  readonly #idleMs: number;
  constructor(options: ConstructorParameters<typeof HttpAgent>[0], idleMs: number) {
    super(options);
    this.#idleMs = idleMs;
  }
  override keepSocketAlive(socket: Socket) {
    // Node's agent returns whether it keeps the socket (typed `void`).
    return (super.keepSocketAlive(socket) as unknown as boolean) && keepFor(socket, this.#idleMs);
  }
}

export class PoolHttpsAgent extends HttpsAgent {
  readonly #idleMs: number;
  constructor(options: ConstructorParameters<typeof HttpsAgent>[0], idleMs: number) {
    super(options);
    this.#idleMs = idleMs;
  }
  override keepSocketAlive(socket: Socket) {
    // Node's agent returns whether it keeps the socket (typed `void`).
    return (super.keepSocketAlive(socket) as unknown as boolean) && keepFor(socket, this.#idleMs);
  }
}
