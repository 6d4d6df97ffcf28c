import type { FailureClass } from "@agent-sre/core";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";

/**
 * JSON-RPC errors an upstream answers a request with when the request itself is wrong: the upstream is up
 * (its breaker records a success) and the failure is the calling agent's (it counts against `agent:<id>`,
 * never against the shared `tool:<name>` / `upstream:<server>` breakers).
 */
export function answeredByUpstream(code: number): boolean {
  return (
    code === ErrorCode.InvalidParams ||
    code === ErrorCode.InvalidRequest ||
    code === ErrorCode.MethodNotFound ||
    code === ErrorCode.UrlElicitationRequired ||
    code === -32002 // resource not found
  );
}

/**
 * Classifies a failed tools/call for the breakers (core's `FailureClass`): a JSON-RPC error the upstream
 * answered for a bad request (-32602 invalid params, -32600, -32601, ...) is the caller's; the SDK's request
 * timeout and a closed connection are the provider's (the upstream); anything else — a crash, a lost
 * session, our own timeout — is left to core's default rule, which counts it against the upstream.
 */
export function classifyMcpFailure(error: unknown): FailureClass | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  // The proxy carries an answered JSON-RPC error through the engine as an outcome holding the wire error.
  const wire = (error as { wire?: unknown }).wire;
  const source = typeof wire === "object" && wire !== null ? wire : error;
  const code = (source as { code?: unknown }).code;
  if (typeof code !== "number") return undefined;
  if (answeredByUpstream(code)) return "caller";
  if (
    error instanceof McpError &&
    (code === ErrorCode.RequestTimeout ||
      code === ErrorCode.ConnectionClosed ||
      code === ErrorCode.InternalError)
  ) {
    return "provider";
  }
  return undefined;
}
