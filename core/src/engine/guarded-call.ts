import type { CircuitBreaker } from "../breaker/index.js";
import type { InjectionPlan } from "../chaos/index.js";
import type { Reservation } from "../cost/index.js";
import { type ModelLimits, modelOutputCeiling, outputTokenCap } from "../cost/model-limits.js";
import { type DeadlineEntry, type DeadlineSlot, unlinkDeadline } from "./deadlines.js";
import type { FailureClass } from "./failure-class.js";
import type { CallObserver } from "./observer.js";
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
export class GuardedCall implements DeadlineEntry {
  readonly call: GuardCall<never>;
  readonly startedAtMs: number;
  /**
   * Pass this to the work you run: it aborts on timeout and when the caller's signal aborts. Calls made
   * with `guard()` and no signal of their own share it with calls that started within the same ~1 % of the
   * timeout; it aborts only once one of them times out, so do not keep using it after your call settled.
   * Calls made with `begin()` (streams) get a signal of their own.
   */
  signal: AbortSignal | undefined;
  /** A chaos payload to put into the model input or tool arguments (adversarial experiments). */
  inputPayload: string | undefined;
  /** A chaos payload the engine puts into the result (adversarial experiments). */
  resultPayload: string | undefined;

  /** @internal */ deadlineAtMs = 0;
  /** @internal */ finished = false;
  /** @internal */ deadlineSlot: DeadlineSlot | undefined;
  /** @internal */ deadlinePrev: DeadlineEntry | undefined;
  /** @internal */ deadlineNext: DeadlineEntry | undefined;
  /** @internal */ targetBreaker: CircuitBreaker | undefined;
  /** @internal */ targetPermit: 0 | 1 | 2 = 0;
  /** @internal */ agentBreaker: CircuitBreaker | undefined;
  /** @internal */ agentPermit: 0 | 1 | 2 = 0;
  /** @internal */ extraBreakers: CircuitBreaker[] | undefined;
  /** @internal */ extraPermits: Array<1 | 2> | undefined;
  /** @internal */ reservation: Reservation | undefined;
  /** @internal */ reservedUsd = 0;
  /** @internal */ plan: InjectionPlan | undefined;
  /** @internal */ controller: AbortController | undefined;
  /** @internal */ rejectOnDeadline: ((error: unknown) => void) | undefined;
  /** @internal */ timeoutMs = 0;
  /** @internal */ unlinkCallerSignal: (() => void) | undefined;
  /** @internal */ callerSignal: AbortSignal | undefined;
  /** @internal */ cancelled = false;
  /** @internal */ onDeadlineHook: ((call: GuardedCall) => void) | undefined;
  /** @internal the telemetry observer that saw this call start, and its per-call state */
  observer: CallObserver | undefined;
  /** @internal */ observed: unknown;
  /** @internal the adapter's classification passed with `fail()` */ failureClass: FailureClass | undefined;
  /** @internal the engine's state of the calling agent (kept while the call is in flight) */ agentState: unknown;

  #settler: CallSettler;
  #usage: UsageReport | undefined;
  #settled = false;
  #outputTokenAllowance = -1;

  constructor(settler: CallSettler, call: GuardCall<never>, startedAtMs: number) {
    this.#settler = settler;
    this.call = call;
    this.startedAtMs = startedAtMs;
    this.signal = undefined;
    this.inputPayload = undefined;
    this.resultPayload = undefined;
    this.observer = undefined;
    this.observed = undefined;
    this.failureClass = undefined;
    this.agentState = undefined;
  }

  /**
   * How many output tokens this call may produce before it passes the task's remaining budget or token
   * cap (its own reservation plus whatever is still free in the tightest scope), `Infinity` when nothing
   * limits it. Read once when the call starts: adapters clamp `maxOutputTokens` with it and cut a stream
   * off when the counted output reaches it. Priced at the model's base rates; computed on first read.
   */
  get outputTokenAllowance(): number {
    if (this.#outputTokenAllowance < 0) this.#outputTokenAllowance = this.#settler.outputTokenAllowance(this);
    return this.#outputTokenAllowance;
  }

  /**
   * The output cap to send with this call: `outputTokenCap(outputTokenAllowance, requested, limits)`, a cap
   * only when the budget binds. Reads no budget when the call's own reservation already holds the request's
   * cap — the usual case (the allowance is the reservation plus the free budget, so it cannot bind then).
   */
  outputTokenCap(requested: number | undefined, limits: ModelLimits | undefined): number | undefined {
    if (
      this.#outputTokenAllowance < 0 &&
      this.#heldOutputTokens() >= (requested ?? modelOutputCeiling(limits))
    ) {
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
    if (this.#outputTokenAllowance >= 0) return this.#outputTokenAllowance;
    return Math.max(0, this.#heldOutputTokens() - 1);
  }

  /**
   * Output tokens the reservation holds, priced at the model's rates (0 when the call states its own cost:
   * the money held then need not pay for them).
   */
  #heldOutputTokens(): number {
    const reservation = this.reservation;
    const estimate = this.call.estimate;
    if (reservation === undefined || estimate === undefined || estimate.costUsd !== undefined) return 0;
    return reservation.reservedTokens - (estimate.inputTokens ?? 0);
  }

  /** Whether `succeed()` or `fail()` has been called. */
  get settled(): boolean {
    return this.#settled;
  }

  /** Usage seen so far (cumulative), used if the call ends without a final usage. */
  get usageSoFar(): UsageReport | undefined {
    return this.#usage;
  }

  /**
   * Reports cumulative usage seen so far (e.g. output tokens counted while a stream arrives). The last
   * report wins; it is what an aborted or failed call is charged with.
   */
  reportUsage(usage: UsageReport): void {
    this.#usage = usage;
  }

  /** Ends the call as a success; `usage` (or the last reported usage) is priced and committed once. */
  succeed(usage?: UsageReport): void {
    if (this.#settled) return;
    this.#settled = true;
    this.finished = true;
    if (this.deadlineSlot !== undefined) unlinkDeadline(this);
    this.#settler.settle(this, true, undefined, usage ?? this.#usage);
  }

  /**
   * Ends the call as a failure; usage seen so far is still charged (money spent is never dropped).
   * `failureClass`: the adapter's reading of the error (provider-side or caller-side, see `FailureClass`),
   * which decides the breaker it counts against; without it the call's `classifyFailure` and then the
   * default rule decide.
   */
  fail(error: unknown, usage?: UsageReport, failureClass?: FailureClass): void {
    if (this.#settled) return;
    this.#settled = true;
    this.failureClass = failureClass;
    this.finished = true;
    if (this.deadlineSlot !== undefined) unlinkDeadline(this);
    this.#settler.settle(this, false, error, usage ?? this.#usage);
  }

  /**
   * Ends the call without judging the target: the caller stopped reading (cancel, break-off). Usage seen so
   * far is charged; breakers, SLOs and chaos metrics record nothing.
   */
  cancel(reason?: unknown, usage?: UsageReport): void {
    if (this.#settled) return;
    this.cancelled = true;
    this.fail(reason ?? new DOMException("The call was cancelled", "AbortError"), usage);
  }

  /** @internal called by the deadline queue */
  onDeadline(): void {
    this.onDeadlineHook?.(this);
  }
}
