/**
 * Which attempt a call is, told from the request object an adapter sees: a framework's retry hands the same
 * request (the same prompt array, the same tool call object) to the model or tool again after a failed
 * attempt, while a new step builds new ones. Only failed attempts are remembered, so a call that succeeds
 * (the usual case) writes nothing — and until something has failed, nothing is even looked up. A `variant`
 * (e.g. the model a fallback middleware switched to) makes its own first attempt with the same request.
 */
export class FailedAttempts {
  readonly #failed = new WeakMap<object, Map<string, number>>();
  #anyFailed = false;

  /** The attempt number of a call with this request: 1, or one more than the last failed attempt. */
  attemptOf(request: object, variant = ""): number {
    if (!this.#anyFailed) return 1;
    return (this.#failed.get(request)?.get(variant) ?? 0) + 1;
  }

  /** Records that attempt `attempt` of a call with this request failed. */
  failed(request: object, attempt: number, variant = ""): void {
    this.#anyFailed = true;
    let byVariant = this.#failed.get(request);
    if (byVariant === undefined) {
      byVariant = new Map();
      this.#failed.set(request, byVariant);
    }
    byVariant.set(variant, attempt);
  }
}
