import type { SchedulingClock, TimerHandle } from "@agent-sre/core";
import type { Alert } from "./alert.js";
import type { CompiledRoute } from "./route.js";

/** What was last sent for a group to its receiver (Alertmanager's notification log). */
export interface NotificationLogEntry {
  firing: string[];
  resolved: string[];
  at: number;
}

export interface GroupHost {
  readonly clock: SchedulingClock;
  /** Silenced or inhibited right now. */
  isMuted(alert: Alert): boolean;
  sendsResolved(receiver: string): boolean;
  nflog(receiver: string, groupKey: string): NotificationLogEntry | undefined;
  setNflog(receiver: string, groupKey: string, entry: NotificationLogEntry | undefined): void;
  notify(group: AggregationGroup, firing: Alert[], resolved: Alert[]): void;
  removeGroup(group: AggregationGroup): void;
}

/**
 * One aggregation group: the alerts of one route that share the route's `groupBy` label values. The first
 * notification waits `groupWaitMs` (so alerts that arrive together are sent together); after that the
 * group is looked at every `groupIntervalMs` and notified only when its firing set grew, alerts
 * resolved, or `repeatIntervalMs` passed. An alert that fires and resolves between two looks is never
 * seen — the grouping windows damp flapping by themselves.
 */
export class AggregationGroup {
  readonly key: string;
  readonly route: CompiledRoute;
  readonly labels: Record<string, string>;
  readonly alerts = new Map<string, Alert>();
  readonly #host: GroupHost;
  #timer: TimerHandle | undefined;
  #nextFlushAt: number | undefined;

  constructor(route: CompiledRoute, key: string, labels: Record<string, string>, host: GroupHost) {
    this.route = route;
    this.key = key;
    this.labels = labels;
    this.#host = host;
  }

  get nextFlushAt(): number | undefined {
    return this.#nextFlushAt;
  }

  insert(alert: Alert): void {
    this.alerts.set(alert.fingerprint, alert);
    if (this.#timer === undefined) this.#schedule(this.route.groupWaitMs);
  }

  /** Flushes now (shutdown, tests, `manager.flush()`), then keeps the regular interval. */
  flushNow(): void {
    if (this.#timer !== undefined) this.#host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flush();
  }

  stop(): void {
    if (this.#timer !== undefined) this.#host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextFlushAt = undefined;
  }

  #schedule(delayMs: number): void {
    this.#nextFlushAt = this.#host.clock.now() + delayMs;
    this.#timer = this.#host.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, delayMs);
    (this.#timer as { unref?: () => void } | undefined)?.unref?.();
  }

  #flush(): void {
    const host = this.#host;
    const now = host.clock.now();
    const receiver = this.route.receiver;
    // Oldest first (then by fingerprint): the order an on-call person reads them in.
    const sorted = [...this.alerts.values()].sort(
      (a, b) => a.startsAt - b.startsAt || (a.fingerprint < b.fingerprint ? -1 : 1),
    );
    const firing = sorted.filter((a) => a.status === "firing" && !host.isMuted(a));
    const resolved = sorted.filter((a) => a.status === "resolved");
    const sendResolved = host.sendsResolved(receiver);
    const entry = host.nflog(receiver, this.key);

    if (this.#needsUpdate(entry, firing, resolved, sendResolved, now)) {
      if (firing.length > 0 || sendResolved) host.notify(this, firing, sendResolved ? resolved : []);
      host.setNflog(
        receiver,
        this.key,
        firing.length === 0
          ? undefined
          : {
              firing: firing.map((a) => a.fingerprint),
              resolved: resolved.map((a) => a.fingerprint),
              at: now,
            },
      );
    }
    // Resolved alerts have been told (or never needed telling): they leave the group.
    for (const alert of resolved) this.alerts.delete(alert.fingerprint);
    if (this.alerts.size === 0) {
      this.#nextFlushAt = undefined;
      host.removeGroup(this);
      return;
    }
    this.#schedule(this.route.groupIntervalMs);
  }

  #needsUpdate(
    entry: NotificationLogEntry | undefined,
    firing: readonly Alert[],
    resolved: readonly Alert[],
    sendResolved: boolean,
    now: number,
  ): boolean {
    if (firing.length === 0 && resolved.length === 0) return false;
    if (entry === undefined) return firing.length > 0;
    if (entry.firing.length > 0 && firing.length === 0) return true;
    const sentFiring = new Set(entry.firing);
    if (firing.some((a) => !sentFiring.has(a.fingerprint))) return true;
    if (sendResolved) {
      const sentResolved = new Set(entry.resolved);
      // Only alerts that were announced as firing need a resolve.
      if (resolved.some((a) => sentFiring.has(a.fingerprint) && !sentResolved.has(a.fingerprint)))
        return true;
    }
    return firing.length > 0 && now - entry.at >= this.route.repeatIntervalMs;
  }
}
