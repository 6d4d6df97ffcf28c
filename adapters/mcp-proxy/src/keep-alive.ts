import type { Server } from "node:http";
import type { Socket } from "node:net";

/** How long the proxy tells clients it keeps an idle connection (`Keep-Alive: timeout=60`). */
export const KEEP_ALIVE_HINT_MS = 60_000;
/** How much longer it really keeps one. */
export const KEEP_ALIVE_GRACE_MS = 5_000;

const IN_GRACE = Symbol("keepAliveGrace");
type GraceSocket = Socket & { [IN_GRACE]?: boolean };

/**
 * Tells clients `hintMs` (Node's server sends `Keep-Alive: timeout=<hintMs / 1000>`) but closes an idle
 * connection only `graceMs` later. A client that takes the hint (Node's fetch keeps a connection for the hint
 * less 1 s, counted from when it reads the last answer) then closes first even when it read that answer over a
 * second late, instead of sending on a connection the server is closing and getting a reset (`UND_ERR_SOCKET`,
 * seen under load in bench/mcp-proxy-load.mjs when hint and timeout were both 65 s).
 *
 * Node arms an idle connection's socket timeout with `keepAliveTimeout` and destroys the socket when it fires,
 * unless the server has a `timeout` listener: this one re-arms it once for the grace, then destroys it. (The
 * proxy sets no `server.timeout`, so the keep-alive timer is the only socket timeout there is.) Nothing per
 * request but `markActive`: a response header set before `writeHead` would send every response down
 * `node:http`'s slower `setHeader` path.
 */
export function keepIdleWithGrace(
  server: Server,
  hintMs = KEEP_ALIVE_HINT_MS,
  graceMs = KEEP_ALIVE_GRACE_MS,
): void {
  server.keepAliveTimeout = hintMs;
  server.on("timeout", (socket: Socket) => {
    const idle = socket as GraceSocket;
    if (idle[IN_GRACE] === true || graceMs <= 0) return socket.destroy();
    idle[IN_GRACE] = true;
    socket.setTimeout(graceMs);
  });
}

/** A request arrived on `socket`: its next idle period gets the grace again. */
export function markActive(socket: Socket): void {
  (socket as GraceSocket)[IN_GRACE] = false;
}
