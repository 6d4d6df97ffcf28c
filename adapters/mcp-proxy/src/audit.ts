import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";

/** One line of the audit log: one tools/call (or relayed sampling/elicitation request). */
export interface AuditRecord {
  /** ISO time the call arrived. */
  time: string;
  kind: "tool" | "sampling" | "elicitation";
  agent: string;
  task?: string;
  session?: string;
  client?: string;
  server?: string;
  /** The name the client used. */
  tool?: string;
  /** The name the upstream knows it by. */
  upstreamTool?: string;
  /** `allowed` (it ran) or `refused` (the guard or the proxy said no). */
  decision: "allowed" | "refused";
  /** The refusal code (`CIRCUIT_OPEN`, `RATE_LIMITED`, `DRIFT_BLOCKED`, ...). */
  code?: string;
  /** ok | tool_error | protocol_error | timeout | cancelled | unavailable | refused. */
  outcome: AuditOutcome;
  latencyMs: number;
  costUsd: number;
  /** The argument shape (types and sizes; no values), with secret-looking keys redacted. */
  args?: unknown;
  error?: string;
}

export type AuditOutcome =
  | "ok"
  | "tool_error"
  | "protocol_error"
  | "timeout"
  | "cancelled"
  | "unavailable"
  | "refused";

/** Where audit records go. `write` must not throw; `close` flushes. */
export interface AuditSink {
  write(record: AuditRecord): void;
  close(): Promise<void>;
}

export const DEFAULT_REDACT_KEYS: readonly string[] = [
  "password",
  "passwd",
  "secret",
  "token",
  "apikey",
  "api_key",
  "api-key",
  "authorization",
  "auth",
  "cookie",
  "credential",
  "private",
  "session",
  "ssn",
];

const MAX_DEPTH = 4;
const MAX_KEYS = 50;

/**
 * The shape of a value without its content: strings become `"string(12)"`, numbers `"number"`, arrays
 * `"array(3)"` (with the shape of their first item when it is an object), objects keep their keys. Keys that
 * look like secrets (`password`, `token`, `apiKey`, ...) become `"[redacted]"`. Values are never included, so
 * nothing the model sent leaks into the log.
 */
export function argumentShape(
  value: unknown,
  redactKeys: readonly string[] = DEFAULT_REDACT_KEYS,
  depth = 0,
): unknown {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return `string(${value.length})`;
    case "number":
    case "boolean":
    case "bigint":
      return typeof value;
    case "undefined":
      return "undefined";
    case "object":
      break;
    default:
      return typeof value;
  }
  if (depth >= MAX_DEPTH) return Array.isArray(value) ? `array(${value.length})` : "object";
  if (Array.isArray(value)) {
    const first = value[0];
    if (first !== null && typeof first === "object") {
      return { [`array(${value.length})`]: argumentShape(first, redactKeys, depth + 1) };
    }
    return value.length === 0 ? "array(0)" : `array(${value.length})<${typeof first}>`;
  }
  const out: Record<string, unknown> = {};
  let count = 0;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (count++ >= MAX_KEYS) {
      out["…"] = `${Object.keys(value as object).length - MAX_KEYS} more keys`;
      break;
    }
    const lower = key.toLowerCase();
    out[key] = redactKeys.some((secret) => lower.includes(secret))
      ? "[redacted]"
      : argumentShape(item, redactKeys, depth + 1);
  }
  return out;
}

/**
 * A JSON-lines audit file. Every record is serialised to one complete line and handed to the stream in one
 * `write()`, so lines never interleave; the file is opened for appending, and `close()` resolves only once
 * everything written has reached the file (a clean shutdown loses nothing).
 */
export class JsonlAuditLog implements AuditSink {
  readonly file: string;
  readonly #stream: WriteStream;
  #closed = false;
  #error: Error | undefined;
  #onError: (error: Error) => void;

  constructor(file: string, options: { onError?: (error: Error) => void } = {}) {
    this.file = file;
    this.#onError =
      options.onError ?? ((error) => process.stderr.write(`agent-sre error: audit log: ${error.message}\n`));
    mkdirSync(dirname(file), { recursive: true });
    this.#stream = createWriteStream(file, { flags: "a", encoding: "utf8" });
    this.#stream.on("error", (error) => {
      if (this.#error === undefined) this.#onError(error);
      this.#error = error;
    });
  }

  write(record: AuditRecord): void {
    if (this.#closed || this.#error !== undefined) return;
    let line: string;
    try {
      line = `${JSON.stringify(record)}\n`;
    } catch (error) {
      line = `${JSON.stringify({ ...record, args: "[unserialisable]", error: String(error) })}\n`;
    }
    this.#stream.write(line);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => {
      if (this.#error !== undefined) {
        this.#stream.destroy();
        resolve();
        return;
      }
      this.#stream.end(() => resolve());
    });
  }
}

/** Keeps records in memory (tests, embedding). */
export class MemoryAuditSink implements AuditSink {
  readonly records: AuditRecord[] = [];
  write(record: AuditRecord): void {
    this.records.push(record);
  }
  async close(): Promise<void> {}
}
