import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

// How the proxy reads an upstream failure: a lost session (re-initialise and retry), a call that never left
// (a refusal: nothing ran), a connection lost mid-call (it may have run), a client error (do not retry).

/**
 * The server answered that it does not know our session: 404 (the spec's answer) or a 400 naming the
 * session (what many servers, the SDK's own examples among them, send for an unknown `Mcp-Session-Id`).
 */
export function isSessionLoss(error: unknown): boolean {
  if (!(error instanceof StreamableHTTPError)) return false;
  if (error.code === 404) return true;
  return error.code === 400 && /session/i.test(error.message);
}

/** The request never left the proxy, or no server took it: connection refused, DNS failure, not connected. */
export function neverSent(error: unknown): boolean {
  const message = error instanceof Error ? error.message : "";
  if (message === "Not connected") return true;
  const cause = (
    error as { cause?: { code?: unknown; cause?: { code?: unknown }; errors?: Array<{ code?: unknown }> } }
  )?.cause;
  const code =
    cause?.code ?? cause?.cause?.code ?? cause?.errors?.[0]?.code ?? (error as { code?: unknown })?.code;
  return code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN";
}

export function isConnectionLoss(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (code === -32000) return true; // ConnectionClosed
  const message = error instanceof Error ? error.message : "";
  return (
    message === "Not connected" || /ECONNREFUSED|ECONNRESET|EPIPE|fetch failed|socket hang up/.test(message)
  );
}

export function isHttpClientError(error: unknown): boolean {
  if (error instanceof StreamableHTTPError)
    return typeof error.code === "number" && error.code >= 400 && error.code < 500;
  const message = error instanceof Error ? error.message : "";
  return /HTTP 4\d\d|\b40[045]\b/.test(message);
}

export function describeFailure(error: unknown, stderrTail: readonly string[]): string {
  const message = plain(error);
  const code = (error as NodeJS.ErrnoException)?.code;
  const base = code === "ENOENT" ? `command not found (${message})` : message;
  const last = stderrTail.at(-1);
  return last === undefined ? base : `${base} (stderr: ${truncate(last, 200)})`;
}

export function plain(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/^MCP error -?\d+: /, "");
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
