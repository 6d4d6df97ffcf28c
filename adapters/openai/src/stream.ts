import type { GuardCall, GuardedCall, UsageReport } from "@agent-sre/core";
import { toClientError } from "./errors.js";
import type { ResolvedOptions } from "./guard-openai.js";
import { type Endpoint, usageReport } from "./usage.js";

interface StreamLike extends AsyncIterable<unknown> {
  controller?: AbortController;
  tee?: unknown;
  toReadableStream?: unknown;
}

type SdkStreamClass = new (
  iterator: () => AsyncIterator<unknown>,
  controller: AbortController | undefined,
  client?: unknown,
) => unknown;

// biome-ignore lint/suspicious/noExplicitAny: stream items are the SDK's chunk / event unions
type Item = any;

/**
 * Streams never read to the end and never aborted are settled when collected: the reader dropped them, a
 * cancellation charged with what they used.
 */
const unsettled = new FinalizationRegistry<{ inFlight: GuardedCall; usage: () => UsageReport }>((held) => {
  if (!held.inFlight.settled) held.inFlight.cancel(undefined, held.usage());
});

/** How a stream ended for the engine: a success, a failure of the model, or a cancellation by the reader. */
const SUCCEED = 0;
const FAIL = 1;
const CANCEL = 2;
type End = typeof SUCCEED | typeof FAIL | typeof CANCEL;

/**
 * Wraps the SDK's `Stream` in a new instance of the same class (so `tee()`, `toReadableStream()` and
 * `controller` keep working) whose iterator observes every item: it counts streamed output, takes the
 * usage of the final chunk (chat, `include_usage`) or of `response.completed` / `response.incomplete` /
 * `response.failed` (responses), cuts the stream off at the allowance, and settles the call exactly once:
 * a success at its end or at the cut-off; a failure on an error or at the call's deadline (reading then
 * throws the SDK's 408 `APIError`); a cancellation — charged, not judged — when the caller aborts, or the
 * reader breaks off or calls `controller.abort()`. Without usage it charges the prompt estimate plus the
 * output counted so far.
 */
