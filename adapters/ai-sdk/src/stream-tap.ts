import type { GuardCall, GuardedCall, UsageReport } from "@agent-sre/core";
import { toSdkError } from "./errors.js";
import type { ResolvedModelOptions } from "./middleware.js";
import { cutOffFinish, type Part, payloadParts } from "./stream-parts.js";
import { ObservedReader, tapped } from "./stream-proxy.js";
import type { LanguageModelLike } from "./types.js";
import { toUsageReport } from "./usage.js";

type Result = ReadableStreamReadResult<Part>;

/** How a stream ended for the engine: a success, a failure of the model, or a cancellation by the caller. */
const SUCCEED = 0;
const FAIL = 1;
const CANCEL = 2;
type End = typeof SUCCEED | typeof FAIL | typeof CANCEL;

const DONE: ReadableStreamReadDoneResult<Part> = Object.freeze({ done: true, value: undefined });
const noop = () => {};

const proto = ReadableStream.prototype;
const getReader = proto.getReader as (this: ReadableStream<Part>) => ReadableStreamDefaultReader<Part>;

/**
 * Observes the provider's stream where it is read, without a stream of its own in between (a new
 * ReadableStream costs ~15 µs on Node 20, and each stream in a chain a read per part): the stream handed to
 * the SDK is the provider's own, its reads observed. It settles the call exactly once, on the first of:
 * - the `finish` part (provider usage): success, or failure for an `error` finish;
 * - the in-flight cap cutting the stream off: success (a normal, budget-driven end);
 * - an error of the provider's stream, or its end without a finish part: failure;
 * - the caller's abort signal (ai@6 tells a wrapped stream nothing else) or `cancel` (ai@7 cancels on abort;
 *   a reader that stops reading): cancellation, which charges the call but does not judge the model;
 * - the call's deadline (the engine aborts the call's signal): failure with the `TimeoutError`; the stream
 *   ends with it as a retryable `APICallError` and the provider's stream is cancelled.
 * Without a provider usage it charges the prompt estimate plus the output counted so far. O(1) work per part.
 */
export class StreamTap {
  // TypeScript-private fields, each set once in the constructor (`declare`: no class-field initializer defining
  // them all first, then a second store per field; ~250 instructions a stream): one map for every tap.
  declare private readonly o: ResolvedModelOptions;
  declare private readonly inFlight: GuardedCall;
  declare private readonly call: GuardCall<unknown>;
  declare private readonly inputTokens: number;
  /** The call's output-token allowance; -1 until read (see `#passed`). */
  declare private allowance: number;
  /** Characters of output the stream may pass before the allowance is read (again): then the allowance's. */
  declare private limitChars: number;
  declare private readonly v2: boolean;
  /** The provider's native reader, once someone reads (its methods are the native ones: called directly). */
  declare private nativeReader: ReadableStreamDefaultReader<Part> | undefined;
  declare private providerStream: ReadableStream<Part> | undefined;
  /** The stream ended on our side (cut off, timed out, cancelled): the provider's parts are not passed on. */
  declare private done: boolean;
  /** Parts to hand out before reading on (a chaos payload; the end of a cut-off stream). */
  declare private queue: Part[] | undefined;
  declare private queued: number;
  /** What reading throws once the deadline passed (the SDK's retryable error). */
  declare private failure: unknown;
  /** Ends a pipe's destination at once when the deadline passes. */
  declare private onFailure: ((error: unknown) => void) | undefined;
  declare private chars: number;
  declare private error: unknown;
  declare private signal: AbortSignal | undefined;
  declare private callerSignal: AbortSignal | undefined;
  declare private onAbort: (() => void) | undefined;
  /**
   * Text / reasoning / tool-input blocks still open (tracked only when a cut-off is possible): the one open
   * block of the usual stream in two fields, a Map (in opening order) once two are open at a time.
   */
  declare private track: boolean;
  declare private oneOpen: boolean;
  declare private openId: string | undefined;
  declare private openEnd: string;
  declare private open: Map<string, string> | undefined;
  declare private reads: number;
  declare private last: Promise<Result> | undefined;
  /** A read's reactions, made when a reader is handed out (a pipe reads the provider's reader itself). */
  declare private onRead: ((result: Result) => Result) | undefined;
  declare private onError: ((error: unknown) => Result) | undefined;
  /** The parts the reader gets, when the call is recorded (`record` option); in the trace before it settles. */
  declare private readonly parts: Part[] | undefined;

