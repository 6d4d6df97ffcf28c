import type { CallKind } from "../types.js";

/**
 * The trace format: JSON Lines, one object a line. Line 1 is the header, then one line per guarded call in
 * the order the engine saw them, an optional truncation marker, and an end line. Readers must ignore
 * fields they do not know; a change that old readers would misread raises `TRACE_FORMAT_VERSION`.
 *
 * ```
 * {"type":"header","format":"agent-sre-trace","version":1,"runId":"…","agentId":"support","taskId":"t-1",…}
 * {"type":"call","seq":1,"kind":"model","name":"gpt-4.1","request":{…},"response":{…},"decision":{"outcome":"allowed"},…}
 * {"type":"call","seq":2,"kind":"tool","name":"refund","request":{"orderId":"42"},"decision":{"outcome":"refused","code":"TOOL_NOT_ALLOWED",…},…}
 * {"type":"end","calls":2,"outcome":"refused","costUsd":0.0021,"durationMs":840,"truncated":false}
 * ```
 */
export const TRACE_FORMAT = "agent-sre-trace";
export const TRACE_FORMAT_VERSION = 1;

export interface TraceHeader {
  type: "header";
  format: typeof TRACE_FORMAT;
  version: number;
  /** 32 lowercase hex digits (an OpenTelemetry trace id). */
  runId: string;
  agentId: string;
  taskId?: string;
  /** When the run's first call started, engine clock (ms since the epoch) and ISO 8601. */
  startedAtMs: number;
  startedAt: string;
  /** The seed of the run's randomness (the engine's chaos seed), when known. */
  seed?: number;
  /** `sha256:<hex>` of the canonical JSON of the engine config the recorder was given. */
  configDigest?: string;
  /** The engine config itself (redacted), when the recorder was given one. */
  config?: unknown;
  /** Who recorded: `ai-sdk`, `langchain`, `openai`, `mcp-proxy`, or your own label. */
  source?: string;
  /** Free-form annotations (`recorder.annotateRun`). */
  meta?: Record<string, unknown>;
}

/** What the engine decided about a call. */
export interface TraceDecision {
  /** `allowed`: the call passed pre-flight and ran; `refused`: pre-flight refused it (it never ran). */
  outcome: "allowed" | "refused";
  /** The refusal code (`BUDGET_EXCEEDED`, …). */
  code?: string;
  message?: string;
  /** The refusal's own fields (`scope`, `remainingUsd`, `retryAfterMs`, …). */
  detail?: Record<string, unknown>;
}

export interface TraceChaos {
  experiment: string;
  faults: Array<Record<string, unknown> & { type: string; faultId: string }>;
}

export interface TraceError {
  name: string;
  message: string;
  code?: string;
  [field: string]: unknown;
}

export interface TraceCall {
  type: "call";
  /** 1-based, in the order the engine saw the calls. */
  seq: number;
  kind: CallKind;
  /** Model id or tool name, as the engine saw it. */
  name: string;
  provider?: string;
  /** The shape of `request`/`response`: `ai-sdk`, `langchain`, `openai.chat`, `mcp`, or `engine` (the call's input). */
  api: string;
  attempt?: number;
  /** The engine-side estimate the budget reserved against (needed to replay budget decisions). */
  estimate?: Record<string, number>;
  /** Extra breakers the call passed (`upstream:<server>`). */
  breakers?: string[];
  /** Model: messages, tools offered, parameters. Tool: arguments. */
  request?: unknown;
  /** Model: content, tool calls, usage, finish reason (and `stream` parts). Tool: its result. */
  response?: unknown;
  /** Set when the call ran and failed (after pre-flight); refusals are in `decision`. */
  error?: TraceError;
  ok: boolean;
  decision: TraceDecision;
  chaos?: TraceChaos;
  /** The routing variant (progressive delivery) the call went to. */
  variant?: string;
  usage?: Record<string, unknown>;
  costUsd?: number;
  /** `startMs`: offset from the run's start; `durationMs`: as the engine settled it (0 when refused). */
  timing: { startMs: number; durationMs: number };
  /** 16 lowercase hex digits (an OpenTelemetry span id). */
  spanId?: string;
  meta?: Record<string, unknown>;
}

/** Written once, where the run's size limit stopped recording; later calls are counted, not kept. */
export interface TraceTruncation {
  type: "truncated";
  afterSeq: number;
  reason: "maxRunBytes" | "maxCalls";
  droppedCalls: number;
  droppedBytes: number;
}