export function guardStream(
  o: ResolvedOptions,
  endpoint: Endpoint,
  source: unknown,
  inFlight: GuardedCall,
  call: GuardCall<unknown>,
  inputTokens: number,
  allowance: number,
  client: unknown,
  callerSignal: AbortSignal | undefined,
): unknown {
  const stream = source as StreamLike;
  if (stream === null || typeof stream !== "object" || typeof stream[Symbol.asyncIterator] !== "function") {
    inFlight.succeed();
    return source;
  }
  const observer = new StreamObserver(
    o,
    endpoint,
    stream,
    inFlight,
    call,
    inputTokens,
    allowance,
    client,
    callerSignal,
  );
  const wrapped = rewrap(stream, () => observer.start(), client);
  unsettled.register(wrapped as object, { inFlight, usage: () => observer.partial() }, inFlight);
  return wrapped;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/** Where the observer is: reading the source, or past a cut-off (one item to deliver, then the end). */
const READING = 0;
const CUT_PENDING = 1;
const CUT_FINAL = 2;
const FINISHED = 3;
type Phase = typeof READING | typeof CUT_PENDING | typeof CUT_FINAL | typeof FINISHED;

/**
 * The guarded iterator: every item is observed in a `then` on the source's own promise (no async generator,
 * no extra await per item). Same protocol as the async generator it replaces: a reader that breaks off
 * closes the source, concurrent `next()` calls are served in order.
 */
class StreamObserver implements AsyncIterableIterator<unknown> {
  readonly #o: ResolvedOptions;
  readonly #chat: boolean;
  readonly #stream: StreamLike;
  readonly #inFlight: GuardedCall;
  readonly #call: GuardCall<unknown>;
  readonly #inputTokens: number;
  readonly #allowance: number;
  readonly #limitChars: number;
  readonly #client: unknown;
  readonly #callerSignal: AbortSignal | undefined;
  readonly #controller: AbortController | undefined;
  readonly #callSignal: AbortSignal | undefined;
  #iterator: AsyncIterator<unknown> | undefined;
  /**
   * The source iterator's `next`, read once as `for await` reads it: the SDK makes a new async generator function
   * per stream, so each stream's iterator has a map of its own and `iterator.next` read per item was a
   * megamorphic load (~80 instructions a chunk).
   */
  #sourceNext: (() => Promise<IteratorResult<unknown>>) | undefined;
  #chars = 0;
  #usage: UsageReport | undefined;
  #timedOut: unknown;
  #phase: Phase = READING;
  /** The source was read to its end, failed, or was cut off: the call is (being) settled by the stream. */
  #completed = false;
  /** Between the first `next()` and the end of reading: the stream's own end settles the call. */
  #iterating = false;
  #crossing: Item;
  #reads = 0;
  #last: Promise<IteratorResult<unknown>> | undefined;
  /** The item handler of the stream's endpoint (chosen once: no endpoint test per item). */
  readonly #onItem: (result: IteratorResult<unknown>) => IteratorResult<unknown>;
  readonly #onError = (error: unknown) => this.#error(error);
  readonly #onReaderAbort = () => {
    if (!this.#iterating) this.#readerStopped();
  };
  readonly #onCallAbort = () => this.#callAborted();
  /** What the reader got, when the call is recorded (`record` option); in the trace before it settles. */
  readonly #items: unknown[] | undefined;

  constructor(
    o: ResolvedOptions,
    endpoint: Endpoint,
    stream: StreamLike,
    inFlight: GuardedCall,
    call: GuardCall<unknown>,
    inputTokens: number,
    allowance: number,
    client: unknown,
    callerSignal: AbortSignal | undefined,
  ) {
    this.#o = o;
    this.#items = o.record === undefined ? undefined : [];
    this.#chat = endpoint === "chat";
    this.#onItem = this.#chat
      ? (result: IteratorResult<unknown>) => this.#chatItem(result)
      : (result: IteratorResult<unknown>) => this.#responsesItem(result);
    this.#stream = stream;
    this.#inFlight = inFlight;
    this.#call = call;
    this.#inputTokens = inputTokens;
    this.#allowance = allowance;
    this.#limitChars = allowance * o.charsPerToken;
    this.#client = client;
    this.#callerSignal = callerSignal;
    this.#controller = stream.controller;
    // The call's signal aborts on the caller's abort and at the call's deadline (the request has it too).
    this.#callSignal = inFlight.signal;
    // While the stream is read, its own end settles the call (the SDK aborts the controller on errors and on
    // break-off too); `stream.controller.abort()` before reading starts or after it stopped is the reader
    // stopping. The SDK aborts the controller when the call's signal aborts: that is classified below.
    this.#controller?.signal.addEventListener("abort", this.#onReaderAbort, { once: true });
    if (this.#callSignal?.aborted) this.#callAborted();
    else this.#callSignal?.addEventListener("abort", this.#onCallAbort, { once: true });
  }

  /** The iterator the guarded stream hands out (one per stream, as the SDK's own). */
  start(): StreamObserver {
    return this;
  }

  [Symbol.asyncIterator](): StreamObserver {
    return this;
  }

  partial(): UsageReport {
    return { inputTokens: this.#inputTokens, outputTokens: Math.ceil(this.#chars / this.#o.charsPerToken) };
  }

  /**
   * One item. No closure in here (they are in `#waitForRead` and `#closeCutOff`): a function with one allocates
   * its context on every call, even when the branch that makes it does not run (~40 B per chunk).
   */
  next(): Promise<IteratorResult<unknown>> {
    // A `next()` while another is pending waits for it (a generator queues them the same way).
    if (this.#reads !== 0) return this.#waitForRead();
    if (this.#phase !== READING) return this.#afterReading();
    let iterator = this.#iterator;
    if (iterator === undefined) iterator = this.#open();
    this.#reads = 1;
    const read = (this.#sourceNext as () => Promise<IteratorResult<unknown>>)
      .call(iterator)
      .then(this.#onItem, this.#onError);
    this.#last = read;
    return read;
  }

  /** The first read: the source's iterator, and its `next` (read once). */
  #open(): AsyncIterator<unknown> {
    this.#iterating = true;
    const iterator = (this.#stream as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    this.#iterator = iterator;
    this.#sourceNext = iterator.next;
    return iterator;
  }

  /** A `next()` past reading: the cut-off's two items, then the end. */
  #afterReading(): Promise<IteratorResult<unknown>> {
    switch (this.#phase) {
      case CUT_PENDING:
        return Promise.resolve(this.#cutOffEnd());
      case CUT_FINAL:
        return this.#closeCutOff();
      default:
        return Promise.resolve(DONE);
    }
  }

  #waitForRead(): Promise<IteratorResult<unknown>> {
    const queued = (this.#last as Promise<IteratorResult<unknown>>).then(
      () => this.next(),
      () => this.next(),
    );
    this.#last = queued;
    return queued;
  }

  /** The end after a cut-off: the HTTP stream stopped and the source closed. */
  #closeCutOff(): Promise<IteratorResult<unknown>> {
    this.#phase = FINISHED;
    this.#controller?.abort(); // stop the HTTP stream
    // Close the source too, as leaving a `for await` over it does.
    const closing = this.#iterator?.return?.();
    const done = () => {
      this.#iterating = false;
      return DONE;
    };
    return Promise.resolve(closing).then(done, done);
  }

  /** The reader broke off (`break`, `return()`): a cancellation, charged with what it used so far. */
  return(value?: unknown): Promise<IteratorResult<unknown>> {
    const iterator = this.#iterator;
    if (this.#phase === FINISHED || iterator === undefined) {
      // Never read (or already over): nothing to close, as with a generator that has not started.
      this.#phase = FINISHED;
      return Promise.resolve({ done: true, value });
    }
    this.#phase = FINISHED;
    const finish = () => {
      this.#iterating = false;
      if (!this.#completed) {
        this.#completed = true;
        this.#end(CANCEL);
      }
    };
    // Closing the source first lets the SDK abort its request (while `#iterating`, that is not a stop).
    let closed: unknown;
    try {
      closed = iterator.return?.();
    } catch (error) {
      finish();
      return Promise.reject(error);
    }
    return Promise.resolve(closed).then(
      () => {
        finish();
        return { done: true, value };
      },
      (error: unknown) => {
        finish();
        throw error;
      },
    );
  }

  throw(error?: unknown): Promise<IteratorResult<unknown>> {
    return this.return().then(() => Promise.reject(error));
  }

  /**
   * A chat chunk: its text counts toward the allowance (cut off past it), the final chunk's usage is kept. One
   * handler per endpoint, chosen at construction: the per-item path tests no endpoint.
   */
  #chatItem(result: IteratorResult<unknown>): IteratorResult<unknown> {
    this.#reads = 0;
    if (this.#phase !== READING) return DONE; // broken off while this read was in flight
    try {
      // In the try: a source that resolves with something other than an iterator result fails the call.
      if (result.done) return this.#sourceEnded();
      const item = result.value as Item;
      const delta = chatDelta(item);
      if (delta !== undefined && this.#overAllowance(delta)) return this.#cutOff(item, delta);
      this.#items?.push(item);
      const reported = chatUsage(item);
      if (reported !== undefined) this.#usage = fill(reported, this.partial());
      return result;
    } catch (error) {
      this.#itemFailed(error);
    }
  }

  /**
   * A responses event: `*.delta` text counts toward the allowance, the usage of `response.completed` /
   * `.incomplete` / `.failed` is kept, an `error` event fails the call.
   */
  #responsesItem(result: IteratorResult<unknown>): IteratorResult<unknown> {
    this.#reads = 0;
    if (this.#phase !== READING) return DONE; // broken off while this read was in flight
    try {
      // In the try: a source that resolves with something other than an iterator result fails the call.
      if (result.done) return this.#sourceEnded();
      const item = result.value as Item;
      const delta = responsesDelta(item);
      if (delta !== undefined && this.#overAllowance(delta)) return this.#cutOff(item, delta);
      this.#items?.push(item);
      const reported = responsesUsage(item);
      if (reported !== undefined) this.#usage = fill(reported, this.partial());
      if (item?.type === "error") {
        this.#completed = true;
        this.#end(FAIL, new Error(item.message ?? "response stream error"));
      }
      return result;
    } catch (error) {
      this.#itemFailed(error);
    }
  }

  /**
   * Counts an item's text toward the allowance: true when it would go past it (the item is then cut off and not
   * counted). Shared by both endpoints' handlers (small: V8 inlines it into each).
   */
  #overAllowance(delta: string): boolean {
    const chars = this.#chars + delta.length;
    if (chars > this.#limitChars) return true;
    this.#chars = chars;
    return false;
  }

  /** Observing an item threw (an item the handlers could not read, a settlement that threw): the call fails. */
  #itemFailed(error: unknown): never {
    this.#phase = FINISHED;
    this.#iterating = false;
    if (!this.#completed) {
      this.#completed = true;
      this.#end(FAIL, error);
    }
    throw error;
  }

  #sourceEnded(): IteratorResult<unknown> {
    this.#completed = true;
    this.#phase = FINISHED;
    this.#iterating = false;
    // The SDK ends an aborted stream quietly: a deadline is an error the reader must see.
    if (this.#timedOut !== undefined) throw toClientError(this.#timedOut, this.#client);
    if (this.#usage !== undefined) this.#end(SUCCEED);
    else if (this.#controller?.signal.aborted) this.#readerStopped();
    else this.#end(FAIL, new Error("The stream ended without usage (no final chunk)"));
    return DONE;
  }

  #error(error: unknown): never {
    this.#reads = 0;
    this.#phase = FINISHED;
    this.#iterating = false;
    if (!this.#completed) {
      this.#completed = true;
      const callerSignal = this.#callerSignal;
      if (callerSignal?.aborted) this.#end(CANCEL, callerSignal.reason);
      else this.#end(FAIL, error);
      if (this.#timedOut !== undefined) throw toClientError(this.#timedOut, this.#client);
    }
    throw error;
  }

  /** The output passes the allowance: what still fits of this item, then a clear "length" ending. */
  #cutOff(item: Item, delta: string): IteratorResult<unknown> {
    const fit = Math.max(0, Math.floor(this.#limitChars) - this.#chars);
    const truncated = fit > 0 ? truncate(this.#chat ? "chat" : "responses", item, delta, fit) : undefined;
    this.#crossing = item;
    if (truncated === undefined) return this.#cutOffEnd();
    this.#chars += fit;
    this.#items?.push(truncated);
    this.#phase = CUT_PENDING;
    return { done: false, value: truncated };
  }

  #cutOffEnd(): IteratorResult<unknown> {
    this.#phase = CUT_FINAL;
    this.#completed = true;
    const partial = this.partial();
    const last = cutOffItem(this.#chat ? "chat" : "responses", this.#crossing, partial);
    this.#items?.push(last);
    // A cut-off is a normal end the budget chose: the call succeeded with what it produced.
    this.#end(SUCCEED);
    const call = this.#call;
    this.#o.onCutOff?.({
      agentId: call.agentId,
      taskId: call.taskId,
      model: call.name,
      outputTokens: partial.outputTokens,
      allowance: this.#allowance,
    });
    return { done: false, value: last };
  }

  #callAborted(): void {
    const callerSignal = this.#callerSignal;
    if (callerSignal?.aborted) {
      this.#end(CANCEL, callerSignal.reason);
    } else if (this.#callSignal !== undefined) {
      // The deadline passed: the call fails with its TimeoutError, which reading the stream then throws.
      this.#timedOut = this.#callSignal.reason;
      this.#end(FAIL, this.#timedOut);
    }
  }

  #readerStopped(): void {
    if (this.#callSignal?.aborted) this.#callAborted();
    else this.#end(CANCEL, this.#controller?.signal.reason);
  }

  #end(how: End, reason?: unknown): void {
    const inFlight = this.#inFlight;
    if (inFlight.settled) return;
    this.#controller?.signal.removeEventListener("abort", this.#onReaderAbort);
    this.#callSignal?.removeEventListener("abort", this.#onCallAbort);
    unsettled.unregister(inFlight);
    if (this.#items !== undefined) this.#o.record?.response(this.#call, { stream: this.#items });
    const used = this.#usage ?? this.partial();
    if (how === SUCCEED) inFlight.succeed(used);
    else if (how === FAIL) inFlight.fail(reason, used);
    else inFlight.cancel(reason, used);
  }
}

/**
 * The guarded stream: a new instance of the SDK's own `Stream` class when the source is one (so `tee()`,
 * `toReadableStream()` and `controller` keep working), otherwise — a client-like's plain async iterable
 * (an async generator, a custom object) — a generator over the guarded items, or an object that iterates
 * them and inherits everything else from the source.
 */
function rewrap(stream: StreamLike, observe: () => AsyncIterableIterator<unknown>, client: unknown): unknown {
  const Ctor = (stream as { constructor?: unknown }).constructor;
  const sdkStream =
    typeof Ctor === "function" &&
    Ctor !== Object &&
    stream.controller instanceof AbortController &&
    typeof stream.tee === "function";
  if (sdkStream) return new (Ctor as SdkStreamClass)(() => observe(), stream.controller, client);
  // An async generator (or any iterator): a generator over the guarded items, with the same protocol.
  if (typeof (stream as { next?: unknown }).next === "function") return observe();
  const wrapped = Object.create(stream) as Record<PropertyKey, unknown>;
  Object.defineProperty(wrapped, Symbol.asyncIterator, { value: () => observe(), configurable: true });
  return wrapped;
}

function fill(report: UsageReport, partial: UsageReport): UsageReport {
  return report.inputTokens === 0 && report.outputTokens === 0 ? partial : report;
}

/** Text the model generated in a chat chunk (content, refusal, tool-call arguments), or undefined. */
function chatDelta(chunk: Item): string | undefined {
  const delta = chunk?.choices?.[0]?.delta;
  if (delta === undefined || delta === null) return undefined;
  if (typeof delta.content === "string" && delta.content.length > 0) return delta.content;
  if (typeof delta.refusal === "string" && delta.refusal.length > 0) return delta.refusal;
  const args = delta.tool_calls?.[0]?.function?.arguments;
  return typeof args === "string" && args.length > 0 ? args : undefined;
}

function responsesDelta(event: Item): string | undefined {
  const type = event?.type;
  if (typeof type !== "string" || !type.endsWith(".delta")) return undefined;
  return typeof event.delta === "string" && event.delta.length > 0 ? event.delta : undefined;
}

function chatUsage(chunk: Item): UsageReport | undefined {
  return chunk?.usage ? usageReport("chat", chunk.usage) : undefined;
}

function responsesUsage(event: Item): UsageReport | undefined {
  const type = event?.type;
  if (type === "response.completed" || type === "response.incomplete" || type === "response.failed") {
    return usageReport("responses", event.response?.usage);
  }
  return undefined;
}

/** The crossing item with only the text that still fits (content deltas); other items are dropped. */
function truncate(endpoint: Endpoint, item: Item, delta: string, fit: number): Item | undefined {
  if (endpoint === "responses") return { ...item, delta: delta.slice(0, fit) };
  const choice = item.choices?.[0];
  if (typeof choice?.delta?.content !== "string") return undefined;
  return { ...item, choices: [{ ...choice, delta: { ...choice.delta, content: delta.slice(0, fit) } }] };
}

/** The last item of a cut-off stream: a clear "length" ending with the estimated usage. */
function cutOffItem(endpoint: Endpoint, item: Item, usage: UsageReport): Item {
  if (endpoint === "chat") {
    return {
      id: item?.id,
      object: "chat.completion.chunk",
      created: item?.created,
      model: item?.model,
      choices: [{ index: 0, delta: {}, finish_reason: "length", logprobs: null }],
      usage: {
        prompt_tokens: usage.inputTokens,
        completion_tokens: usage.outputTokens,
        total_tokens: usage.inputTokens + usage.outputTokens,
      },
    };
  }
  return {
    type: "response.incomplete",
    sequence_number: typeof item?.sequence_number === "number" ? item.sequence_number + 1 : undefined,
    response: {
      object: "response",
      status: "incomplete",
      incomplete_details: { reason: "max_output_tokens" },
      usage: {
        input_tokens: usage.inputTokens,
        output_tokens: usage.outputTokens,
        total_tokens: usage.inputTokens + usage.outputTokens,
      },
    },
  };
}
