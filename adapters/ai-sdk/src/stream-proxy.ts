import type { Part } from "./stream-parts.js";
import type { StreamTap } from "./stream-tap.js";

const proto = ReadableStream.prototype;
const noop = () => {};

type Result = ReadableStreamReadResult<Part>;

/** The stream handed to the SDK in place of the provider's: the provider's own, its reads observed by `tap`. */
export function tapped(stream: ReadableStream<Part>, tap: StreamTap): ReadableStream<Part> {
  return new Proxy(stream, new TapHandler(tap));
}

const TAP = Symbol("agentSreStreamTap");

type Tapped = ReadableStream<Part> & { [TAP]: StreamTap };

/**
 * What a tapped stream answers instead of ReadableStream's own methods (`this` is the proxy; `this[TAP]` its
 * tap, whose `stream` is the provider's). Reading through `getReader()` or piping (`pipeThrough` / `pipeTo`
 * without options, as streamText does) observes every part on its way with no stream of our own in between;
 * the rest (`tee`, async iteration, pipes with options) read through one extra stream over the same observed
 * reader.
 */
const TAPPED_METHODS: Record<PropertyKey, unknown> = {
  getReader(this: Tapped, options?: { mode?: string }) {
    const tap = this[TAP];
    // Model streams carry objects: a BYOB reader is refused by the stream itself.
    if (options?.mode !== undefined)
      return (proto.getReader as (o: unknown) => unknown).call(tap.stream, options);
    return tap.reader(tap.stream);
  },
  pipeThrough(
    this: Tapped,
    transform: { writable: WritableStream<Part>; readable: ReadableStream<unknown> },
    options?: StreamPipeOptions,
  ) {
    const tap = this[TAP];
    const stream = tap.stream;
    if (hasPipeOptions(options)) return tap.layered(stream).pipeThrough(transform, options);
    // Locking both ends throws the TypeError of a locked stream, as pipeThrough does.
    tap.pump(tap.lock(stream, transform.writable)).catch(noop);
    return transform.readable;
  },
  pipeTo(this: Tapped, destination: WritableStream<Part>, options?: StreamPipeOptions) {
    const tap = this[TAP];
    const stream = tap.stream;
    if (hasPipeOptions(options)) return tap.layered(stream).pipeTo(destination, options);
    let writer: WritableStreamDefaultWriter<Part>;
    try {
      writer = tap.lock(stream, destination);
    } catch (error) {
      return Promise.reject(error);
    }
    return tap.pump(writer);
  },
  tee(this: Tapped) {
    const tap = this[TAP];
    return tap.layered(tap.stream).tee();
  },
  values(this: Tapped, options?: { preventCancel?: boolean }) {
    const tap = this[TAP];
    return (tap.layered(tap.stream) as unknown as { values(o: unknown): unknown }).values(options);
  },
  [Symbol.asyncIterator](this: Tapped, options?: { preventCancel?: boolean }) {
    const tap = this[TAP];
    return (tap.layered(tap.stream) as unknown as { values(o: unknown): unknown }).values(options);
  },
  cancel(this: Tapped, reason?: unknown) {
    const tap = this[TAP];
    if (tap.stream.locked) return Promise.reject(new TypeError("ReadableStream is locked"));
    return tap.cancelUnread(tap.stream, reason);
  },
};

/**
 * The proxy in front of the provider's stream. The stream object itself is left as it is: adding a property
 * or changing its prototype would slow every internal Web Streams access to it (~5 µs a call in Node 20).
 */
class TapHandler implements ProxyHandler<ReadableStream<Part>> {
  readonly #tap: StreamTap;

  constructor(tap: StreamTap) {
    this.#tap = tap;
  }

  get(target: ReadableStream<Part>, key: PropertyKey): unknown {
    if (key === TAP) return this.#tap;
    const method = TAPPED_METHODS[key as string];
    if (method !== undefined) return method;
    // Everything else (`locked`, internals) is the stream's own, read on the stream itself.
    return Reflect.get(target, key, target);
  }
}

function hasPipeOptions(options: StreamPipeOptions | undefined): boolean {
  return (
    options !== undefined &&
    (options.signal !== undefined ||
      options.preventClose === true ||
      options.preventAbort === true ||
      options.preventCancel === true)
  );
}

/**
 * The reader handed out: `read` and `cancel` observed, the rest the provider's native reader's. Not a
 * ReadableStreamDefaultReader itself (nor a subclass, as it was): Node's web-stream internals (read, pull,
 * enqueue) optimize for the reader maps they meet, and a second map deoptimized them (`--trace-deopt`:
 * "wrong map" in readableStreamDefaultReaderRead, ...PullSteps, ...CallPullIfNeeded) and left them
 * polymorphic for every stream of the process — the SDK's own and the caller's too. Over a native reader
 * they keep seeing the one map. Its prototype chain has ReadableStreamDefaultReader's (`instanceof` holds);
 * every member of it is overridden, so no native method is called on this object.
 */
export class ObservedReader {
  readonly #tap: StreamTap;

  constructor(tap: StreamTap) {
    this.#tap = tap;
  }

  read(): Promise<Result> {
    return this.#tap.read();
  }

  cancel(reason?: unknown): Promise<void> {
    return this.#tap.cancel(reason);
  }

  releaseLock(): void {
    this.#tap.releaseLock();
  }

  get closed(): Promise<undefined> {
    return this.#tap.closed;
  }
}
Object.setPrototypeOf(ObservedReader.prototype, ReadableStreamDefaultReader.prototype);