export interface TraceEnd {
  type: "end";
  /** Calls the run made (including dropped ones). */
  calls: number;
  /** `refused` when any call was refused, `failed` when any failed, else `ok`. */
  outcome: "ok" | "failed" | "refused";
  costUsd: number;
  durationMs: number;
  truncated: boolean;
  /** Why the run ended: `endRun`, `flush`, `idle`, `evicted` (too many open runs). */
  reason?: string;
}

export type TraceLine = TraceHeader | TraceCall | TraceTruncation | TraceEnd;

/** A parsed trace. */
export interface Trace {
  header: TraceHeader;
  calls: TraceCall[];
  truncation?: TraceTruncation;
  end?: TraceEnd;
}

/** A trace that cannot be read: names the line and what is wrong with it. */
export class TraceFormatError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`trace line ${line}: ${message}`);
    this.name = "TraceFormatError";
    this.line = line;
  }
}

/** Parses JSON Lines text (as written by a recorder) into a trace; strict about what it needs. */
export function parseTrace(text: string): Trace {
  const lines = text.split("\n");
  let header: TraceHeader | undefined;
  const calls: TraceCall[] = [];
  let truncation: TraceTruncation | undefined;
  let end: TraceEnd | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).trim();
    if (raw === "") continue;
    const lineNo = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new TraceFormatError(lineNo, `not JSON (${(error as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new TraceFormatError(lineNo, "expected a JSON object");
    }
    const line = value as { type?: unknown };
    if (header === undefined) {
      header = checkHeader(line, lineNo);
      continue;
    }
    switch (line.type) {
      case "call":
        calls.push(checkCall(line, lineNo));
        break;
      case "truncated":
        truncation = line as TraceTruncation;
        break;
      case "end":
        end = line as TraceEnd;
        break;
      case "header":
        throw new TraceFormatError(lineNo, "a second header (one run per trace)");
      default:
        // Lines of a newer minor revision are skipped (forward compatible).
        break;
    }
  }
  if (header === undefined) throw new TraceFormatError(1, "empty trace (no header)");
  const trace: Trace = { header, calls };
  if (truncation !== undefined) trace.truncation = truncation;
  if (end !== undefined) trace.end = end;
  return trace;
}

function checkHeader(line: { type?: unknown }, lineNo: number): TraceHeader {
  const h = line as Partial<TraceHeader>;
  if (h.type !== "header" || h.format !== TRACE_FORMAT) {
    throw new TraceFormatError(lineNo, `expected a header with format "${TRACE_FORMAT}"`);
  }
  if (typeof h.version !== "number" || h.version > TRACE_FORMAT_VERSION) {
    throw new TraceFormatError(
      lineNo,
      `format version ${String(h.version)} is not supported (this reader knows ${TRACE_FORMAT_VERSION})`,
    );
  }
  if (typeof h.agentId !== "string" || typeof h.runId !== "string" || typeof h.startedAtMs !== "number") {
    throw new TraceFormatError(lineNo, "the header needs runId, agentId and startedAtMs");
  }
  return h as TraceHeader;
}

function checkCall(line: { type?: unknown }, lineNo: number): TraceCall {
  const c = line as Partial<TraceCall>;
  if (typeof c.seq !== "number" || (c.kind !== "model" && c.kind !== "tool") || typeof c.name !== "string") {
    throw new TraceFormatError(lineNo, "a call needs seq, kind (model | tool) and name");
  }
  if (typeof c.decision !== "object" || c.decision === null) {
    throw new TraceFormatError(lineNo, "a call needs a decision");
  }
  if (c.timing === undefined) c.timing = { startMs: 0, durationMs: 0 };
  return c as TraceCall;
}

/** The JSON Lines text of a trace (the inverse of `parseTrace`). */
export function formatTrace(trace: Trace): string {
  const lines: string[] = [JSON.stringify(trace.header)];
  for (const call of trace.calls) lines.push(JSON.stringify(call));
  if (trace.truncation !== undefined) lines.push(JSON.stringify(trace.truncation));
  if (trace.end !== undefined) lines.push(JSON.stringify(trace.end));
  return `${lines.join("\n")}\n`;
}

/** A short label of a call for reports: `#3 tool refund`. */
export function describeCall(call: Pick<TraceCall, "seq" | "kind" | "name">): string {
  return `#${call.seq} ${call.kind} ${call.name}`;
}
