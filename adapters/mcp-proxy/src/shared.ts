import type { SchedulingClock } from "@agent-sre/core";
import { ErrorCode, type Implementation, McpError } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "./logger.js";
import type { UpstreamPlan } from "./proxy-context.js";
import { UpstreamConnection } from "./upstream.js";
import type { UpstreamPool } from "./upstream-fetch.js";
import type { SupervisionOptions, UpstreamHooks, UpstreamState } from "./upstream-types.js";

export interface SharedUpstreamsOptions {
  clientInfo: Implementation;
  clock: SchedulingClock;
  logger: Logger;
  supervision: SupervisionOptions;
  pool?: UpstreamPool;
  /** A shared connection changed state (called once, not per subscribed session). */
  stateChanged(connection: UpstreamConnection, state: UpstreamState): void;
}

/**
 * Upstreams marked `shared`: one supervised connection (one child process, one HTTP session) serves every
 * client session, instead of one per session. Meant for stateless servers: the upstream sees one client,
 * so its requests to the client (sampling, elicitation, roots) are refused and not relayed (they could not
 * say which client they are for), and its notifications (list_changed, logs) go to every session.
 * The connection starts with the first session that needs it and lives until the proxy closes.
 */
export class SharedUpstreams {
  readonly #options: SharedUpstreamsOptions;
  readonly #connections = new Map<string, UpstreamConnection>();
  readonly #subscribers = new Map<UpstreamConnection, Set<UpstreamHooks>>();

  constructor(options: SharedUpstreamsOptions) {
    this.#options = options;
  }

  /** The shared connection of `plan` (started if new), with `hooks` subscribed to it. */
  acquire(plan: UpstreamPlan, hooks: UpstreamHooks): UpstreamConnection {
    let connection = this.#connections.get(plan.spec.name);
    if (connection === undefined) {
      const subscribers = new Set<UpstreamHooks>();
      const fanOut: UpstreamHooks = {
        notification: (c, notification) => {
          for (const s of subscribers) s.notification(c, notification);
        },
        request: async (_c, request) => {
          throw new McpError(
            ErrorCode.MethodNotFound,
            `${request.method} is not relayed: "${plan.spec.name}" is shared by every client of the proxy`,
          );
        },
        toolsChanged: (c) => {
          for (const s of subscribers) s.toolsChanged(c);
        },
        stateChanged: (c, state) => this.#options.stateChanged(c, state),
      };
      connection = new UpstreamConnection({
        name: plan.spec.name,
        transport: plan.spec.transport,
        clientInfo: this.#options.clientInfo,
        clientCapabilities: {},
        clock: this.#options.clock,
        logger: this.#options.logger,
        supervision: this.#options.supervision,
        hooks: fanOut,
        shared: true,
        ...(this.#options.pool === undefined ? {} : { pool: this.#options.pool }),
      });
      this.#connections.set(plan.spec.name, connection);
      this.#subscribers.set(connection, subscribers);
    }
    this.#subscribers.get(connection)?.add(hooks);
    return connection;
  }

  /** A session is done with the connection (it stays up for the next sessions). */
  async release(connection: UpstreamConnection, hooks: UpstreamHooks): Promise<void> {
    this.#subscribers.get(connection)?.delete(hooks);
  }

  /** Sessions subscribed to a shared connection. */
  subscribers(connection: UpstreamConnection): number {
    return this.#subscribers.get(connection)?.size ?? 0;
  }

  get connections(): readonly UpstreamConnection[] {
    return [...this.#connections.values()];
  }

  async close(): Promise<void> {
    const all = [...this.#connections.values()];
    this.#connections.clear();
    this.#subscribers.clear();
    await Promise.all(all.map((connection) => connection.close()));
  }
}
