import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { AgentSRE } from "@agent-sre/core";
import { createDashboardHandler, type DashboardHandler, type DashboardHandlerOptions } from "./handler.js";
import { isLoopback, OriginPolicy } from "./security.js";

export interface ServeDashboardOptions extends DashboardHandlerOptions {
  /** Interface to bind (default 127.0.0.1). Anything beyond loopback requires `token`. */
  host?: string;
  /** Port (default 0: an ephemeral port; see `url`). */
  port?: number;
  /** Host names accepted in the Host header (default: the loopback names when bound to loopback). */
  allowedHosts?: string[];
  /** Extra origins accepted from browsers. */
  allowedOrigins?: string[];
}

export interface DashboardServer {
  /** The page's address (with the token as `?token=` when one is set, so a browser can log in). */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly handler: DashboardHandler;
  close(): Promise<void>;
}

/**
 * Serves the dashboard on its own HTTP server, protected like the MCP proxy's front: loopback by default,
 * a bearer token required to bind anything else, Host checked against DNS rebinding, foreign Origins
 * refused, actions only from the page itself.
 */
export async function serveDashboard(
  sre: AgentSRE,
  options: ServeDashboardOptions = {},
): Promise<DashboardServer> {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopback(host) && (options.token === undefined || options.token === "")) {
    throw new Error(`refusing to serve the dashboard on ${host} without a bearer token (or bind 127.0.0.1)`);
  }
  const policy = new OriginPolicy(host, options.allowedHosts, options.allowedOrigins);
  const handler = createDashboardHandler(sre, options);
  const server = createServer((req, res) => {
    if (!policy.hostAllowed(req.headers.host)) {
      res.writeHead(403, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("Forbidden: Host not allowed");
      return;
    }
    const origin = req.headers.origin;
    if (!policy.originAllowed(Array.isArray(origin) ? origin[0] : origin)) {
      res.writeHead(403, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("Forbidden: Origin not allowed");
      return;
    }
    const url = req.url ?? "/";
    if (url === "/" || url.startsWith("/?")) {
      res.writeHead(302, { Location: `${handler.basePath}/${url.slice(1)}` });
      res.end();
      return;
    }
    handler.handle(req, res).then(
      (handled) => {
        if (!handled) {
          res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
          res.end("Not found");
        }
      },
      () => {
        if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
        res.end("internal error");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost =
    isLoopback(host) && host !== "::1"
      ? "127.0.0.1"
      : address.family === "IPv6"
        ? `[${address.address}]`
        : address.address;
  const base = `http://${urlHost}:${address.port}${handler.basePath}/`;
  let closing: Promise<void> | undefined;
  return {
    url: options.token === undefined ? base : `${base}?token=${encodeURIComponent(options.token)}`,
    port: address.port,
    server,
    handler,
    close() {
      closing ??= new Promise<void>((resolve) => {
        handler.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
