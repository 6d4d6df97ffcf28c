import type { StateChange, StateValue } from "@agent-sre/core";
import type { Redis } from "ioredis";

interface UnsentWrite {
  kind: string;
  id: string;
  value: StateValue | null;
  expiresAtMs: number;
}

/**
 * The Redis store's decision state: an in-process mirror of every record (so reads never leave the process),
 * writes sent in order in the background (`SET … PXAT` + `PUBLISH` in one MULTI), other processes' writes
 * applied from the broadcast channel, and a full reload after a reconnection. A local write not yet in Redis
 * wins over anything older that arrives meanwhile.
 */
export class RedisStateMirror {
  readonly #redis: Redis;
  readonly #keyPrefix: string;
  readonly #channel: string;
  readonly #instanceId: string;
  readonly #state = new Map<string, Map<string, StateValue>>();
  readonly #listeners = new Set<(change: StateChange) => void>();
  /** State writes not yet acknowledged by Redis, by `kind\0id` (the latest wins). */
  readonly #unsentState = new Map<string, UnsentWrite>();
  #sending: Promise<void> | undefined;
  #sendAgain = false;

  constructor(redis: Redis, keyPrefix: string, channel: string, instanceId: string) {
    this.#redis = redis;
    this.#keyPrefix = keyPrefix;
    this.#channel = channel;
    this.#instanceId = instanceId;
  }

  get(kind: string, id: string): StateValue | undefined {
    return this.#state.get(kind)?.get(id);
  }

  put(kind: string, id: string, value: StateValue, expiresAtMs: number): void {
    const copy = Object.freeze(JSON.parse(JSON.stringify(value)) as StateValue);
    this.#records(kind).set(id, copy);
    this.#unsentState.set(`${kind}\0${id}`, { kind, id, value: copy, expiresAtMs });
    void this.send();
  }

  delete(kind: string, id: string): void {
    this.#state.get(kind)?.delete(id);
    this.#unsentState.set(`${kind}\0${id}`, { kind, id, value: null, expiresAtMs: 0 });
    void this.send();
  }

  list(kind: string): Array<[string, StateValue]> {
    return [...(this.#state.get(kind) ?? [])];
  }

  subscribe(listener: (change: StateChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Writes not yet acknowledged by Redis. */
  get unsentWrites(): number {
    return this.#unsentState.size;
  }

  /** Writes and broadcasts the state changes not yet in Redis (one writer at a time, in order). */
  send(): Promise<void> {
    if (this.#sending !== undefined) {
      this.#sendAgain = true;
      return this.#sending;
    }
    this.#sending = this.#sendLoop().finally(() => {
      this.#sending = undefined;
    });
    return this.#sending;
  }

  async #sendLoop(): Promise<void> {
    do {
      this.#sendAgain = false;
      if (this.#redis.status !== "ready") return;
      for (const [slot, write] of [...this.#unsentState]) {
        const key = `${this.#keyPrefix}s:${write.kind}:${write.id}`;
        const message = JSON.stringify({
          origin: this.#instanceId,
          kind: write.kind,
          id: write.id,
          value: write.value,
        });
        try {
          const multi = this.#redis.multi();
          if (write.value === null) multi.del(key);
          else if (write.expiresAtMs === Number.POSITIVE_INFINITY)
            multi.set(key, JSON.stringify(write.value));
          else
            multi.set(key, JSON.stringify(write.value), "PXAT", Math.max(1, Math.floor(write.expiresAtMs)));
          multi.publish(this.#channel, message);
          await multi.exec();
          if (this.#unsentState.get(slot) === write) this.#unsentState.delete(slot);
        } catch {
          return; // Redis is away: sent again on reconnection
        }
      }
    } while (this.#sendAgain);
  }

  /** A message on the broadcast channel: another process's write (its own are skipped). */
  onBroadcast(raw: string): void {
    let message: { origin: string; kind: string; id: string; value: StateValue | null };
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (message.origin === this.#instanceId) return;
    // A local write not yet in Redis is newer than what others wrote before it.
    if (this.#unsentState.has(`${message.kind}\0${message.id}`)) return;
    const value = message.value === null ? undefined : Object.freeze(message.value);
    if (value === undefined) this.#state.get(message.kind)?.delete(message.id);
    else this.#records(message.kind).set(message.id, value);
    this.#notify({ kind: message.kind, id: message.id, value });
  }

  /** Loads every state record; with `notify`, reports the ones that differ from the mirror. */
  async load(notify: boolean): Promise<void> {
    const prefix = `${this.#keyPrefix}s:`;
    const seen = new Map<string, Map<string, StateValue>>();
    let cursor = "0";
    do {
      const [next, keys] = await this.#redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length === 0) continue;
      const values = await this.#redis.mget(...keys);
      keys.forEach((key, index) => {
        const raw = values[index];
        if (raw === null || raw === undefined) return;
        const rest = key.slice(prefix.length);
        const colon = rest.indexOf(":");
        const kind = rest.slice(0, colon);
        const id = rest.slice(colon + 1);
        let map = seen.get(kind);
        if (map === undefined) {
          map = new Map();
          seen.set(kind, map);
        }
        map.set(id, Object.freeze(JSON.parse(raw) as StateValue));
      });
    } while (cursor !== "0");
    const changes: StateChange[] = [];
    for (const [kind, records] of seen) {
      for (const [id, value] of records) {
        if (this.#unsentState.has(`${kind}\0${id}`)) continue;
        const old = this.#state.get(kind)?.get(id);
        if (old !== undefined && JSON.stringify(old) === JSON.stringify(value)) continue;
        this.#records(kind).set(id, value);
        changes.push({ kind, id, value });
      }
    }
    for (const [kind, records] of this.#state) {
      for (const id of [...records.keys()]) {
        if (seen.get(kind)?.has(id) || this.#unsentState.has(`${kind}\0${id}`)) continue;
        records.delete(id);
        changes.push({ kind, id, value: undefined });
      }
    }
    if (notify) for (const change of changes) this.#notify(change);
  }

  #notify(change: StateChange): void {
    for (const listener of this.#listeners) listener(change);
  }

  #records(kind: string): Map<string, StateValue> {
    let records = this.#state.get(kind);
    if (records === undefined) {
      records = new Map();
      this.#state.set(kind, records);
    }
    return records;
  }
}
