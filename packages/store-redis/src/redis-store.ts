import { randomUUID } from "node:crypto";
import { Worker } from "node:worker_threads";
import {
  ConfigError,
  exceedsLimit,
  type LedgerBalance,
  type LedgerLine,
  RESERVE_OK,
  type ReserveResult,
  type SettleLine,
  type StateChange,
  type StateValue,
  type Store,
  StoreUnavailableError,
} from "@agent-sre/core";
import { Redis } from "ioredis";
import { RedisOutboxStore, type RedisOutboxStoreOptions } from "./outbox-store.js";
import { FLUSH, LEASE, RECONCILE } from "./scripts.js";
import { RedisStateMirror } from "./state-mirror.js";

export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). */
  url: string;
  /** Prefix of every key and of the pub/sub channel, so several fleets share one Redis. Default `agent-sre:`. */
  keyPrefix?: string;
  /**
   * What a reservation that needs a new lease does while Redis is unreachable: `"closed"` (default) refuses
   * it with `STORE_UNAVAILABLE` (retryable); `"open"` admits it against a local, unbacked hold that is
   * reconciled as spend when Redis answers again (the fleet may overspend by what was admitted meanwhile).
   * Reservations covered by leases already held are admitted either way: those are already reserved.
   */
  onUnavailable?: "closed" | "open";
  /** Share of a key's limit taken per lease (default 0.02: 50 leases exhaust a limit). */
  leaseFraction?: number;
  /** Longest the hot path blocks for a lease round trip before failing as unavailable (ms). Default 250. */
  leaseTimeoutMs?: number;
  /** How often settled spend and released leases are written to Redis (ms). Default 20. */
  flushIntervalMs?: number;
  /** A lease unused this long goes back to the shared budget (ms). Default 1000. */
  leaseIdleMs?: number;
}

interface KeyState {
  /** Reserved in Redis for this process and not yet converted to spend or given back. */
  lease: number;
  /** Open local reservations on this key (backed by the lease or not). */
  held: number;
  /** The part of `held` that no lease backs (keys without a limit, or admitted while Redis was down). */
  unbacked: number;
  /** Last totals seen in Redis (spend and every process's leases). */
  knownSpent: number;
  knownReserved: number;
  /** Spend settled here and not yet written to Redis. */
  pendingSpent: number;
  pendingReserved: number;
  expiresAtMs: number;
  lastUsedMs: number;
  /** When Redis last refused a lease on this key, and the fleet's use it reported then. */
  refusedAtMs: number;
  refusedUsed: number;
}

/** What the lease worker posts: a lease reply (late or not), its start, or its connection going up or down. */
type WorkerMessage =
  | { type?: undefined; id?: number; result?: unknown[]; error?: string }
  | { type: "started" | "connection"; ready: boolean };

interface Batch {
  id: string;
  keys: string[];
  args: Array<string | number>;
}

const HEADER_BYTES = 8;
const MAX_CHUNK = 2 ** 40;
/** How long a refused lease is remembered (ms), so calls refused at a reached limit cost no round trip. */
const REFUSAL_MEMORY_MS = 50;
const REPLY_BYTES = 64 * 1024;

/**
 * The fleet store: every process of a fleet shares budgets, kills, quarantines and breaker states through
 * one Redis, while a guarded call stays in process.
 *
 * Budgets: a key with a limit is served from a LEASE, a chunk of its limit reserved in Redis for this
 * process by an atomic Lua script. `reserve` spends from the lease in process (no round trip); only when the
 * lease cannot cover a call does it take a new one, synchronously (a worker thread does the round trip while
 * the caller blocks, bounded by `leaseTimeoutMs`), and the script refuses exactly when the limit would be
 * passed, counting every process's leases. So the fleet never overspends a limit. Settled spend and unused
 * leases go back to Redis in batches every `flushIntervalMs`, each applied once (a batch id), and idle leases
 * return after `leaseIdleMs`, so other processes can use them.
 *
 * State: records live under `<prefix>s:<kind>:<id>` and every write is broadcast on `<prefix>events`; each
 * process keeps a mirror that serves `getState` synchronously and tells its subscribers (the engine), so a
 * kill or a breaker opening anywhere refuses everywhere within a few milliseconds.
 *
 * Redis unreachable: see `onUnavailable` for budgets; settled spend waits in memory and is written (once)
 * when Redis answers again; state changes apply here at once and are written when Redis is back (the last
 * write of a record wins), and the mirror is reloaded to pick up what others wrote meanwhile; breakers keep
 * working locally. A lease whose reply was lost is given back by its grant record. Nothing is lost unless the
 * process dies while Redis is down (its unflushed spend is then gone with it).
 */
