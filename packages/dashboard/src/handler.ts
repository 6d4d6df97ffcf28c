import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AgentSRE } from "@agent-sre/core";
import { FleetFeed, type FleetFeedOptions } from "./feed.js";
import { csrfSafe, TokenGate } from "./security.js";

export interface DashboardHandlerOptions extends FleetFeedOptions {
  /** Where the dashboard is mounted (default `/dashboard`). */
  basePath?: string;
  /**
   * Bearer token for the page, its API and its event stream. Open `<base>/?token=…` once in a browser to get
   * a session cookie. Without one, serve it on loopback only.
   */
  token?: string;
  /** Most concurrent event streams (default 32); more get 503. */
  maxStreams?: number;
  /** Page title (default "Agent SRE"). */
  title?: string;
}

export interface DashboardHandler {
  /** The base path it serves. */
  readonly basePath: string;
  readonly feed: FleetFeed;
  /** Handles the request if it is under `basePath` and resolves true; resolves false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Ends every event stream and detaches from the engine. */
  close(): void;
}

const STATIC = new URL("../static/", import.meta.url);
const ASSETS: Record<string, { file: string; type: string }> = {
  "app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "app.css": { file: "app.css", type: "text/css; charset=utf-8" },
};
const SECURITY_HEADERS = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};
const HEARTBEAT_MS = 15_000;

/**
 * The dashboard as a request handler to mount in any Node HTTP server (the MCP proxy mounts it at
 * `/dashboard`). Serves the page (plain HTML, CSS and JS from this package), `GET api/state`, the live
 * feed `GET api/events` (Server-Sent Events) and the operator actions `POST api/actions/<action>`. Host
 * and Origin checks belong to the server in front (see `serveDashboard`); the handler checks the token and
 * that actions come from its own page.
 */
