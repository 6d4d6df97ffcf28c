import {
  type AgentSREEventName,
  type AgentSREEvents,
  type AlertDeliveryFailedEvent,
  type EventSink,
  type Listener,
  type SchedulingClock,
  type TimerHandle,
  toSchedulingClock,
} from "@agent-sre/core";
import { type Alert, type AlertInput, firingAlert } from "./alert.js";
import { createChannel } from "./channels/index.js";
import { type NormalizedAlertsConfig, parseAlertsConfig } from "./config.js";
import { Dispatcher, type Receiver, type ReceiverDeliveryStatus } from "./delivery.js";
import { AggregationGroup, type GroupHost, type NotificationLogEntry } from "./group.js";
import { DEFAULT_INHIBIT_RULES, Inhibitor } from "./inhibit.js";
import {
  type AlertEngine,
  type AlertManagerEvents,
  type AlertManagerLogger,
  type AlertManagerOptions,
  type AlertManagerStatus,
  AlertsConfigError,
  RUNTIME_KEYS,
} from "./manager-types.js";
import { compileMatchers, type Matcher, matchAll } from "./matchers.js";
import type { Notification } from "./notification.js";
import { type AlertOutboxStore, type DeadLetter, MemoryOutboxStore } from "./outbox.js";
import { type CompiledRoute, compileRoute, groupOf, matchRoutes } from "./route.js";
import { Redactor } from "./secrets.js";
import { type Silence, type SilenceInput, Silences } from "./silences.js";
import {
  type AlertSignal,
  type DriftReportLike,
  driftSignal,
  EventMapper,
  SOURCE_EVENTS,
  type SourceEventName,
} from "./sources.js";

interface Active {
  alert: Alert;
  eventLike: boolean;
  expiry: TimerHandle | undefined;
  hold: TimerHandle | undefined;
}

/**
 * Engine events → alerts → routes → groups → notifications → channels, as Prometheus Alertmanager does
 * it. Every entry point (`sre.on` listeners, `sink.emit`, `fire`, `resolve`) only updates memory and
 * arms timers: delivery runs later on the clock, so a guarded call never waits on a channel.
 */
export class AlertManager {
  readonly clock: SchedulingClock;
  readonly store: AlertOutboxStore;
  /** Resolves once the store's outbox and state have been restored (and delivery has started). */
  readonly ready: Promise<void>;
  /** An `EventSink` that feeds engine events in (for wiring without `sre.on`). */
  readonly sink: EventSink;

  readonly #config: NormalizedAlertsConfig;
  readonly #redactor = new Redactor();
  readonly #receivers = new Map<string, Receiver>();
  readonly #root: CompiledRoute;
  readonly #inhibitor: Inhibitor;
  readonly #silences = new Silences();
  readonly #mapper = new EventMapper();
  readonly #dispatcher: Dispatcher;
  readonly #active = new Map<string, Active>();
  readonly #groups = new Map<string, AggregationGroup>();
  readonly #nflog = new Map<string, NotificationLogEntry>();
  readonly #transitions = new Map<string, number[]>();
  readonly #listeners = new Map<keyof AlertManagerEvents, Set<(payload: never) => void>>();
  readonly #detach: Array<() => void> = [];
  readonly #logger: AlertManagerLogger;
  readonly #host: GroupHost;
  #engineSink: EventSink | undefined;
  #dropped = 0;
  #closed = false;

