import { ConfigError } from "@agent-sre/core";
import type { Redis } from "ioredis";
import { OUTBOX_ADOPT, OUTBOX_CLAIM, OUTBOX_PUT, OUTBOX_REMOVE } from "./outbox-scripts.js";

/**
 * The alert outbox of `@agent-sre/alerts` in the fleet's Redis: it satisfies `AlertOutboxStore` structurally
 * (this package does not depend on the alerts package), including the shared-store methods `claim` and
 * `adopt`, so a fleet of processes sharing one Redis delivers each notification once.
 *
 * - Entries and alert state belong to the process that wrote them (its `RedisStore.instanceId`), which keeps a
 *   `live:` lease in Redis while it runs (`ownerLeaseMs`, renewed every third of it). A process that closes
 *   drops its lease at once; one that crashes loses it when the lease runs out. Either way the others take
 *   over its undelivered entries (with their attempts and retry times) and its alert state (`adopt`, every
 *   `adoptIntervalMs`), so a page queued by a dead process is delivered by a live one.
 * - Before each attempt the deliverer claims the entry (`claim:<id>`, SET … PX for the request's timeout and a
 *   margin): no two processes ever send the same entry at once, and an entry taken over elsewhere is dropped.
 * - Two processes that see the same alert build the same notification for its group (same receiver, group
 *   key, firing and resolved fingerprints): the first claim records it for the group (`sent:<group>`), and the
 *   other's is a duplicate within the route's repeat interval, dropped. So the fleet pages once, with the
 *   same dedup_key, and resolves once.
 * - Every key lives under the store's `keyPrefix` and expires: leases and claims by themselves, the group
 *   records after the repeat interval, and the outbox, state, owners and dead letters `retentionMs` after
 *   their last write.
 */
export interface RedisOutboxStoreOptions {
  /** Dead letters kept (the oldest go first). Default 1000. */
  maxDeadLetters?: number;
  /** How long a process that stops renewing (crashed) still owns its entries and alert state (ms). Default 15 s. */
  ownerLeaseMs?: number;
  /** How often a running AlertManager takes over what departed processes left (ms). Default 5 s. */
  adoptIntervalMs?: number;
  /** Outbox, alert state, owners and dead letters expire this long after their last write (ms). Default 7 days. */
  retentionMs?: number;
}

export interface RedisOutboxEntry {
  id: string;
  createdAt: number;
  attempts?: number;
  dedup?: { group: string; signature: string; windowMs: number };
}

type ClaimVerdict = "ok" | "duplicate" | "gone" | { retryInMs: number };

type Scripted = Redis & {
  agentSreOutboxPut(...args: Array<string | number>): Promise<number>;
  agentSreOutboxClaim(...args: Array<string | number>): Promise<[string, number?]>;
  agentSreOutboxRemove(...args: Array<string | number>): Promise<number>;
  agentSreOutboxAdopt(...args: Array<string | number>): Promise<[string[], string[]]>;
};

const DAY_MS = 86_400_000;

export class RedisOutboxStore {
  /** Every process of the fleet on this Redis and key prefix shares the outbox. */
  readonly adoptIntervalMs: number;
  readonly ownerLeaseMs: number;
  readonly #redis: Scripted;
  readonly #me: string;
  readonly #p: string;
  readonly #maxDeadLetters: number;
  readonly #retentionMs: number;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #closed = false;

  /** Made by `RedisStore.alertOutbox()` on the store's command connection, as the store's process. */
  constructor(redis: Redis, keyPrefix: string, owner: string, options: RedisOutboxStoreOptions = {}) {
    this.#maxDeadLetters = positive(options.maxDeadLetters ?? 1000, "maxDeadLetters");
    this.ownerLeaseMs = positive(options.ownerLeaseMs ?? 15_000, "ownerLeaseMs");
    this.adoptIntervalMs = positive(options.adoptIntervalMs ?? 5_000, "adoptIntervalMs");
    this.#retentionMs = positive(options.retentionMs ?? 7 * DAY_MS, "retentionMs");
    this.#me = owner;
    this.#p = `${keyPrefix}alerts:`;
    redis.defineCommand("agentSreOutboxPut", { numberOfKeys: 3, lua: OUTBOX_PUT });
    redis.defineCommand("agentSreOutboxClaim", { numberOfKeys: 4, lua: OUTBOX_CLAIM });
    redis.defineCommand("agentSreOutboxRemove", { numberOfKeys: 3, lua: OUTBOX_REMOVE });
    redis.defineCommand("agentSreOutboxAdopt", { numberOfKeys: 4, lua: OUTBOX_ADOPT });
    this.#redis = redis as Scripted;
    void this.#renew();
    this.#heartbeat = setInterval(() => void this.#renew(), Math.max(1, Math.floor(this.ownerLeaseMs / 3)));
    this.#heartbeat.unref();
  }

  /** This process's id in the outbox (the `RedisStore.instanceId`). */
  get owner(): string {
    return this.#me;
  }

