/**
 * Remembers which side a task key got, so a task that started on the baseline stays there when a
 * promotion widens the candidate's share mid-task. Bounded: least recently used keys are dropped past
 * `capacity`, and a key idle for `ttlMs` expires. A dropped key falls back to the pure hash assignment,
 * which is the same answer unless a promotion happened since.
 */
export class StickyTable {
  // Map iteration order is insertion order: re-inserting on access keeps the least recent first.
  readonly #entries = new Map<string, { candidate: boolean; expiresAt: number }>();
  readonly #capacity: number;
  readonly #ttlMs: number;

  constructor(capacity: number, ttlMs: number) {
    this.#capacity = capacity;
    this.#ttlMs = ttlMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The remembered side (refreshing it), or undefined. */
  get(key: string, now: number): boolean | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAt <= now) return undefined;
    entry.expiresAt = now + this.#ttlMs;
    this.#entries.set(key, entry);
    return entry.candidate;
  }

  /** The remembered side without refreshing it (attribution of observations). */
  peek(key: string, now: number): boolean | undefined {
    const entry = this.#entries.get(key);
    return entry === undefined || entry.expiresAt <= now ? undefined : entry.candidate;
  }

  set(key: string, candidate: boolean, now: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { candidate, expiresAt: now + this.#ttlMs });
    // The oldest entries are first; drop expired ones and anything over capacity.
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.#capacity && entry.expiresAt > now) break;
      this.#entries.delete(oldest);
    }
  }

  clear(): void {
    this.#entries.clear();
  }
}
