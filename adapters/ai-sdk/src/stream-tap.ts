import type { GuardCall, GuardedCall, UsageReport } from "@agent-sre/core";
import { toSdkError } from "./errors.js";
import type { ResolvedModelOptions } from "./middleware.js";
import type { LanguageModelLike } from "./types.js";
import { toUsageReport } from "./usage.js";

/** The raw finish reason of a stream the in-flight cap cut off. */
export const CUT_OFF_FINISH_REASON = "agent-sre-budget";

// biome-ignore lint/suspicious/noExplicitAny: stream part unions differ between specification versions
type Part = any;

/** How a stream ended for the engine: a success, a failure of the model, or a cancellation by the caller. */
const SUCCEED = 0;
const FAIL = 1;
const CANCEL = 2;
type End = typeof SUCCEED | typeof FAIL | typeof CANCEL;

/**
 * The source of the stream the SDK reads: it pulls the provider's stream and passes every part on. It
 * settles the call exactly once, on the first of:
 * - the `finish` part (provider usage): success, or failure for an `error` finish;
 * - the in-flight cap cutting the stream off: success (a normal, budget-driven end);
 * - an error of the provider's stream, or its end without a finish part: failure;
 * - the caller's abort signal (ai@6 tells a wrapped stream nothing else) or `cancel` (ai@7 cancels on abort;
 *   a reader that stops reading): cancellation, which charges the call but does not judge the model;
 * - the call's deadline (the engine aborts the call's signal): failure with the `TimeoutError`; the stream
 *   ends with it as a retryable `APICallError` and the provider's stream is cancelled.
 * Without a provider usage it charges the prompt estimate plus the output counted so far. O(1) work per part.
 */
export class StreamTap implements UnderlyingDefaultSource<Part> {
  readonly #o: ResolvedModelOptions;
  readonly #inFlight: GuardedCall;
  readonly #call: GuardCall<unknown>;
  readonly #inputTokens: number;
  readonly #allowance: number;
  readonly #limitChars: number;
  readonly #v2: boolean;
  readonly #reader: ReadableStreamDefaultReader<Part>;
  #controller: ReadableStreamDefaultController<Part> | undefined;
  /** The stream ended on our side (cut off, timed out, cancelled): the provider's parts are not passed on. */
  #done = false;
  #chars = 0;
  #error: unknown;
  #signal: AbortSignal | undefined;
  #callerSignal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  /** Ids of text / reasoning / tool-input blocks still open (tracked only when a cut-off is possible). */
  #open: Map<string, string> | undefined;

  constructor(
    o: ResolvedModelOptions,
    inFlight: GuardedCall,
    call: GuardCall<unknown>,
    inputTokens: number,
    allowance: number,
    model: LanguageModelLike,
    reader: ReadableStreamDefaultReader<Part>,
  ) {
    this.#reader = reader;
    this.#o = o;
    this.#inFlight = inFlight;
    this.#call = call;
    this.#inputTokens = inputTokens;
    this.#allowance = allowance;
    this.#limitChars = allowance * o.charsPerToken;
    this.#v2 = model.specificationVersion === "v2";
    this.#open = allowance === Number.POSITIVE_INFINITY ? undefined : new Map();
  }

  start(controller: ReadableStreamDefaultController<Part>): void {
    this.#controller = controller;
  }

