import { CircuitOpenError, type SchedulingClock } from "@agent-sre/core";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type {
  ClientCapabilities,
  Implementation,
  JSONRPCRequest,
  Notification,
} from "@modelcontextprotocol/sdk/types.js";
import type { HttpTransportSpec, StdioTransportSpec } from "./config/load.js";
import type { Logger } from "./logger.js";
import type { UpstreamConnection } from "./upstream.js";
import type { UpstreamPool } from "./upstream-fetch.js";

/* The upstream connection's options, hooks, states and errors (the connection itself is in upstream.ts). */
/** An upstream reached through a transport you build (in-memory servers, custom transports). */
export interface CustomTransportSpec {
  type: "custom";
  /** Called for every (re)connection; must return a fresh, unstarted transport. */
  connect: () => Transport | Promise<Transport>;
}

export type UpstreamTransportSpec = StdioTransportSpec | HttpTransportSpec | CustomTransportSpec;

export type UpstreamState = "idle" | "connecting" | "ready" | "down" | "closed";

export interface SupervisionOptions {
  /** First restart delay after a crash or a failed start (default 500 ms). */
  initialDelayMs: number;
  /** Longest restart delay (default 30 s). */
  maxDelayMs: number;
  /** Growth of the delay per consecutive failure (default 2). */
  multiplier: number;
  /** How long a start (spawn + initialize + tools/list) may take (default 60 s: `npx -y` may download). */
  startupTimeoutMs: number;
  /** A connection that stayed up this long resets the backoff (default 60 s). */
  stableAfterMs: number;
}

export const DEFAULT_SUPERVISION: SupervisionOptions = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  multiplier: 2,
  startupTimeoutMs: 60_000,
  stableAfterMs: 60_000,
};

/** What the connection tells its session. */
export interface UpstreamHooks {
  /** A notification from the upstream (everything except tools/list_changed, which refreshes `tools`). */
  notification(connection: UpstreamConnection, notification: Notification): void;
  /** A request from the upstream to the client (sampling, elicitation, roots). */
  request(
    connection: UpstreamConnection,
    request: JSONRPCRequest,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>>;
  /** `tools` changed (list_changed, or a reconnect listed them again). */
  toolsChanged(connection: UpstreamConnection): void;
  stateChanged(connection: UpstreamConnection, state: UpstreamState): void;
}

export interface UpstreamConnectionOptions {
  name: string;
  transport: UpstreamTransportSpec;
  clientInfo: Implementation;
  clientCapabilities: ClientCapabilities;
  clock: SchedulingClock;
  logger: Logger;
  supervision: SupervisionOptions;
  hooks: UpstreamHooks;
  /** One connection serving every client session (see `SharedUpstreams`). */
  shared?: boolean;
  /**
   * The connection pool of Streamable HTTP upstreams (the proxy's; default: the global fetch, and forwarded
   * requests go through the SDK client like the rest).
   */
  pool?: UpstreamPool;
}

/** The upstream is not connected (starting, restarting after a crash, or closed). A refusal: nothing ran. */
export class UpstreamUnavailableError extends CircuitOpenError {
  readonly server: string;
  readonly reason: string;

  constructor(server: string, retryAfterMs: number, reason: string, agentId?: string) {
    super(`upstream:${server}`, retryAfterMs, agentId);
    this.server = server;
    this.reason = reason;
    this.message = `upstream server "${server}" is unavailable (${reason})`;
  }
}

/** The connection to the upstream broke while a request was in flight (crash, lost session). */
export class UpstreamConnectionLostError extends Error {
  readonly server: string;
  readonly retryAfterMs: number;

  constructor(server: string, retryAfterMs: number, cause: unknown) {
    super(`upstream server "${server}" closed the connection while the call was running`, { cause });
    this.name = "UpstreamConnectionLostError";
    this.server = server;
    this.retryAfterMs = retryAfterMs;
  }
}
