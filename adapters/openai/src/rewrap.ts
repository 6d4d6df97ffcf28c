/** A stream the SDK (or a client-like) returned: an async iterable, the SDK's `Stream` with its controller. */
export interface StreamLike extends AsyncIterable<unknown> {
  controller?: AbortController;
  tee?: unknown;
  toReadableStream?: unknown;
}

type SdkStreamClass = new (
  iterator: () => AsyncIterator<unknown>,
  controller: AbortController | undefined,
  client?: unknown,
) => unknown;

/**
 * The guarded stream: a new instance of the SDK's own `Stream` class when the source is one (so `tee()`,
 * `toReadableStream()` and `controller` keep working), otherwise — a client-like's plain async iterable
 * (an async generator, a custom object) — a generator over the guarded items, or an object that iterates
 * them and inherits everything else from the source.
 */
export function rewrap(
  stream: StreamLike,
  observe: () => AsyncIterableIterator<unknown>,
  client: unknown,
): unknown {
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
