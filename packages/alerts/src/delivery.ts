import type { SchedulingClock, TimerHandle } from "@agent-sre/core";
import { backoffDelay, parseRetryAfter, type RetryOptions } from "./backoff.js";
import type { Channel } from "./channels/channel.js";
import { groupHash, type Notification } from "./notification.js";
import type { AlertOutboxStore, ClaimVerdict, DeadLetter, OutboxEntry } from "./outbox.js";
import { TokenBucket } from "./rate-limit.js";
import type { Redactor } from "./secrets.js";

/** A configured receiver as the delivery loop sees it. */
export interface Receiver {
  name: string;
  channel: Channel;
  /** Send notifications whose alerts have all resolved (default true). */
  sendResolved: boolean;
  /** Per request (default 10 s); on the injected clock. */
  timeoutMs: number;
  retry: RetryOptions;
  rateLimit: { perMinute: number; burst?: number } | undefined;
}

export interface DeliveryHooks {
  delivered(entry: OutboxEntry, httpStatus: number | undefined): void;
  retrying(entry: OutboxEntry, error: string, delayMs: number, httpStatus: number | undefined): void;
  failed(record: DeadLetter, receiver: Receiver): void;
  /** Alert state a shared store took over from a departed process (`AlertOutboxStore.adopt`). */
  adoptedState(state: Record<string, unknown>): void;
  /** A shared store said another process sent it already (`duplicate`) or delivers it (`gone`). */
  dropped(entry: OutboxEntry, reason: "duplicate" | "gone"): void;
  /** A store write failed (the notification is still tried from memory). */
  storeError(error: string): void;
}

export interface DispatcherOptions {
  clock: SchedulingClock;
  store: AlertOutboxStore;
  receivers: ReadonlyMap<string, Receiver>;
  fetch: typeof globalThis.fetch;
  random: () => number;
  redactor: Redactor;
  externalUrl: string | undefined;
  /** Entries kept per receiver; beyond it the oldest is dead-lettered (default 1000). */
  maxPendingPerReceiver: number;
  hooks: DeliveryHooks;
}

type Outcome =
  | { ok: true; httpStatus: number | undefined }
  | {
      ok: false;
      retry: boolean;
      error: string;
      httpStatus: number | undefined;
      retryAfterMs: number | undefined;
    };

export interface ReceiverDeliveryStatus {
  pending: number;
  inFlight: boolean;
  nextAttemptAt: number | null;
  lastError: string | null;
  delivered: number;
  deadLettered: number;
  /** Dropped because another process of the fleet sent or delivers them (shared stores). */
  deduplicated: number;
}

/**
 * The delivery loop. Each receiver has a FIFO queue with one request in flight at a time, so a
 * group's resolve never overtakes its trigger and a 429 slows only that receiver. Everything here runs
 * on timers and promises: nothing a guarded call does ever waits on it.
 */
export class Dispatcher {
  readonly #o: DispatcherOptions;
  readonly #queues = new Map<string, OutboxEntry[]>();
  readonly #busy = new Set<string>();
  readonly #timers = new Map<string, TimerHandle>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #stats = new Map<
    string,
    { delivered: number; deadLettered: number; deduplicated: number; lastError: string | null }
  >();
  #writes: Promise<void> = Promise.resolve();
  #adoptTimer: TimerHandle | undefined;
  #started = false;
  #closed = false;
  #nextId = 1;

  constructor(options: DispatcherOptions) {
    this.#o = options;
    for (const receiver of options.receivers.values()) {
      this.#queues.set(receiver.name, []);
      this.#stats.set(receiver.name, { delivered: 0, deadLettered: 0, deduplicated: 0, lastError: null });
      if (receiver.rateLimit !== undefined)
        this.#buckets.set(receiver.name, new TokenBucket(receiver.rateLimit, options.clock.now()));
    }
  }

