import type { AgentSRE, CircuitBreaker, FailureClass, Recorder } from "@agent-sre/core";
import type { Implementation } from "@modelcontextprotocol/sdk/types.js";
import type { AuditSink } from "./audit.js";
import type { ProxyDelivery } from "./delivery.js";
import type { DriftGuard } from "./drift.js";
import type { Logger } from "./logger.js";
import type { LoopPolicy } from "./loops.js";
import type { ProxyMetrics } from "./metrics.js";
import type { ProxySession } from "./session.js";
import type { SharedUpstreams } from "./shared.js";
import type { UpstreamConnection } from "./upstream.js";
import type { UpstreamPool } from "./upstream-fetch.js";
import type { SupervisionOptions, UpstreamState, UpstreamTransportSpec } from "./upstream-types.js";

/** How the proxy names and prices one upstream's tools (resolved once from the options). */
export interface UpstreamPlan {
  spec: { name: string; transport: UpstreamTransportSpec; shared?: boolean };
  /** `""` = names exposed as the upstream gives them. */
  prefix: string;
  exposedName(upstreamName: string): string;
  /** The server-level allow/deny visibility filter. */
  visible(upstreamName: string): boolean;
  costFor(upstreamName: string, exposedName: string): number | undefined;
  timeoutMs: number | undefined;
  /** Whose failure this upstream's `isError` results are (`tools.isErrorClass`; default `caller`). */
  isErrorClass: FailureClass;
  /** The upstream's own breaker (`upstream:<name>`), shared by every session (for status). */
  breaker: CircuitBreaker;
  /** `[breaker.id]`: the extra breakers every tools/call of this upstream passes to the engine. */
  breakers: readonly string[];
}

export interface ResolvedIdentity {
  /** Lower-case header naming the agent (HTTP). */
  header: string;
  /** `_meta` key naming the agent. */
  metaKey: string;
  taskHeader: string;
  taskMetaKey: string;
  default: "client" | "session";
}

/** What sessions share: the engine and the proxy-wide services. */
export interface ProxyContext {
  readonly sre: AgentSRE;
  readonly logger: Logger;
  readonly drift: DriftGuard;
  readonly metrics: ProxyMetrics;
  readonly audit: AuditSink | undefined;
  readonly redactKeys: readonly string[];
  readonly upstreams: readonly UpstreamPlan[];
  readonly serverInfo: Implementation;
  readonly supervision: SupervisionOptions;
  readonly identity: ResolvedIdentity;
  readonly hideDenied: boolean;
  readonly errorsAreFailures: boolean;
  readonly loops: LoopPolicy;
  readonly shared: SharedUpstreams;
  /** Streamable HTTP upstreams fetch through one bounded keep-alive pool per proxy. */
  readonly upstreamPool: UpstreamPool;
  /** Records tool calls into traces (`record` option), if configured. */
  readonly recorder: Recorder | undefined;
  /** Rollouts of upstream server versions (`agentSre.delivery`), if any. */
  readonly delivery: ProxyDelivery | undefined;
  reportCollision(name: string, kept: string, dropped: string): void;
  upstreamStateChanged(session: ProxySession, connection: UpstreamConnection, state: UpstreamState): void;
}
