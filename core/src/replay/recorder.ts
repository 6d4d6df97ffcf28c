import type { InjectionPlan } from "../chaos/index.js";
import { seededUnit } from "../chaos/rng.js";
import type { Clock } from "../clock.js";
import { systemClock } from "../clock.js";
import type { AgentSRE } from "../engine/agent-sre.js";
import type { CallObserver, CallOutcome } from "../engine/observer.js";
import type { GuardCall } from "../engine/types.js";
import { ConfigError, type RefusalError } from "../errors.js";
import { canonicalJson } from "../rogue/canonical-json.js";
import { sha256Hex } from "../rogue/sha256.js";
import {
  TRACE_FORMAT,
  TRACE_FORMAT_VERSION,
  type TraceCall,
  type TraceChaos,
  type TraceEnd,
  type TraceHeader,
  type TraceTruncation,
} from "./format.js";
import {
  type CaptureInfo,
  checkSampling,
  DEFAULTS,
  nonNegativeInt,
  OPTION_KEYS,
  positiveInt,
  type RecordedRun,
  type RecorderOptions,
  type Sampling,
  type TraceSink,
} from "./recorder-options.js";
import {
  chaosOf,
  END_RESERVE_BYTES,
  errorOf,
  isPlainObject,
  randomHex,
  refusalDetail,
  round12,
  runKey,
  seedOf,
  spanIdOf,
  TRUNCATION_RESERVE_BYTES,
} from "./recorder-util.js";
import { Redactor } from "./redact.js";
import { type SanitizeLimits, sanitize, utf8Length } from "./sanitize.js";

export type { CaptureInfo, RecordedRun, RecorderOptions, Sampling, TraceSink } from "./recorder-options.js";

interface PendingCall {
  run: OpenRun | undefined;
  seq: number;
  call: GuardCall<never> | undefined;
  api: string;
  request: unknown;
  hasRequest: boolean;
  response: unknown;
  hasResponse: boolean;
  responseOnError: boolean;
  startedAtMs: number;
  chaos: TraceChaos | undefined;
  variant: string | undefined;
  meta: Record<string, unknown> | undefined;
  outcome: CallOutcome | undefined;
  refusal: RefusalError | undefined;
  done: boolean;
}

interface OpenRun {
  readonly key: string;
  readonly header: TraceHeader;
  readonly sampled: boolean;
  lastAtMs: number;
  calls: number;
  /** Serialized call lines by seq - 1 (undefined while the call is in flight). */
  readonly lines: Array<string | undefined>;
  readonly pending: Set<PendingCall>;
  bytes: number;
  /** Calls from this seq on are dropped (the size limit). */
  truncatedAt: number;
  droppedBytes: number;
  refused: boolean;
  failed: boolean;
  costUsd: number;
  lastEndMs: number;
  /** Mixed with each call's seq into its span id (random per run; no entropy drawn per call). */
  readonly spanSeed: number;
}

/**
 * Records guarded runs as traces (see format.ts). It is an engine observer (`recorder.attach(sre)`): every
 * guarded call of the engine is recorded with the engine's decision (allowed or refused and why, chaos
 * faults), usage, cost and timings, grouped into runs by agent and task. Adapters with a `record` option
 * add the framework's own request and response (`request()` / `response()`); without them a call's request
 * is its engine input (tool arguments).
 *
 * A run ends with `endRun(agentId, taskId)`, `flush()`, after `runIdleMs` without calls, or when
 * `maxOpenRuns` is passed; it is then sampled and written to the sink. Redaction and size limits apply as
 * each call is added, so memory per run stays within `maxRunBytes`.
 */
export class Recorder implements CallObserver<PendingCall | undefined> {
  readonly #sink: TraceSink | undefined;
  readonly #sampling: Sampling;
  readonly #seed: number | undefined;
  readonly #maxRunBytes: number;
  readonly #limits: SanitizeLimits;
  readonly #maxOpenRuns: number;
  readonly #runIdleMs: number;
  readonly #keepRuns: number;
  readonly #redactor: Redactor;
  readonly #config: unknown;
  readonly #configDigest: string | undefined;
  readonly #source: string | undefined;
  readonly #onError: (error: unknown) => void;
  #clock: Clock | undefined;
  readonly #open = new Map<string, OpenRun>();
  readonly #calls = new WeakMap<object, PendingCall>();
  readonly #attached = new WeakMap<AgentSRE, () => void>();
  readonly #finished: RecordedRun[] = [];
  readonly #writes = new Set<Promise<void>>();
  #lastSweepMs = Number.NEGATIVE_INFINITY;

