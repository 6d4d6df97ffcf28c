import type { CircuitBreaker } from "../breaker/index.js";
import type { InjectionPlan } from "../chaos/index.js";
import type { Reservation } from "../cost/index.js";
import { type ModelLimits, modelOutputCeiling, outputTokenCap } from "../cost/model-limits.js";
import { type DeadlineEntry, type DeadlineSlot, unlinkDeadline } from "./deadlines.js";
import type { FailureClass } from "./failure-class.js";
import type { ObserverHooks } from "./observer.js";
import type { GuardCall, UsageReport } from "./types.js";

/** The engine side of a call in flight; `GuardedCall` forwards its settlement here. */
export interface CallSettler {
  settle(call: GuardedCall, ok: boolean, error: unknown, usage: UsageReport | undefined): void;
  outputTokenAllowance(call: GuardedCall): number;
}

/**
 * A call that passed pre-flight and holds its permits (breaker permits, budget reservation) until it is
 * settled exactly once. `sre.guard()` settles it for you; streaming adapters use `sre.begin()` and call
 * `reportUsage()` as usage arrives, then `succeed()` or `fail()` when the stream finishes, errors or is
 * aborted — so money held for an aborted stream is always settled.
 */
/**
 * The rare parts of a call in flight — its deadline (it is the entry the deadline queue links), chaos plan and
 * payloads, extra breakers, the caller's signal, a failure's class — allocated at the first write of one of
 * them. The usual call (no timeout, no chaos, no extra breaker, no signal) never allocates it, so a call in
 * flight is half the size (a `GuardedCall` with every field of its own was 304 bytes on Node 20).
 */
export class CallExtras implements DeadlineEntry {
  readonly owner: GuardedCall;
  deadlineAtMs = 0;
  finished = false;
  deadlineSlot: DeadlineSlot | undefined = undefined;
  deadlinePrev: DeadlineEntry | undefined = undefined;
  deadlineNext: DeadlineEntry | undefined = undefined;
  onDeadlineHook: ((call: GuardedCall) => void) | undefined = undefined;
  rejectOnDeadline: ((error: unknown) => void) | undefined = undefined;
  controller: AbortController | undefined = undefined;
  timeoutMs = 0;
  unlinkCallerSignal: (() => void) | undefined = undefined;
  callerSignal: AbortSignal | undefined = undefined;
  extraBreakers: CircuitBreaker[] | undefined = undefined;
  extraPermits: Array<1 | 2> | undefined = undefined;
  plan: InjectionPlan | undefined = undefined;
  inputPayload: string | undefined = undefined;
  resultPayload: string | undefined = undefined;
  failureClass: FailureClass | undefined = undefined;
  cancelled = false;

  constructor(owner: GuardedCall) {
    this.owner = owner;
  }

  /** Called by the deadline queue. */
  onDeadline(): void {
    this.onDeadlineHook?.(this.owner);
  }
}

/**
 * A call that passed pre-flight and holds its permits (breaker permits, budget reservation) until it is
 * settled exactly once. `sre.guard()` settles it for you; streaming adapters use `sre.begin()` and call
 * `reportUsage()` as usage arrives, then `succeed()` or `fail()` when the stream finishes, errors or is
 * aborted — so money held for an aborted stream is always settled.
 */
