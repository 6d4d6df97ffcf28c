import type { GuardCall, GuardedCall, UsageReport } from "@agent-sre/core";
import { cutOffItem, truncate } from "./cut-off.js";
import { toClientError } from "./errors.js";
import type { ResolvedOptions } from "./guard-openai.js";
import { rewrap, type StreamLike } from "./rewrap.js";
import { type Endpoint, usageReport } from "./usage.js";

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

/**
 * Where the observer is, in one field (the per-item path reads and writes this one field): not read yet; reading
 * the source with no read in flight (`next()` reads), a read in flight, or one with `next()` calls queued behind
 * it; past a cut-off (one item to deliver, then the end); finished, or broken off while a read was in flight.
 */
const IDLE = 0;
const PENDING = 1;
const WAITING = 2;
const UNOPENED = 3;
const CUT_PENDING = 4;
const CUT_FINAL = 5;
const FINISHED = 6;
const FINISHED_PENDING = 7;
/** Reading a source whose `next` is not the async generators' own: `next()` calls it as any function. */
const IDLE_OTHER = 8;
type State = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;
type Idle = typeof IDLE | typeof IDLE_OTHER;

/**
 * The async generators' own `next`, every SDK stream iterator's (`fromSSEResponse` makes an async generator). Called
 * as this known function it is a direct call of its builtin; read into a field, a call through the generic call
 * builtins (`Call_ReceiverIsAny`, `CallFunction_ReceiverIsAny`: ~21 instructions a chunk).
 */
const asyncGeneratorNext: (this: unknown) => Read = Object.getPrototypeOf(async function* () {}).prototype
  .next;

/**
 * Marks a per-stream handler, so that `then(onItem, onError)` knows both are callable. A field holding values of
 * one stable map has that map as its type (V8's field type tracking), and then `then` skips its two `IsCallable`
 * selections (~22 instructions a chunk). An arrow's own map is not stable (Node adds a property to some arrow
 * functions: a transition); one property more gives every handler the same map, which nothing changes after.
 * The fields get no other value, and none before it (`onItem` is declared, not initialised to undefined).
 */
const HANDLER = Symbol("handler");
function asHandler<F extends (value: never) => unknown>(handler: F): F {
  (handler as unknown as Record<symbol, boolean>)[HANDLER] = true;
  return handler;
}

/** The largest count of characters compared as a small integer on the per-item path (V8's Smi range). */
const SMALL_LIMIT_CHARS = 2 ** 30 - 1;