export class RedisStore implements Store {
  readonly keyPrefix: string;
  /** Every process on the same Redis and key prefix shares this state (see `StateStore.shared`). */
  readonly shared = true;
  readonly instanceId = randomUUID();
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #worker: Worker;
  /** The lease worker's connection, as it last reported (it starts connected or reports when it is). */
  #leaseConnectionReady = true;
  readonly #header: Int32Array;
  readonly #body: Uint8Array;
  readonly #decoder = new TextDecoder();
  readonly #onUnavailable: "closed" | "open";
  readonly #leaseFraction: number;
  readonly #leaseTimeoutMs: number;
  readonly #leaseIdleMs: number;
  readonly #keys = new Map<string, KeyState>();
  readonly #state: RedisStateMirror;
  /** Lease requests whose caller stopped waiting, with their keys: a late reply still credits them. */
  readonly #abandoned = new Map<number, string[]>();
  readonly #batches: Batch[] = [];
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #channel: string;
  #outbox: RedisOutboxStore | undefined;
  #nextRequest = 1;
  #flushing = false;
  #closed = false;
  /** Lease round trips (for the benchmark and diagnostics). */
  leaseRequests = 0;

  private constructor(
    options: RedisStoreOptions,
    redis: Redis,
    subscriber: Redis,
    worker: Worker,
    buffer: SharedArrayBuffer,
  ) {
    this.keyPrefix = options.keyPrefix ?? "agent-sre:";
    this.#channel = `${this.keyPrefix}events`;
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.#worker = worker;
    this.#header = new Int32Array(buffer, 0, 2);
    this.#body = new Uint8Array(buffer, HEADER_BYTES);
    this.#onUnavailable = options.onUnavailable ?? "closed";
    this.#leaseFraction = options.leaseFraction ?? 0.02;
    this.#leaseTimeoutMs = options.leaseTimeoutMs ?? 250;
    this.#leaseIdleMs = options.leaseIdleMs ?? 1000;
    this.#state = new RedisStateMirror(redis, this.keyPrefix, this.#channel, this.instanceId);
    worker.on("message", (message: WorkerMessage) => {
      if (message.type === undefined) this.#onLateReply(message);
      else this.#leaseConnectionReady = message.ready;
    });
    worker.unref();
    this.#timer = setInterval(() => void this.#tick(), options.flushIntervalMs ?? 20);
    this.#timer.unref();
  }