  constructor(
    o: ResolvedModelOptions,
    inFlight: GuardedCall,
    call: GuardCall<unknown>,
    inputTokens: number,
    cutOff: boolean,
    model: LanguageModelLike,
  ) {
    // The allowance is the reservation plus the free budget: a stream that stays within what its reservation
    // holds (the usual one) never reads the budget; the allowance is read once its output passes that.
    const held = cutOff ? inFlight.outputTokensHeld : 0;
    const allowance = !cutOff ? Number.POSITIVE_INFINITY : held > 0 ? -1 : inFlight.outputTokenAllowance;
    this.o = o;
    this.inFlight = inFlight;
    this.call = call;
    this.inputTokens = inputTokens;
    this.allowance = allowance;
    this.limitChars = (allowance < 0 ? held : allowance) * o.charsPerToken;
    this.v2 = model.specificationVersion === "v2";
    this.nativeReader = undefined;
    this.providerStream = undefined;
    this.done = false;
    this.queue = undefined;
    this.queued = 0;
    this.failure = undefined;
    this.onFailure = undefined;
    this.chars = 0;
    this.error = undefined;
    this.signal = undefined;
    this.callerSignal = undefined;
    this.onAbort = undefined;
    this.track = allowance !== Number.POSITIVE_INFINITY;
    this.oneOpen = false;
    this.openId = undefined;
    this.openEnd = "";
    this.open = undefined;
    this.reads = 0;
    this.last = undefined;
    this.onRead = undefined;
    this.onError = undefined;
    this.parts = o.record === undefined ? undefined : [];
  }

  /** The provider's stream, observed: returns the stream to hand to the SDK in its place. */
  attach(stream: ReadableStream<Part>): ReadableStream<Part> {
    this.providerStream = stream;
    return tapped(stream, this);
  }

  /** @internal The provider's stream. */
  get stream(): ReadableStream<Part> {
    return this.providerStream as ReadableStream<Part>;
  }

  /**
   * Watches the call's signal (`inFlight.signal`): it aborts when the caller's signal does and at the call's
   * deadline. Call it once the stream exists.
   */
  watch(signal: AbortSignal | undefined, callerSignal: AbortSignal | undefined): void {
    if (signal === undefined) return;
    this.callerSignal = callerSignal;
    if (signal.aborted) {
      this.#aborted(signal.reason);
      return;
    }
    this.signal = signal;
    this.onAbort = () => this.#aborted(signal.reason);
    signal.addEventListener("abort", this.onAbort, { once: true });
  }

  /**
   * @internal The reader handed out for `stream` (locks it, as getReader does): its `read` and `cancel`
   * observed, over a native reader of the provider's stream.
   */
  reader(stream: ReadableStream<Part>): ReadableStreamDefaultReader<Part> {
    this.#sourceReader(stream);
    this.onRead = (result: Result) => this.#received(result);
    this.onError = (error: unknown) => this.#failed(error);
    return new ObservedReader(this) as unknown as ReadableStreamDefaultReader<Part>;
  }

  /** @internal The native reader's `closed`. */
  get closed(): Promise<undefined> {
    return (this.nativeReader as ReadableStreamDefaultReader<Part>).closed as Promise<undefined>;
  }

  /** @internal The native reader's `releaseLock` (a pending read then fails, and with it the call). */
  releaseLock(): void {
    (this.nativeReader as ReadableStreamDefaultReader<Part>).releaseLock();
  }

