import { type Duration, parseDuration } from "../duration.js";
import { ConfigError } from "../errors.js";
import { requirePositiveInteger } from "../validate.js";

/**
 * A map with a hard size bound and idle eviction, for state keyed by names that come from untrusted input
 * (agent ids, tool and model names from models and MCP peers). Entries live in two generations: a lookup
 * finds an entry in the current one, or moves it there from the previous one. The generations turn over
 * when the current one holds half the bound, and at the latest every `idleMs / 2` (checked by `tick`, on
 * the clock the caller passes): the previous generation is then dropped, except the entries `retain` keeps
 * (a call in flight, a quarantine), which move on. So an entry unused for `idleMs` — or pushed out by
 * `maxEntries` newer ones — is gone, with O(1) work per lookup and O(1) amortised per eviction; no list is
 * reordered on a hit.
 */
export class GenerationTable<V> {
  readonly maxEntries: number;
  readonly idleMs: number;
  readonly #retain: (value: V, nowMs: number) => boolean;
  readonly #evict: (key: string, value: V) => void;
  readonly #onTurnOver: (() => void) | undefined;
  #current = new Map<string, V>();
  #previous = new Map<string, V>();
  #turnAtMs: number;
  #evicted = 0;

  constructor(
    maxEntries: number,
    idleMs: number,
    nowMs: number,
    retain: (value: V, nowMs: number) => boolean,
    evict: (key: string, value: V) => void,
    /**
     * Called after each turn-over (a holder that keeps an entry without looking it up learns here that the
     * entry may since have been dropped: see `EngineContext.agentsToken`).
     */
    onTurnOver?: () => void,
  ) {
    this.maxEntries = maxEntries;
    this.idleMs = idleMs;
    this.#retain = retain;
    this.#evict = evict;
    this.#onTurnOver = onTurnOver;
    this.#turnAtMs = nowMs + idleMs / 2;
  }

  get(key: string): V | undefined {
    const value = this.#current.get(key);
    if (value !== undefined) return value;
    return this.#promote(key);
  }

  /** Adds an entry (the key must not be present). May turn the generations over. */
  add(key: string, value: V, nowMs: number): void {
    this.#current.set(key, value);
    if (this.#current.size * 2 >= this.maxEntries) this.turnOver(nowMs);
  }

  /** When the generations turn over at the latest (`tick`). */
  get turnAtMs(): number {
    return this.#turnAtMs;
  }

  /** Turns the generations over when the current one is `idleMs / 2` old. One comparison otherwise. */
  tick(nowMs: number): void {
    if (nowMs >= this.#turnAtMs) this.turnOver(nowMs);
  }

  /** Drops the previous generation (but what `retain` keeps) and starts a new one. */
  turnOver(nowMs: number): void {
    const previous = this.#previous;
    const current = this.#current;
    for (const [key, value] of previous) {
      if (this.#retain(value, nowMs)) current.set(key, value);
      else {
        this.#evicted++;
        this.#evict(key, value);
      }
    }
    previous.clear();
    this.#previous = current;
    this.#current = previous;
    this.#turnAtMs = nowMs + this.idleMs / 2;
    this.#onTurnOver?.();
  }

  has(key: string): boolean {
    return this.#current.has(key) || this.#previous.has(key);
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  /** Entries evicted so far (idle or pushed out). */
  get evicted(): number {
    return this.#evicted;
  }

  *keys(): IterableIterator<string> {
    yield* this.#previous.keys();
    yield* this.#current.keys();
  }

  *values(): IterableIterator<V> {
    yield* this.#previous.values();
    yield* this.#current.values();
  }

  *entries(): IterableIterator<[string, V]> {
    yield* this.#previous.entries();
    yield* this.#current.entries();
  }

  #promote(key: string): V | undefined {
    const value = this.#previous.get(key);
    if (value === undefined) return undefined;
    this.#previous.delete(key);
    this.#current.set(key, value);
    return value;
  }
}

/** `new AgentSRE({ memory })`: how much per-agent and per-target state the engine keeps. */
export interface MemoryOptions {
  /**
   * Agents tracked at most (engine state, agent breaker, detector signals). Beyond it the agents unused
   * longest are forgotten. Default 100,000.
   */
  maxAgents?: number;
  /** Tool names and model names tracked at most, each (their breakers). Default 10,000. */
  maxTargets?: number;
  /**
   * An agent, tool or model unused this long is forgotten (between `idleMs / 2` and `idleMs` after its
   * last call). Agents with calls in flight, quarantined agents and agents whose breaker is not CLOSED are
   * kept. Default 1 h.
   */
  idleMs?: Duration;
}

export interface MemoryBounds {
  readonly maxAgents: number;
  readonly maxTargets: number;
  readonly idleMs: number;
}

export function resolveMemoryBounds(options: MemoryOptions | undefined): MemoryBounds {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new ConfigError("memory", options, "an object { maxAgents?, maxTargets?, idleMs? }");
  }
  return {
    maxAgents: requirePositiveInteger(options?.maxAgents ?? 100_000, "memory.maxAgents"),
    maxTargets: requirePositiveInteger(options?.maxTargets ?? 10_000, "memory.maxTargets"),
    idleMs: parseDuration(options?.idleMs ?? 3_600_000, "memory.idleMs"),
  };
}

/**
 * The budget's bounds for its per-agent records (`CostGuardOptions.memory`): the engine's `maxAgents`, and
 * its `idleMs` but never under two days — a record carries the agent's cost-anomaly baseline, which learns
 * from runs hours apart; forgetting it after an idle hour would blind the anomaly detector to periodic agents.
 */
export function budgetMemoryOf(bounds: MemoryBounds): { maxAgents: number; idleMs: number } {
  return { maxAgents: bounds.maxAgents, idleMs: Math.max(bounds.idleMs, BUDGET_MIN_IDLE_MS) };
}

export const BUDGET_MIN_IDLE_MS = 2 * 86_400_000;

/** How many entries the engine's bounded tables hold now (`status().tracked`). */
export interface TrackedEntries {
  /** Agents with engine state (and an agent breaker and detector signals). */
  agents: number;
  /** Tool and model names with a target breaker. */
  tools: number;
  models: number;
  /** Every breaker in the registry (agents, targets, upstreams). */
  breakers: number;
  /** Agents the rogue detector holds signals for. */
  detectorAgents: number;
  /** Retry-budget targets (capped by `retryBudget.maxTargets`). */
  retryTargets: number;
  /** Agents forgotten so far (idle, or pushed out by `memory.maxAgents`). */
  evictedAgents: number;
  /** Agents the budget holds a record for (kill/throttle flags, anomaly baseline, today's detail). */
  budgetAgents: number;
}
