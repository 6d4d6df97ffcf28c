import {
  type Clock,
  ConfigError,
  type Duration,
  fingerprintToolCall,
  LoopDetectedError,
  parseDuration,
} from "@agent-sre/core";

/**
 * Where identical calls count towards a loop:
 * - `task` (default): within one task (the call names it with the task header or `_meta` key); calls
 *   without a task are never refused as loops, so a client that polls a tool is not blocked;
 * - `session`: within one task, else within one client session;
 * - `agent`: across every session of the agent (the engine's own rule);
 * - `off`: never refused (loops still score in the rogue-agent assessment).
 */
export type LoopScope = "task" | "session" | "agent" | "off";

export interface LoopPolicyOptions {
  scope?: LoopScope;
  /** Identical calls (same tool, same arguments) within `windowMs` that make a loop (default 3). */
  repeats?: number;
  /** Default 60 s. */
  windowMs?: Duration;
  /** Scopes × distinct calls tracked; the oldest is forgotten first (default 10,000). */
  maxEntries?: number;
}

/** The K-th identical tool call within a window and a scope is refused with `LOOP_DETECTED`. */
export class LoopPolicy {
  readonly scope: LoopScope;
  readonly repeats: number;
  readonly windowMs: number;
  readonly #maxEntries: number;
  readonly #clock: Clock;
  /** key → the last `repeats` call times (a small ring), in insertion order for eviction. */
  readonly #seen = new Map<string, { times: number[]; next: number }>();

  constructor(options: LoopPolicyOptions, clock: Clock) {
    this.scope = options.scope ?? "task";
    if (!["task", "session", "agent", "off"].includes(this.scope))
      throw new ConfigError("loops.scope", this.scope, '"task", "session", "agent" or "off"');
    this.repeats = options.repeats ?? 3;
    if (!Number.isInteger(this.repeats) || this.repeats < 2)
      throw new ConfigError("loops.repeats", options.repeats, "an integer >= 2");
    this.windowMs = parseDuration(options.windowMs ?? 60_000, "loops.windowMs");
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#clock = clock;
  }

  /**
   * Records the call, or throws `LoopDetectedError` when it would be the `repeats`-th identical one in its
   * scope within the window (a refused call is not recorded).
   */
  check(agentId: string, sessionId: string, taskId: string | undefined, tool: string, input: unknown): void {
    let scopeKey: string;
    switch (this.scope) {
      case "off":
        return;
      case "task":
        if (taskId === undefined) return;
        scopeKey = `a:${agentId}\u0000t:${taskId}`;
        break;
      case "session":
        scopeKey = taskId === undefined ? `s:${sessionId}` : `a:${agentId}\u0000t:${taskId}`;
        break;
      default:
        scopeKey = `a:${agentId}`;
    }
    const key = `${scopeKey}\u0000${fingerprintToolCall(tool, input)}`;
    const now = this.#clock.now();
    let entry = this.#seen.get(key);
    if (entry !== undefined) {
      let recent = 0;
      for (const time of entry.times) if (now - time < this.windowMs) recent++;
      if (recent + 1 >= this.repeats) throw new LoopDetectedError(agentId, tool, recent + 1);
    } else {
      if (this.#seen.size >= this.#maxEntries) {
        const oldest = this.#seen.keys().next().value as string;
        this.#seen.delete(oldest);
      }
      entry = { times: new Array<number>(this.repeats - 1).fill(Number.NEGATIVE_INFINITY), next: 0 };
      this.#seen.set(key, entry);
    }
    entry.times[entry.next] = now;
    entry.next = (entry.next + 1) % entry.times.length;
  }

  get size(): number {
    return this.#seen.size;
  }
}
