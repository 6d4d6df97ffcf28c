import { AnomalyHeldError, RateLimitedError, type RefusalError } from "@agent-sre/core";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/** Vendor key of the machine-readable decision in a refusal result's `_meta`. */
export const DECISION_META_KEY = "io.github.agent-sre/decision";

/** The decision a refusal carries in `_meta` (for clients and tests that read it). */
export interface RefusalDecision {
  decision: "refused";
  code: string;
  retryable: boolean;
  retryAfterMs?: number;
  [key: string]: unknown;
}

function seconds(ms: number): string {
  if (ms < 1_000) return `${Math.max(1, Math.ceil(ms))} ms`;
  if (ms < 120_000) return `${Math.ceil(ms / 1_000)} s`;
  if (ms < 7_200_000) return `${Math.ceil(ms / 60_000)} min`;
  return `${Math.ceil(ms / 3_600_000)} h`;
}

/** `60_000` → "minute", `5_000` → "5 seconds". */
function period(ms: number): string {
  if (ms % 3_600_000 === 0) return ms === 3_600_000 ? "hour" : `${ms / 3_600_000} hours`;
  if (ms % 60_000 === 0) return ms === 60_000 ? "minute" : `${ms / 60_000} minutes`;
  if (ms % 1_000 === 0) return ms === 1_000 ? "second" : `${ms / 1_000} seconds`;
  return `${ms} ms`;
}

/** What happened and what the model should do about it, in words a model acts on. */
export function describeRefusal(error: RefusalError, tool: string): { text: string; retryAfterMs?: number } {
  const e = error as RefusalError & Record<string, unknown>;
  const retryAfterMs = typeof e.retryAfterMs === "number" && e.retryAfterMs > 0 ? e.retryAfterMs : undefined;
  const when = retryAfterMs === undefined ? "" : ` Retry after ${seconds(retryAfterMs)}.`;
  switch (error.code) {
    case "CIRCUIT_OPEN":
      return {
        text: `Tool "${tool}" is temporarily unavailable: ${error.message}.${when || " Retry later."} Meanwhile, continue without it if you can.`,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    case "BUDGET_EXCEEDED":
      return {
        text: `Tool "${tool}" was not called: ${error.message}. Do not retry this call${retryAfterMs === undefined ? "" : ` before ${seconds(retryAfterMs)} from now`}; finish with what you have.`,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    case "TOKEN_LIMIT_EXCEEDED":
      return {
        text: `Tool "${tool}" was not called: ${error.message}. Do not retry; finish with what you have.`,
      };
    case "AGENT_THROTTLED":
      return {
        text: `Tool "${tool}" was not called: ${error.message}.${when || " Slow down before calling tools again."}`,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    case "RATE_LIMITED": {
      const rate =
        error instanceof RateLimitedError
          ? `rate limit "${error.ruleId}" allows ${error.limit} call${error.limit === 1 ? "" : "s"} per ${period(error.perMs)}`
          : error.message;
      return {
        text: `Tool "${tool}" was not called: ${rate}.${when || " Slow down before calling it again."}`,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    }
    case "AGENT_KILLED":
      return {
        text: `Tool "${tool}" was not called: ${error.message}. Do not retry; stop and report to the user.`,
      };
    case "ANOMALY_HELD":
      return {
        text: `Tool "${tool}" was not called: ${error.message}. Do not retry; stop and report to the user (an operator must confirm the spend first).`,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    case "AGENT_QUARANTINED":
      return {
        text: `Tool "${tool}" was not called: ${error.message}. Do not retry; stop and report to the user.`,
      };
    case "TOOL_NOT_ALLOWED":
      return {
        text: `Tool "${tool}" was not called: ${error.message}. Do not retry it; use another approach.`,
      };
    case "LOOP_DETECTED":
      return {
        text: `Tool "${tool}" was not called: ${error.message}. Stop repeating this call; change the arguments or the approach.`,
      };
    case "TIMEOUT":
      return {
        text: `Tool "${tool}" ${error.message.replace(/^Call "[^"]*" /, "")} and was cancelled. You may retry once, or try a smaller request.`,
      };
    case "RETRY_BUDGET_EXCEEDED":
      return {
        text: `Tool "${tool}" was not called: ${error.message.replace(/; retry after \d+ ms$/, "")}. Retrying now would feed a retry storm;${when || " wait before retrying"} or continue without it.`,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    case "CHAOS_INJECTED":
      return { text: `Tool "${tool}" failed: ${error.message}. This is a transient error; you may retry.` };
    default:
      return { text: `Tool "${tool}" was not called: ${error.message}.` };
  }
}

/** A refusal as an MCP tool result: `isError`, a text for the model, the decision in `_meta`. */
export function refusalResult(
  error: RefusalError,
  tool: string,
  extra: Record<string, unknown> = {},
): CallToolResult {
  const { text, retryAfterMs } = describeRefusal(error, tool);
  const decision: RefusalDecision = {
    decision: "refused",
    code: error.code,
    retryable: error.retryable,
    ...(error instanceof RateLimitedError
      ? { rule: error.ruleId, limit: error.limit, perMs: error.perMs }
      : undefined),
    // The hold's figures, so a client (or its operator) sees what to confirm.
    ...(error instanceof AnomalyHeldError
      ? {
          costUsd: error.costUsd,
          expectedUsd: error.expectedUsd,
          score: error.score,
          heldAtMs: error.heldAtMs,
        }
      : undefined),
    ...extra,
  };
  if (retryAfterMs !== undefined) decision.retryAfterMs = Math.ceil(retryAfterMs);
  return {
    content: [{ type: "text", text: `[agent-sre] ${text}` }],
    isError: true,
    _meta: { [DECISION_META_KEY]: decision },
  };
}

/** A proxy-side failure (upstream down or crashed mid-call) as an MCP tool result. */
export function failureResult(text: string, decision: Record<string, unknown>): CallToolResult {
  return {
    content: [{ type: "text", text: `[agent-sre] ${text}` }],
    isError: true,
    _meta: { [DECISION_META_KEY]: decision },
  };
}
