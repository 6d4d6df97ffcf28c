import type { InjectionPlan } from "../chaos/index.js";
import { ManualClock } from "../clock.js";
import type { AgentSRE } from "../engine/agent-sre.js";
import type { CallObserver, CallOutcome } from "../engine/observer.js";
import type { GuardCall } from "../engine/types.js";
import type { RefusalError } from "../errors.js";
import type { CallKind } from "../types.js";
import {
  type CompareOptions,
  compileCompare,
  diffJson,
  formatDifferences,
  type JsonDifference,
} from "./diff.js";
import { describeCall, parseTrace, type Trace, type TraceCall, type TraceDecision } from "./format.js";
import type { RecordedRun } from "./recorder.js";
import { type RedactOptions, Redactor } from "./redact.js";
import { type SanitizeLimits, sanitize } from "./sanitize.js";

/** Why a replay left the recording. */
export type DivergenceReason =
  /** The call is the expected one, but its request differs (prompt, arguments, tools offered, model). */
  | "request"
  /** A different call than the recording made next (another tool, a model call instead of a tool call). */
  | "call"
  /** More calls than the recording has. */
  | "extra"
  /** The recording has no response for this call (it was refused or cut off then). */
  | "no-response"
  /** The recording stops here (its size limit truncated it). */
  | "truncated";

export interface Divergence {
  /** The recorded step the replay was at (`trace.calls.length + 1` past the end). */
  seq: number;
  kind: CallKind;
  name: string;
  reason: DivergenceReason;
  message: string;
  differences: JsonDifference[];
  /** The live request (sanitized and redacted like the recording). */
  request?: unknown;
  /** Whether an earlier what-if refusal explains it (the run took another path because of it). */
  afterWhatIf: boolean;
}

/** A call the replay's engine decided differently from the recording (the what-if answer). */
export interface WhatIfFinding {
  seq: number;
  kind: CallKind;
  name: string;
  change: "refused" | "allowed" | "code" | "fault";
  recorded: TraceDecision;
  replayed: { outcome: "allowed" | "refused"; code?: string; message?: string; faults?: string[] };
}

export interface ReplayedCall {
  seq: number;
  kind: CallKind;
  name: string;
  recorded: TraceDecision;
  /** `answered` from the trace, `live` (a tool run for real), `refused` by the replay engine, `not-reached`. */
  replayed: "answered" | "live" | "refused" | "not-reached";
  code?: string;
  costUsd?: number;
}

export interface ReplayReport {
  /** No divergence, no decision changed, and every recorded call was replayed. */
  ok: boolean;
  calls: ReplayedCall[];
  divergence: Divergence | undefined;
  divergences: Divergence[];
  whatIf: WhatIfFinding[];
  /** Calls answered from the trace / run live. */
  answered: number;
  liveCalls: number;
  /** Recorded calls the replay never reached. */
  notReached: number;
}

export interface ReplayOptions {
  /** `"throw"` (default): a stand-in throws `ReplayDivergenceError` at the first divergence. `"report"`: it answers with the recorded step anyway and the report lists it. */
  onDivergence?: "throw" | "report";
  /** Fields left out of request comparisons and numeric tolerance (paths start with `request.`). */
  compare?: CompareOptions;
  /** The redaction the recording used (live requests are redacted alike before comparison). */
  redact?: RedactOptions | false;
  /** The recording's `maxStringChars` (default 65,536). */
  maxStringChars?: number;
  /** Tools run live instead of answered from the trace: `true` for all, or their names. Default none. */
  liveTools?: boolean | string[];
}

/** A replay left the recording (see `divergence`). Not a refusal: nothing of the engine said no. */
export class ReplayDivergenceError extends Error {
  readonly code = "REPLAY_DIVERGED" as const;
  readonly divergence: Divergence;
  constructor(divergence: Divergence) {
    super(divergence.message);
    this.name = "ReplayDivergenceError";
    this.divergence = divergence;
  }
}

