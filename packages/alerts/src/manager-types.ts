import {
  AgentSREError,
  type AgentSREEventName,
  type AlertDeliveryFailedEvent,
  type Clock,
  type EventSink,
  type Listener,
} from "@agent-sre/core";
import type { Alert } from "./alert.js";
import type { AlertsConfig, ConfigIssue } from "./config.js";
import type { ReceiverDeliveryStatus } from "./delivery.js";
import type { Notification } from "./notification.js";
import type { AlertOutboxStore } from "./outbox.js";
import type { Silence } from "./silences.js";

/** The AlertManager's options, events, status and config error: its public types. */

/** Refusal of an alerts config: every problem with its path. */
export class AlertsConfigError extends AgentSREError {
  readonly code = "CONFIG_INVALID" as const;
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(
      `alerts config: ${issues.length} problem${issues.length === 1 ? "" : "s"}\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join("\n")}`,
    );
    this.issues = issues;
  }
}

/** What an AlertManager subscribes to: an `AgentSRE` (or anything with its `on`). */
export interface AlertEngine {
  on<K extends AgentSREEventName>(name: K, listener: Listener<K>): () => void;
  readonly events?: EventSink;
}

export interface AlertManagerLogger {
  warn(message: string): void;
}

export interface AlertManagerOptions extends AlertsConfig {
  /** Subscribe to this engine's events now (or call `attach(sre)` later). */
  sre?: AlertEngine;
  /** Timing of grouping, retries, timeouts (default: the system clock). Tests pass a `ManualClock`. */
  clock?: Clock;
  /** Outbox + state (default: `MemoryOutboxStore`). */
  store?: AlertOutboxStore;
  fetch?: typeof globalThis.fetch;
  /** Jitter source in [0, 1) (default `Math.random`). */
  random?: () => number;
  /** Where `${VAR}` in secrets is looked up (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Warnings (dead letters, store errors), redacted. Default: `console.warn`. */
  logger?: AlertManagerLogger;
}

export const RUNTIME_KEYS = ["sre", "clock", "store", "fetch", "random", "env", "logger"] as const;

export interface AlertManagerEvents {
  "alert.firing": Alert;
  "alert.resolved": Alert;
  "notification.queued": Notification;
  "notification.delivered": {
    at: number;
    notification: Notification;
    attempts: number;
    httpStatus: number | undefined;
  };
  "notification.retry": {
    at: number;
    notification: Notification;
    attempts: number;
    error: string;
    delayMs: number;
    httpStatus: number | undefined;
  };
  "alert.delivery_failed": AlertDeliveryFailedEvent;
  /** A shared outbox (a fleet on one Redis) said another process sent this (`duplicate`) or delivers it (`gone`). */
  "notification.deduplicated": { at: number; notification: Notification; reason: "duplicate" | "gone" };
}

export interface ActiveAlertStatus {
  fingerprint: string;
  name: string;
  severity: string;
  agent: string | null;
  summary: string;
  startsAt: number;
  /** `silenced:<id>`, `inhibited:<fingerprint>` or null. */
  mutedBy: string | null;
}

export interface AlertManagerStatus {
  enabled: boolean;
  receivers: Array<Record<string, unknown> & { name: string; delivery: ReceiverDeliveryStatus }>;
  alerts: ActiveAlertStatus[];
  groups: number;
  silences: Silence[];
  droppedAlerts: number;
}
