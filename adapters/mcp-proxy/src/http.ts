import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError, type Duration, parseDuration } from "@agent-sre/core";
import { createDashboardHandler } from "@agent-sre/dashboard";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { HttpSessionTransport } from "./http-transport.js";
import { keepIdleWithGrace, markActive } from "./keep-alive.js";
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
  /** Close sessions idle this long (default 10 min). */
  sessionIdleMs?: Duration;
  /** Close sessions that made no request after `initialize` this long (default 60 s). */
  unusedSessionIdleMs?: Duration;
  /**
   * Most concurrent sessions (default 100). When full, a new client's `initialize` evicts the least recently
   * used session of the client holding the most sessions; 503 only when every client holds one busy session.
   */
  maxSessions?: number;
  /**
   * Most sessions one client identity holds (default 16): its next `initialize` evicts its own least recently
   * used session, so a client that leaks sessions never locks itself or anyone else out. The identity is the
   * peer address plus the client's name (`clientInfo.name`); with `token`, the token is part of it.
   */
  maxSessionsPerClient?: number;
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
  id: string;
  transport: HttpSessionTransport;
  session: ProxySession;
  /** Who opened it (see `maxSessionsPerClient`). */
  client: string;
  lastSeen: number;
  /** Requests after the `initialize` that opened the session. */
  requests: number;
}