/** The request fields a model call is compared on, per request shape; other shapes compare whole. */
const MODEL_REQUEST_FIELDS: Record<string, readonly string[]> = {
  "ai-sdk": ["model", "prompt", "tools", "toolChoice", "responseFormat"],
  langchain: ["model", "messages", "tools"],
  "openai.chat": ["model", "messages", "tools", "tool_choice"],
};

/** What a stand-in asks for: the live call. */
export interface LiveCall {
  kind: CallKind;
  name: string;
  request: unknown;
  /** Shape of `request` (as recorded): `ai-sdk`, `langchain`, `engine` (tool arguments), … */
  api?: string;
}

interface StepState {
  claimed: boolean;
  answered: boolean;
  replayed: ReplayedCall["replayed"];
  code: string | undefined;
  costUsd: number | undefined;
}

/**
 * The shared logic of the replay stand-ins (AI SDK model, LangChain chat model, tools, MCP upstream): it
 * walks a recorded run in order, answers each live call from its recorded step, and finds the first call
 * whose request differs. Attached to the replay's engine (`session.attach(sre)`), it also sees that engine's
 * decisions and reports every call decided differently from the recording (what-if).
 *
 * Time comes from the trace: `session.clock` starts at the run's start, each answer moves it to when the
 * recorded call ended, and each settled call to when the next one started. Build the replay engine on it.
 */
export class ReplaySession implements CallObserver<number> {
  readonly trace: Trace;
  readonly clock: ManualClock;
  readonly #steps: StepState[];
  readonly #onDivergence: "throw" | "report";
  readonly #compare: ReturnType<typeof compileCompare>;
  readonly #redactor: Redactor;
  readonly #limits: SanitizeLimits;
  readonly #liveTools: boolean | ReadonlySet<string>;
  readonly #divergences: Divergence[] = [];
  readonly #whatIf: WhatIfFinding[] = [];
  #cursor = 0;
  #answered = 0;
  #live = 0;
  #extra = 0;