export class GuardedCall {
  // Fields every call writes, in one object of ~15 fields (the rare ones are in `CallExtras`), each set once
  // in the constructor (`declare`: no class-field initializer defining them all as undefined first).
  declare readonly call: GuardCall<never>;
  declare readonly startedAtMs: number;
  /**
   * Pass this to the work you run: it aborts on timeout and when the caller's signal aborts. Calls made
   * with `guard()` and no signal of their own share it with calls that started within the same ~1 % of the
   * timeout; it aborts only once one of them times out, so do not keep using it after your call settled.
   * Calls made with `begin()` (streams) get a signal of their own.
   */
  declare signal: AbortSignal | undefined;
  /** @internal the engine's state of the calling agent (kept while the call is in flight) */
  declare agentState: unknown;
  /** @internal */ declare targetBreaker: CircuitBreaker | undefined;
  /** @internal */ declare agentBreaker: CircuitBreaker | undefined;
  /** @internal */ declare targetPermit: 0 | 1 | 2;
  /** @internal */ declare agentPermit: 0 | 1 | 2;
  /** @internal */ declare reservation: Reservation | undefined;
  /** @internal */ declare reservedUsd: number;
  /** @internal the hooks of the telemetry observer whose `end` this call owes, and its per-call state */
  declare observer: ObserverHooks | undefined;
  /** @internal */ declare observed: unknown;
  /** @internal the rare parts (undefined until one is written) */ declare extras: CallExtras | undefined;

  // TypeScript-private, not `#` fields: those are defined by a class-field initializer before the constructor
  // runs (one more function and a second store per field on every call).
  declare private sink: CallSettler;
  declare private reported: UsageReport | undefined;
  declare private done: boolean;
  declare private allowance: number;

  constructor(settler: CallSettler, call: GuardCall<never>, startedAtMs: number) {
    this.call = call;
    this.startedAtMs = startedAtMs;
    this.signal = undefined;
    this.agentState = undefined;
    this.targetBreaker = undefined;
    this.agentBreaker = undefined;
    this.targetPermit = 0;
    this.agentPermit = 0;
    this.reservation = undefined;
    this.reservedUsd = 0;
    this.observer = undefined;
    this.observed = undefined;
    this.extras = undefined;
    this.sink = settler;
    this.reported = undefined;
    this.done = false;
    this.allowance = -1;
  }

  /** @internal The rare parts, allocated now if they were not yet. */
  more(): CallExtras {
    let extras = this.extras;
    if (extras === undefined) {
      extras = new CallExtras(this);
      this.extras = extras;
    }
    return extras;
  }

  /** A chaos payload to put into the model input or tool arguments (adversarial experiments). */
  get inputPayload(): string | undefined {
    return this.extras?.inputPayload;
  }
  set inputPayload(payload: string | undefined) {
    if (payload !== undefined || this.extras !== undefined) this.more().inputPayload = payload;
  }

  /** A chaos payload the engine puts into the result (adversarial experiments). */
  get resultPayload(): string | undefined {
    return this.extras?.resultPayload;
  }
  set resultPayload(payload: string | undefined) {
    if (payload !== undefined || this.extras !== undefined) this.more().resultPayload = payload;
  }

  /** @internal */ get plan(): InjectionPlan | undefined {
    return this.extras?.plan;
  }
  /** @internal */ get timeoutMs(): number {
    return this.extras?.timeoutMs ?? 0;
  }
  /** @internal */ get controller(): AbortController | undefined {
    return this.extras?.controller;
  }
  /** @internal */ get rejectOnDeadline(): ((error: unknown) => void) | undefined {
    return this.extras?.rejectOnDeadline;
  }
  /** @internal */ get unlinkCallerSignal(): (() => void) | undefined {
    return this.extras?.unlinkCallerSignal;
  }
  /** @internal */ get callerSignal(): AbortSignal | undefined {
    return this.extras?.callerSignal;
  }
  /** @internal */ get extraBreakers(): CircuitBreaker[] | undefined {
    return this.extras?.extraBreakers;
  }
  /** @internal */ get extraPermits(): Array<1 | 2> | undefined {
    return this.extras?.extraPermits;
  }
  /** @internal the adapter's classification passed with `fail()` */ get failureClass():
    | FailureClass
    | undefined {
    return this.extras?.failureClass;
  }
  /** @internal */ get cancelled(): boolean {
    return this.extras?.cancelled ?? false;
  }
  /** @internal Whether the call finished (settled, or its deadline passed). */
  get finished(): boolean {
    return this.done || (this.extras?.finished ?? false);
  }

  /** @internal Marks the call finished (its deadline will not fire) without settling it. */
  markFinished(): void {
    const extras = this.extras;
    if (extras === undefined) return;
    extras.finished = true;
    if (extras.deadlineSlot !== undefined) unlinkDeadline(extras);
  }

