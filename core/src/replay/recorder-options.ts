import type { Clock } from "../clock.js";
import { ConfigError } from "../errors.js";
import type { TraceEnd, TraceHeader } from "./format.js";
import type { RedactOptions } from "./redact.js";

/** Which finished runs are written. */
export type Sampling = "all" | "failed-or-refused" | { rate: number };

/** A finished run, as handed to the sink: its JSON Lines text and what a reader needs at a glance. */
export interface RecordedRun {
  readonly header: TraceHeader;
  readonly end: TraceEnd;
  /** The whole trace, JSON Lines (header, calls, truncation marker, end). */
  readonly text: string;
  /** UTF-8 size of `text`. */
  readonly bytes: number;
}

/** Where finished runs go (`@agent-sre/replay` has a file sink and a state-store sink). Never blocks a call. */
export interface TraceSink {
  write(run: RecordedRun): void | Promise<void>;
}

export interface RecorderOptions {
  /** Where finished runs are written. Without one they are only kept in memory (`recorder.runs`). */
  sink?: TraceSink;
  /** `"all"` (default), `"failed-or-refused"` (only runs with a failed or refused call), or `{ rate }` (a seeded share of runs). */
  sampling?: Sampling;
  /** Seed of the rate sampling; also written to the header as the run's seed unless `config` has `chaosSeed`. */
  seed?: number;
  /** The most a run's trace may take (UTF-8 bytes); later calls are dropped behind a truncation marker. Default 8 MiB. */
  maxRunBytes?: number;
  /** Longer strings inside requests and responses are cut with a marker. Default 65,536 characters. */
  maxStringChars?: number;
  /** Runs recorded at once; past this the oldest is ended (reason `evicted`). Default 1,000. */
  maxOpenRuns?: number;
  /** A run with no call for this long is ended (reason `idle`) when the next call is seen. Default 10 minutes. */
  runIdleMs?: number;
  /** Finished runs kept in memory for `recorder.runs` / `last()`. Default 16. */
  keepRuns?: number;
  /** Redaction of secrets and chosen fields before anything is written; `false` turns it off. */
  redact?: RedactOptions | false;
  /** The engine config to record (redacted) in each header, with its digest. JSON-safe parts only. */
  config?: unknown;
  /** Label of who records (`ai-sdk`, `langchain`, `mcp-proxy`, …) in each header. */
  source?: string;
  /** Time source for refusals and run ends. Default: the clock of the first engine attached, else the system clock. */
  clock?: Clock;
  /** Where sink failures go. Default: `console.error`. */
  onError?: (error: unknown) => void;
}

/** What an adapter says about the request it captures. */
export interface CaptureInfo {
  /** Shape of the request/response (`ai-sdk`, `langchain`, `openai.chat`, `mcp`). */
  api?: string;
  /** Whether a response also comes for calls that fail (e.g. an MCP `isError` result). Default false. */
  responseOnError?: boolean;
}

export const DEFAULTS = {
  maxRunBytes: 8 * 1024 * 1024,
  maxStringChars: 65_536,
  maxOpenRuns: 1_000,
  runIdleMs: 10 * 60_000,
  keepRuns: 16,
};

export const OPTION_KEYS = new Set([
  "sink",
  "sampling",
  "seed",
  "maxRunBytes",
  "maxStringChars",
  "maxOpenRuns",
  "runIdleMs",
  "keepRuns",
  "redact",
  "config",
  "source",
  "clock",
  "onError",
]);

export function checkSampling(sampling: unknown): Sampling {
  if (sampling === "all" || sampling === "failed-or-refused") return sampling;
  if (typeof sampling === "object" && sampling !== null) {
    const keys = Object.keys(sampling);
    const rate = (sampling as { rate?: unknown }).rate;
    if (keys.length === 1 && typeof rate === "number" && rate >= 0 && rate <= 1) return { rate };
  }
  throw new ConfigError("record.sampling", sampling, '"all", "failed-or-refused" or { rate: 0..1 }');
}

export function positiveInt(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new ConfigError(field, value, "an integer >= 1");
  }
  return value;
}

export function nonNegativeInt(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new ConfigError(field, value, "an integer >= 0");
  }
  return value;
}