  /** The provider's own reader, kept as the source (a pipe reads it itself: nothing to observe on it). */
  #sourceReader(stream: ReadableStream<Part>): ReadableStreamDefaultReader<Part> {
    const reader = getReader.call(stream);
    this.nativeReader = reader;
    return reader;
  }

  /**
   * @internal One observed read. No closure in here (they are in `#waitForRead`): a function with one allocates
   * its context on every call, even when the branch that makes it does not run (~40 B per part).
   */
  read(): Promise<Result> {
    // A read while another is pending waits for it, so parts keep their order.
    if (this.reads > 0) return this.#waitForRead();
    if (this.queue !== undefined || this.failure !== undefined || this.done) {
      try {
        return Promise.resolve(this.#early() as Result);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    this.reads++;
    const read = (this.nativeReader as ReadableStreamDefaultReader<Part>)
      .read()
      .then(this.onRead, this.onError);
    this.last = read;
    return read;
  }

  #waitForRead(): Promise<Result> {
    const queued = (this.last as Promise<Result>).then(
      () => this.read(),
      () => this.read(),
    );
    this.last = queued;
    return queued;
  }

  /**
   * What a read answers without reading the provider's stream: a queued part, the end (ended on our side),
   * or the deadline's error (thrown); undefined when the provider's stream is to be read.
   */
  #early(): Result | undefined {
    const queue = this.queue;
    if (queue !== undefined) {
      if (this.queued < queue.length) return { done: false, value: queue[this.queued++] };
      this.queue = undefined;
    }
    if (this.failure !== undefined) throw this.failure;
    if (this.done) return DONE;
    return undefined;
  }

  /** @internal The reader stopped reading (a cancel, or ai@7's abort): a cancellation, charged with what was produced. */
  cancel(reason: unknown): Promise<void> {
    this.done = true;
    this.queue = undefined;
    const callerSignal = this.callerSignal;
    this.#end(CANCEL, callerSignal?.aborted ? callerSignal.reason : reason);
    return (this.nativeReader as ReadableStreamDefaultReader<Part>).cancel(reason);
  }

  /** @internal `stream.cancel()` before anyone read it. */
  cancelUnread(stream: ReadableStream<Part>, reason: unknown): Promise<void> {
    this.reader(stream);
    return this.cancel(reason);
  }

  /**
   * @internal Locks the provider's stream (its reader, read by `pump`) and `destination` for a pipe; throws the
   * TypeError of a locked stream, leaving neither locked.
   */
  lock(stream: ReadableStream<Part>, destination: WritableStream<Part>): WritableStreamDefaultWriter<Part> {
    const reader = this.#sourceReader(stream);
    try {
      return destination.getWriter();
    } catch (error) {
      this.nativeReader = undefined;
      reader.releaseLock();
      throw error;
    }
  }

  /**
   * @internal `pipeTo` without options, as ReadableStream's own (the destination erroring cancels the source
   * at once; the source erroring aborts the destination; the source's end closes it), from the locked
   * reader to `writer`. It is the only reader: it reads the provider's reader itself (no promise of ours
   * per part).
   */
  async pump(writer: WritableStreamDefaultWriter<Part>): Promise<void> {
    const source = this.nativeReader as ReadableStreamDefaultReader<Part>;
    let ended = false;
    let completed = false;
    const cancelSource = (reason: unknown) => {
      if (ended) return Promise.resolve();
      ended = true;
      return this.cancel(reason).catch(noop);
    };
    writer.closed.then(undefined, cancelSource);
    this.onFailure = (error) => {
      ended = true;
      writer.abort(error).catch(noop);
    };
    try {
      for (;;) {
        if ((writer.desiredSize ?? 0) <= 0) {
          try {
            await writer.ready;
          } catch (error) {
            await cancelSource(error);
            throw error;
          }
        }
        let result: Result;
        try {
          const early = this.#early();
          if (early !== undefined) {
            result = early;
          } else {
            this.reads++;
            let read: Result | undefined;
            let readError: unknown;
            try {
              read = await source.read();
            } catch (error) {
              readError = error;
            }
            result = read === undefined ? this.#failed(readError) : this.#received(read);
          }
        } catch (error) {
          if (!ended) {
            ended = true;
            await writer.abort(error).catch(noop);
          }
          throw error;
        }
        if (result.done) {
          ended = true;
          // Both ends stay locked after a pipe that ran to the end: they are closed and nobody reads or
          // writes them again, and releasing them builds a TypeError each (two stack captures, several µs).
          completed = true;
          this.onFailure = undefined;
          await writer.close();
          return;
        }
        writer.write(result.value).catch(noop);
      }
    } finally {
      if (!completed) {
        this.onFailure = undefined;
        writer.releaseLock();
        source.releaseLock();
      }
    }
  }

  /** @internal One stream of our own over the observed reader, for what the tap does not serve directly. */
  layered(stream: ReadableStream<Part>): ReadableStream<Part> {
    const reader = this.reader(stream);
    return new ReadableStream<Part>(
      {
        start: (controller) => {
          this.onFailure = (error) => controller.error(error);
        },
        pull: (controller) =>
          reader.read().then((result) => {
            if (result.done) controller.close();
            else controller.enqueue(result.value);
          }),
        cancel: (reason) => reader.cancel(reason),
      },
      { highWaterMark: 0 },
    );
  }

  #aborted(reason: unknown): void {
    if (this.done) return;
    if (this.callerSignal?.aborted) {
      // The caller stopped the call: the SDK ends the stream (ai@7 cancels it, ai@6 errors it).
      this.#end(CANCEL, this.callerSignal.reason);
      return;
    }
    // The deadline passed (maybe before the stream existed; the call is then failed already): the call fails
    // with the TimeoutError and the stream ends with it, even if the provider ignores the aborted signal.
    this.#end(FAIL, reason);
    this.done = true;
    this.queue = undefined;
    const failure = toSdkError(reason, this.o.retryAfterMs);
    this.failure = failure;
    this.onFailure?.(failure);
    const source = this.nativeReader;
    const cancelled =
      source === undefined
        ? proto.cancel.call(this.providerStream as ReadableStream<Part>, reason)
        : source.cancel(reason);
    cancelled.catch(noop);
  }

  #received(result: Result): Result {
    this.reads--;
    if (this.failure !== undefined) throw this.failure;
    if (this.done) return DONE;
    if (result.done) {
      // The provider ended the stream; without a finish part (an `error` part, a dropped connection) the
      // call failed, and what it produced is charged.
      this.done = true;
      // Usually settled by the finish part already: no Error built then (capturing its stack costs µs).
      if (!this.inFlight.settled) {
        this.#end(FAIL, this.error ?? new Error("The model stream ended without a finish part"));
      }
      return result;
    }
    return this.#part(result);
  }

  #failed(error: unknown): never | Result {
    this.reads--;
    if (this.failure !== undefined) throw this.failure;
    if (this.done) return DONE; // ended on our side
    this.done = true;
    const callerSignal = this.callerSignal;
    if (callerSignal?.aborted) this.#end(CANCEL, callerSignal.reason);
    else this.#end(FAIL, error);
    throw error;
  }

  #part(result: Result): Result {
    const part = result.value;
    if (part.type !== "finish") this.parts?.push(part);
    switch (part.type) {
      case "text-delta":
      case "reasoning-delta":
      case "tool-input-delta": {
        const delta = part.delta ?? part.textDelta;
        if (typeof delta === "string") {
          const chars = this.chars + delta.length;
          if (chars > this.limitChars) return this.#passed(result, delta, chars);
          this.chars = chars;
        }
        return result;
      }
      case "text-start":
      case "reasoning-start":
      case "tool-input-start":
        if (this.track) this.#opened(part);
        return result;
      case "text-end":
      case "reasoning-end":
      case "tool-input-end":
        if (this.track) this.#closed(part.id);
        return result;
      case "error":
        this.error = part.error;
        return result;
      case "finish":
        return this.#finish(result);
      default:
        return result;
    }
  }

  // Out of line: `#part` stays small (it runs for every part).
  #opened(part: Part): void {
    const id = part.id;
    const endType =
      part.type === "text-start"
        ? "text-end"
        : part.type === "reasoning-start"
          ? "reasoning-end"
          : "tool-input-end";
    const open = this.open;
    if (open !== undefined) {
      open.set(id, endType);
    } else if (!this.oneOpen) {
      this.oneOpen = true;
      this.openId = id;
      this.openEnd = endType;
    } else {
      this.open = new Map([
        [this.openId as string, this.openEnd],
        [id, endType],
      ]);
      this.oneOpen = false;
    }
  }

  #closed(id: string): void {
    if (this.open !== undefined) this.open.delete(id);
    else if (this.oneOpen && this.openId === id) this.oneOpen = false;
  }

  /**
   * The output passed the limit: the allowance is read if it was not yet (the limit was what the reservation
   * holds), and the stream is cut off if the output passes that too. Off the per-part path.
   */
  #passed(result: Result, delta: string, chars: number): Result {
    if (this.allowance < 0) {
      const allowance = this.inFlight.outputTokenAllowance;
      this.allowance = allowance;
      this.limitChars = allowance * this.o.charsPerToken;
      if (allowance === Number.POSITIVE_INFINITY) {
        this.track = false;
        this.open = undefined;
        this.oneOpen = false;
      }
      if (!(chars > this.limitChars)) {
        this.chars = chars;
        return result;
      }
    }
    return this.#cutOff(result.value, delta);
  }

  /** Output tokens counted so far (characters of streamed deltas / charsPerToken). */
  get outputTokens(): number {
    return Math.ceil(this.chars / this.o.charsPerToken);
  }

  #partialUsage(): UsageReport {
    return { inputTokens: this.inputTokens, outputTokens: this.outputTokens };
  }

  #finish(result: Result): Result {
    const part = result.value;
    const inFlight = this.inFlight;
    if (!inFlight.settled) {
      const parts = this.parts;
      if (parts !== undefined) {
        const payload = inFlight.resultPayload;
        if (payload !== undefined) parts.push(...payloadParts(this.v2, payload));
        parts.push(part);
        this.o.record?.response(this.call, { stream: parts });
      }
      const usage = toUsageReport(part.usage, part.providerMetadata, this.#partialUsage());
      const reason = typeof part.finishReason === "string" ? part.finishReason : part.finishReason?.unified;
      if (reason === "error" && this.error !== undefined) this.#end(FAIL, this.error, usage);
      else this.#end(SUCCEED, undefined, usage);
    }
    const payload = inFlight.resultPayload;
    if (payload === undefined) return result;
    return this.#emit([...payloadParts(this.v2, payload), part]);
  }

  /** Hands out the first of `parts` now and the rest on the next reads. */
  #emit(parts: Part[]): Result {
    this.queue = parts;
    this.queued = 1;
    return { done: false, value: parts[0] };
  }

  /** The in-flight cap: end the stream here with a clear finish reason and settle what it produced. */
  #cutOff(part: Part, delta: string): Result {
    // Pass on what still fits, then end the stream: the call never produces more than it may.
    const fit = Math.max(0, Math.floor(this.limitChars) - this.chars);
    const parts: Part[] = [];
    if (fit > 0) {
      parts.push(
        part.delta === undefined
          ? { ...part, textDelta: delta.slice(0, fit) }
          : { ...part, delta: delta.slice(0, fit) },
      );
      this.chars += fit;
    }
    const open = this.open;
    if (open !== undefined) {
      for (const [id, endType] of open) parts.push({ type: endType, id });
    } else if (this.oneOpen) {
      parts.push({ type: this.openEnd, id: this.openId as string });
    }
    const usage = this.#partialUsage();
    parts.push(cutOffFinish(this.v2, usage));
    this.done = true;
    const recorded = this.parts;
    if (recorded !== undefined) {
      recorded.pop(); // the delta that passed the allowance: what was passed on instead is below
      recorded.push(...parts);
      this.o.record?.response(this.call, { stream: recorded });
    }
    // A cut-off is a normal end the budget chose: the call succeeded with what it produced.
    this.#end(SUCCEED, undefined);
    const call = this.call;
    this.o.onCutOff?.({
      agentId: call.agentId,
      taskId: call.taskId,
      model: call.name,
      outputTokens: usage.outputTokens,
      allowance: this.allowance,
    });
    // The provider's stream is cancelled (its HTTP request stops); the reader gets the parts above, then the end.
    (this.nativeReader as ReadableStreamDefaultReader<Part>)
      .cancel(new Error("cut off by the Agent SRE budget"))
      .catch(noop);
    return this.#emit(parts);
  }

  #end(how: End, reason: unknown, usage: UsageReport = this.#partialUsage()): void {
    const inFlight = this.inFlight;
    if (inFlight.settled) return;
    this.#unwatch();
    // A stream that ends otherwise (error, abort, cancel) is recorded with the parts it delivered.
    if (this.parts !== undefined && how !== SUCCEED)
      this.o.record?.response(this.call, { stream: this.parts });
    if (how === SUCCEED) inFlight.succeed(usage);
    else if (how === FAIL) inFlight.fail(reason, usage);
    else inFlight.cancel(reason, usage);
  }

  #unwatch(): void {
    const signal = this.signal;
    if (signal !== undefined && this.onAbort !== undefined) {
      signal.removeEventListener("abort", this.onAbort);
      this.signal = undefined;
    }
  }
}