  /**
   * Watches the call's signal (`inFlight.signal`): it aborts when the caller's signal does and at the call's
   * deadline. Call it once the stream exists.
   */
  watch(signal: AbortSignal | undefined, callerSignal: AbortSignal | undefined): void {
    if (signal === undefined) return;
    this.#callerSignal = callerSignal;
    if (signal.aborted) {
      this.#aborted(signal.reason);
      return;
    }
    this.#signal = signal;
    this.#onAbort = () => this.#aborted(signal.reason);
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  #aborted(reason: unknown): void {
    if (this.#done) return;
    if (this.#callerSignal?.aborted) {
      // The caller stopped the call: the SDK ends the stream (ai@7 cancels it, ai@6 errors it).
      this.#end(CANCEL, this.#callerSignal.reason);
      return;
    }
    // The deadline passed (maybe before the stream existed; the call is then failed already): the call fails
    // with the TimeoutError and the stream ends with it, even if the provider ignores the aborted signal.
    this.#end(FAIL, reason);
    this.#done = true;
    try {
      this.#controller?.error(toSdkError(reason, this.#o.retryAfterMs));
    } catch {
      // The stream already ended.
    }
    this.#reader.cancel(reason).catch(() => {});
  }

  async pull(controller: ReadableStreamDefaultController<Part>): Promise<void> {
    const reader = this.#reader;
    // Pass on what is already there without waiting for the SDK to ask again (fewer round trips).
    do {
      let result: ReadableStreamReadResult<Part>;
      try {
        result = await reader.read();
      } catch (error) {
        if (this.#done) return; // ended on our side (a deadline): the stream already carries its error
        const callerSignal = this.#callerSignal;
        if (callerSignal?.aborted) this.#end(CANCEL, callerSignal.reason);
        else this.#end(FAIL, error);
        controller.error(error);
        return;
      }
      if (this.#done) return;
      if (result.done) {
        // The provider ended the stream; without a finish part (an `error` part, a dropped connection) the
        // call failed, and what it produced is charged.
        this.#end(FAIL, this.#error ?? new Error("The model stream ended without a finish part"));
        controller.close();
        return;
      }
      this.#part(result.value, controller);
    } while (!this.#done && (controller.desiredSize ?? 0) > 0);
  }

  /** The reader stopped reading (a cancel, or ai@7's abort): a cancellation, charged with what was produced. */
  cancel(reason: unknown): Promise<void> {
    this.#done = true;
    const callerSignal = this.#callerSignal;
    this.#end(CANCEL, callerSignal?.aborted ? callerSignal.reason : reason);
    return this.#reader.cancel(reason);
  }

  #part(part: Part, controller: ReadableStreamDefaultController<Part>): void {
    switch (part.type) {
      case "text-delta":
      case "reasoning-delta":
      case "tool-input-delta": {
        const delta = part.delta ?? part.textDelta;
        if (typeof delta === "string") {
          const chars = this.#chars + delta.length;
          if (chars > this.#limitChars) {
            // Pass on what still fits, then end the stream: the call never produces more than it may.
            const fit = Math.max(0, Math.floor(this.#limitChars) - this.#chars);
            if (fit > 0) {
              controller.enqueue(
                part.delta === undefined
                  ? { ...part, textDelta: delta.slice(0, fit) }
                  : { ...part, delta: delta.slice(0, fit) },
              );
              this.#chars += fit;
            }
            this.#cutOff(controller);
            return;
          }
          this.#chars = chars;
        }
        break;
      }
      case "text-start":
      case "reasoning-start":
        this.#open?.set(part.id, part.type === "text-start" ? "text-end" : "reasoning-end");
        break;
      case "tool-input-start":
        this.#open?.set(part.id, "tool-input-end");
        break;
      case "text-end":
      case "reasoning-end":
      case "tool-input-end":
        this.#open?.delete(part.id);
        break;
      case "error":
        this.#error = part.error;
        break;
      case "finish":
        this.#finish(part, controller);
        return;
      default:
        break;
    }
    controller.enqueue(part);
  }

  /** Output tokens counted so far (characters of streamed deltas / charsPerToken). */
  get outputTokens(): number {
    return Math.ceil(this.#chars / this.#o.charsPerToken);
  }

  #partialUsage(): UsageReport {
    return { inputTokens: this.#inputTokens, outputTokens: this.outputTokens };
  }

  #finish(part: Part, controller: ReadableStreamDefaultController<Part>): void {
    const inFlight = this.#inFlight;
    if (!inFlight.settled) {
      const usage = toUsageReport(part.usage, part.providerMetadata, this.#partialUsage());
      const reason = typeof part.finishReason === "string" ? part.finishReason : part.finishReason?.unified;
      if (reason === "error" && this.#error !== undefined) this.#end(FAIL, this.#error, usage);
      else this.#end(SUCCEED, undefined, usage);
    }
    const payload = inFlight.resultPayload;
    if (payload !== undefined) {
      // A chaos payload placed in the model's result: one more text block before the finish part.
      const id = "agent-sre-chaos";
      if (this.#v2) controller.enqueue({ type: "text", text: payload });
      else {
        controller.enqueue({ type: "text-start", id });
        controller.enqueue({ type: "text-delta", id, delta: payload });
        controller.enqueue({ type: "text-end", id });
      }
    }
    controller.enqueue(part);
  }

  /** The in-flight cap: end the stream here with a clear finish reason and settle what it produced. */
  #cutOff(controller: ReadableStreamDefaultController<Part>): void {
    const open = this.#open;
    if (open !== undefined) {
      for (const [id, endType] of open) controller.enqueue({ type: endType, id });
    }
    const usage = this.#partialUsage();
    controller.enqueue(
      this.#v2
        ? {
            type: "finish",
            finishReason: "length",
            usage: { ...usage, totalTokens: usage.inputTokens + usage.outputTokens },
          }
        : {
            type: "finish",
            finishReason: { unified: "length", raw: CUT_OFF_FINISH_REASON },
            usage: {
              inputTokens: {
                total: usage.inputTokens,
                noCache: undefined,
                cacheRead: undefined,
                cacheWrite: undefined,
              },
              outputTokens: { total: usage.outputTokens, text: undefined, reasoning: undefined },
              raw: { agentSre: "estimated: the stream was cut off by the budget" },
            },
          },
    );
    this.#done = true;
    // A cut-off is a normal end the budget chose: the call succeeded with what it produced.
    this.#end(SUCCEED, undefined);
    const call = this.#call;
    this.#o.onCutOff?.({
      agentId: call.agentId,
      taskId: call.taskId,
      model: call.name,
      outputTokens: usage.outputTokens,
      allowance: this.#allowance,
    });
    // Ends the SDK's stream and cancels the provider's (its HTTP request stops).
    controller.close();
    this.#reader.cancel(new Error("cut off by the Agent SRE budget")).catch(() => {});
  }

  #end(how: End, reason: unknown, usage: UsageReport = this.#partialUsage()): void {
    const inFlight = this.#inFlight;
    if (inFlight.settled) return;
    this.#unwatch();
    if (how === SUCCEED) inFlight.succeed(usage);
    else if (how === FAIL) inFlight.fail(reason, usage);
    else inFlight.cancel(reason, usage);
  }

  #unwatch(): void {
    const signal = this.#signal;
    if (signal !== undefined && this.#onAbort !== undefined) {
      signal.removeEventListener("abort", this.#onAbort);
      this.#signal = undefined;
    }
  }
}