  /**
   * How many output tokens this call may produce before it passes the task's remaining budget or token
   * cap (its own reservation plus whatever is still free in the tightest scope), `Infinity` when nothing
   * limits it. Read once when the call starts: adapters clamp `maxOutputTokens` with it and cut a stream
   * off when the counted output reaches it. Priced at the model's base rates; computed on first read.
   */
  get outputTokenAllowance(): number {
    if (this.allowance < 0) this.allowance = this.sink.outputTokenAllowance(this);
    return this.allowance;
  }

  /**
   * The output cap to send with this call: `outputTokenCap(outputTokenAllowance, requested, limits)`, a cap
   * only when the budget binds. Reads no budget when the call's own reservation already holds the request's
   * cap — the usual case (the allowance is the reservation plus the free budget, so it cannot bind then).
   */
  outputTokenCap(requested: number | undefined, limits: ModelLimits | undefined): number | undefined {
    if (this.allowance < 0 && heldOutputTokens(this) >= (requested ?? modelOutputCeiling(limits))) {
      return undefined;
    }
    return outputTokenCap(this.outputTokenAllowance, requested, limits);
  }

  /**
   * Output tokens the call may surely produce, known without reading the budget: the allowance once read,
   * else what its own reservation holds less one token (the allowance, priced in floating point, can fall
   * that far below it), 0 when it holds none. A stream counts its output against this and reads
   * `outputTokenAllowance` only once the output passes it.
   */
  get outputTokensHeld(): number {
    if (this.allowance >= 0) return this.allowance;
    return Math.max(0, heldOutputTokens(this) - 1);
  }

  /** Whether `succeed()` or `fail()` has been called. */
  get settled(): boolean {
    return this.done;
  }

  /** Usage seen so far (cumulative), used if the call ends without a final usage. */
  get usageSoFar(): UsageReport | undefined {
    return this.reported;
  }

  /**
   * Reports cumulative usage seen so far (e.g. output tokens counted while a stream arrives). The last
   * report wins; it is what an aborted or failed call is charged with.
   */
  reportUsage(usage: UsageReport): void {
    this.reported = usage;
  }

  /** Ends the call as a success; `usage` (or the last reported usage) is priced and committed once. */
  succeed(usage?: UsageReport): void {
    if (this.done) return;
    this.done = true;
    this.markFinished();
    this.sink.settle(this, true, undefined, usage ?? this.reported);
  }

  /**
   * Ends the call as a failure; usage seen so far is still charged (money spent is never dropped).
   * `failureClass`: the adapter's reading of the error (provider-side or caller-side, see `FailureClass`),
   * which decides the breaker it counts against; without it the call's `classifyFailure` and then the
   * default rule decide.
   */
  fail(error: unknown, usage?: UsageReport, failureClass?: FailureClass): void {
    if (this.done) return;
    this.done = true;
    if (failureClass !== undefined) this.more().failureClass = failureClass;
    this.markFinished();
    this.sink.settle(this, false, error, usage ?? this.reported);
  }

  /**
   * Ends the call without judging the target: the caller stopped reading (cancel, break-off). Usage seen so
   * far is charged; breakers, SLOs and chaos metrics record nothing.
   */
  cancel(reason?: unknown, usage?: UsageReport): void {
    if (this.done) return;
    this.more().cancelled = true;
    this.fail(reason ?? new DOMException("The call was cancelled", "AbortError"), usage);
  }
}

/**
 * Output tokens the reservation holds, priced at the model's rates (0 when the call states its own cost:
 * the money held then need not pay for them).
 */
function heldOutputTokens(inFlight: GuardedCall): number {
  const reservation = inFlight.reservation;
  const estimate = inFlight.call.estimate;
  if (reservation === undefined || estimate === undefined || estimate.costUsd !== undefined) return 0;
  return reservation.reservedTokens - (estimate.inputTokens ?? 0);
}