export function createDashboardHandler(
  sre: AgentSRE,
  options: DashboardHandlerOptions = {},
): DashboardHandler {
  const basePath = (options.basePath ?? "/dashboard").replace(/\/$/, "");
  const gate = new TokenGate(options.token);
  const feed = new FleetFeed(sre, options);
  const maxStreams = options.maxStreams ?? 32;
  const streams = new Set<ServerResponse>();
  const title = escapeHtml(options.title ?? "Agent SRE");
  const assets = new Map(
    Object.entries(ASSETS).map(([name, asset]) => [
      name,
      { body: readFileSync(new URL(asset.file, STATIC)), type: asset.type },
    ]),
  );
  const page = readFileSync(new URL("index.html", STATIC), "utf8")
    .replaceAll("{{title}}", title)
    .replaceAll("{{base}}", escapeHtml(basePath));

  let lastSent = -1;
  const broadcast = () => {
    if (streams.size === 0 || feed.revision === lastSent) return;
    lastSent = feed.revision;
    const frame = `event: state\ndata: ${JSON.stringify(feed.snapshot())}\n\n`;
    for (const res of streams) res.write(frame);
  };
  const unsubscribe = feed.subscribe(broadcast);
  const heartbeat = setInterval(() => {
    for (const res of streams) res.write(": keep-alive\n\n");
  }, HEARTBEAT_MS);
  heartbeat.unref();

  const actions: Record<string, (body: Record<string, unknown>) => string> = {
    revive: (body) => {
      const agentId = requireString(body, "agentId");
      sre.revive(agentId);
      return `revived ${agentId}`;
    },
    "confirm-anomaly": (body) => {
      const agentId = requireString(body, "agentId");
      // newBaseline: the new cost level is intended, so the agent's baseline starts afresh at it.
      if (!sre.budget.confirmAnomaly(agentId, { newBaseline: body.newBaseline === true }))
        throw new ActionError(409, `agent "${agentId}" is not held after a cost anomaly`);
      return `confirmed the cost anomaly of ${agentId}: its calls run again`;
    },
    release: (body) => {
      const agentId = requireString(body, "agentId");
      if (!sre.isQuarantined(agentId)) throw new ActionError(409, `agent "${agentId}" is not quarantined`);
      sre.release(agentId);
      return `released ${agentId}`;
    },
    "reset-breaker": (body) => {
      const breakerId = requireString(body, "breakerId");
      if (!sre.breakers.snapshot().breakers.some((b) => b.id === breakerId))
        throw new ActionError(404, `no breaker "${breakerId}"`);
      sre.breakers.get(breakerId).reset();
      return `reset ${breakerId}`;
    },
    "silence-alert": (body) => {
      const control = options.alerts;
      if (control === undefined) throw new ActionError(404, "no alert manager is attached to this dashboard");
      const matchers = body.matchers;
      if (!Array.isArray(matchers) || matchers.length === 0 || !matchers.every((m) => typeof m === "string"))
        throw new ActionError(400, "matchers: expected a non-empty array of strings");
      const durationMs = body.durationMs ?? 3_600_000;
      if (
        typeof durationMs !== "number" ||
        !Number.isFinite(durationMs) ||
        durationMs <= 0 ||
        durationMs > 30 * 86_400_000
      )
        throw new ActionError(400, "durationMs: expected a duration in (0, 30 days]");
      let silence: { id: string; endsAt: number };
      try {
        silence = control.silence({
          matchers: matchers as string[],
          durationMs,
          createdBy: "dashboard",
          comment:
            typeof body.comment === "string" ? body.comment.slice(0, 500) : "silenced from the dashboard",
        });
      } catch (error) {
        throw new ActionError(400, (error as Error).message);
      }
      feed.touch();
      return `silenced ${matchers.join(", ")} until ${new Date(silence.endsAt).toISOString()} (${silence.id})`;
    },
    "expire-silence": (body) => {
      const id = requireString(body, "silenceId");
      if (options.alerts?.expireSilence(id) !== true) throw new ActionError(404, `no active silence "${id}"`);
      feed.touch();
      return `expired silence ${id}`;
    },
    "abort-experiment": (body) => {
      const experiment = requireString(body, "experiment");
      if (!sre.chaos.abort(experiment, "aborted from the dashboard"))
        throw new ActionError(404, `no running experiment "${experiment}"`);
      return `aborted ${experiment}`;
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    if (path !== basePath && !path.startsWith(`${basePath}/`)) return false;
    const rest = path.slice(basePath.length).replace(/^\//, "");

    if ((rest === "" || rest === "index.html") && req.method === "GET") {
      const offered = url.searchParams.get("token");
      if (offered !== null) {
        if (!gate.matches(offered)) {
          unauthorized(res);
          return true;
        }
        // Trade the token in the address for a cookie, and drop it from the address bar and history.
        res.writeHead(303, {
          Location: `${basePath}/`,
          "Set-Cookie": gate.sessionCookie(basePath),
          "Cache-Control": "no-store",
        });
        res.end();
        return true;
      }
      if (!gate.authorized(req)) {
        unauthorized(res);
        return true;
      }
      send(res, 200, "text/html; charset=utf-8", page);
      return true;
    }
    const asset = assets.get(rest);
    if (asset !== undefined && req.method === "GET") {
      // Static code holds no data: served without the token so the login page can load it too.
      send(res, 200, asset.type, asset.body);
      return true;
    }
    if (!gate.authorized(req)) {
      unauthorized(res);
      return true;
    }

    if (rest === "api/state" && req.method === "GET") {
      json(res, 200, feed.snapshot());
      return true;
    }
    if (rest.startsWith("api/agents/") && req.method === "GET") {
      const agentId = decodeURIComponent(rest.slice("api/agents/".length));
      json(res, 200, { agentId, decisions: feed.decisions(agentId) });
      return true;
    }
    if (rest === "api/events" && req.method === "GET") {
      if (streams.size >= maxStreams) {
        json(res, 503, { error: "too many dashboard streams" });
        return true;
      }
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-store",
        Connection: "keep-alive",
        "X-Accel-Buffering": "no",
      });
      res.write(`retry: 1000\nevent: state\ndata: ${JSON.stringify(feed.snapshot())}\n\n`);
      streams.add(res);
      req.on("close", () => streams.delete(res));
      return true;
    }
    if (rest.startsWith("api/actions/")) {
      if (req.method !== "POST") {
        res.setHeader("Allow", "POST");
        json(res, 405, { error: "method not allowed" });
        return true;
      }
      if (!csrfSafe(req)) {
        json(res, 403, { error: "forbidden: actions need a same-origin JSON request from the dashboard" });
        return true;
      }
      const action = actions[rest.slice("api/actions/".length)];
      if (action === undefined) {
        json(res, 404, { error: "unknown action" });
        return true;
      }
      let body: Record<string, unknown>;
      try {
        const parsed = JSON.parse(await readBody(req, 16 * 1024));
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
          throw new Error("not an object");
        body = parsed as Record<string, unknown>;
      } catch {
        json(res, 400, { error: "the body must be a JSON object" });
        return true;
      }
      try {
        const message = action(body);
        feed.touch();
        json(res, 200, { ok: true, message, state: feed.snapshot() });
      } catch (error) {
        const status = error instanceof ActionError ? error.status : 400;
        json(res, status, { ok: false, error: error instanceof Error ? error.message : String(error) });
      }
      return true;
    }
    json(res, 404, { error: "not found" });
    return true;
  };

  return {
    basePath,
    feed,
    handle,
    close() {
      unsubscribe();
      clearInterval(heartbeat);
      for (const res of streams) res.end();
      streams.clear();
      feed.close();
    },
  };
}

class ActionError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function requireString(body: Record<string, unknown>, key: string): string {
  const value = body[key];
  if (typeof value !== "string" || value.length === 0 || value.length > 256)
    throw new ActionError(400, `"${key}" must be a non-empty string`);
  return value;
}

function unauthorized(res: ServerResponse): void {
  res.writeHead(401, {
    ...SECURITY_HEADERS,
    "Content-Type": "text/plain; charset=utf-8",
    "WWW-Authenticate": 'Bearer realm="agent-sre"',
  });
  res.end("Unauthorized: open this page as <dashboard>/?token=<token> or send a bearer token.");
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
  });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, "application/json", JSON.stringify(body));
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

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
