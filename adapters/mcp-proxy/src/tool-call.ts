import {
  ChaosInjectedError,
  CircuitOpenError,
  type FailureClass,
  type GuardCall,
  isRefusal,
  LoopDetectedError,
  refForAgent,
} from "@agent-sre/core";
import type { RequestOptions } from "@modelcontextprotocol/sdk/shared/protocol.js";
import { type CallToolResult, McpError, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { type AuditOutcome, type AuditRecord, argumentShape } from "./audit.js";
import { agentIdOf, attemptOf, taskIdOf } from "./caller.js";
import { answeredByUpstream, classifyMcpFailure } from "./failure-class.js";
import { type Extra, type Params, ProgressRelay, paramsForUpstream } from "./forwarding.js";
import type { ProxyContext } from "./proxy-context.js";
import { recordRequest, recordResult } from "./record.js";
import { failureResult, refusalResult } from "./refusal.js";
import type { ProxySession } from "./session.js";
import type { UpstreamConnection } from "./upstream.js";
import { UpstreamConnectionLostError, UpstreamUnavailableError } from "./upstream-types.js";
import { invalidParams, NO_TIMEOUT_MS, plainMessage, toWireError, type WireError } from "./wire.js";

/** Where a tool exposed to the client goes. */
export interface ToolRoute {
  /** The name the client uses. */
  readonly name: string;
  readonly server: string;
  readonly connection: UpstreamConnection;
  /** The name the upstream knows. */
  readonly upstreamName: string;
  /** The tool as listed to the client (renamed when prefixed; pinned definition under drift `freeze`). */
  readonly tool: Tool;
  readonly costUsd: number | undefined;
  readonly timeoutMs: number | undefined;
  /** Whose failure an `isError` result of this tool is (the breakers' attribution). */
  readonly isErrorClass: FailureClass;
  /** The upstream's own breaker id (`upstream:<server>`), passed to the engine as an extra breaker. */
  readonly breakers: readonly string[];
  /** Set when drift protection holds the tool back: it is not listed and calls are refused. */
  readonly blockedReason: string | undefined;
}

/**
 * A tool result the upstream marked `isError`, carried through the engine as a failure of the class the
 * server is configured with (`isErrorClass`; core's default rule reads the `failureClass` it carries).
 */
class ToolErrorOutcome extends Error {
  readonly result: CallToolResult;
  readonly failureClass: FailureClass;
  constructor(result: CallToolResult, failureClass: FailureClass) {
    super("tool returned isError");
    this.result = result;
    this.failureClass = failureClass;
  }
}

/** An upstream JSON-RPC error for tools/call, carried through the engine. */
class ProtocolErrorOutcome extends Error {
  readonly wire: WireError;
  constructor(wire: WireError) {
    super(wire.message);
    this.wire = wire;
  }
}

/**
 * Whether a failed call counts against the upstream's breaker: an `isError` result or a JSON-RPC error is the
 * upstream answering (it is up, a success there); a crash, a lost connection or a timeout is it failing; a fault
 * a chaos experiment injected into one tool says nothing about the server (neither).
 */
function upstreamFailure(error: unknown): boolean | undefined {
  if (error instanceof ChaosInjectedError) return undefined;
  return !(error instanceof ToolErrorOutcome || error instanceof ProtocolErrorOutcome);
}

const PROTOCOL_ERROR = Symbol("protocol-error");
type ForwardResult = CallToolResult | { [PROTOCOL_ERROR]: WireError };

/** What a tool call needs of its session. */
export type CallingSession = Pick<ProxySession, "id" | "clientInfo" | "defaultAgentId" | "defaultAgentRef">;

/**
 * tools/call, the guarded path: drift block, loop check, then the engine's pipeline around the upstream call
 * (breakers of the tool and its upstream, budget, timeout, retry budget, chaos), with every outcome counted in
 * the metrics, written to the audit log and answered in the client's idiom.
 */
export async function callTool(
  ctx: ProxyContext,
  session: CallingSession,
  routes: ReadonlyMap<string, ToolRoute>,
  params: Params,
  extra: Extra,
): Promise<CallToolResult> {
  const name = params.name;
  if (typeof name !== "string" || name === "") throw invalidParams("tools/call needs a tool name");
  let route = routes.get(name);
  if (route === undefined || ctx.delivery?.hidden.has(route.server))
    throw invalidParams(`Unknown tool: ${name}`);
  const agentId = agentIdOf(ctx.identity, extra, params._meta, session.defaultAgentId);
  const taskId = taskIdOf(ctx.identity, extra, params._meta);
  // A rollout of the server's next version may send this task's calls to the candidate's same tool.
  const routed = ctx.delivery?.route(route, routes, agentId, taskId);
  if (routed !== undefined) route = routed.route;
  const startedAt = performance.now();
  // The audit record's time, made into a string only when there is an audit log to write it to.
  const startedAtMs = ctx.sre.clock.now();
  const args = params.arguments;

  const finish = (
    decision: "allowed" | "refused",
    outcome: AuditOutcome,
    extraFields: { code?: string; error?: string; costUsd?: number } = {},
  ) => {
    const latencyMs = performance.now() - startedAt;
    if (routed?.rolloutId !== undefined) {
      if (outcome === "unavailable") ctx.delivery?.unavailable(routed);
      else if (decision === "allowed" && outcome !== "cancelled") {
        ctx.delivery?.finished(
          routed,
          { agentId, taskId, name, at: ctx.sre.clock.now() },
          { ok: outcome === "ok", durationMs: latencyMs, costUsd: extraFields.costUsd ?? 0 },
        );
      }
    }
    ctx.metrics.call(
      route.server,
      name,
      decision,
      outcome,
      decision === "allowed" ? latencyMs / 1000 : undefined,
    );
    if (extraFields.code !== undefined && decision === "refused") ctx.metrics.refusal(extraFields.code);
    const audit = ctx.audit;
    if (audit === undefined) return;
    const record: AuditRecord = {
      time: new Date(startedAtMs).toISOString(),
      kind: "tool",
      agent: agentId,
      session: session.id,
      server: route.server,
      tool: name,
      upstreamTool: route.upstreamName,
      decision,
      outcome,
      latencyMs: Math.round(latencyMs * 1000) / 1000,
      costUsd: extraFields.costUsd ?? 0,
      args: argumentShape(args ?? {}, ctx.redactKeys),
    };
    if (taskId !== undefined) record.task = taskId;
    if (session.clientInfo?.name !== undefined) record.client = session.clientInfo.name;
    if (extraFields.code !== undefined) record.code = extraFields.code;
    if (extraFields.error !== undefined) record.error = extraFields.error;
    audit.write(record);
  };

  if (route.blockedReason !== undefined) {
    finish("refused", "refused", { code: "DRIFT_BLOCKED", error: route.blockedReason });
    return failureResult(`Tool "${name}" was not called: ${route.blockedReason}. Do not retry it.`, {
      decision: "refused",
      code: "DRIFT_BLOCKED",
      retryable: false,
    });
  }

  try {
    // Allow-list first: a denied tool is refused as such, however often it is tried.
    if (ctx.sre.toolAllowed(agentId, name)) ctx.loops.check(agentId, session.id, taskId, name, args ?? {});
  } catch (error) {
    if (!(error instanceof LoopDetectedError)) throw error;
    finish("refused", "refused", { code: error.code, error: error.message });
    return refusalResult(error, name);
  }

  const call: GuardCall<ForwardResult> = {
    kind: "tool",
    agentId,
    // The session's agent through its ref; an agent a request names (header, `_meta`) is looked up by id.
    agentRef: refForAgent(session.defaultAgentRef, agentId),
    name,
    input: args ?? {},
    breakers: route.breakers,
    breakerFailure: upstreamFailure,
    classifyFailure: classifyMcpFailure,
  };
  if (taskId !== undefined) call.taskId = taskId;
  const attempt = attemptOf(extra, params._meta);
  if (attempt > 1) call.attempt = attempt;
  if (route.costUsd !== undefined && route.costUsd > 0) call.estimate = { costUsd: route.costUsd };
  if (route.timeoutMs !== undefined) call.timeoutMs = route.timeoutMs;

  recordRequest(ctx, call, args ?? {});
  let result: ForwardResult;
  try {
    result = await ctx.sre.guard(call, (signal) => forwardTool(ctx, route, params, signal, extra, agentId), {
      signal: extra.signal,
    });
  } catch (error) {
    if (error instanceof ToolErrorOutcome) {
      recordResult(ctx, call, route, error.result);
      finish("allowed", "tool_error");
      return error.result;
    }
    if (error instanceof ProtocolErrorOutcome) {
      finish("allowed", "protocol_error", { error: error.wire.message });
      throw error.wire;
    }
    if (error instanceof UpstreamConnectionLostError) {
      finish("allowed", "unavailable", { error: error.message });
      return failureResult(
        `Tool "${name}" failed: ${error.message} (the server crashed or lost the session). The call may or may not have taken effect. The server is being restarted; retry after ${Math.ceil(Math.max(error.retryAfterMs, 1000) / 1000)} s.`,
        {
          decision: "allowed",
          code: "UPSTREAM_LOST",
          retryable: true,
          retryAfterMs: Math.ceil(error.retryAfterMs),
        },
      );
    }
    if (error instanceof CircuitOpenError && error.breakerId.startsWith("upstream:")) {
      // Not connected (supervision), or the upstream's own breaker is open (the engine refused).
      const message =
        error instanceof UpstreamUnavailableError
          ? error.message
          : `upstream server "${error.breakerId.slice("upstream:".length)}" is unavailable (its circuit "${error.breakerId}" is open after repeated failures)`;
      finish("refused", "unavailable", { code: "UPSTREAM_UNAVAILABLE", error: message });
      return failureResult(
        `Tool "${name}" was not called: ${message}. Retry after ${Math.ceil(Math.max(error.retryAfterMs, 1000) / 1000)} s.`,
        {
          decision: "refused",
          code: "UPSTREAM_UNAVAILABLE",
          retryable: true,
          retryAfterMs: Math.ceil(error.retryAfterMs),
        },
      );
    }
    if (isRefusal(error)) {
      if (error.code === "TIMEOUT" || error.code === "CHAOS_INJECTED") {
        finish("allowed", error.code === "TIMEOUT" ? "timeout" : "tool_error", {
          code: error.code,
          error: error.message,
        });
      } else {
        finish("refused", "refused", { code: error.code, error: error.message });
      }
      return refusalResult(error, name);
    }
    if (extra.signal.aborted) {
      finish("allowed", "cancelled", { error: plainMessage(error) });
      throw toWireError(error);
    }
    finish("allowed", "protocol_error", { error: plainMessage(error) });
    throw toWireError(error);
  }
  recordResult(ctx, call, route, result);
  if (PROTOCOL_ERROR in result) {
    finish("allowed", "protocol_error", { error: result[PROTOCOL_ERROR].message });
    throw result[PROTOCOL_ERROR];
  }
  finish("allowed", result.isError === true ? "tool_error" : "ok", {
    costUsd: route.costUsd ?? 0,
  });
  return result;
}

async function forwardTool(
  ctx: ProxyContext,
  route: ToolRoute,
  params: Params,
  signal: AbortSignal | undefined,
  extra: Extra,
  agentId: string,
): Promise<ForwardResult> {
  const connection = route.connection;
  if (!connection.ready) {
    throw new UpstreamUnavailableError(
      route.server,
      connection.retryAfterMs(),
      connection.unavailableReason(),
      agentId,
    );
  }
  const { params: forwarded, progressToken } = paramsForUpstream(params, ctx.identity);
  const upstreamParams: Params =
    route.upstreamName === route.name ? forwarded : { ...forwarded, name: route.upstreamName };
  const relay = progressToken === undefined ? undefined : new ProgressRelay(progressToken, extra);
  connection.inFlight.add(extra.requestId);
  try {
    const options: RequestOptions = { timeout: NO_TIMEOUT_MS };
    if (signal !== undefined) options.signal = signal;
    if (relay !== undefined) options.onprogress = relay.onprogress;
    const result = (await connection.request("tools/call", upstreamParams, options)) as CallToolResult;
    // Progress sent before the result reaches the client before it (the client drops late progress).
    await relay?.flushed();
    if (result.isError === true && ctx.errorsAreFailures)
      throw new ToolErrorOutcome(result, route.isErrorClass);
    return result;
  } catch (error) {
    // The engine records the outcome on the tool's and the upstream's breakers (see `upstreamFailure`):
    // our timeout is the upstream failing, the client's own cancel is neither, an answer is the upstream up.
    if (error instanceof ToolErrorOutcome || signal?.aborted) throw error;
    if (error instanceof McpError && answeredByUpstream(error.code)) {
      const wire = toWireError(error);
      if (ctx.errorsAreFailures) throw new ProtocolErrorOutcome(wire);
      return { [PROTOCOL_ERROR]: wire };
    }
    throw error;
  } finally {
    connection.inFlight.delete(extra.requestId);
  }
}