  constructor(options: AlertManagerOptions) {
    if (typeof options !== "object" || options === null)
      throw new AlertsConfigError([{ path: "alerts", message: "expected an object" }]);
    const config: Record<string, unknown> = { ...options };
    for (const key of RUNTIME_KEYS) delete config[key];
    const { config: parsed, issues } = parseAlertsConfig(config, { env: options.env ?? process.env });
    if (parsed === undefined) throw new AlertsConfigError(issues);
    this.#config = parsed;
    this.clock = toSchedulingClock(options.clock);
    this.store = options.store ?? new MemoryOutboxStore();
    this.#logger = options.logger ?? { warn: (message) => console.warn(`agent-sre alerts: ${message}`) };

    for (const r of parsed.receivers) {
      const channel = createChannel(r.config);
      this.#redactor.add(...channel.secrets);
      this.#receivers.set(r.name, {
        name: r.name,
        channel,
        sendResolved: r.sendResolved,
        timeoutMs: r.timeoutMs,
        retry: r.retry,
        rateLimit: r.rateLimit,
      });
    }
    this.#root = compileRoute(parsed.route);
    this.#inhibitor = new Inhibitor(parsed.inhibitRules ?? DEFAULT_INHIBIT_RULES);
    const now = this.clock.now();
    for (const silence of parsed.silences) {
      const input: SilenceInput = { matchers: silence.matchers, endsAt: silence.endsAt };
      if (silence.startsAt !== undefined) input.startsAt = silence.startsAt;
      if (silence.createdBy !== undefined) input.createdBy = silence.createdBy;
      if (silence.comment !== undefined) input.comment = silence.comment;
      if (silence.endsAt > now) this.#silences.add(input, now);
    }
    this.#dispatcher = new Dispatcher({
      clock: this.clock,
      store: this.store,
      receivers: this.#receivers,
      fetch: options.fetch ?? globalThis.fetch,
      random: options.random ?? Math.random,
      redactor: this.#redactor,
      externalUrl: parsed.externalUrl,
      maxPendingPerReceiver: parsed.maxPendingPerReceiver,
      hooks: {
        delivered: (entry, httpStatus) =>
          this.#emit("notification.delivered", {
            at: this.clock.now(),
            notification: entry.notification,
            attempts: entry.attempts,
            httpStatus,
          }),
        retrying: (entry, error, delayMs, httpStatus) =>
          this.#emit("notification.retry", {
            at: this.clock.now(),
            notification: entry.notification,
            attempts: entry.attempts,
            error,
            delayMs,
            httpStatus,
          }),
        failed: (record, receiver) => this.#deliveryFailed(record, receiver),
        adoptedState: (state) => this.#mergeState(state),
        dropped: (entry, reason) =>
          this.#emit("notification.deduplicated", {
            at: this.clock.now(),
            notification: entry.notification,
            reason,
          }),
        storeError: (error) => this.#logger.warn(`outbox store: ${error}`),
      },
    });
    this.#host = this.#groupHost();
    this.sink = {
      emit: (name, payload) => this.#onEvent(name, payload),
      has: (name) =>
        !this.#closed && this.#config.enabled && (SOURCE_EVENTS as readonly string[]).includes(name),
    };
    this.ready = this.#restore();
    // A failed restore is logged; the manager keeps working from memory.
    this.ready.catch((error: unknown) =>
      this.#logger.warn(`restore failed: ${this.#redactor.redact(String(error))}`),
    );
    if (options.sre !== undefined) this.attach(options.sre);
  }

  /** Subscribes to an engine's events; returns a function that unsubscribes. */
  attach(sre: AlertEngine): () => void {
    const offs = SOURCE_EVENTS.map((name) =>
      sre.on(name, ((payload: AgentSREEvents[typeof name]) => this.#onEvent(name, payload)) as Listener<
        typeof name
      >),
    );
    if (sre.events !== undefined) this.#engineSink = sre.events;
    const detach = () => {
      for (const off of offs) off();
    };
    this.#detach.push(detach);
    return detach;
  }

  /** Feeds the MCP proxy's tool-drift report in (the proxy wires this for `agentSre.alerts`). */
  observeDrift(report: DriftReportLike): void {
    this.#apply(driftSignal(report));
  }

  /** Raises an alert by hand (or from a source of your own); `eventLike` alerts resolve on their own. */
  fire(input: AlertInput & { eventLike?: boolean }): Alert | undefined {
    const { eventLike = false, ...alert } = input;
    this.#apply({ kind: "fire", alert: { source: "manual", ...alert }, eventLike });
    return this.#active.get(firingAlert(alert).fingerprint)?.alert;
  }

  /** Resolves the active alerts that match every matcher (or the one with this fingerprint). */
  resolve(selector: string | ReadonlyArray<Matcher | string>, at = this.clock.now()): number {
    const select =
      typeof selector === "string"
        ? (a: Alert) => a.fingerprint === selector
        : (() => {
            const matchers = compileMatchers(selector);
            return (a: Alert) => matchAll(matchers, a.labels);
          })();
    const before = this.#active.size;
    this.#apply({ kind: "resolve", at, source: "manual", select });
    return before - this.#active.size;
  }

  silence(input: SilenceInput): Silence {
    const silence = this.#silences.add(input, this.clock.now());
    this.#dispatcher.write(() => this.store.setState(`silence:${silence.id}`, silence));
    return silence;
  }

  expireSilence(id: string): boolean {
    const existed = this.#silences.expire(id);
    if (existed) this.#dispatcher.write(() => this.store.setState(`silence:${id}`, undefined));
    return existed;
  }

  silences(): Silence[] {
    return this.#silences.list(this.clock.now());
  }

  /**
   * Acknowledges the incident of every group holding this alert, on receivers that support it
   * (PagerDuty `acknowledge`, Opsgenie acknowledge by alias). Returns the notifications queued.
   */
  acknowledge(fingerprint: string): number {
    let queued = 0;
    for (const group of this.#groups.values()) {
      const receiver = this.#receivers.get(group.route.receiver);
      if (!group.alerts.has(fingerprint) || receiver === undefined || !receiver.channel.supportsAcknowledge)
        continue;
      const now = this.clock.now();
      const alerts = [...group.alerts.values()].filter((a) => a.status === "firing");
      this.#enqueue(
        {
          id: this.#dispatcher.newId(now),
          receiver: receiver.name,
          groupKey: group.key,
          groupLabels: group.labels,
          status: "firing",
          action: "acknowledge",
          alerts,
          at: now,
        },
        group.route.repeatIntervalMs,
      );
      queued += 1;
    }
    return queued;
  }

  /** Flushes every group now, ignoring group waits (e.g. before shutdown). */
  flush(): void {
    for (const group of [...this.#groups.values()]) group.flushNow();
  }

  /** Active (firing) alerts, oldest first. */
  alerts(): Alert[] {
    return [...this.#active.values()].map((a) => a.alert).sort((a, b) => a.startsAt - b.startsAt);
  }

  async deadLetters(limit?: number): Promise<DeadLetter[]> {
    return await this.store.deadLetters(limit);
  }

  /** Resolves once no delivery is in flight and the store is written (waiting timers don't count). */
  async idle(): Promise<void> {
    await this.ready.catch(() => undefined);
    await this.#dispatcher.idle();
  }

  status(): AlertManagerStatus {
    const now = this.clock.now();
    const delivery = this.#dispatcher.status();
    return {
      enabled: this.#config.enabled,
      receivers: [...this.#receivers.values()].map((r) => ({
        name: r.name,
        ...r.channel.describe(),
        sendResolved: r.sendResolved,
        delivery: delivery[r.name] as ReceiverDeliveryStatus,
      })),
      alerts: this.alerts().map((a) => ({
        fingerprint: a.fingerprint,
        name: a.name,
        severity: a.severity,
        agent: a.agent ?? null,
        summary: this.#redactor.redact(a.summary),
        startsAt: a.startsAt,
        mutedBy: this.#mutedBy(a, now) ?? null,
      })),
      groups: this.#groups.size,
      silences: this.#silences.list(now),
      droppedAlerts: this.#dropped,
    };
  }

  on<K extends keyof AlertManagerEvents>(
    name: K,
    listener: (payload: AlertManagerEvents[K]) => void,
  ): () => void {
    const set = this.#listeners.get(name) ?? new Set();
    set.add(listener as (payload: never) => void);
    this.#listeners.set(name, set);
    return () => set.delete(listener as (payload: never) => void);
  }

  /** Unsubscribes, stops timers and waits for in-flight requests; undelivered notifications stay in the outbox. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const detach of this.#detach.splice(0)) detach();
    for (const group of this.#groups.values()) group.stop();
    for (const active of this.#active.values()) {
      if (active.expiry !== undefined) this.clock.clearTimeout(active.expiry);
      if (active.hold !== undefined) this.clock.clearTimeout(active.hold);
    }
    await this.ready.catch(() => undefined);
    await this.#dispatcher.close();
    await this.store.close?.();
  }

  // -------------------------------------------------------------------------------------------

  #onEvent(name: AgentSREEventName, payload: unknown): void {
    if (this.#closed || !this.#config.enabled) return;
    if (!(SOURCE_EVENTS as readonly string[]).includes(name)) return;
    for (const signal of this.#mapper.map(
      name as SourceEventName,
      payload as AgentSREEvents[SourceEventName],
    )) {
      this.#apply(signal);
    }
  }

  #apply(signal: AlertSignal): void {
    if (this.#closed || !this.#config.enabled) return;
    if (signal.kind === "fire") this.#fire(signal.alert, signal.eventLike);
    else {
      for (const active of [...this.#active.values()]) {
        if (signal.select(active.alert)) this.#startResolve(active, signal.at);
      }
    }
  }

  #fire(input: AlertInput, eventLike: boolean): void {
    const override = this.#config.sources[input.name];
    if (override === false) return;
    const alert = firingAlert(
      override?.severity === undefined ? input : { ...input, severity: override.severity },
    );
    const existing = this.#active.get(alert.fingerprint);
    if (existing !== undefined) {
      if (existing.hold !== undefined) {
        // It came back while its resolve was held: the resolve never happened (flap damped).
        this.clock.clearTimeout(existing.hold);
        existing.hold = undefined;
      }
      existing.alert = { ...alert, startsAt: existing.alert.startsAt };
      if (eventLike || alert.resolvesAt !== undefined) this.#armExpiry(existing);
      this.#route(existing.alert, false);
      return;
    }
    if (this.#active.size >= this.#config.maxActiveAlerts) {
      this.#dropped += 1;
      this.#logger.warn(`too many active alerts (${this.#config.maxActiveAlerts}): dropped ${alert.name}`);
      return;
    }
    const active: Active = { alert, eventLike, expiry: undefined, hold: undefined };
    this.#active.set(alert.fingerprint, active);
    this.#transition(alert.fingerprint, alert.startsAt);
    if (eventLike || alert.resolvesAt !== undefined) this.#armExpiry(active);
    this.#persist(active);
    this.#route(alert, true);
    this.#emit("alert.firing", alert);
  }

  #startResolve(active: Active, at: number): void {
    if (active.hold !== undefined) return;
    const flapping = this.#isFlapping(active.alert.fingerprint, at);
    const holdMs =
      flapping && this.#config.flapping !== false
        ? this.#config.flapping.holdMs
        : this.#config.keepFiringForMs;
    if (holdMs <= 0) {
      this.#resolveNow(active, at);
      return;
    }
    active.hold = this.clock.setTimeout(() => {
      active.hold = undefined;
      this.#resolveNow(active, this.clock.now());
    }, holdMs);
    unref(active.hold);
  }

  #resolveNow(active: Active, at: number): void {
    const fingerprint = active.alert.fingerprint;
    if (this.#active.get(fingerprint) !== active) return;
    if (active.expiry !== undefined) this.clock.clearTimeout(active.expiry);
    if (active.hold !== undefined) this.clock.clearTimeout(active.hold);
    this.#active.delete(fingerprint);
    this.#transition(fingerprint, at);
    this.#dispatcher.write(() => this.store.setState(`alert:${fingerprint}`, undefined));
    const resolved: Alert = { ...active.alert, status: "resolved", endsAt: at };
    this.#route(resolved, true);
    this.#emit("alert.resolved", resolved);
  }

  /** Resolves an event-like alert after `resolveTimeoutMs` without news, and any alert at its `resolvesAt`. */
  #armExpiry(active: Active): void {
    if (active.expiry !== undefined) this.clock.clearTimeout(active.expiry);
    const lapse = active.alert.resolvesAt;
    let delayMs = active.eventLike ? this.#config.resolveTimeoutMs : Number.POSITIVE_INFINITY;
    if (lapse !== undefined) delayMs = Math.min(delayMs, Math.max(0, lapse - this.clock.now()));
    if (delayMs === Number.POSITIVE_INFINITY) return;
    active.expiry = this.clock.setTimeout(() => {
      active.expiry = undefined;
      this.#startResolve(active, this.clock.now());
    }, delayMs);
    unref(active.expiry);
  }

  /** Inserts into every matching route's group; `arm` = start the group's wait if it is new. */
  #route(alert: Alert, arm: boolean): void {
    for (const route of matchRoutes(this.#root, alert.labels)) {
      const { key, labels } = groupOf(route, alert.labels);
      let group = this.#groups.get(key);
      if (group === undefined) {
        if (!arm) continue;
        group = new AggregationGroup(route, key, labels, this.#host);
        this.#groups.set(key, group);
      }
      if (arm) group.insert(alert);
      else if (group.alerts.has(alert.fingerprint)) group.alerts.set(alert.fingerprint, alert);
    }
  }

  #transition(fingerprint: string, at: number): void {
    if (this.#config.flapping === false) return;
    const window = this.#config.flapping.windowMs;
    const list = (this.#transitions.get(fingerprint) ?? []).filter((t) => t > at - window);
    list.push(at);
    this.#transitions.delete(fingerprint);
    this.#transitions.set(fingerprint, list);
    // Bounded: the least recently changed fingerprints go first.
    while (this.#transitions.size > this.#config.maxActiveAlerts) {
      const oldest = this.#transitions.keys().next().value as string;
      this.#transitions.delete(oldest);
    }
  }

  #isFlapping(fingerprint: string, at: number): boolean {
    if (this.#config.flapping === false) return false;
    const { windowMs, maxTransitions } = this.#config.flapping;
    // The resolve about to happen counts as a transition too.
    const recent = (this.#transitions.get(fingerprint) ?? []).filter((t) => t > at - windowMs).length + 1;
    return recent >= maxTransitions;
  }

  #mutedBy(alert: Alert, now: number): string | undefined {
    const silence = this.#silences.mutedBy(alert.labels, now);
    if (silence !== undefined) return `silenced:${silence}`;
    const firing = [...this.#active.values()].map((a) => a.alert);
    const source = this.#inhibitor.inhibitedBy(alert, firing);
    return source === undefined ? undefined : `inhibited:${source}`;
  }

  #groupHost(): GroupHost {
    const nflogKey = (receiver: string, groupKey: string) => `${receiver}\u0000${groupKey}`;
    return {
      clock: this.clock,
      isMuted: (alert) => this.#mutedBy(alert, this.clock.now()) !== undefined,
      sendsResolved: (receiver) => this.#receivers.get(receiver)?.sendResolved ?? true,
      nflog: (receiver, groupKey) => this.#nflog.get(nflogKey(receiver, groupKey)),
      setNflog: (receiver, groupKey, entry) => {
        const key = nflogKey(receiver, groupKey);
        if (entry === undefined) this.#nflog.delete(key);
        else this.#nflog.set(key, entry);
        const value = entry === undefined ? undefined : { receiver, groupKey, entry };
        this.#dispatcher.write(() => this.store.setState(`nflog:${receiver}:${groupKey}`, value));
      },
      notify: (group, firing, resolved) => {
        const now = this.clock.now();
        this.#enqueue(
          {
            id: this.#dispatcher.newId(now),
            receiver: group.route.receiver,
            groupKey: group.key,
            groupLabels: group.labels,
            status: firing.length > 0 ? "firing" : "resolved",
            action: "notify",
            alerts: [...firing, ...resolved],
            at: now,
          },
          group.route.repeatIntervalMs,
        );
      },
      removeGroup: (group) => {
        if (this.#groups.get(group.key) === group) this.#groups.delete(group.key);
      },
    };
  }

  #enqueue(notification: Notification, dedupWindowMs: number): void {
    const entry = this.#dispatcher.enqueue(structuredClone(notification), dedupWindowMs);
    if (entry !== undefined) this.#emit("notification.queued", entry.notification);
  }

  #persist(active: Active): void {
    const value = { alert: active.alert, eventLike: active.eventLike };
    this.#dispatcher.write(() => this.store.setState(`alert:${active.alert.fingerprint}`, value));
  }

  async #restore(): Promise<void> {
    this.#mergeState(await this.store.loadState());
    await this.#dispatcher.start();
  }

  #mergeState(state: Record<string, unknown>): void {
    const now = this.clock.now();
    for (const [key, value] of Object.entries(state)) {
      if (key.startsWith("silence:")) {
        const silence = value as Silence;
        if (silence.endsAt > now) this.#silences.add(silence, now);
      } else if (key.startsWith("nflog:")) {
        const { receiver, groupKey, entry } = value as {
          receiver: string;
          groupKey: string;
          entry: NotificationLogEntry;
        };
        if (!this.#nflog.has(`${receiver}\u0000${groupKey}`))
          this.#nflog.set(`${receiver}\u0000${groupKey}`, entry);
      }
    }
    for (const [key, value] of Object.entries(state)) {
      if (!key.startsWith("alert:")) continue;
      const { alert, eventLike } = value as { alert: Alert; eventLike: boolean };
      if (this.#active.has(alert.fingerprint)) continue;
      const active: Active = { alert, eventLike, expiry: undefined, hold: undefined };
      this.#active.set(alert.fingerprint, active);
      this.#route(alert, true);
      // One whose condition lapsed while the process was away resolves before its group's first flush, so
      // the receiver gets the resolve, not a repeat of the page.
      if (alert.resolvesAt !== undefined && alert.resolvesAt <= now) this.#startResolve(active, now);
      else if (eventLike || alert.resolvesAt !== undefined) this.#armExpiry(active);
    }
  }

  #deliveryFailed(record: DeadLetter, receiver: Receiver): void {
    const n = record.entry.notification;
    const event: AlertDeliveryFailedEvent = {
      at: record.failedAt,
      receiver: receiver.name,
      channel: receiver.channel.type,
      groupKey: n.groupKey,
      status: n.status,
      alerts: n.alerts.map((a) => a.name),
      attempts: record.entry.attempts,
      error: record.error,
      httpStatus: record.httpStatus,
    };
    this.#logger.warn(
      `notification to "${receiver.name}" (${receiver.channel.type}) dead-lettered after ${event.attempts} attempt${event.attempts === 1 ? "" : "s"}: ${record.error}`,
    );
    this.#emit("alert.delivery_failed", event);
    if (this.#engineSink?.has("alert.delivery_failed")) this.#engineSink.emit("alert.delivery_failed", event);
  }

  #emit<K extends keyof AlertManagerEvents>(name: K, payload: AlertManagerEvents[K]): void {
    for (const listener of this.#listeners.get(name) ?? []) {
      try {
        (listener as (p: AlertManagerEvents[K]) => void)(payload);
      } catch (error) {
        this.#logger.warn(`listener for "${name}" threw: ${this.#redactor.redact(String(error))}`);
      }
    }
  }
}

function unref(handle: TimerHandle): void {
  (handle as { unref?: () => void } | undefined)?.unref?.();
}
