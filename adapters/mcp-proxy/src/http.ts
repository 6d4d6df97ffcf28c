import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Duration, parseDuration } from "@agent-sre/core";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { McpProxy } from "./proxy.js";
import type { ProxySession } from "./session.js";

export interface HttpListenOptions {
  /** Interface to bind (default 127.0.0.1). Anything beyond loopback requires `token`. */
  host?: string;
  /** Port (default 0: an ephemeral port; see `listener.url`). */
  port?: number;
  /** MCP endpoint path (default `/mcp`). */
  path?: string;
  /** Bearer token every request (except `/healthz`) must carry. */
  token?: string;
  /** Host names accepted in the Host header (default: the loopback names when bound to loopback). */
  allowedHosts?: string[];
  /** Origins accepted from browsers (default: none besides the allowed hosts themselves). */
  allowedOrigins?: string[];
  /** Close sessions idle this long (default 30 min). */
  sessionIdleMs?: Duration;
  /** Most concurrent sessions (default 100); more get 503. */
  maxSessions?: number;
  /** Largest request body (default 4 MiB). */
  maxBodyBytes?: number;
}

export interface HttpListener {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly server: Server;
  /** Sessions served over this listener. */
  readonly sessionCount: number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

interface Entry {
  transport: StreamableHTTPServerTransport;
  session: ProxySession;
  lastSeen: number;
}

/**
 * Streamable HTTP in front of the proxy, plus `GET /status` (JSON) and `GET /metrics` (Prometheus text).
 * Stateful: each `initialize` opens a session with its own upstream sessions, addressed by `Mcp-Session-Id`.
 * Security defaults: loopback bind; a bearer token is required to bind anything else; the Host header must
 * name an allowed host (DNS-rebinding protection) and a browser Origin must be allowed; the client's
 * credentials never travel upstream (upstreams get only the headers their config names).
 */
export async function listenHttp(proxy: McpProxy, options: HttpListenOptions = {}): Promise<HttpListener> {
  const host = options.host ?? "127.0.0.1";
  const path = options.path ?? "/mcp";
  const token = options.token;
  if (!isLoopback(host) && (token === undefined || token === "")) {
    throw new Error(
      `refusing to listen on ${host} without a bearer token: set agentSre.listen.token (or --token / AGENT_SRE_TOKEN), or bind 127.0.0.1`,
    );
  }
  if (token !== undefined && token.length < 16)
    throw new Error("the bearer token needs at least 16 characters");
  const tokenDigest = token === undefined ? undefined : createHash("sha256").update(token).digest();
  const idleMs = parseDuration(options.sessionIdleMs ?? 30 * 60_000, "sessionIdleMs");
  const maxSessions = options.maxSessions ?? 100;
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const allowedHosts = new Set(
    (options.allowedHosts ?? (isLoopback(host) ? [...LOOPBACK] : [])).map((h) => h.toLowerCase()),
  );
  const allowedOrigins = new Set(
    (options.allowedOrigins ?? []).map((o) => o.toLowerCase().replace(/\/$/, "")),
  );
  const entries = new Map<string, Entry>();

  const hostAllowed = (header: string | undefined): boolean => {
    if (allowedHosts.size === 0) return true;
    if (header === undefined) return false;
    const name = hostName(header);
    return name !== undefined && allowedHosts.has(name);
  };
  const originAllowed = (origin: string | undefined): boolean => {
    if (origin === undefined) return true; // not a browser
    const normalized = origin.toLowerCase().replace(/\/$/, "");
    if (allowedOrigins.has(normalized)) return true;
    try {
      return allowedHosts.has(new URL(normalized).hostname);
    } catch {
      return false;
    }
  };
  const authorized = (header: string | undefined): boolean => {
    if (tokenDigest === undefined) return true;
    const match = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header.trim());
    if (match === null) return false;
    const digest = createHash("sha256")
      .update(match[1] as string)
      .digest();
    return timingSafeEqual(digest, tokenDigest);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!hostAllowed(req.headers.host)) return text(res, 403, "Forbidden: Host not allowed");
    if (!originAllowed(headerValue(req.headers.origin)))
      return text(res, 403, "Forbidden: Origin not allowed");
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/healthz" && req.method === "GET") return text(res, 200, "ok");
    if (!authorized(headerValue(req.headers.authorization))) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="agent-sre"');
      return json(res, 401, { error: "unauthorized: a valid bearer token is required" });
    }
    if (url.pathname === "/status" && req.method === "GET") return json(res, 200, proxy.status());
    if (url.pathname === "/metrics" && req.method === "GET") {
      const body = await proxy.metrics.text();
      res.writeHead(200, { "Content-Type": proxy.metrics.contentType });
      res.end(body);
      return;
    }
    if (url.pathname !== path) return text(res, 404, "Not found");
    if (req.method !== "POST" && req.method !== "GET" && req.method !== "DELETE") {
      res.setHeader("Allow", "GET, POST, DELETE");
      return text(res, 405, "Method not allowed");
    }
    const sessionId = headerValue(req.headers["mcp-session-id"]);
    if (sessionId !== undefined) {
      const entry = entries.get(sessionId);
      if (entry === undefined || entry.session.closed) {
        entries.delete(sessionId);
        return json(res, 404, {
          jsonrpc: "2.0",
          error: { code: -32001, message: "Session not found" },
          id: null,
        });
      }
      entry.lastSeen = Date.now();
      await entry.transport.handleRequest(req, res);
      return;
    }
    if (req.method !== "POST") {
      return json(res, 400, {
        jsonrpc: "2.0",
        error: { code: -32000, message: "Bad Request: Mcp-Session-Id header is required" },
        id: null,
      });
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req, maxBody));
    } catch (error) {
      const tooLarge = (error as Error).message === "too large";
      return json(res, tooLarge ? 413 : 400, {
        jsonrpc: "2.0",
        error: { code: -32700, message: tooLarge ? "Request body too large" : "Parse error" },
        id: null,
      });
    }
    const initialize = Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body);
    if (!initialize) {
      return json(res, 400, {
        jsonrpc: "2.0",
        error: { code: -32000, message: "Bad Request: No valid session ID provided" },
        id: null,
      });
    }
    if (entries.size >= maxSessions) {
      return json(res, 503, {
        jsonrpc: "2.0",
        error: { code: -32000, message: "Too many sessions" },
        id: null,
      });
    }
    let entry: Entry | undefined;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        if (entry !== undefined) entries.set(id, entry);
      },
      onsessionclosed: (id) => {
        entries.delete(id);
      },
    });
    const session = await proxy.connect(transport);
    entry = { transport, session, lastSeen: Date.now() };
    await transport.handleRequest(req, res, body);
    if (transport.sessionId === undefined) await session.close();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      proxy.logger.error(`http: ${req.method} ${req.url}: ${(error as Error).message}`);
      if (!res.headersSent) json(res, 500, { error: "internal error" });
      else res.end();
    });
  });
  server.keepAliveTimeout = 65_000;

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [id, entry] of entries) {
        if (entry.session.closed) entries.delete(id);
        else if (now - Math.max(entry.lastSeen, entry.session.lastActivityMs) > idleMs) {
          proxy.logger.info(`http: closing idle session ${id}`);
          entries.delete(id);
          void entry.session.close();
        }
      }
    },
    Math.max(1_000, Math.min(60_000, idleMs / 4)),
  );
  sweep.unref();

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${address.port}${path}`,
    host: address.address,
    port: address.port,
    server,
    get sessionCount() {
      return entries.size;
    },
    close() {
      if (closing !== undefined) return closing;
      closing = (async () => {
        clearInterval(sweep);
        const sessions = [...entries.values()].map((entry) => entry.session.close());
        entries.clear();
        await Promise.all(sessions);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}

function hostName(header: string): string | undefined {
  const value = header.trim().toLowerCase();
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    return end < 0 ? undefined : value.slice(0, end + 1);
  }
  const colon = value.indexOf(":");
  return colon < 0 ? value : value.slice(0, colon);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        reject(new Error("too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) });
  res.end(payload);
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}