  constructor(trace: Trace | RecordedRun | string, options: ReplayOptions = {}) {
    this.trace =
      typeof trace === "string" ? parseTrace(trace) : "text" in trace ? parseTrace(trace.text) : trace;
    this.#steps = this.trace.calls.map(() => ({
      claimed: false,
      answered: false,
      replayed: "not-reached",
      code: undefined,
      costUsd: undefined,
    }));
    this.#onDivergence = options.onDivergence ?? "throw";
    this.#compare = compileCompare(options.compare ?? {});
    this.#redactor = new Redactor(options.redact ?? {});
    this.#limits = { maxStringChars: options.maxStringChars ?? 65_536, maxDepth: 64 };
    const live = options.liveTools ?? false;
    this.#liveTools = typeof live === "boolean" ? live : new Set(live);
    const first = this.trace.calls[0];
    this.clock = new ManualClock(this.trace.header.startedAtMs + (first?.timing.startMs ?? 0));
  }

  /** Observes the replay engine's decisions (what-if findings). Returns a function that stops it. */
  attach(sre: AgentSRE): () => void {
    return sre.use(this);
  }

  /** Whether this tool runs live instead of being answered from the trace. */
  runsLive(toolName: string): boolean {
    const live = this.#liveTools;
    return typeof live === "boolean" ? live : live.has(toolName);
  }

  /**
   * The recorded step that answers a live call (a stand-in then returns its `response` or throws its
   * `error`). At a divergence it throws `ReplayDivergenceError`, or with `onDivergence: "report"` records it
   * and answers with the best recorded candidate (throwing only past the end of the trace).
   */
  answer(live: LiveCall, options?: { missingResponse?: "ok" }): TraceCall {
    const request = sanitize(live.request, this.#redactor, this.#limits, ["request"]);
    const index = this.#find(live.kind, live.name, request, true);
    if (index < 0) {
      const divergence = this.#missing(live, request);
      throw new ReplayDivergenceError(divergence);
    }
    const step = this.trace.calls[index] as TraceCall;
    if (step.kind !== live.kind || step.name !== live.name) {
      // Another call than recorded: nothing in the trace can answer it.
      const divergence: Divergence = {
        ...base(step, "call"),
        message: `${this.#at(step)}: expected ${step.kind} ${step.name}, the replay made ${live.kind} ${live.name}`,
        differences: [],
        request,
        afterWhatIf: this.#whatIf.some((f) => f.seq < step.seq),
      };
      this.#divergences.push(divergence);
      throw new ReplayDivergenceError(divergence);
    }
    const state = this.#steps[index] as StepState;
    state.claimed = true;
    state.answered = true;
    this.#advanceCursor();
    const differences = this.#compareRequest(step, request, live.api);
    if (differences.length > 0) {
      this.#diverge({
        ...base(step, "request"),
        message: `${this.#at(step)}: the request differs from the recording\n${formatDifferences(differences).join("\n")}`,
        differences,
        request,
      });
    }
    const uncaptured = step.response === undefined && step.error === undefined && step.ok;
    if (step.decision.outcome === "refused" || (uncaptured && options?.missingResponse !== "ok")) {
      const divergence: Divergence = {
        ...base(step, "no-response"),
        message: `${this.#at(step)}: the recording has no response (it was ${step.decision.outcome === "refused" ? `refused with ${step.decision.code}` : "not captured"})`,
        differences: [],
        request,
        afterWhatIf: this.#whatIf.length > 0,
      };
      this.#divergences.push(divergence);
      throw new ReplayDivergenceError(divergence);
    }
    if (state.replayed === "not-reached") state.replayed = "answered";
    this.#answered++;
    // The recorded call took this long: the engine settles it with the recorded duration.
    this.#moveClock(this.trace.header.startedAtMs + step.timing.startMs + step.timing.durationMs);
    return step;
  }

  /** Marks a tool call run live (with `liveTools`): its step is consumed, its request still compared. */
  live(live: LiveCall): TraceCall | undefined {
    try {
      const step = this.answer(live);
      const state = this.#steps[step.seq - 1] as StepState;
      state.replayed = "live";
      this.#answered--;
      this.#live++;
      return step;
    } catch (error) {
      if (error instanceof ReplayDivergenceError && error.divergence.reason === "no-response") {
        this.#live++;
        return undefined;
      }
      throw error;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // CallObserver: the replay engine's decisions

  start(call: GuardCall<never>, _startedAtMs: number, plan: InjectionPlan | undefined): number {
    const index = this.#claim(call);
    if (index < 0) return -1;
    const step = this.trace.calls[index] as TraceCall;
    const state = this.#steps[index] as StepState;
    if (state.replayed === "not-reached") state.replayed = "answered";
    if (step.decision.outcome === "refused") {
      this.#whatIf.push({
        ...where(step),
        change: "allowed",
        recorded: step.decision,
        replayed: { outcome: "allowed" },
      });
    }
    if (plan !== undefined && step.chaos === undefined) {
      this.#whatIf.push({
        ...where(step),
        change: "fault",
        recorded: step.decision,
        replayed: {
          outcome: "allowed",
          faults: plan.faults.map((f) => `${f.type} (${plan.experiment}/${f.faultId})`),
        },
      });
    }
    return index;
  }

  end(index: number, _call: GuardCall<never>, outcome: CallOutcome): void {
    if (index >= 0) {
      const state = this.#steps[index] as StepState;
      state.costUsd = outcome.costUsd;
      if (!outcome.ok && typeof (outcome.error as { code?: unknown })?.code === "string") {
        state.code = (outcome.error as { code: string }).code;
      }
    }
    this.#toNextStart();
  }

  refused(call: GuardCall<never>, error: RefusalError): void {
    const index = this.#claim(call);
    if (index < 0) {
      this.#extra++;
      return;
    }
    const step = this.trace.calls[index] as TraceCall;
    const state = this.#steps[index] as StepState;
    state.replayed = "refused";
    state.code = error.code;
    const recorded = step.decision;
    if (recorded.outcome !== "refused" || recorded.code !== error.code) {
      this.#whatIf.push({
        ...where(step),
        change: recorded.outcome === "refused" ? "code" : "refused",
        recorded,
        replayed: { outcome: "refused", code: error.code, message: error.message },
      });
    }
    this.#toNextStart();
  }

  // ---------------------------------------------------------------------------------------------
  // Report

  /** What happened so far: every recorded call, the divergences and the what-if findings. */
  report(): ReplayReport {
    const calls: ReplayedCall[] = this.trace.calls.map((step, i) => {
      const state = this.#steps[i] as StepState;
      const out: ReplayedCall = {
        seq: step.seq,
        kind: step.kind,
        name: step.name,
        recorded: step.decision,
        replayed: state.replayed,
      };
      if (state.code !== undefined) out.code = state.code;
      if (state.costUsd !== undefined) out.costUsd = state.costUsd;
      return out;
    });
    const notReached = calls.filter((c) => c.replayed === "not-reached").length;
    return {
      ok:
        this.#divergences.length === 0 && this.#whatIf.length === 0 && notReached === 0 && this.#extra === 0,
      calls,
      divergence: this.#divergences[0],
      divergences: [...this.#divergences],
      whatIf: [...this.#whatIf],
      answered: this.#answered,
      liveCalls: this.#live,
      notReached,
    };
  }

  /** The first divergence so far. */
  get divergence(): Divergence | undefined {
    return this.#divergences[0];
  }

  // ---------------------------------------------------------------------------------------------

  #at(step: TraceCall): string {
    return `replay diverged at ${describeCall(step)}`;
  }

  #diverge(divergence: Omit<Divergence, "afterWhatIf">): void {
    const full: Divergence = { ...divergence, afterWhatIf: this.#whatIf.some((f) => f.seq < divergence.seq) };
    this.#divergences.push(full);
    if (this.#onDivergence === "throw") throw new ReplayDivergenceError(full);
  }

  #missing(live: LiveCall, request: unknown): Divergence {
    const calls = this.trace.calls;
    const truncated = this.trace.truncation !== undefined && this.#cursor >= calls.length;
    const next = calls[this.#cursor];
    const divergence: Divergence = {
      seq: next?.seq ?? calls.length + 1,
      kind: live.kind,
      name: live.name,
      reason: truncated ? "truncated" : next === undefined ? "extra" : "call",
      message: truncated
        ? `replay reached the end of a truncated recording (${this.trace.truncation?.droppedCalls} calls were not kept): ${live.kind} ${live.name} cannot be answered`
        : next === undefined
          ? `replay diverged: ${live.kind} ${live.name} is call ${calls.length + 1}, the recording has ${calls.length}`
          : `replay diverged at ${describeCall(next)}: expected ${next.kind} ${next.name}, the replay made ${live.kind} ${live.name}`,
      differences: [],
      request,
      afterWhatIf: this.#whatIf.length > 0,
    };
    if (next === undefined) this.#extra++;
    this.#divergences.push(divergence);
    return divergence;
  }

  #compareRequest(step: TraceCall, request: unknown, api: string | undefined): JsonDifference[] {
    const fields = step.kind === "model" ? MODEL_REQUEST_FIELDS[api ?? step.api] : undefined;
    if (fields === undefined) return diffJson(step.request, request, this.#compare, ["request"]);
    const recorded = (step.request ?? {}) as Record<string, unknown>;
    const live = (request ?? {}) as Record<string, unknown>;
    const out: JsonDifference[] = [];
    for (const field of fields)
      out.push(...diffJson(recorded[field], live[field], this.#compare, ["request", field]));
    return out;
  }

  /**
   * The step for a call: a step the engine already claimed for it (not yet answered), else the next
   * unclaimed one. Tools called concurrently may start in another order than recorded: among the
   * consecutive tool steps at the cursor, the one with the same name (and, if given, request) is taken.
   */
  #find(kind: CallKind, name: string, request: unknown, fromClaimed: boolean): number {
    const calls = this.trace.calls;
    if (fromClaimed) {
      let fallback = -1;
      for (let i = 0; i < calls.length; i++) {
        const state = this.#steps[i] as StepState;
        if (!state.claimed || state.answered || state.replayed === "refused") continue;
        const step = calls[i] as TraceCall;
        if (step.kind !== kind || step.name !== name) continue;
        if (kind === "model" || this.#sameRequest(step, request)) return i;
        if (fallback < 0) fallback = i;
      }
      if (fallback >= 0) return fallback;
    }
    const cursor = this.#cursor;
    const next = calls[cursor];
    if (next === undefined) return -1;
    if (
      next.kind === kind &&
      next.name === name &&
      (kind === "model" || request === undefined || this.#sameRequest(next, request))
    ) {
      return cursor;
    }
    if (kind === "tool") {
      let byName = -1;
      for (let i = cursor; i < calls.length; i++) {
        const step = calls[i] as TraceCall;
        if (step.kind !== "tool") break;
        if ((this.#steps[i] as StepState).claimed || step.name !== name) continue;
        if (request === undefined || this.#sameRequest(step, request)) return i;
        if (byName < 0) byName = i;
      }
      if (byName >= 0) return byName;
    }
    // The next recorded call is another one: answer with it (the divergence is reported on it).
    return cursor;
  }

  #sameRequest(step: TraceCall, request: unknown): boolean {
    return diffJson(step.request, request, { ...this.#compare, maxDifferences: 1 }, ["request"]).length === 0;
  }

  #claim(call: GuardCall<never>): number {
    const input =
      call.kind === "tool" && call.input !== undefined
        ? sanitize(call.input, this.#redactor, this.#limits, ["request"])
        : undefined;
    const index = this.#find(call.kind, call.name, input, false);
    if (index < 0) return -1;
    const step = this.trace.calls[index] as TraceCall;
    if (step.kind !== call.kind || step.name !== call.name) return -1;
    (this.#steps[index] as StepState).claimed = true;
    this.#advanceCursor();
    return index;
  }

  #advanceCursor(): void {
    while (this.#cursor < this.#steps.length && (this.#steps[this.#cursor] as StepState).claimed)
      this.#cursor++;
  }

  #toNextStart(): void {
    const next = this.trace.calls[this.#cursor];
    if (next !== undefined) this.#moveClock(this.trace.header.startedAtMs + next.timing.startMs);
  }

  #moveClock(toMs: number): void {
    if (toMs > this.clock.now()) this.clock.set(toMs);
  }
}

function where(step: TraceCall) {
  return { seq: step.seq, kind: step.kind, name: step.name };
}

function base(step: TraceCall, reason: DivergenceReason) {
  return { seq: step.seq, kind: step.kind, name: step.name, reason };
}

/** A readable report of a replay (`agent-sre replay`, the demo). */
export function formatReplayReport(report: ReplayReport): string {
  const lines: string[] = [];
  for (const call of report.calls) {
    const recorded = call.recorded.outcome === "refused" ? `refused ${call.recorded.code}` : "allowed";
    const replayed = call.replayed === "refused" ? `refused ${call.code}` : call.replayed;
    const mark = report.whatIf.some((f) => f.seq === call.seq)
      ? "!"
      : report.divergences.some((d) => d.seq === call.seq)
        ? "~"
        : " ";
    lines.push(
      `${mark} ${describeCall(call).padEnd(32)} recorded: ${recorded.padEnd(28)} replay: ${replayed}`,
    );
  }
  for (const finding of report.whatIf) {
    const what =
      finding.change === "refused"
        ? `would have been refused: ${finding.replayed.code} — ${finding.replayed.message}`
        : finding.change === "allowed"
          ? `was refused (${finding.recorded.code}) and would now be allowed`
          : finding.change === "code"
            ? `would be refused with ${finding.replayed.code} instead of ${finding.recorded.code}`
            : `would get injected faults: ${finding.replayed.faults?.join(", ")}`;
    lines.push(`what-if: ${describeCall(finding)} ${what}`);
  }
  for (const divergence of report.divergences) {
    lines.push(
      `${divergence.afterWhatIf ? "divergence (after a what-if change)" : "divergence"}: ${divergence.message}`,
    );
  }
  lines.push(
    report.ok
      ? `replayed ${report.answered + report.liveCalls} calls: identical to the recording`
      : `replayed ${report.answered + report.liveCalls} of ${report.calls.length} recorded calls; ${report.whatIf.length} decision(s) changed, ${report.divergences.length} divergence(s)`,
  );
  return lines.join("\n");
}
