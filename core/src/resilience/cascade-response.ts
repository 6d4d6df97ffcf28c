import type { Clock } from "../clock.js";
import { type Duration, parseDuration } from "../duration.js";
import { AgentThrottledError, ConfigError } from "../errors.js";
import type { RetryBudget } from "./retry-budget.js";

/**
 * What the engine does when a cascade is detected (`breaker.cascade`: enough breakers open at once):
 * - `shed-retries`: every tagged retry is refused (`RETRY_BUDGET_EXCEEDED`) — retries feed the storm;
 * - `open-upstream`: the failing dependencies' breakers among the open ones (`upstream:*`, else `tool:*` /
 *   `model:*`) are held OPEN for the whole fleet (no half-open probes from every agent at once);
 * - `slow-new-tasks`: calls of tasks first seen during the cascade are refused with `AGENT_THROTTLED`
 *   and `retryAfterMs` (work already under way continues; new work waits).
 * The response lifts itself once fewer than the cascade threshold of the other breakers are open (they
 * closed), releasing what it held open.
 */
export type CascadeAction = "shed-retries" | "open-upstream" | "slow-new-tasks";

export const CASCADE_ACTIONS: readonly CascadeAction[] = ["shed-retries", "open-upstream", "slow-new-tasks"];

export interface CascadeResponseOptions {
  actions: CascadeAction[];
  /** `slow-new-tasks`: how long a new task is told to wait. Default 5 s. */
  newTaskDelayMs?: Duration;
  /** Task ids remembered to tell new tasks from running ones (oldest forgotten first). Default 10,000. */
  maxTrackedTasks?: number;
}

/** What the response needs from the engine (kept narrow so it stays testable on its own). */
export interface CascadeResponseHost {
  readonly clock: Clock;
  readonly retryBudget: RetryBudget | undefined;
  /** Ids of the breakers now OPEN. */
  openBreakers(): string[];
  cascadeThreshold(): number;
  forceOpen(breakerId: string, reason: string): void;
  /** Releases a breaker the response held open (back to CLOSED, counting anew). */
  release(breakerId: string): void;
  emit(event: "cascade.response", payload: CascadeResponseEvent): void;
  emit(event: "cascade.lifted", payload: { at: number; actions: CascadeAction[]; durationMs: number }): void;
}

export interface CascadeResponseEvent {
  at: number;
  actions: CascadeAction[];
  openBreakers: string[];
  /** Breakers held open for the fleet (`open-upstream`). */
  held: string[];
}

export class CascadeResponse {
  readonly actions: ReadonlySet<CascadeAction>;
  readonly newTaskDelayMs: number;
  readonly #host: CascadeResponseHost;
  readonly #maxTasks: number;
  /** Tasks seen (insertion order, for eviction). */
  readonly #tasks = new Set<string>();
  #activeSince: number | undefined;
  #held: string[] = [];
  #checking = false;

  constructor(options: CascadeResponseOptions, host: CascadeResponseHost) {
    if (!Array.isArray(options.actions) || options.actions.length === 0)
      throw new ConfigError(
        "cascade.actions",
        options.actions,
        `a non-empty list of ${CASCADE_ACTIONS.join(", ")}`,
      );
    for (const action of options.actions) {
      if (!CASCADE_ACTIONS.includes(action))
        throw new ConfigError("cascade.actions[]", action, CASCADE_ACTIONS.join(", "));
    }
    this.actions = new Set(options.actions);
    this.newTaskDelayMs = parseDuration(options.newTaskDelayMs ?? 5_000, "cascade.newTaskDelayMs");
    this.#maxTasks = options.maxTrackedTasks ?? 10_000;
    this.#host = host;
  }

  get active(): boolean {
    return this.#activeSince !== undefined;
  }

  /** Breakers the response holds open. */
  get held(): readonly string[] {
    return this.#held;
  }

  /** The registry saw a cascade. */
  onCascade(openBreakers: readonly string[]): void {
    if (this.#activeSince !== undefined) return;
    const host = this.#host;
    this.#activeSince = host.clock.now();
    if (this.actions.has("shed-retries")) host.retryBudget?.shed("a cascade is under way: retries are shed");
    if (this.actions.has("open-upstream")) {
      const upstreams = openBreakers.filter((id) => id.startsWith("upstream:"));
      const targets =
        upstreams.length > 0
          ? upstreams
          : openBreakers.filter((id) => id.startsWith("tool:") || id.startsWith("model:"));
      for (const id of targets) host.forceOpen(id, "cascade response: held open for the fleet");
      this.#held = targets;
    }
    host.emit("cascade.response", {
      at: this.#activeSince,
      actions: [...this.actions],
      openBreakers: [...openBreakers],
      held: [...this.#held],
    });
  }

  /** A breaker closed or went half-open: lift the response once the cascade is over. */
  onBreakerRecovered(): void {
    if (this.#activeSince === undefined || this.#checking) return;
    const host = this.#host;
    const held = new Set(this.#held);
    // Reading the breakers' states moves the ones whose recovery time has come to half-open, each
    // announcing it: those nested calls are this one, so they are ignored and the response lifts once.
    this.#checking = true;
    let stillOpen: number;
    try {
      stillOpen = host.openBreakers().filter((id) => !held.has(id)).length;
    } finally {
      this.#checking = false;
    }
    if (stillOpen >= host.cascadeThreshold()) return;
    const since = this.#activeSince;
    this.#activeSince = undefined;
    if (this.actions.has("shed-retries")) host.retryBudget?.resume();
    const release = this.#held;
    this.#held = [];
    for (const id of release) host.release(id);
    const at = host.clock.now();
    host.emit("cascade.lifted", { at, actions: [...this.actions], durationMs: at - since });
  }

  /**
   * For `slow-new-tasks`: the refusal for a call of a task first seen during the cascade, else undefined.
   * Every task seen is remembered, so one admitted before the cascade keeps going.
   */
  admitTask(agentId: string, taskId: string | undefined): AgentThrottledError | undefined {
    if (taskId === undefined || !this.actions.has("slow-new-tasks")) return undefined;
    const key = `${agentId}\u0000${taskId}`;
    if (this.#tasks.has(key)) return undefined;
    if (this.#activeSince !== undefined) {
      return new AgentThrottledError(agentId, this.newTaskDelayMs, "a cascade is under way: new tasks wait");
    }
    if (this.#tasks.size >= this.#maxTasks) this.#tasks.delete(this.#tasks.values().next().value as string);
    this.#tasks.add(key);
    return undefined;
  }
}
