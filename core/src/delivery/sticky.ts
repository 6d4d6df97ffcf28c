interface Entry {
  candidate: boolean;
  expiresAt: number;
}

/**
 * Remembers which side a task key got, so a task that started on the baseline stays there when a
 * promotion widens the candidate's share mid-task. Bounded at `capacity` keys with two generations
 * (O(1), no iteration: V8 Maps iterated from the front after many deletions skip every hole): when the
 * current generation is half full it becomes the previous one and the older one is dropped; a key read
 * from the previous generation moves to the current one. A key idle for `ttlMs` expires. A dropped key
 * falls back to the pure hash assignment, which is the same answer unless a promotion happened since.
 */
export class StickyTable {
  #current = new Map<string, Entry>();
  #previous = new Map<string, Entry>();
  readonly #generationSize: number;
  readonly #ttlMs: number;

  constructor(capacity: number, ttlMs: number) {
    this.#generationSize = Math.max(1, Math.floor(capacity / 2));
    this.#ttlMs = ttlMs;
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  /** The remembered side (refreshing it), or undefined. */
  get(key: string, now: number): boolean | undefined {
    let entry = this.#current.get(key);
    if (entry === undefined) {
      entry = this.#previous.get(key);
      if (entry === undefined) return undefined;
      this.#previous.delete(key);
      if (entry.expiresAt > now) this.#insert(key, entry);
    }
    if (entry.expiresAt <= now) {
      this.#current.delete(key);
      return undefined;
    }
    entry.expiresAt = now + this.#ttlMs;
    return entry.candidate;
  }

  /** The remembered side without refreshing it (attribution of observations). */
  peek(key: string, now: number): boolean | undefined {
    const entry = this.#current.get(key) ?? this.#previous.get(key);
    return entry === undefined || entry.expiresAt <= now ? undefined : entry.candidate;
  }

  set(key: string, candidate: boolean, now: number): void {
    this.#previous.delete(key);
    const entry = this.#current.get(key);
    if (entry) {
      entry.candidate = candidate;
      entry.expiresAt = now + this.#ttlMs;
    } else {
      this.#insert(key, { candidate, expiresAt: now + this.#ttlMs });
    }
  }

  clear(): void {
    this.#current.clear();
    this.#previous.clear();
  }

  #insert(key: string, entry: Entry): void {
    if (this.#current.size >= this.#generationSize) {
      this.#previous = this.#current;
      this.#current = new Map();
    }
    this.#current.set(key, entry);
  }
}
