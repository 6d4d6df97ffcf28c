/**
 * A sliding window of call outcomes with running totals, so reading a failure or slow-call rate is O(1).
 * Implementations subtract what they evict instead of re-summing.
 */
export interface OutcomeWindow {
  readonly type: "count" | "time";
  /** Outcomes currently in the window (as of the last `record` or `sync`). */
  readonly calls: number;
  readonly failures: number;
  readonly slowCalls: number;
  record(failed: boolean, slow: boolean): void;
  /** Drops outcomes that have aged out (time windows); a no-op for count windows. */
  sync(): void;
  reset(): void;
  /** What the window holds, compact, for a state store (a restart resumes the same decisions). */
  exportSummary(): WindowSummary;
  /** Takes a summary `exportSummary()` wrote; false (changing nothing) for another shape or a malformed one. */
  importSummary(summary: unknown): boolean;
}

/**
 * A window's contents as JSON: a count window's outcomes oldest first, one digit each (bit 0 failed, bit 1
 * slow: `"0"` ok … `"3"` failed and slow); a time window's non-empty buckets as
 * `[bucket number, calls, failures, slow calls]` with the bucket size they were counted in.
 */
export type WindowSummary =
  | { type: "count"; outcomes: string }
  | { type: "time"; bucketMs: number; buckets: Array<[number, number, number, number]> };

/** JSON view of a window, as in `snapshot()`. Rates are 0 when the window is empty. */
export interface WindowStats {
  type: "count" | "time";
  calls: number;
  failures: number;
  slowCalls: number;
  failureRate: number;
  slowCallRate: number;
}

export function windowStats(window: OutcomeWindow): WindowStats {
  window.sync();
  const { calls, failures, slowCalls } = window;
  return {
    type: window.type,
    calls,
    failures,
    slowCalls,
    failureRate: calls === 0 ? 0 : failures / calls,
    slowCallRate: calls === 0 ? 0 : slowCalls / calls,
  };
}