/** A session idle at least this long may be evicted to admit another client when the table is full. */
const EVICTABLE_IDLE_MS = 30_000;
/** Bytes of an oversized body read and discarded (so the client reads the 413) before the socket is cut. */
const DRAIN_FACTOR = 16;

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
  const idleMs = parseDuration(options.sessionIdleMs ?? 10 * 60_000, "sessionIdleMs");
  const unusedIdleMs = Math.min(
    idleMs,
    parseDuration(options.unusedSessionIdleMs ?? 60_000, "unusedSessionIdleMs"),
  );
  const maxSessions = options.maxSessions ?? 100;
  const maxPerClient = Math.min(maxSessions, options.maxSessionsPerClient ?? 16);
  if (!Number.isInteger(maxSessions) || maxSessions < 1)
    throw new ConfigError("maxSessions", maxSessions, "an integer >= 1");
  if (!Number.isInteger(maxPerClient) || maxPerClient < 1)
    throw new ConfigError("maxSessionsPerClient", options.maxSessionsPerClient, "an integer >= 1");
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const allowedHosts = new Set(
    (options.allowedHosts ?? (isLoopback(host) ? [...LOOPBACK] : [])).map((h) => h.toLowerCase()),
  );
  const allowedOrigins = new Set(
    (options.allowedOrigins ?? []).map((o) => o.toLowerCase().replace(/\/$/, "")),
  );
  const entries = new Map<string, Entry>();
  // The live dashboard at /dashboard: same token (or its session cookie), Host and Origin checks as the rest.
  const dashboard = createDashboardHandler(proxy.sre, {
    basePath: "/dashboard",
    ...(token === undefined ? {} : { token }),
    framework: () => "MCP",
    title: "Agent SRE · MCP proxy",
    ...(proxy.alerts === undefined ? {} : { alerts: proxy.alerts }),
  });
  /** Sessions per client identity. */
  const byClient = new Map<string, Set<Entry>>();
  const forget = (entry: Entry): void => {
    entries.delete(entry.id);
    const own = byClient.get(entry.client);
    own?.delete(entry);
    if (own?.size === 0) byClient.delete(entry.client);
  };
  const evict = (entry: Entry, why: string): void => {
    proxy.logger.info(`http: closing session ${entry.id} of ${entry.client} (${why})`);
    forget(entry);
    void entry.session.close();
  };
  const leastRecent = (set: Iterable<Entry>): Entry | undefined => {
    let oldest: Entry | undefined;
    for (const entry of set) if (oldest === undefined || entry.lastSeen < oldest.lastSeen) oldest = entry;
    return oldest;
  };
  /** Makes room for one more session of `client`; false when nobody can fairly give one up. */
  const admit = (client: string): boolean => {
    const own = byClient.get(client);
    if (own !== undefined && own.size >= maxPerClient) {
      evict(leastRecent(own) as Entry, `client holds ${own.size} sessions, the most per client`);
    }
    if (entries.size < maxSessions) return true;
    // Full: the client holding the most sessions gives up its least recently used one.
    let biggest: Set<Entry> | undefined;
    for (const set of byClient.values()) if (biggest === undefined || set.size > biggest.size) biggest = set;
    if (biggest !== undefined && biggest.size > (own?.size ?? 0) + 1) {
      evict(leastRecent(biggest) as Entry, "the session table is full");
      return true;
    }
    // Every client holds about as many as this one: only a long-idle session makes room.
    const oldest = leastRecent(entries.values());
    if (oldest !== undefined && Date.now() - oldest.lastSeen >= EVICTABLE_IDLE_MS) {
      evict(oldest, "the session table is full");
      return true;
    }
    return false;
  };

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

  /** The MCP path lies under the dashboard's (it would see the request first). */
  const dashboardPath = path === "/dashboard" || path.startsWith("/dashboard/");
  const unauthorized = (res: ServerResponse): void => {
    res.setHeader("WWW-Authenticate", 'Bearer realm="agent-sre"');
    json(res, 401, { error: "unauthorized: a valid bearer token is required" });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!hostAllowed(req.headers.host)) return text(res, 403, "Forbidden: Host not allowed");
    if (!originAllowed(headerValue(req.headers.origin)))
      return text(res, 403, "Forbidden: Origin not allowed");
    // The MCP endpoint itself, as clients send it (nearly every request): no URL parsed, not the dashboard's.
    if (req.url === path && !dashboardPath) {
      if (!authorized(headerValue(req.headers.authorization))) return unauthorized(res);
      return mcp(req, res);
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/healthz" && req.method === "GET") return text(res, 200, "ok");
    if (await dashboard.handle(req, res)) return;
    if (!authorized(headerValue(req.headers.authorization))) return unauthorized(res);
    if (url.pathname === "/status" && req.method === "GET") return json(res, 200, proxy.status());
    if (url.pathname === "/chaos" || url.pathname.startsWith("/chaos/"))
      return chaosRoute(proxy, req, res, url);
    if (url.pathname === "/metrics" && req.method === "GET") {
      const body = await proxy.metrics.text();
      res.writeHead(200, { "Content-Type": proxy.metrics.contentType });
      res.end(body);
      return;
    }
    if (url.pathname !== path) return text(res, 404, "Not found");
    return mcp(req, res);
  };

  /** A request to the MCP endpoint (checked: host, origin, token). */
  const mcp = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
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
      entry.requests++;
      if (req.method === "POST") {
        const parsed = await readJson(req, res, maxBody);
        if (parsed === NO_BODY) return;
        await entry.transport.handleRequest(req, res, parsed);
        return;
      }
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
    const body = await readJson(req, res, maxBody);
    if (body === NO_BODY) return;
    const initialize = Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body);
    if (!initialize) {
      return json(res, 400, {
        jsonrpc: "2.0",
        error: { code: -32000, message: "Bad Request: No valid session ID provided" },
        id: null,
      });
    }
    const client = clientIdentity(req, body, tokenDigest !== undefined);
    if (!admit(client)) {
      res.setHeader("Retry-After", String(Math.ceil(EVICTABLE_IDLE_MS / 1000)));
      return json(res, 503, {
        jsonrpc: "2.0",
        error: { code: -32000, message: "Too many sessions: every client holds a session in use" },
        id: null,
      });
    }
    let entry: Entry | undefined;
    const transport = new HttpSessionTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        if (entry === undefined) return;
        entry.id = id;
        entries.set(id, entry);
        let own = byClient.get(entry.client);
        if (own === undefined) {
          own = new Set();
          byClient.set(entry.client, own);
        }
        own.add(entry);
      },
      onsessionclosed: (id) => {
        const closed = entries.get(id);
        if (closed !== undefined) forget(closed);
      },
    });
    const session = await proxy.connect(transport);
    entry = { id: "", transport, session, client, lastSeen: Date.now(), requests: 0 };
    await transport.handleRequest(req, res, body);
    if (transport.sessionId === undefined) await session.close();
  };

  const server = createServer((req, res) => {
    markActive(req.socket);
    handle(req, res).catch((error) => {
      proxy.logger.error(`http: ${req.method} ${req.url}: ${(error as Error).message}`);
      if (!res.headersSent) json(res, 500, { error: "internal error" });
      else res.end();
    });
  });
  keepIdleWithGrace(server);

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const entry of [...entries.values()]) {
        if (entry.session.closed) forget(entry);
        else {
          const idle = now - Math.max(entry.lastSeen, entry.session.lastActivityMs);
          if (entry.requests === 0 && idle > unusedIdleMs) evict(entry, "unused since initialize");
          else if (idle > idleMs) evict(entry, "idle");
        }
      }
    },
    Math.max(1_000, Math.min(60_000, unusedIdleMs / 4)),
  );
  sweep.unref();

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // A deep accept queue: bursts of concurrent calls (each a POST, often on a new connection) overflow
    // Node's default of 511 and clients see resets.
    server.listen({ port: options.port ?? 0, host, backlog: 4096 }, () => {
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
        dashboard.close();
        const sessions = [...entries.values()].map((entry) => entry.session.close());
        entries.clear();
        byClient.clear();
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

/** `GET /chaos` (schedules, blackout now, history) and `POST /chaos/run/<schedule>`. */
async function chaosRoute(
  proxy: McpProxy,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const scheduler = proxy.scheduler;
  if (scheduler === undefined)
    return json(res, 404, { error: "no chaos schedules are configured (agentSre.chaos.schedules)" });
  if (url.pathname === "/chaos" && req.method === "GET") {
    const limit = Number(url.searchParams.get("limit") ?? 50);
    const schedule = url.searchParams.get("schedule") ?? undefined;
    const history = await scheduler.history({
      limit: Number.isInteger(limit) && limit > 0 ? Math.min(limit, 1_000) : 50,
      ...(schedule === undefined ? {} : { schedule }),
    });
    return json(res, 200, {
      schedules: scheduler.list(),
      blackout: scheduler.blackoutNow() ?? null,
      history,
    });
  }
  const run = /^\/chaos\/run\/([^/]+)$/.exec(url.pathname);
  if (run !== null && req.method === "POST") {
    const name = decodeURIComponent(run[1] as string);
    if (!scheduler.list().some((s) => s.name === name))
      return json(res, 404, { error: `no chaos schedule named "${name}"` });
    return json(res, 200, scheduler.run(name));
  }
  return json(res, 404, { error: "not found" });
}

const NO_BODY = Symbol("no-body");

/**
 * Reads and parses a JSON body of at most `max` bytes. Too large → 413 with a JSON-RPC error, sent at once;
 * the rest of the body is read and discarded (up to `DRAIN_FACTOR × max`) so the client, still sending,
 * reads the answer instead of a TCP reset. Invalid JSON → 400 Parse error. Either way returns `NO_BODY`.
 */
async function readJson(
  req: IncomingMessage,
  res: ServerResponse,
  max: number,
): Promise<unknown | typeof NO_BODY> {
  const tooLarge = () => {
    json(res, 413, {
      jsonrpc: "2.0",
      error: { code: -32600, message: `Request body too large (the limit is ${max} bytes)` },
      id: null,
    });
    let discarded = 0;
    req.removeAllListeners("data");
    req.on("data", (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > DRAIN_FACTOR * max) req.destroy();
    });
    req.resume();
    return NO_BODY;
  };
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max) return tooLarge();
  const text = await new Promise<string | undefined>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.off("data", onData);
        req.off("end", onEnd);
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () =>
      resolve((chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString("utf8"));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", reject);
  });
  if (text === undefined) return tooLarge();
  try {
    return JSON.parse(text);
  } catch {
    json(res, 400, { jsonrpc: "2.0", error: { code: -32700, message: "Parse error" }, id: null });
    return NO_BODY;
  }
}

/** Who opened a session: the peer address and the client's name (and the token holder, with a token). */
function clientIdentity(req: IncomingMessage, body: unknown, withToken: boolean): string {
  const first = Array.isArray(body) ? body.find(isInitializeRequest) : body;
  const info = (first as { params?: { clientInfo?: { name?: unknown } } } | undefined)?.params?.clientInfo;
  const name = typeof info?.name === "string" ? info.name.slice(0, 64) : "?";
  const peer = req.socket.remoteAddress ?? "?";
  return `${withToken ? "token@" : ""}${peer}/${name}`;
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
