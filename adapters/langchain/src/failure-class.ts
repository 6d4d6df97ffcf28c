import { type FailureClass, failureClassOfStatus } from "@agent-sre/core";
import { ToolInputParsingException } from "@langchain/core/tools";

/**
 * LangChain's error types read as `FailureClass`, so breakers attribute a failed call: provider-side
 * failures count against the shared `model:<name>` / `tool:<name>` breaker, the caller's own against its
 * agent's breaker only. The rule for HTTP statuses is core's (`failureClassOfStatus`); this file only says
 * which of LangChain's errors carry which fact.
 */

/** `lc_error_code`s LangChain's integrations stamp on provider errors (`@langchain/core/errors`). */
const ERROR_CODES: Readonly<Record<string, FailureClass>> = {
  MODEL_RATE_LIMIT: "provider",
  MODEL_AUTHENTICATION: "caller",
  MODEL_NOT_FOUND: "caller",
  INVALID_PROMPT_INPUT: "caller",
  INVALID_TOOL_RESULTS: "caller",
  MESSAGE_COERCION_FAILURE: "caller",
  CONTEXT_OVERFLOW: "caller",
};

/**
 * Error names of requests that cannot succeed as sent: a prompt over the context window, a refused prompt,
 * tool arguments that fail the tool's schema.
 */
const CALLER_NAMES = new Set(["ContextOverflowError", "ModelRefusalError", "ToolInputParsingException"]);

const MAX_DEPTH = 4;

/**
 * Classifies an error thrown by a LangChain model or tool call; `undefined` leaves it to core's default
 * rule. An HTTP `status` / `statusCode` the integration passed through decides first (5xx, 429, 408:
 * provider; other 4xx: caller), then `lc_error_code` (`MODEL_RATE_LIMIT` provider; `INVALID_PROMPT_INPUT`,
 * `CONTEXT_OVERFLOW`, `MODEL_AUTHENTICATION`, ... caller), then the error type: `ContextOverflowError`,
 * `ModelRefusalError`, tool input that fails the tool's schema (`ToolInputParsingException`, langchain's
 * `ToolInvocationError`) are the caller's. Wrappers (`MiddlewareError`, ...) are looked through via `cause`.
 */
export function classifyLangChainFailure(error: unknown): FailureClass | undefined {
  let current = error;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    if (typeof current !== "object" || current === null) return undefined;
    const e = current as {
      status?: unknown;
      statusCode?: unknown;
      lc_error_code?: unknown;
      name?: unknown;
      "~brand"?: unknown;
      cause?: unknown;
    };
    const status =
      typeof e.status === "number" ? e.status : typeof e.statusCode === "number" ? e.statusCode : undefined;
    const byStatus = failureClassOfStatus(status);
    if (byStatus !== undefined) return byStatus;
    if (typeof e.lc_error_code === "string") {
      const byCode = ERROR_CODES[e.lc_error_code];
      if (byCode !== undefined) return byCode;
    }
    if (current instanceof ToolInputParsingException || e["~brand"] === "ToolInvocationError")
      return "caller";
    if (typeof e.name === "string" && CALLER_NAMES.has(e.name)) return "caller";
    current = e.cause;
  }
  return undefined;
}
