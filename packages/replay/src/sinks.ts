import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  ConfigError,
  parseTrace,
  type RecordedRun,
  type StateStore,
  type Trace,
  type TraceSink,
} from "@agent-sre/core";

export interface FileTraceSinkOptions {
  /** Folder traces are written to (created when missing). */
  dir: string;
  /**
   * The file of a run, relative to `dir`. Default `<agent>/<task or "run">-<first 12 digits of the run id>.jsonl`
   * with unsafe characters replaced by `_`.
   */
  fileName?: (run: RecordedRun) => string;
  /** Write synchronously (short-lived processes that exit right after `flush()`). Default false. */
  sync?: boolean;
}

const safe = (part: string) => part.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 100) || "_";

/** The default file name of a run: `<agent>/<task>-<run id prefix>.jsonl`. */
export function defaultTraceFileName(run: RecordedRun): string {
  const { agentId, taskId, runId } = run.header;
  return join(safe(agentId), `${safe(taskId ?? "run")}-${runId.slice(0, 12)}.jsonl`);
}

/**
 * Writes each finished run to its own JSON Lines file (written to a temporary name, then renamed, so a
 * reader never sees half a trace). `written` lists the files, newest last.
 */
export class FileTraceSink implements TraceSink {
  readonly dir: string;
  readonly written: string[] = [];
  readonly #fileName: (run: RecordedRun) => string;
  readonly #sync: boolean;

  constructor(options: FileTraceSinkOptions) {
    if (typeof options?.dir !== "string" || options.dir === "") {
      throw new ConfigError("record.dir", options?.dir, "a folder for trace files");
    }
    this.dir = options.dir;
    this.#fileName = options.fileName ?? defaultTraceFileName;
    this.#sync = options.sync ?? false;
  }

  write(run: RecordedRun): void | Promise<void> {
    const file = join(this.dir, this.#fileName(run));
    const temporary = `${file}.${process.pid}.tmp`;
    const folder = join(file, "..");
    if (this.#sync) {
      mkdirSync(folder, { recursive: true });
      writeFileSync(temporary, run.text);
      renameSync(temporary, file);
      this.written.push(file);
      return;
    }
    return (async () => {
      await mkdir(folder, { recursive: true });
      await writeFile(temporary, run.text);
      await rename(temporary, file);
      this.written.push(file);
    })();
  }
}

/** Reads a trace file. */
export function readTraceFile(file: string): Trace {
  return parseTrace(readFileSync(file, "utf8"));
}

export interface StateStoreTraceSinkOptions {
  /** How long a trace is kept (ms). Default 7 days. */
  ttlMs?: number;
  /** Record kind in the state store. Default `"trace"`. */
  kind?: string;
}

export const TRACE_STATE_KIND = "trace";

/**
 * Keeps finished runs in the engine's state store (SQLite or Redis), under kind `"trace"` keyed by run id,
 * so a fleet's traces are found where its decisions are. Size them with the recorder's `maxRunBytes`.
 */
export class StateStoreTraceSink implements TraceSink {
  readonly #store: StateStore;
  readonly #ttlMs: number;
  readonly #kind: string;
  readonly #now: () => number;

  constructor(store: StateStore, options: StateStoreTraceSinkOptions = {}, now: () => number = Date.now) {
    this.#store = store;
    this.#ttlMs = options.ttlMs ?? 7 * 24 * 3_600_000;
    if (!(this.#ttlMs > 0)) throw new ConfigError("ttlMs", options.ttlMs, "a duration in ms > 0");
    this.#kind = options.kind ?? TRACE_STATE_KIND;
    this.#now = now;
  }

  write(run: RecordedRun): void {
    const { header, end } = run;
    this.#store.putState(
      this.#kind,
      header.runId,
      {
        agentId: header.agentId,
        ...(header.taskId === undefined ? {} : { taskId: header.taskId }),
        startedAtMs: header.startedAtMs,
        outcome: end.outcome,
        calls: end.calls,
        text: run.text,
      },
      this.#now() + this.#ttlMs,
    );
  }
}

/** The traces a `StateStoreTraceSink` kept, newest first, optionally of one agent. */
export function listStoredTraces(
  store: StateStore,
  options: { agentId?: string; kind?: string } = {},
): Array<{
  runId: string;
  agentId: string;
  taskId?: string;
  startedAtMs: number;
  outcome: string;
  trace: Trace;
}> {
  const out = [];
  for (const [runId, value] of store.listState(options.kind ?? TRACE_STATE_KIND)) {
    if (typeof value.text !== "string" || typeof value.agentId !== "string") continue;
    if (options.agentId !== undefined && value.agentId !== options.agentId) continue;
    out.push({
      runId,
      agentId: value.agentId,
      ...(typeof value.taskId === "string" ? { taskId: value.taskId } : {}),
      startedAtMs: Number(value.startedAtMs),
      outcome: String(value.outcome),
      trace: parseTrace(value.text),
    });
  }
  return out.sort((a, b) => b.startedAtMs - a.startedAtMs);
}