  /** Loads what a previous process left in the outbox, then starts delivering. */
  async start(): Promise<void> {
    this.#merge(await this.#o.store.pending());
    this.#started = true;
    for (const name of this.#queues.keys()) this.#pump(name);
    this.#scheduleAdoption();
  }

  /**
   * A shared store (a fleet on one Redis): every `adoptIntervalMs`, takes over what departed processes left —
   * their undelivered notifications (delivered here at their recorded retry times) and their alert state.
   */
  #scheduleAdoption(): void {
    const store = this.#o.store;
    const intervalMs = store.adoptIntervalMs;
    if (store.adopt === undefined || intervalMs === undefined || !(intervalMs > 0) || this.#closed) return;
    this.#adoptTimer = this.#o.clock.setTimeout(() => {
      this.#adoptTimer = undefined;
      this.write(async () => {
        try {
          if (this.#closed) return;
          const adopted = await (store.adopt as NonNullable<AlertOutboxStore["adopt"]>)();
          if (this.#closed) return;
          this.#o.hooks.adoptedState(adopted.state);
          if (adopted.entries.length === 0) return;
          this.#merge(adopted.entries);
          for (const name of this.#queues.keys()) this.#pump(name);
        } finally {
          this.#scheduleAdoption();
        }
      });
    }, intervalMs);
    unref(this.#adoptTimer);
  }

  #merge(entries: readonly OutboxEntry[]): void {
    const now = this.#o.clock.now();
    for (const entry of entries) {
      const queue = this.#queues.get(entry.receiver);
      if (queue === undefined) {
        this.write(async () => {
          await this.#o.store.remove(entry.id);
          await this.#o.store.deadLetter({
            entry,
            failedAt: now,
            error: `receiver "${entry.receiver}" is no longer configured`,
          });
        });
        continue;
      }
      if (!queue.some((e) => e.id === entry.id)) queue.push(entry);
    }
    for (const [name, queue] of this.#queues) {
      // The head stays where it is while a request or its wait is on it.
      const from = this.#busy.has(name) ? 1 : 0;
      const rest = queue.splice(from).sort((a, b) => a.createdAt - b.createdAt);
      queue.push(...rest);
    }
  }