  constructor(options: RecorderOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new ConfigError("record", options, "recorder options");
    }
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key))
        throw new ConfigError(`record.${key}`, key, `one of ${[...OPTION_KEYS].join(", ")}`);
    }
    if (options.sink !== undefined && typeof options.sink?.write !== "function") {
      throw new ConfigError("record.sink", options.sink, "a sink with write(run)");
    }
    this.#sink = options.sink;
    this.#sampling = checkSampling(options.sampling ?? "all");
    if (options.seed !== undefined && !Number.isInteger(options.seed)) {
      throw new ConfigError("record.seed", options.seed, "an integer");
    }
    this.#seed = options.seed;
    this.#maxRunBytes = positiveInt(options.maxRunBytes ?? DEFAULTS.maxRunBytes, "record.maxRunBytes");
    this.#limits = {
      maxStringChars: positiveInt(options.maxStringChars ?? DEFAULTS.maxStringChars, "record.maxStringChars"),
      maxDepth: 64,
    };
    this.#maxOpenRuns = positiveInt(options.maxOpenRuns ?? DEFAULTS.maxOpenRuns, "record.maxOpenRuns");
    this.#runIdleMs = positiveInt(options.runIdleMs ?? DEFAULTS.runIdleMs, "record.runIdleMs");
    this.#keepRuns = nonNegativeInt(options.keepRuns ?? DEFAULTS.keepRuns, "record.keepRuns");
    this.#redactor = new Redactor(options.redact ?? {});
    if (options.config !== undefined) {
      this.#config = sanitize(options.config, this.#redactor, this.#limits);
      this.#configDigest = `sha256:${sha256Hex(canonicalJson(this.#config))}`;
    }
    this.#source = options.source;
    this.#clock = options.clock;
    this.#onError = options.onError ?? ((error) => console.error("agent-sre: trace sink failed", error));
  }

  /** The redaction policy (replay compares live requests after the same redaction). */
  get redactor(): Redactor {
    return this.#redactor;
  }

  /** Starts observing an engine's calls (idempotent). Returns a function that stops it. */
  attach(sre: AgentSRE): () => void {
    const existing = this.#attached.get(sre);
    if (existing !== undefined) return existing;
    this.#clock ??= sre.clock;
    const off = sre.use(this);
    const detach = () => {
      off();
      this.#attached.delete(sre);
    };
    this.#attached.set(sre, detach);
    return detach;
  }

  // ---------------------------------------------------------------------------------------------
  // Adapter capture

  /** The framework's request of a call (before or inside `guard`), keyed by the `GuardCall` object. */
  request(call: GuardCall<never> | GuardCall<unknown>, request: unknown, info?: CaptureInfo): void {
    const pending = this.#pendingOf(call as GuardCall<never>);
    pending.request = request;
    pending.hasRequest = true;
    if (info?.api !== undefined) pending.api = info.api;
    if (info?.responseOnError === true) pending.responseOnError = true;
  }

  /** The framework's response of a call (a result, a message, stream parts). */
  response(call: GuardCall<never> | GuardCall<unknown>, response: unknown): void {
    const pending = this.#calls.get(call);
    if (pending === undefined || pending.done) return;
    pending.response = response;
    pending.hasResponse = true;
    if (pending.outcome !== undefined) this.#complete(pending);
  }

  /** Extra facts about a call: the routing variant it went to, free-form fields. */
  annotate(
    call: GuardCall<never> | GuardCall<unknown>,
    note: { variant?: string; meta?: Record<string, unknown> },
  ): void {
    const pending = this.#pendingOf(call as GuardCall<never>);
    if (note.variant !== undefined) pending.variant = note.variant;
    if (note.meta !== undefined) pending.meta = { ...pending.meta, ...note.meta };
  }

  /** Adds fields to the header of an open run (e.g. the tools an MCP session listed). */
  annotateRun(agentId: string, taskId: string | undefined, meta: Record<string, unknown>): void {
    const run = this.#open.get(runKey(agentId, taskId));
    if (run === undefined) return;
    const clean = sanitize(meta, this.#redactor, this.#limits) as Record<string, unknown>;
    const merged: Record<string, unknown> = { ...run.header.meta };
    for (const [key, value] of Object.entries(clean)) {
      // One level deep: `{ tools: { a } }` then `{ tools: { b } }` keeps both.
      const previous = merged[key];
      merged[key] = isPlainObject(previous) && isPlainObject(value) ? { ...previous, ...value } : value;
    }
    run.header.meta = merged;
  }

  #pendingOf(call: GuardCall<never>): PendingCall {
    let pending = this.#calls.get(call);
    if (pending === undefined || pending.done) {
      pending = {
        run: undefined,
        seq: 0,
        call: undefined,
        api: "engine",
        request: undefined,
        hasRequest: false,
        response: undefined,
        hasResponse: false,
        responseOnError: false,
        startedAtMs: 0,
        chaos: undefined,
        variant: undefined,
        meta: undefined,
        outcome: undefined,
        refusal: undefined,
        done: false,
      };
      this.#calls.set(call, pending);
    }
    return pending;
  }

  // ---------------------------------------------------------------------------------------------
  // CallObserver

  start(
    call: GuardCall<never>,
    startedAtMs: number,
    chaos: InjectionPlan | undefined,
  ): PendingCall | undefined {
    const run = this.#runFor(call, startedAtMs);
    const seq = ++run.calls;
    run.lastAtMs = startedAtMs;
    if (!run.sampled || seq >= run.truncatedAt) return undefined;
    const pending = this.#pendingOf(call);
    pending.run = run;
    pending.seq = seq;
    pending.call = call;
    pending.startedAtMs = startedAtMs;
    if (chaos !== undefined) pending.chaos = chaosOf(chaos);
    run.pending.add(pending);
    run.lines.push(undefined);
    return pending;
  }

  end(pending: PendingCall | undefined, call: GuardCall<never>, outcome: CallOutcome): void {
    if (pending === undefined) {
      // Not kept (sampled out or past the size limit): still count what decides the run's outcome.
      const run = this.#open.get(runKey(call.agentId, call.taskId));
      if (run !== undefined) {
        if (!outcome.ok && !outcome.cancelled) run.failed = true;
        run.costUsd += outcome.costUsd;
      }
      return;
    }
    pending.outcome = outcome;
    const awaitsResponse =
      pending.hasRequest && !pending.hasResponse && (outcome.ok || pending.responseOnError);
    if (!awaitsResponse) this.#complete(pending);
  }

  refused(call: GuardCall<never>, error: RefusalError): void {
    const now = this.#now();
    const run = this.#runFor(call, now);
    const seq = ++run.calls;
    run.lastAtMs = now;
    run.refused = true;
    if (!run.sampled || seq >= run.truncatedAt) return;
    const pending = this.#pendingOf(call);
    pending.run = run;
    pending.seq = seq;
    pending.call = call;
    pending.startedAtMs = now;
    pending.refusal = error;
    run.lines.push(undefined);
    run.pending.add(pending);
    this.#complete(pending);
  }

  // ---------------------------------------------------------------------------------------------
  // Runs

  /** Ends a run: samples it and writes it to the sink. Returns it, or undefined when sampled out / unknown. */
  endRun(agentId: string, taskId?: string): RecordedRun | undefined {
    const run = this.#open.get(runKey(agentId, taskId));
    return run === undefined ? undefined : this.#finish(run, "endRun");
  }

  /** Ends every open run (e.g. at shutdown). Returns those written. */
  flush(): RecordedRun[] {
    const out: RecordedRun[] = [];
    for (const run of [...this.#open.values()]) {
      const recorded = this.#finish(run, "flush");
      if (recorded !== undefined) out.push(recorded);
    }
    return out;
  }

  /** Resolves once every write handed to the sink so far has settled. */
  async drain(): Promise<void> {
    while (this.#writes.size > 0) await Promise.allSettled([...this.#writes]);
  }

  /** Recently finished runs that were written (newest last; at most `keepRuns`). */
  get runs(): readonly RecordedRun[] {
    return this.#finished;
  }

  /** The latest finished run that was written, optionally of one agent / task. */
  last(agentId?: string, taskId?: string): RecordedRun | undefined {
    for (let i = this.#finished.length - 1; i >= 0; i--) {
      const run = this.#finished[i] as RecordedRun;
      if (agentId !== undefined && run.header.agentId !== agentId) continue;
      if (taskId !== undefined && run.header.taskId !== taskId) continue;
      return run;
    }
    return undefined;
  }

  /** Runs being recorded now. */
  get openRuns(): number {
    return this.#open.size;
  }

  #now(): number {
    return (this.#clock ?? systemClock).now();
  }

  #runFor(call: GuardCall<never>, nowMs: number): OpenRun {
    const key = runKey(call.agentId, call.taskId);
    const existing = this.#open.get(key);
    if (existing !== undefined) {
      if (nowMs - existing.lastAtMs < this.#runIdleMs) return existing;
      this.#finish(existing, "idle");
    }
    this.#sweep(nowMs);
    if (this.#open.size >= this.#maxOpenRuns) {
      const oldest = this.#open.values().next().value as OpenRun;
      this.#finish(oldest, "evicted");
    }
    const runId = randomHex(16);
    const header: TraceHeader = {
      type: "header",
      format: TRACE_FORMAT,
      version: TRACE_FORMAT_VERSION,
      runId,
      agentId: call.agentId,
      startedAtMs: nowMs,
      startedAt: new Date(nowMs).toISOString(),
    };
    if (call.taskId !== undefined) header.taskId = call.taskId;
    const seed = seedOf(this.#config) ?? this.#seed;
    if (seed !== undefined) header.seed = seed;
    if (this.#configDigest !== undefined) header.configDigest = this.#configDigest;
    if (this.#config !== undefined) header.config = this.#config;
    if (this.#source !== undefined) header.source = this.#source;
    const sampling = this.#sampling;
    const sampled = typeof sampling === "object" ? seededUnit(this.#seed ?? 0, runId) < sampling.rate : true;
    const run: OpenRun = {
      key,
      header,
      sampled,
      lastAtMs: nowMs,
      calls: 0,
      lines: [],
      pending: new Set(),
      bytes: utf8Length(JSON.stringify(header)) + 1 + END_RESERVE_BYTES,
      truncatedAt: Number.POSITIVE_INFINITY,
      droppedBytes: 0,
      refused: false,
      failed: false,
      costUsd: 0,
      lastEndMs: nowMs,
      spanSeed: Number.parseInt(randomHex(4), 16),
    };
    this.#open.set(key, run);
    return run;
  }

  /** Ends runs idle past `runIdleMs` (checked at most every quarter of it, so the scan stays rare). */
  #sweep(nowMs: number): void {
    if (nowMs - this.#lastSweepMs < this.#runIdleMs / 4) return;
    this.#lastSweepMs = nowMs;
    for (const run of [...this.#open.values()]) {
      if (nowMs - run.lastAtMs >= this.#runIdleMs) this.#finish(run, "idle");
    }
  }

  /** Serializes a finished call into its run's slot, within the run's size limit. */
  #complete(pending: PendingCall): void {
    if (pending.done) return;
    pending.done = true;
    const run = pending.run;
    if (run === undefined) return;
    run.pending.delete(pending);
    const line = this.#line(pending, run);
    const outcome = pending.outcome;
    if (outcome !== undefined) {
      if (!outcome.ok && !outcome.cancelled) run.failed = true;
      run.costUsd += outcome.costUsd;
      run.lastEndMs = Math.max(run.lastEndMs, pending.startedAtMs + outcome.durationMs);
    }
    if (pending.seq >= run.truncatedAt) return;
    const bytes = utf8Length(line) + 1;
    if (run.bytes + bytes + TRUNCATION_RESERVE_BYTES > this.#maxRunBytes) {
      this.#truncate(run, pending.seq, bytes);
      return;
    }
    run.bytes += bytes;
    run.lines[pending.seq - 1] = line;
  }

  /** Drops the call at `seq` and every later one: the trace stays a complete prefix of the run. */
  #truncate(run: OpenRun, seq: number, droppedBytes: number): void {
    run.droppedBytes += droppedBytes;
    for (let i = seq; i < run.lines.length; i++) {
      const line = run.lines[i];
      if (line !== undefined) {
        const size = utf8Length(line) + 1;
        run.bytes -= size;
        run.droppedBytes += size;
      }
    }
    run.lines.length = Math.min(run.lines.length, seq - 1);
    run.truncatedAt = Math.min(run.truncatedAt, seq);
  }

  #line(pending: PendingCall, run: OpenRun): string {
    const call = pending.call as GuardCall<never>;
    const outcome = pending.outcome;
    const refusal = pending.refusal;
    const limits = this.#limits;
    const redactor = this.#redactor;
    const line: TraceCall = {
      type: "call",
      seq: pending.seq,
      kind: call.kind,
      name: call.name,
      api: pending.api,
      ok: refusal === undefined && outcome !== undefined && outcome.ok,
      decision:
        refusal === undefined
          ? { outcome: "allowed" }
          : {
              outcome: "refused",
              code: refusal.code,
              message: redactor.string(refusal.message),
              detail: refusalDetail(refusal, redactor, limits),
            },
      timing: {
        startMs: pending.startedAtMs - run.header.startedAtMs,
        durationMs: outcome?.durationMs ?? 0,
      },
      spanId: spanIdOf(run.spanSeed, pending.seq),
    };
    if (call.provider !== undefined) line.provider = call.provider;
    if (call.attempt !== undefined && call.attempt !== 1) line.attempt = call.attempt;
    if (call.estimate !== undefined)
      line.estimate = sanitize(call.estimate, redactor, limits) as Record<string, number>;
    if (call.breakers !== undefined && call.breakers.length > 0) line.breakers = [...call.breakers];
    const request = pending.hasRequest ? pending.request : call.input;
    if (request !== undefined) line.request = sanitize(request, redactor, limits, ["request"]);
    if (pending.hasResponse) line.response = sanitize(pending.response, redactor, limits, ["response"]);
    if (outcome !== undefined) {
      if (!outcome.ok) line.error = errorOf(outcome.error, redactor, limits, outcome.cancelled);
      const usage = outcome.usage;
      if (usage.inputTokens > 0 || usage.outputTokens > 0 || usage.model !== undefined) {
        line.usage = sanitize(usage, redactor, limits) as Record<string, unknown>;
      }
      if (outcome.costUsd > 0) line.costUsd = outcome.costUsd;
    } else if (refusal === undefined) {
      // The run ended while the call was still in flight.
      line.error = { name: "Incomplete", message: "the run ended before this call settled" };
    }
    if (pending.chaos !== undefined) line.chaos = pending.chaos;
    if (pending.variant !== undefined) line.variant = pending.variant;
    if (pending.meta !== undefined)
      line.meta = sanitize(pending.meta, redactor, limits) as Record<string, unknown>;
    return JSON.stringify(line);
  }

  #finish(run: OpenRun, reason: string): RecordedRun | undefined {
    this.#open.delete(run.key);
    // Calls still in flight are written as they are (marked incomplete).
    for (const pending of [...run.pending]) this.#complete(pending);
    const truncated = run.truncatedAt !== Number.POSITIVE_INFINITY;
    const end: TraceEnd = {
      type: "end",
      calls: run.calls,
      outcome: run.refused ? "refused" : run.failed ? "failed" : "ok",
      costUsd: round12(run.costUsd),
      durationMs: Math.max(0, run.lastEndMs - run.header.startedAtMs, run.lastAtMs - run.header.startedAtMs),
      truncated,
      reason,
    };
    if (!run.sampled) return undefined;
    if (this.#sampling === "failed-or-refused" && end.outcome === "ok") return undefined;
    const lines = [JSON.stringify(run.header)];
    for (const line of run.lines) if (line !== undefined) lines.push(line);
    if (truncated) {
      const marker: TraceTruncation = {
        type: "truncated",
        afterSeq: run.truncatedAt - 1,
        reason: "maxRunBytes",
        droppedCalls: run.calls - (run.truncatedAt - 1),
        droppedBytes: run.droppedBytes,
      };
      lines.push(JSON.stringify(marker));
    }
    lines.push(JSON.stringify(end));
    const text = `${lines.join("\n")}\n`;
    const recorded: RecordedRun = { header: run.header, end, text, bytes: utf8Length(text) };
    if (this.#keepRuns > 0) {
      this.#finished.push(recorded);
      if (this.#finished.length > this.#keepRuns) this.#finished.shift();
    }
    this.#write(recorded);
    return recorded;
  }

  #write(run: RecordedRun): void {
    const sink = this.#sink;
    if (sink === undefined) return;
    let result: void | Promise<void>;
    try {
      result = sink.write(run);
    } catch (error) {
      this.#onError(error);
      return;
    }
    if (result !== undefined && typeof (result as Promise<void>).then === "function") {
      const write = (result as Promise<void>).then(undefined, (error: unknown) => this.#onError(error));
      this.#writes.add(write);
      void write.finally(() => this.#writes.delete(write));
    }
  }
}