type Read = Promise<IteratorResult<unknown>>;
type ItemHandler = (result: IteratorResult<unknown>) => IteratorResult<unknown>;

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
  /**
   * `#limitChars` rounded down into 0 … `SMALL_LIMIT_CHARS` (0 when it is not a number): the per-item test is a
   * small-integer compare, and a count past it is tested against `#limitChars` itself. A limit that could be a
   * fraction or Infinity made it a number test (~8 more instructions a chunk); the initial 0 keeps the field a
   * small integer for V8 (a field first set to undefined holds any value, tested on every read).
   */
  readonly #smallLimitChars: number = 0;
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
  #sourceNext: (() => Read) | undefined;
  #chars = 0;
  #usage: UsageReport | undefined;
  #timedOut: unknown;
  #state: State = UNOPENED;
  /** Idle, for this stream's source: IDLE (an async generator, whose `next` is called directly) or IDLE_OTHER. */
  #idle: Idle = IDLE;
  /** The source was read to its end, failed, or was cut off: the call is (being) settled by the stream. */
  #completed = false;
  /** Between the first `next()` and the end of reading: the stream's own end settles the call. */
  #iterating = false;
  #crossing: Item;
  /** `next()` calls made while a read was in flight, served in order once it is observed. */
  #waiters: Array<(read: Read) => void> | undefined;
  /**
   * The item handler of the stream's endpoint (chosen once: no endpoint test per item). An arrow that calls a
   * method: V8 inlines the method, a known function whose module constants and private names it folds; the
   * same code in the arrow (one closure per stream) loaded and checked each of them per item. The methods are
   * string-named (TypeScript-private): a `#` method is checked per call (the class brand on `this`, the method in
   * the class context: ~8 instructions a chunk); a string-named one is a constant of `this`'s map.
   */
  declare private readonly onItem: ItemHandler;
  readonly #onError = asHandler((error: unknown) => this.#error(error));
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
    this.onItem = asHandler(
      this.#chat
        ? (result: IteratorResult<unknown>) => this.chatItem(result)
        : (result: IteratorResult<unknown>) => this.responsesItem(result),
    );
    this.#stream = stream;
    this.#inFlight = inFlight;
    this.#call = call;
    this.#inputTokens = inputTokens;
    this.#allowance = allowance;
    this.#limitChars = allowance * o.charsPerToken;
    const floorChars = Math.floor(this.#limitChars);
    // Below 0, and a limit that is not a number, give 0: a count of at least 1 always passes it.
    this.#smallLimitChars = floorChars > 0 ? Math.min(floorChars, SMALL_LIMIT_CHARS) : 0;
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
   * One item: one state test and one state write, then the source's `next` and one `then`. Everything else (the
   * first read, a read in flight, past reading, a source that is not an async generator) is in `#nextOtherwise`.
   * No closure in here: a function with one allocates its context on every call, even when the branch that makes
   * it does not run (~40 B per chunk).
   */
  next(): Read {
    if (this.#state !== IDLE) return this.#nextOtherwise();
    this.#state = PENDING;
    return asyncGeneratorNext.call(this.#iterator).then(this.onItem, this.#onError);
  }

  #nextOtherwise(): Read {
    switch (this.#state) {
      case IDLE_OTHER:
        this.#state = PENDING;
        return (this.#sourceNext as () => Read).call(this.#iterator).then(this.onItem, this.#onError);
      case UNOPENED:
        this.#open();
        return this.next();
      case PENDING:
      case WAITING:
      case FINISHED_PENDING:
        // A `next()` while a read is in flight waits for it (a generator queues them the same way).
        return this.#enqueue();
      case CUT_PENDING:
        return Promise.resolve(this.#cutOffEnd());
      case CUT_FINAL:
        return this.#closeCutOff();
      default:
        return Promise.resolve(DONE);
    }
  }

  /** The first read: the source's iterator, and its `next` (read once). */
  #open(): void {
    this.#iterating = true;
    const iterator = (this.#stream as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    this.#iterator = iterator;
    const next = iterator.next;
    this.#sourceNext = next;
    this.#idle = next === asyncGeneratorNext ? IDLE : IDLE_OTHER;
    this.#state = this.#idle;
  }

  #enqueue(): Read {
    const waiters = this.#waiters ?? [];
    this.#waiters = waiters;
    if (this.#state === PENDING) this.#state = WAITING;
    return new Promise<IteratorResult<unknown>>((resolve) => waiters.push(resolve));
  }

  /**
   * The queued `next()` calls once the read in flight is observed: each in turn gets the next read (or what
   * follows a cut-off or the end); those behind a new read in flight wait for it.
   */
  #serveWaiters(): void {
    const waiters = this.#waiters;
    if (waiters === undefined) return;
    while (waiters.length > 0) {
      const state = this.#state;
      if (state === PENDING || state === FINISHED_PENDING) {
        if (state === PENDING) this.#state = WAITING;
        return;
      }
      const serve = waiters.shift() as (read: Read) => void;
      let read: Read;
      try {
        read = this.next();
      } catch (error) {
        read = Promise.reject(error); // as a queued call's own failure, not the read just observed
      }
      serve(read);
    }
  }

  /**
   * An item observed while the handler's fast path does not apply: `next()` calls are queued behind it (handled,
   * then they are served), or the reader broke off while it was in flight.
   */
  #observeOtherwise(result: IteratorResult<unknown>): IteratorResult<unknown> {
    if (this.#state === WAITING) {
      this.#state = PENDING;
      try {
        return this.onItem(result);
      } finally {
        this.#serveWaiters();
      }
    }
    this.#state = FINISHED; // broken off while this read was in flight
    this.#serveWaiters();
    return DONE;
  }

  /** The end after a cut-off: the HTTP stream stopped and the source closed. */
  #closeCutOff(): Read {
    this.#state = FINISHED;
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
  return(value?: unknown): Read {
    const iterator = this.#iterator;
    const state = this.#state;
    // With a read in flight, its handler delivers the end and serves the `next()` calls queued behind it.
    const finished =
      state === PENDING || state === WAITING || state === FINISHED_PENDING ? FINISHED_PENDING : FINISHED;
    if (state === FINISHED || state === FINISHED_PENDING || iterator === undefined) {
      // Never read (or already over): nothing to close, as with a generator that has not started.
      this.#state = finished;
      return Promise.resolve({ done: true, value });
    }
    this.#state = finished;
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

  throw(error?: unknown): Read {
    return this.return().then(() => Promise.reject(error));
  }

  /**
   * The chat handler: a chunk's text counts toward the allowance (cut off past it), the final chunk's usage is
   * kept. `result.done` is read in the try: a source that resolves with something other than an iterator
   * result fails the call.
   */
  private chatItem(result: IteratorResult<unknown>): IteratorResult<unknown> {
    if (this.#state !== PENDING) return this.#observeOtherwise(result);
    this.#state = this.#idle;
    try {
      const done = result.done;
      if (done !== false && done) return this.#sourceEnded();
      const item = result.value as Item;
      // Almost every chunk: a content delta, no usage. Its path joins no other (a join after a call re-checks
      // what the call may have changed).
      const text = item?.choices?.[0]?.delta?.content;
      if (typeof text === "string" && text.length > 0) {
        const chars = this.#chars + text.length;
        if (chars > this.#smallLimitChars && chars > this.#limitChars) return this.#cutOff(item, text);
        this.#chars = chars;
        const items = this.#items;
        if (items !== undefined) items.push(item);
        const usage = item.usage;
        if (usage !== undefined && usage !== null) this.#keepUsage(usageReport("chat", usage));
        return result;
      }
      return this.#chatOtherItem(result, item);
    } catch (error) {
      this.#itemFailed(error);
    }
  }

  /** A chat chunk without content: a refusal or tool-call arguments delta, the final usage chunk, or other. */
  #chatOtherItem(result: IteratorResult<unknown>, item: Item): IteratorResult<unknown> {
    const text = otherChatText(item?.choices?.[0]?.delta);
    if (text !== undefined) {
      const chars = this.#chars + text.length;
      if (chars > this.#limitChars) return this.#cutOff(item, text);
      this.#chars = chars;
    }
    this.#items?.push(item);
    if (item?.usage) this.#keepUsage(usageReport("chat", item.usage));
    return result;
  }

  /**
   * The responses handler: `*.delta` text counts toward the allowance, the usage of `response.completed` /
   * `.incomplete` / `.failed` is kept, an `error` event fails the call.
   */
  private responsesItem(result: IteratorResult<unknown>): IteratorResult<unknown> {
    if (this.#state !== PENDING) return this.#observeOtherwise(result);
    this.#state = this.#idle;
    try {
      const done = result.done;
      if (done !== false && done) return this.#sourceEnded();
      const item = result.value as Item;
      const text = responsesDelta(item);
      if (text !== undefined) {
        const chars = this.#chars + text.length;
        if (chars > this.#smallLimitChars && chars > this.#limitChars) return this.#cutOff(item, text);
        this.#chars = chars;
      }
      const items = this.#items;
      if (items !== undefined) items.push(item);
      const reported = responsesUsage(item);
      if (reported !== undefined) this.#keepUsage(reported);
      if (item?.type === "error") {
        this.#completed = true;
        this.#end(FAIL, new Error(item.message ?? "response stream error"));
      }
      return result;
    } catch (error) {
      this.#itemFailed(error);
    }
  }

  #keepUsage(reported: UsageReport | undefined): void {
    if (reported === undefined) return;
    // A report of nothing at all (both counts 0) stands for no report: the output counted so far is charged.
    this.#usage = reported.inputTokens === 0 && reported.outputTokens === 0 ? this.partial() : reported;
  }

  /** Observing an item threw (an item the handlers could not read, a settlement that threw): the call fails. */
  #itemFailed(error: unknown): never {
    this.#state = FINISHED;
    this.#iterating = false;
    if (!this.#completed) {
      this.#completed = true;
      this.#end(FAIL, error);
    }
    throw error;
  }

  #sourceEnded(): IteratorResult<unknown> {
    this.#completed = true;
    this.#state = FINISHED;
    this.#iterating = false;
    // The SDK ends an aborted stream quietly: a deadline is an error the reader must see.
    if (this.#timedOut !== undefined) throw toClientError(this.#timedOut, this.#client);
    if (this.#usage !== undefined) this.#end(SUCCEED);
    else if (this.#controller?.signal.aborted) this.#readerStopped();
    else this.#end(FAIL, new Error("The stream ended without usage (no final chunk)"));
    return DONE;
  }

  /** The source's read failed: the call fails (or is cancelled, when the caller aborted), then the reader sees it. */
  #error(error: unknown): never {
    this.#state = FINISHED;
    this.#iterating = false;
    try {
      if (!this.#completed) {
        this.#completed = true;
        const callerSignal = this.#callerSignal;
        if (callerSignal?.aborted) this.#end(CANCEL, callerSignal.reason);
        else this.#end(FAIL, error);
        if (this.#timedOut !== undefined) throw toClientError(this.#timedOut, this.#client);
      }
      throw error;
    } finally {
      this.#serveWaiters();
    }
  }

  /** The output passes the allowance: what still fits of this item, then a clear "length" ending. */
  #cutOff(item: Item, delta: string): IteratorResult<unknown> {
    const fit = Math.max(0, Math.floor(this.#limitChars) - this.#chars);
    const truncated = fit > 0 ? truncate(this.#chat ? "chat" : "responses", item, delta, fit) : undefined;
    this.#crossing = item;
    if (truncated === undefined) return this.#cutOffEnd();
    this.#chars += fit;
    this.#items?.push(truncated);
    this.#state = CUT_PENDING;
    return { done: false, value: truncated };
  }

  #cutOffEnd(): IteratorResult<unknown> {
    this.#state = CUT_FINAL;
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

/** A chat delta's text other than its content (refusal, tool-call arguments), or undefined. */
function otherChatText(delta: Item): string | undefined {
  if (delta === undefined || delta === null) return undefined;
  if (typeof delta.refusal === "string" && delta.refusal.length > 0) return delta.refusal;
  const args = delta.tool_calls?.[0]?.function?.arguments;
  return typeof args === "string" && args.length > 0 ? args : undefined;
}

function responsesDelta(event: Item): string | undefined {
  const type = event?.type;
  if (typeof type !== "string" || !type.endsWith(".delta")) return undefined;
  return typeof event.delta === "string" && event.delta.length > 0 ? event.delta : undefined;
}

function responsesUsage(event: Item): UsageReport | undefined {
  const type = event?.type;
  if (type === "response.completed" || type === "response.incomplete" || type === "response.failed") {
    return usageReport("responses", event.response?.usage);
  }
  return undefined;
}
