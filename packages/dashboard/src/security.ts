import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export const COOKIE_NAME = "agent_sre_dashboard";

/**
 * Token checks for the dashboard: a bearer header (API clients) or a session cookie the page gets by
 * opening `<base>/?token=…` once (browsers cannot put a header on a page load or an EventSource). The
 * cookie holds a digest of the token, never the token, and is HttpOnly and SameSite=Strict.
 */
export class TokenGate {
  readonly #digest: Buffer | undefined;
  readonly #cookieValue: string | undefined;

  constructor(token: string | undefined) {
    if (token !== undefined && token.length < 16)
      throw new Error("the bearer token needs at least 16 characters");
    this.#digest = token === undefined ? undefined : sha256(token);
    this.#cookieValue =
      token === undefined ? undefined : sha256(`agent-sre-dashboard\u0000${token}`).toString("hex");
  }

  get enabled(): boolean {
    return this.#digest !== undefined;
  }

  /** Whether `candidate` is the token (constant time). */
  matches(candidate: string | null | undefined): boolean {
    if (this.#digest === undefined) return true;
    if (typeof candidate !== "string" || candidate.length === 0) return false;
    return timingSafeEqual(sha256(candidate), this.#digest);
  }

  /** Bearer header or session cookie. */
  authorized(req: IncomingMessage): boolean {
    if (this.#digest === undefined) return true;
    const header = req.headers.authorization;
    const match = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header.trim());
    if (match !== null && this.matches(match[1])) return true;
    const cookie = cookieValue(req.headers.cookie, COOKIE_NAME);
    if (cookie === undefined || this.#cookieValue === undefined) return false;
    const a = Buffer.from(cookie);
    const b = Buffer.from(this.#cookieValue);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  sessionCookie(path: string): string {
    return `${COOKIE_NAME}=${this.#cookieValue ?? ""}; Path=${path}; HttpOnly; SameSite=Strict`;
  }
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Host-header (DNS rebinding) and Origin checks, as the MCP proxy's HTTP front does them. */
export class OriginPolicy {
  readonly #hosts: Set<string>;
  readonly #origins: Set<string>;

  constructor(bindHost: string, allowedHosts?: string[], allowedOrigins?: string[]) {
    this.#hosts = new Set(
      (allowedHosts ?? (isLoopback(bindHost) ? [...LOOPBACK] : [])).map((h) => h.toLowerCase()),
    );
    this.#origins = new Set((allowedOrigins ?? []).map((o) => o.toLowerCase().replace(/\/$/, "")));
  }

  hostAllowed(header: string | undefined): boolean {
    if (this.#hosts.size === 0) return true;
    if (header === undefined) return false;
    const name = hostName(header);
    return name !== undefined && this.#hosts.has(name);
  }

  originAllowed(origin: string | undefined): boolean {
    if (origin === undefined) return true; // not a browser
    const normalized = origin.toLowerCase().replace(/\/$/, "");
    if (this.#origins.has(normalized)) return true;
    try {
      return this.#hosts.has(new URL(normalized).hostname);
    } catch {
      return false;
    }
  }
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

/**
 * A state-changing request must come from our own page: JSON body (a cross-site form cannot send it
 * without a CORS preflight, which we never answer), our custom header, and — when the browser says where
 * it comes from — an Origin on the same host.
 */
export function csrfSafe(req: IncomingMessage): boolean {
  const type = req.headers["content-type"] ?? "";
  if (!/^application\/json\b/i.test(type)) return false;
  if (req.headers["x-agent-sre-action"] !== "1") return false;
  const origin = req.headers.origin;
  if (origin !== undefined) {
    try {
      if (new URL(origin).host.toLowerCase() !== (req.headers.host ?? "").toLowerCase()) return false;
    } catch {
      return false;
    }
  }
  const site = req.headers["sec-fetch-site"];
  return site === undefined || site === "same-origin" || site === "none";
}
