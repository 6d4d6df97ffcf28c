import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

/**
 * Results of forwarded requests are passed through untouched: the proxy does not validate what it relays
 * (the real client does), so any result object is accepted as is.
 */
export const PASSTHROUGH = z.custom<Record<string, unknown>>(() => true);

/** No SDK-imposed timeout: the largest delay a Node timer accepts (a larger one would fire after 1 ms). */
export const NO_TIMEOUT_MS = 2_147_483_647;

const SDK_PREFIX = /^MCP error -?\d+: /;

/**
 * A JSON-RPC error to throw from a handler: `code`, `message` and `data` go on the wire as they are. An
 * `McpError` would prefix its message again (`MCP error -32602: MCP error -32602: ...`).
 */
export class WireError extends Error {
  readonly code: number;
  readonly data: unknown;

  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = "WireError";
    this.code = code;
    this.data = data;
  }
}

/** The upstream's error as it sent it: the SDK's one `MCP error <code>: ` prefix removed. */
export function toWireError(error: unknown): WireError {
  if (error instanceof WireError) return error;
  if (error instanceof McpError) {
    return new WireError(error.code, error.message.replace(SDK_PREFIX, ""), error.data);
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown })?.code;
  return new WireError(
    typeof code === "number" && Number.isSafeInteger(code) ? code : ErrorCode.InternalError,
    message,
  );
}

export function invalidParams(message: string): WireError {
  return new WireError(ErrorCode.InvalidParams, message);
}

export function methodNotFound(method: string): WireError {
  return new WireError(ErrorCode.MethodNotFound, `Method not found: ${method}`);
}

/** The error message without the SDK's prefix (for texts shown to the model). */
export function plainMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(SDK_PREFIX, "");
}