  /**
   * Queues a notification: written to the outbox first, then tried. `dedupWindowMs` (the route's repeat
   * interval) lets a shared store drop the same content sent by another process within that window.
   */
  enqueue(notification: Notification, dedupWindowMs: number): OutboxEntry | undefined {
    const queue = this.#queues.get(notification.receiver);
    if (queue === undefined || this.#closed) return undefined;
    const now = this.#o.clock.now();
    const entry: OutboxEntry = {
      id: notification.id,
      receiver: notification.receiver,
      notification,
      attempts: 0,
      nextAttemptAt: now,
      createdAt: now,
    };
    if (this.#o.store.claim !== undefined) entry.dedup = dedupOf(notification, dedupWindowMs);
    queue.push(entry);
    const snapshot = structuredClone(entry);
    this.write(() => this.#o.store.put(snapshot));
    while (queue.length > this.#o.maxPendingPerReceiver) {
      // Drop the oldest waiting entry (never the one in flight).
      const index = this.#busy.has(notification.receiver) ? 1 : 0;
      const [dropped] = queue.splice(index, 1);
      if (dropped !== undefined)
        this.#deadLetter(dropped, "outbox full: dropped the oldest pending notification", undefined);
    }
    this.#pump(notification.receiver);
    return entry;
  }

  newId(now: number): string {
    return `n-${now.toString(36)}-${(this.#nextId++).toString(36)}-${Math.floor(this.#o.random() * 1e9).toString(36)}`;
  }

  /** Resolves once no request is in flight and every store write has landed (timers may still wait). */
  async idle(): Promise<void> {
    for (;;) {
      if (this.#inFlight.size > 0) {
        await Promise.allSettled([...this.#inFlight]);
        continue;
      }
      const writes = this.#writes;
      await writes;
      if (this.#inFlight.size === 0 && writes === this.#writes) return;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#adoptTimer !== undefined) this.#o.clock.clearTimeout(this.#adoptTimer);
    for (const handle of this.#timers.values()) this.#o.clock.clearTimeout(handle);
    this.#timers.clear();
    await this.idle();
  }

  status(): Record<string, ReceiverDeliveryStatus> {
    const out: Record<string, ReceiverDeliveryStatus> = {};
    for (const [name, queue] of this.#queues) {
      const stats = this.#stats.get(name);
      out[name] = {
        pending: queue.length,
        inFlight: this.#busy.has(name) && !this.#timers.has(name),
        nextAttemptAt: queue[0]?.nextAttemptAt ?? null,
        lastError: stats?.lastError ?? null,
        delivered: stats?.delivered ?? 0,
        deadLettered: stats?.deadLettered ?? 0,
        deduplicated: stats?.deduplicated ?? 0,
      };
    }
    return out;
  }

  pendingCount(): number {
    let count = 0;
    for (const queue of this.#queues.values()) count += queue.length;
    return count;
  }

  #pump(name: string): void {
    if (!this.#started || this.#closed || this.#busy.has(name)) return;
    const queue = this.#queues.get(name);
    const head = queue?.[0];
    const receiver = this.#o.receivers.get(name);
    if (head === undefined || receiver === undefined) return;
    const now = this.#o.clock.now();
    let waitMs = Math.max(0, head.nextAttemptAt - now);
    if (waitMs === 0) waitMs = this.#buckets.get(name)?.take(now) ?? 0;
    this.#busy.add(name);
    if (waitMs > 0) {
      const handle = this.#o.clock.setTimeout(() => {
        this.#timers.delete(name);
        this.#busy.delete(name);
        this.#pump(name);
      }, waitMs);
      unref(handle);
      this.#timers.set(name, handle);
      return;
    }
    const attempt: Promise<void> = this.#attempt(receiver, head).finally(() => {
      this.#inFlight.delete(attempt);
      this.#busy.delete(name);
      this.#pump(name);
    });
    this.#inFlight.add(attempt);
  }

  async #attempt(receiver: Receiver, entry: OutboxEntry): Promise<void> {
    if (this.#o.store.claim !== undefined) {
      const verdict = await this.#claim(receiver, entry);
      if (verdict !== "ok") {
        this.#unclaimed(receiver, entry, verdict);
        return;
      }
    }
    entry.attempts += 1;
    const outcome = await this.#send(receiver, entry);
    const queue = this.#queues.get(receiver.name) as OutboxEntry[];
    const stats = this.#stats.get(receiver.name);
    const now = this.#o.clock.now();
    if (outcome.ok) {
      if (queue[0] === entry) queue.shift();
      if (stats) {
        stats.delivered += 1;
        stats.lastError = null;
      }
      this.write(() => this.#o.store.remove(entry.id));
      this.#o.hooks.delivered(entry, outcome.httpStatus);
      return;
    }
    if (stats) stats.lastError = outcome.error;
    if (outcome.retry && entry.attempts < receiver.retry.maxAttempts && !this.#closed) {
      const delayMs =
        outcome.retryAfterMs !== undefined
          ? Math.min(outcome.retryAfterMs, receiver.retry.maxRetryAfterMs)
          : backoffDelay(entry.attempts, receiver.retry, this.#o.random);
      entry.nextAttemptAt = now + delayMs;
      entry.lastError = outcome.error;
      const snapshot = structuredClone(entry);
      this.write(() => this.#o.store.put(snapshot));
      this.#o.hooks.retrying(entry, outcome.error, delayMs, outcome.httpStatus);
      return;
    }
    if (this.#closed && outcome.retry) return; // stays in the outbox for the next process
    if (queue[0] === entry) queue.shift();
    const error = outcome.retry
      ? `gave up after ${entry.attempts} attempts: ${outcome.error}`
      : outcome.error;
    this.#deadLetter(entry, error, outcome.httpStatus);
  }

  /** One deliverer per notification in a fleet: the shared store decides who makes this attempt. */
  async #claim(receiver: Receiver, entry: OutboxEntry): Promise<ClaimVerdict> {
    const claim = this.#o.store.claim as NonNullable<AlertOutboxStore["claim"]>;
    await this.#writes; // this process's own write of the entry lands first
    try {
      return await claim.call(this.#o.store, entry, {
        leaseMs: receiver.timeoutMs + CLAIM_MARGIN_MS,
        now: this.#o.clock.now(),
      });
    } catch (error) {
      // The store is away: deliver from memory (a page sent twice beats a page never sent).
      this.#o.hooks.storeError(this.#o.redactor.redact(String(error)));
      return "ok";
    }
  }

  #unclaimed(receiver: Receiver, entry: OutboxEntry, verdict: Exclude<ClaimVerdict, "ok">): void {
    const queue = this.#queues.get(receiver.name) as OutboxEntry[];
    if (typeof verdict === "object") {
      entry.nextAttemptAt = this.#o.clock.now() + Math.max(1, verdict.retryInMs);
      return;
    }
    if (queue[0] === entry) queue.shift();
    const stats = this.#stats.get(receiver.name);
    if (stats) stats.deduplicated += 1;
    this.#o.hooks.dropped(entry, verdict);
  }

  #deadLetter(entry: OutboxEntry, error: string, httpStatus: number | undefined): void {
    const record: DeadLetter = { entry: structuredClone(entry), failedAt: this.#o.clock.now(), error };
    if (httpStatus !== undefined) record.httpStatus = httpStatus;
    const stats = this.#stats.get(entry.receiver);
    if (stats) stats.deadLettered += 1;
    this.write(async () => {
      await this.#o.store.remove(entry.id);
      await this.#o.store.deadLetter(record);
    });
    const receiver = this.#o.receivers.get(entry.receiver);
    if (receiver !== undefined) this.#o.hooks.failed(record, receiver);
  }

  async #send(receiver: Receiver, entry: OutboxEntry): Promise<Outcome> {
    const redact = (text: string) => this.#o.redactor.redact(text);
    let request: ReturnType<Channel["render"]>;
    try {
      request = receiver.channel.render(entry.notification, {
        now: this.#o.clock.now(),
        externalUrl: this.#o.externalUrl,
      });
    } catch (error) {
      return {
        ok: false,
        retry: false,
        error: redact(`cannot render: ${String(error)}`),
        httpStatus: undefined,
        retryAfterMs: undefined,
      };
    }
    if (request === undefined) return { ok: true, httpStatus: undefined };
    const controller = new AbortController();
    let timedOut = false;
    const timer = this.#o.clock.setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`timed out after ${receiver.timeoutMs} ms`));
    }, receiver.timeoutMs);
    unref(timer);
    let status: number;
    let body: string;
    let retryAfter: string | null;
    try {
      const response = await this.#o.fetch(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: controller.signal,
      });
      status = response.status;
      retryAfter = response.headers.get("retry-after");
      body = await response.text();
    } catch (error) {
      const reason = timedOut ? `timed out after ${receiver.timeoutMs} ms` : networkError(error);
      return {
        ok: false,
        retry: true,
        error: redact(reason),
        httpStatus: undefined,
        retryAfterMs: undefined,
      };
    } finally {
      this.#o.clock.clearTimeout(timer);
    }
    if (status >= 200 && status < 300) {
      const problem = receiver.channel.checkResponse?.(status, body);
      if (problem === undefined) return { ok: true, httpStatus: status };
      return { ok: false, retry: false, error: redact(problem), httpStatus: status, retryAfterMs: undefined };
    }
    const detail = body.trim() === "" ? "" : `: ${body.trim().slice(0, 500)}`;
    const error = redact(`HTTP ${status}${detail}`);
    const retryable = status === 429 || status === 408 || status === 425 || status >= 500;
    const retryAfterMs =
      status === 429 || status === 503 ? parseRetryAfter(retryAfter, this.#o.clock.now()) : undefined;
    return { ok: false, retry: retryable, error, httpStatus: status, retryAfterMs };
  }

  /** Store writes run in order, one at a time; a failure is reported, not thrown. */
  write(task: () => unknown): void {
    this.#writes = this.#writes.then(task).then(
      () => undefined,
      (error: unknown) => this.#o.hooks.storeError(this.#o.redactor.redact(String(error))),
    );
  }
}

/** A claim outlives the request's timeout by this much, so no other process starts while it may still land. */
const CLAIM_MARGIN_MS = 5_000;

function dedupOf(n: Notification, windowMs: number): NonNullable<OutboxEntry["dedup"]> {
  const firing: string[] = [];
  const resolved: string[] = [];
  for (const alert of n.alerts) (alert.status === "firing" ? firing : resolved).push(alert.fingerprint);
  return {
    group: groupHash(n),
    signature: `${n.action}:${n.status}:${firing.sort().join(",")}/${resolved.sort().join(",")}`,
    windowMs,
  };
}

function networkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code !== undefined) return `network error: ${cause.code}`;
  return `network error: ${error instanceof Error ? error.message : String(error)}`;
}

/** Real timers must not keep a process alive just to retry an alert (the outbox keeps it). */
function unref(handle: TimerHandle): void {
  (handle as { unref?: () => void } | undefined)?.unref?.();
}