  /** Connects (three connections: commands, pub/sub, the lease worker's) and loads the shared state. */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    if (typeof options?.url !== "string" || !/^rediss?:\/\//.test(options.url)) {
      throw new ConfigError("state.redis.url", options?.url, "a redis:// or rediss:// URL");
    }
    if (options.onUnavailable !== undefined && !["closed", "open"].includes(options.onUnavailable)) {
      throw new ConfigError("state.redis.onUnavailable", options.onUnavailable, '"closed" or "open"');
    }
    const fraction = options.leaseFraction ?? 0.02;
    if (!(fraction > 0 && fraction <= 1)) {
      throw new ConfigError("state.redis.leaseFraction", fraction, "a share of the limit in (0, 1]");
    }
    const connection = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times: number) => Math.min(50 * times, 500),
      lazyConnect: true,
    };
    const redis = new Redis(options.url, connection);
    const subscriber = new Redis(options.url, { ...connection, enableOfflineQueue: true });
    redis.on("error", () => {});
    subscriber.on("error", () => {});
    await redis.connect();
    await subscriber.connect();
    redis.defineCommand("agentSreFlush", { lua: FLUSH });
    const buffer = new SharedArrayBuffer(HEADER_BYTES + REPLY_BYTES);
    const worker = new Worker(new URL("../worker/lease-worker.mjs", import.meta.url), {
      workerData: {
        url: options.url,
        leaseScript: LEASE,
        reconcileScript: RECONCILE,
        commandTimeoutMs: options.leaseTimeoutMs ?? 250,
        buffer,
      },
    });
    const leaseConnectionReady = await new Promise<boolean>((resolve, reject) => {
      worker.once("message", (message: WorkerMessage) =>
        resolve(message.type !== undefined && message.ready),
      );
      worker.once("error", reject);
    });
    const store = new RedisStore(options, redis, subscriber, worker, buffer);
    store.#leaseConnectionReady = leaseConnectionReady;
    await store.#start();
    return store;
  }

  async #start(): Promise<void> {
    this.#subscriber.on("message", (_channel: string, message: string) => this.#state.onBroadcast(message));
    await this.#subscriber.subscribe(this.#channel);
    // After a reconnection: write what could not be written, then reload what others wrote meanwhile.
    this.#redis.on("ready", () => void this.#resync());
    await this.#state.load(false);
  }

  // ---------------------------------------------------------------------------------------------
  // Ledger

  reserve(lines: readonly LedgerLine[]): ReserveResult {
    const now = Date.now();
    let misses: number[] | undefined;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as LedgerLine;
      if (line.limit === Number.POSITIVE_INFINITY) continue;
      const state = this.#key(line.key, now);
      const free = state.lease - (state.held - state.unbacked);
      if (line.amount > 0 ? free < line.amount : free <= 0) {
        misses ??= [];
        misses.push(i);
      }
    }
    if (misses !== undefined) {
      const refused = this.#lease(lines, misses, now);
      if (refused !== undefined) return refused;
    }
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as LedgerLine;
      const state = this.#key(line.key, now);
      state.held += line.amount;
      if (line.limit === Number.POSITIVE_INFINITY) state.unbacked += line.amount;
      state.lastUsedMs = now;
      if (line.expiresAtMs > state.expiresAtMs) state.expiresAtMs = line.expiresAtMs;
    }
    return RESERVE_OK;
  }

  settle(lines: readonly SettleLine[]): void {
    const now = Date.now();
    for (const line of lines) {
      const state = this.#key(line.key, now);
      const reserved = Math.min(line.reserved, state.held);
      const unbacked = Math.min(reserved, state.unbacked);
      const backed = reserved - unbacked;
      state.held -= reserved;
      state.unbacked -= unbacked;
      // What was held beyond the cost stays in the lease for the next call.
      const converted = Math.min(line.actual, backed);
      state.lease -= converted;
      state.pendingSpent += line.actual;
      state.pendingReserved -= converted;
      state.lastUsedMs = now;
    }
  }

  add(key: string, amount: number, expiresAtMs: number): void {
    const state = this.#key(key, Date.now());
    state.pendingSpent += amount;
    if (expiresAtMs > state.expiresAtMs) state.expiresAtMs = expiresAtMs;
  }

  /**
   * The fleet's balance as last seen from Redis plus what this process settled since (refreshed by every
   * lease and flush): exact for this process, up to `flushIntervalMs` behind for the others.
   */
  read(key: string): Readonly<LedgerBalance> {
    const state = this.#keys.get(key);
    if (state === undefined) return { spent: 0, reserved: 0 };
    return {
      spent: state.knownSpent + state.pendingSpent,
      reserved: Math.max(0, state.knownReserved + state.pendingReserved) + state.unbacked,
    };
  }

  expire(beforeMs: number): number {
    let dropped = 0;
    for (const [key, state] of this.#keys) {
      if (state.expiresAtMs > beforeMs || state.held > 0) continue;
      this.#giveBack(state);
      if (state.pendingSpent !== 0 || state.pendingReserved !== 0) continue; // after the flush
      this.#keys.delete(key);
      dropped++;
    }
    return dropped;
  }

  // ---------------------------------------------------------------------------------------------
  // State

  getState(kind: string, id: string): StateValue | undefined {
    return this.#state.get(kind, id);
  }

  putState(kind: string, id: string, value: StateValue, expiresAtMs: number): void {
    this.#state.put(kind, id, value, expiresAtMs);
  }

  deleteState(kind: string, id: string): void {
    this.#state.delete(kind, id);
  }

  listState(kind: string): Array<[string, StateValue]> {
    return this.#state.list(kind);
  }

  subscribe(listener: (change: StateChange) => void): () => void {
    return this.#state.subscribe(listener);
  }

  /**
   * The alert outbox (`AlertOutboxStore` of `@agent-sre/alerts`) in this Redis, as this process: one per
   * store, closed with it. Give it to the AlertManager (`store`): the fleet delivers each page once, and a
   * page queued by a process that died is delivered by another.
   */
  alertOutbox(options: RedisOutboxStoreOptions = {}): RedisOutboxStore {
    if (this.#closed) throw new Error("the Redis store is closed");
    this.#outbox ??= new RedisOutboxStore(this.#redis, this.keyPrefix, this.instanceId, options);
    return this.#outbox;
  }

  /**
   * Whether the store can serve a call that needs Redis: its command connection and the lease worker's are
   * both up (after an outage they come back separately; until both have, a new lease is still refused).
   */
  get connected(): boolean {
    return this.#redis.status === "ready" && this.#leaseConnectionReady;
  }

  /** Flushes every settlement, gives every unused lease back and disconnects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#outbox?.close();
    for (const state of this.#keys.values()) this.#giveBack(state, true);
    this.#collect();
    await this.#flush();
    await this.#state.send();
    await new Promise<void>((resolve) => {
      this.#worker.once("exit", () => resolve());
      this.#worker.postMessage({ type: "close" });
    });
    this.#subscriber.disconnect();
    this.#redis.disconnect();
  }

  // ---------------------------------------------------------------------------------------------
  // Leases

  /** Takes leases for the lines in `misses` (one round trip, blocking); a refusal or undefined. */
  #lease(lines: readonly LedgerLine[], misses: number[], now: number): ReserveResult | undefined {
    const keys: string[] = [];
    const args: Array<string | number> = [];
    for (const index of misses) {
      const line = lines[index] as LedgerLine;
      const state = this.#key(line.key, now);
      const free = Math.max(0, state.lease - (state.held - state.unbacked));
      const need = Math.max(0, line.amount - free);
      // Just refused by Redis and nothing came back since: refuse here without another round trip (a limit
      // reached stays reached until leases return; a stale answer only ever refuses, never overspends).
      if (now - state.refusedAtMs < REFUSAL_MEMORY_MS && exceedsLimit(state.refusedUsed, need, line.limit)) {
        return { ok: false, index, used: state.refusedUsed };
      }
      // Capped so every amount stays an exact integer in Redis and in Lua's doubles.
      const chunk = Math.min(MAX_CHUNK, Math.max(1, Math.ceil(line.limit * this.#leaseFraction)));
      keys.push(this.#ledgerKey(line.key));
      args.push(need, chunk, line.limit, expiryArg(line.expiresAtMs));
    }
    const grantKey = `${this.keyPrefix}g:${this.instanceId}:${this.#nextRequest}`;
    keys.push(grantKey);
    const localKeys = misses.map((index) => (lines[index] as LedgerLine).key);
    const reply = this.#roundTrip(keys, [misses.length, ...args], grantKey, localKeys);
    if (reply === undefined || "error" in reply) {
      if (this.#onUnavailable === "closed") {
        throw new StoreUnavailableError(
          "redis",
          reply === undefined ? `no answer within ${this.#leaseTimeoutMs} ms` : reply.error,
        );
      }
      // Fail open: hold locally; the spend reaches Redis when it is back.
      for (const index of misses) {
        const line = lines[index] as LedgerLine;
        const state = this.#key(line.key, now);
        const free = Math.max(0, state.lease - (state.held - state.unbacked));
        state.unbacked += Math.max(0, line.amount - free);
      }
      return undefined;
    }
    const result = reply.result;
    if (result[0] === 0) {
      const index = misses[(result[1] as number) - 1] as number;
      const state = this.#key((lines[index] as LedgerLine).key, now);
      state.refusedAtMs = now;
      state.refusedUsed = result[2] as number;
      return { ok: false, index, used: result[2] as number };
    }
    this.#credit(localKeys, result, now);
    return undefined;
  }

  #credit(keys: readonly string[], result: readonly unknown[], now: number): void {
    for (let i = 0; i < keys.length; i++) {
      const state = this.#key(keys[i] as string, now);
      state.lease += result[1 + i * 3] as number;
      state.knownSpent = result[2 + i * 3] as number;
      state.knownReserved = result[3 + i * 3] as number;
    }
  }

  /** One request to the lease worker, waiting for its reply at most `leaseTimeoutMs`. */
  #roundTrip(
    keys: string[],
    args: Array<string | number>,
    grantKey: string,
    localKeys: string[],
  ): { result: unknown[] } | { error: string } | undefined {
    if (this.#closed) return { error: "store closed" };
    this.leaseRequests++;
    const id = this.#nextRequest++;
    const header = this.#header;
    Atomics.store(header, 0, 0);
    this.#worker.postMessage({ id, keys, args, grantKey });
    const deadline = Date.now() + this.#leaseTimeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(header, 0, 0, left) === "timed-out") {
        if (Atomics.load(header, 0) !== id) {
          // The reply may still come: `#onLateReply` then uses the lease instead of losing it.
          this.#abandoned.set(id, localKeys);
          return undefined;
        }
      }
      const answered = Atomics.load(header, 0);
      if (answered === id) break;
      Atomics.store(header, 0, 0); // a late reply to an earlier request: it arrives as a message too
    }
    const text = this.#decoder.decode(this.#body.slice(0, Atomics.load(header, 1)));
    const reply = JSON.parse(text) as { id: number; result?: unknown[]; error?: string };
    return reply.error !== undefined ? { error: reply.error } : { result: reply.result as unknown[] };
  }

  /** A lease reply that came after its caller stopped waiting: keep the lease (it was reserved for us). */
  #onLateReply(message: { id?: number; result?: unknown[]; error?: string }): void {
    const id = message.id;
    const keys = id === undefined ? undefined : this.#abandoned.get(id);
    if (id === undefined || keys === undefined) return;
    this.#abandoned.delete(id);
    if (message.result === undefined || message.result[0] !== 1) return;
    this.#credit(keys, message.result, Date.now());
  }

  // ---------------------------------------------------------------------------------------------
  // Background: flushes, idle leases, state writes

  async #tick(): Promise<void> {
    const now = Date.now();
    for (const state of this.#keys.values()) {
      if (state.held === 0 && state.lease > 0 && now - state.lastUsedMs >= this.#leaseIdleMs)
        this.#giveBack(state);
    }
    this.#collect();
    await this.#flush();
    if (this.#state.unsentWrites > 0) await this.#state.send();
  }

  /** Returns the unused part of a key's lease (all of it when closing). */
  #giveBack(state: KeyState, all = false): void {
    const free = state.lease - (state.held - state.unbacked);
    const back = all ? state.lease : free;
    if (back <= 0) return;
    state.refusedAtMs = Number.NEGATIVE_INFINITY;
    state.lease -= back;
    state.pendingReserved -= back;
  }

  /** Moves pending deltas into a new batch (sent, and re-sent with the same id until applied). */
  #collect(): void {
    const keys: string[] = [];
    const args: Array<string | number> = [];
    for (const [key, state] of this.#keys) {
      if (state.pendingSpent === 0 && state.pendingReserved === 0) continue;
      keys.push(this.#ledgerKey(key));
      args.push(state.pendingSpent, state.pendingReserved, expiryArg(state.expiresAtMs));
      state.knownSpent += state.pendingSpent;
      state.knownReserved = Math.max(0, state.knownReserved + state.pendingReserved);
      state.pendingSpent = 0;
      state.pendingReserved = 0;
    }
    if (keys.length === 0) return;
    const id = randomUUID();
    this.#batches.push({ id, keys: [`${this.keyPrefix}b:${id}`, ...keys], args: [keys.length, ...args] });
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#batches.length > 0 && this.#redis.status === "ready") {
        const batch = this.#batches[0] as Batch;
        const flush = (this.#redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown[]>>)
          .agentSreFlush as (...a: unknown[]) => Promise<unknown[]>;
        const result = await flush.call(this.#redis, batch.keys.length, ...batch.keys, ...batch.args);
        this.#batches.shift();
        for (let i = 1; i < batch.keys.length; i++) {
          const state = this.#keys.get((batch.keys[i] as string).slice(this.keyPrefix.length + 2));
          if (state === undefined) continue;
          state.knownSpent = result[1 + (i - 1) * 2] as number;
          state.knownReserved = result[2 + (i - 1) * 2] as number;
        }
      }
    } catch {
      // Redis is away: the batch stays first in line and is re-sent with the same id.
    } finally {
      this.#flushing = false;
    }
  }

  /** Unflushed settlements (tests and diagnostics). */
  get pendingBatches(): number {
    return this.#batches.length;
  }

  async #resync(): Promise<void> {
    if (this.#closed) return;
    await this.#state.send();
    await this.#state.load(true).catch(() => {});
    await this.#flush();
  }

  #key(key: string, now: number): KeyState {
    let state = this.#keys.get(key);
    if (state === undefined) {
      state = {
        lease: 0,
        held: 0,
        unbacked: 0,
        knownSpent: 0,
        knownReserved: 0,
        pendingSpent: 0,
        pendingReserved: 0,
        expiresAtMs: 0,
        lastUsedMs: now,
        refusedAtMs: Number.NEGATIVE_INFINITY,
        refusedUsed: 0,
      };
      this.#keys.set(key, state);
    }
    return state;
  }

  #ledgerKey(key: string): string {
    return `${this.keyPrefix}l:${key}`;
  }
}

function expiryArg(expiresAtMs: number): number {
  return expiresAtMs === Number.POSITIVE_INFINITY ? -1 : Math.floor(expiresAtMs);
}
