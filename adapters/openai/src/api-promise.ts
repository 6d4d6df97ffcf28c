/** How the caller reads a call: the parsed data (`await`, `.withResponse()`) or the raw `Response`. */
export type ParseMode = "data" | "response";

/** What a guarded call produced. */
export interface Outcome {
  data: unknown;
  response: Response | undefined;
  requestId: string | null;
  /** The SDK's parse props (for `_thenUnwrap`, which the SDK's own helpers use). */
  props: unknown;
}

/**
 * What a guarded `create()` returns: like the SDK's `APIPromise` — awaitable for the data, with
 * `.withResponse()`, `.asResponse()` and the `_thenUnwrap()` the SDK's helpers (`parse`, `stream`,
 * `runTools`) chain on `create()`. The work starts at once; how the body is read is chosen by the calls
 * chained on it synchronously.
 */
export class GuardedAPIPromise<T = unknown> extends Promise<T> {
  // `then()` on this promise must return plain promises, not build another GuardedAPIPromise.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  #mode: ParseMode = "data";
  readonly #outcome: Promise<Outcome>;

  constructor(start: ((mode: () => ParseMode) => Promise<Outcome>) | Promise<Outcome>) {
    // Resolved with a placeholder: every read goes through the overridden then() (as the SDK's APIPromise).
    super((resolve) => resolve(undefined as T));
    this.#outcome = typeof start === "function" ? start(() => this.#mode) : start;
    // Failures reach the caller through then()/withResponse(); never as an unhandled rejection.
    this.#outcome.catch(() => {});
  }

  // biome-ignore lint/suspicious/noThenProperty: an awaitable with the SDK's APIPromise surface
  override then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#outcome.then((outcome) => outcome.data as T).then(onfulfilled, onrejected);
  }

  override catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onrejected);
  }

  override finally(onfinally?: (() => void) | null): Promise<T> {
    return this.then().finally(onfinally);
  }

  /** The parsed data, the raw `Response` and the request id. */
  withResponse(): Promise<{ data: T; response: Response; request_id: string | null }> {
    return this.#outcome.then((outcome) => ({
      data: outcome.data as T,
      response: outcome.response as Response,
      request_id: outcome.requestId,
    }));
  }

  /**
   * The raw `Response` (chain it on `create()` directly). Usage is read from a copy of a JSON body; for a
   * raw stream the reservation (the estimate) is charged.
   */
  asResponse(): Promise<Response> {
    this.#mode = "response";
    return this.#outcome.then((outcome) => outcome.response as Response);
  }

  /** @internal The SDK's helpers transform the data of `create()` with this. */
  _thenUnwrap<U>(transform: (data: T, props: unknown) => U): GuardedAPIPromise<U> {
    return new GuardedAPIPromise<U>(
      this.#outcome.then((outcome) => ({ ...outcome, data: transform(outcome.data as T, outcome.props) })),
    );
  }
}