  async put(entry: RedisOutboxEntry): Promise<void> {
    await this.#redis.agentSreOutboxPut(
      this.#k("outbox"),
      this.#k("owner"),
      this.#k(`claim:${entry.id}`),
      entry.id,
      this.#me,
      JSON.stringify(entry),
      this.#retentionMs,
    );
  }

  async remove(id: string): Promise<void> {
    await this.#redis.agentSreOutboxRemove(this.#k("outbox"), this.#k("owner"), this.#k(`claim:${id}`), id);
  }

  /** This process's undelivered entries and those of departed processes (taken over now), oldest first. */
  async pending<T extends RedisOutboxEntry = RedisOutboxEntry>(): Promise<T[]> {
    const [entries] = await this.#adopt("all");
    return sortEntries(entries.map((text) => JSON.parse(text) as T));
  }

  /** Takes over what processes that departed since the last call left: their entries and alert state. */
  async adopt<T extends RedisOutboxEntry = RedisOutboxEntry>(): Promise<{
    entries: T[];
    state: Record<string, unknown>;
  }> {
    const [entries, state] = await this.#adopt("adopted");
    return { entries: sortEntries(entries.map((text) => JSON.parse(text) as T)), state: pairs(state) };
  }

  /** Asks for the right to make the next delivery attempt of `entry` (see `AlertOutboxStore.claim`). */
  async claim(entry: RedisOutboxEntry, options: { leaseMs: number; now: number }): Promise<ClaimVerdict> {
    const dedup = entry.dedup;
    const [verdict, pttl] = await this.#redis.agentSreOutboxClaim(
      this.#k("outbox"),
      this.#k("owner"),
      this.#k(`claim:${entry.id}`),
      this.#k(`sent:${dedup?.group ?? ""}`),
      entry.id,
      this.#me,
      Math.max(1, Math.ceil(options.leaseMs)),
      Math.floor(options.now),
      entry.attempts ?? 0,
      dedup?.signature ?? "",
      Math.max(0, Math.floor(dedup?.windowMs ?? 0)),
    );
    if (verdict === "held") return { retryInMs: Math.max(1, Number(pttl)) };
    return verdict as Exclude<ClaimVerdict, object>;
  }

  async deadLetter(record: unknown): Promise<void> {
    const key = this.#k("dead");
    await this.#redis
      .multi()
      .lpush(key, JSON.stringify(record))
      .ltrim(key, 0, this.#maxDeadLetters - 1)
      .pexpire(key, this.#retentionMs)
      .exec();
  }

  /** The most recent dead letters (every process's), newest last. */
  async deadLetters<T = unknown>(limit = 100): Promise<T[]> {
    const texts = await this.#redis.lrange(this.#k("dead"), 0, Math.max(0, limit - 1));
    return texts.reverse().map((text) => JSON.parse(text) as T);
  }

  /** Sets (or, with `undefined`, deletes) one of this process's state values. */
  async setState(key: string, value: unknown): Promise<void> {
    const hash = this.#k(`state:${this.#me}`);
    if (value === undefined) {
      await this.#redis.hdel(hash, key);
      return;
    }
    await this.#redis.multi().hset(hash, key, JSON.stringify(value)).pexpire(hash, this.#retentionMs).exec();
  }

  /** This process's state values, after taking over those of departed processes. */
  async loadState(): Promise<Record<string, unknown>> {
    const [, state] = await this.#adopt("all");
    return pairs(state);
  }

  /** Leaves the fleet's outbox: the lease is dropped, so another process takes over what is left at once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    await this.#redis.del(this.#k(`live:${this.#me}`)).catch(() => undefined);
  }

  async #adopt(mode: "all" | "adopted"): Promise<[string[], string[]]> {
    await this.#renew();
    return await this.#redis.agentSreOutboxAdopt(
      this.#k("owners"),
      this.#k("outbox"),
      this.#k("owner"),
      this.#k(`state:${this.#me}`),
      this.#p,
      this.#me,
      this.#retentionMs,
      mode,
    );
  }

  /** Renews this process's lease (a failure is left to the next beat: Redis may be away). */
  async #renew(): Promise<void> {
    if (this.#closed) return;
    const owners = this.#k("owners");
    await this.#redis
      .multi()
      .set(this.#k(`live:${this.#me}`), "1", "PX", this.ownerLeaseMs)
      .sadd(owners, this.#me)
      .pexpire(owners, this.#retentionMs)
      .exec()
      .catch(() => undefined);
  }

  #k(name: string): string {
    return `${this.#p}${name}`;
  }
}

function positive(value: number, name: string): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new ConfigError(`alertOutbox.${name}`, value, "a positive number");
  }
  return value;
}

function sortEntries<T extends RedisOutboxEntry>(entries: T[]): T[] {
  return entries.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
}

function pairs(flat: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = JSON.parse(flat[i + 1] as string);
  return out;
}
