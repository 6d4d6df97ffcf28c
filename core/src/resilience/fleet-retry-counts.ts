import type { StateChange, StateStore, StateValue } from "../store/state-store.js";

/** State-store kind of the retry-budget counts each engine of a fleet publishes. */
export const RETRY_COUNTS_KIND = "retry-budget";

/** Another engine's counts for one target: its buckets (slot = absolute bucket index % buckets) up to `head`. */
interface PeerCounts {
  readonly head: number;
  readonly firsts: readonly number[];
  readonly retries: readonly number[];
}

/** What one engine publishes for one target. */
export interface PublishedCounts {
  readonly head: number;
  readonly firsts: ArrayLike<number>;
  readonly retries: ArrayLike<number>;
}

/**
 * The retry-budget counts of the other engines sharing a state store (a fleet on Redis), so every engine
 * decides against one fleet-wide budget. Each engine publishes its own counts per target through the store
 * (at most once per bucket, from the calls themselves: no timers) and reads the others' from the store's
 * broadcasts; decisions stay local and synchronous. Record ids are `<engine>/<target>`.
 */
export class FleetRetryCounts {
  readonly engineId: string;
  readonly #store: StateStore;
  readonly #buckets: number;
  readonly #bucketMs: number;
  /** target → engine → counts. */
  readonly #peers = new Map<string, Map<string, PeerCounts>>();
  readonly #maxTargets: number;

  constructor(store: StateStore, options: { buckets: number; bucketMs: number; maxTargets: number }) {
    this.#store = store;
    this.#buckets = options.buckets;
    this.#bucketMs = options.bucketMs;
    this.#maxTargets = options.maxTargets;
    this.engineId = newEngineId();
    for (const [id, value] of store.listState(RETRY_COUNTS_KIND)) this.#apply(id, value);
    store.subscribe((change) => this.#onChange(change));
  }

  /** Writes this engine's counts for `target` (they expire once all of them have left every window). */
  publish(target: string, counts: PublishedCounts): void {
    const value: StateValue = {
      head: counts.head,
      firsts: Array.from(counts.firsts),
      retries: Array.from(counts.retries),
    };
    const expiresAtMs = (counts.head + this.#buckets + 1) * this.#bucketMs;
    this.#store.putState(RETRY_COUNTS_KIND, `${this.engineId}/${target}`, value, expiresAtMs);
  }

  /** The other engines' first attempts and retries at `target` in the window ending at bucket `head`. */
  sum(target: string, head: number): { firsts: number; retries: number } {
    let firsts = 0;
    let retries = 0;
    const peers = this.#peers.get(target);
    if (peers === undefined) return { firsts, retries };
    const oldest = head - this.#buckets + 1;
    for (const [engine, counts] of peers) {
      if (counts.head < oldest) {
        peers.delete(engine); // all of it has left the window (the engine went quiet or away)
        continue;
      }
      const from = Math.max(oldest, counts.head - this.#buckets + 1);
      const to = Math.min(head, counts.head);
      for (let index = from; index <= to; index++) {
        const slot = index % this.#buckets;
        firsts += counts.firsts[slot] ?? 0;
        retries += counts.retries[slot] ?? 0;
      }
    }
    if (peers.size === 0) this.#peers.delete(target);
    return { firsts, retries };
  }

  /** Engines other than this one that have counts in the store. */
  get peerEngines(): number {
    const engines = new Set<string>();
    for (const peers of this.#peers.values()) for (const engine of peers.keys()) engines.add(engine);
    return engines.size;
  }

  #onChange(change: StateChange): void {
    if (change.kind === RETRY_COUNTS_KIND) this.#apply(change.id, change.value);
  }

  #apply(id: string, value: StateValue | undefined): void {
    const slash = id.indexOf("/");
    if (slash <= 0) return;
    const engine = id.slice(0, slash);
    if (engine === this.engineId) return;
    const target = id.slice(slash + 1);
    if (value === undefined) {
      const peers = this.#peers.get(target);
      peers?.delete(engine);
      if (peers?.size === 0) this.#peers.delete(target);
      return;
    }
    const counts = asCounts(value, this.#buckets);
    if (counts === undefined) return;
    let peers = this.#peers.get(target);
    if (peers === undefined) {
      if (this.#peers.size >= this.#maxTargets) {
        const oldest = this.#peers.keys().next().value as string;
        this.#peers.delete(oldest);
      }
      peers = new Map();
      this.#peers.set(target, peers);
    }
    peers.set(engine, counts);
  }
}

function asCounts(value: StateValue, buckets: number): PeerCounts | undefined {
  const { head, firsts, retries } = value as { head?: unknown; firsts?: unknown; retries?: unknown };
  if (typeof head !== "number" || !Number.isInteger(head)) return undefined;
  if (!isCounts(firsts, buckets) || !isCounts(retries, buckets)) return undefined;
  return { head, firsts, retries };
}

function isCounts(value: unknown, buckets: number): value is number[] {
  return (
    Array.isArray(value) &&
    value.length === buckets &&
    value.every((n) => typeof n === "number" && Number.isInteger(n) && n >= 0)
  );
}

/** An id for this engine instance (no `node:` import: core runs on edge runtimes too). */
function newEngineId(): string {
  const uuid = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto?.randomUUID?.();
  return uuid ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
