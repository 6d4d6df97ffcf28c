import type { BudgetScope, RefusalCode } from "./errors.js";
import type { CallObservation } from "./types.js";

/**
 * Typed events. Names are dotted (`breaker.open`); payloads are plain JSON-serializable objects with the
 * time they happened (`at`, ms). Nothing in core sends them anywhere: subscribe with `sre.on(...)`.
 */
export interface AgentSREEvents {
  "breaker.open": BreakerTransition;
  "breaker.half_open": BreakerTransition;
  "breaker.close": BreakerTransition;
  "breaker.cascade": { at: number; openBreakers: string[]; threshold: number };
  /** The configured cascade response acted (see `AgentSREOptions.cascade`). */
  "cascade.response": {
    at: number;
    actions: string[];
    openBreakers: string[];
    held: string[];
  };
  /** The cascade is over: the response lifted itself. */
  "cascade.lifted": { at: number; actions: string[]; durationMs: number };
  "budget.alert": BudgetAlertEvent;
  "budget.throttle": BudgetAlertEvent;
  "budget.kill": BudgetAlertEvent;
  "budget.revive": { at: number; agentId: string | undefined; scope: "agent" | "org" };
  /** A reservation was committed for more than it held: the full cost was recorded. */
  "budget.overrun": {
    at: number;
    agentId: string;
    taskId: string | undefined;
    reservedUsd: number;
    actualUsd: number;
  };
  "cost.anomaly": CostAnomalyEvent;
  /** A cost anomaly hold ended: an operator confirmed (`budget.confirmAnomaly`) or its `holdMs` ran out. */
  "cost.anomaly.release": AnomalyReleaseEvent;
  "price.unknown": {
    at: number;
    model: string;
    provider: string | undefined;
    policy: "warn" | "block" | "free";
  };
  "slo.status": SloStatusEvent;
  "slo.alert": SloAlertEvent;
  "slo.exhausted": SloExhaustedEvent;
  "rogue.assessment": RogueAssessmentEvent;
  "agent.quarantine": { at: number; agentId: string; reason: string; riskLevel?: string };
  "agent.release": { at: number; agentId: string };
  "agent.throttle": { at: number; agentId: string; reason: string; tasksPerMinute: number };
  "chaos.fault": ChaosFaultEvent;
  "chaos.abort": { at: number; experiment: string; reason: string };
  "chaos.complete": { at: number; experiment: string; resilienceScore: number | undefined };
  "call.refused": CallRefusedEvent;
  "call.completed": CallCompletedEvent;
  "usage.missing": { at: number; agentId: string; name: string; committedUsd: number };
  /** An alert notification was dead-lettered after its last delivery try (emitted by @agent-sre/alerts). */
  "alert.delivery_failed": AlertDeliveryFailedEvent;
  /** A rollout changed state or step (emitted by `Rollout`). */
  "rollout.transition": RolloutTransitionEvent;
  /** A rollout's step was due for promotion but held (frozen deployments, too few samples). */
  "rollout.hold": RolloutHoldEvent;
  /** An agent's calls are routed to a cheaper model by a `DowngradePolicy`. */
  "budget.downgrade": BudgetDowngradeEvent;
}

export type AgentSREEventName = keyof AgentSREEvents;

export interface BreakerTransition {
  at: number;
  breakerId: string;
  from: "CLOSED" | "OPEN" | "HALF_OPEN";
  to: "CLOSED" | "OPEN" | "HALF_OPEN";
  reason: string;
  /** Consecutive failures, or failures in the window, when the transition happened. */
  failureCount: number;
  /** For `breaker.open`: how long until a probe is admitted. */
  recoveryTimeoutMs?: number;
}

export interface BudgetAlertEvent {
  at: number;
  agentId: string | undefined;
  scope: BudgetScope;
  /** The threshold that was crossed, as a fraction of the limit (0.5, 0.75, ...). */
  threshold: number;
  utilization: number;
  spentUsd: number;
  limitUsd: number;
  severity: "info" | "warning" | "critical";
  action: "ALERT" | "THROTTLE" | "KILL";
  /**
   * When the budget period ends (ms): the spend starts afresh and a kill or throttle lapses by itself, so
   * alerts raised from this event can resolve then.
   */
  periodEndMs: number;
}

export interface CostAnomalyEvent {
  at: number;
  agentId: string;
  costUsd: number;
  expectedUsd: number;
  /** Standard score of log(cost) against the agent's prior baseline. */
  score: number;
  threshold: number;
  /** What the engine did about it (`budget.anomalyDetection.action`). */
  response: "alert" | "hold" | "lower-task-limit" | "throttle" | "kill";
  /** `lower-task-limit`: the agent's per-task limit until `untilMs`. */
  taskLimitUsd?: number;
  /** `lower-task-limit`: when the limit is restored; `hold` with `holdMs`: when the hold lapses. */
  untilMs?: number;
}

export interface AnomalyReleaseEvent {
  at: number;
  agentId: string;
  /** `confirm`: an operator confirmed; `expiry`: `anomalyDetection.holdMs` ran out. */
  by: "confirm" | "expiry";
  heldAtMs: number;
  costUsd: number;
  expectedUsd: number;
  score: number;
  /** Calls refused while held (in this process). */
  refusedCalls: number;
}

export interface SloStatusEvent {
  at: number;
  slo: string;
  agentId: string | undefined;
  from: string;
  to: string;
  budgetRemainingPercent: number;
}

export interface SloAlertEvent {
  at: number;
  slo: string;
  agentId: string | undefined;
  severity: "page" | "ticket";
  burnRateThreshold: number;
  longWindowMs: number;
  shortWindowMs: number;
  longBurnRate: number;
  shortBurnRate: number;
}

export interface SloExhaustedEvent {
  at: number;
  slo: string;
  agentId: string | undefined;
  action: "ALERT" | "THROTTLE" | "CIRCUIT_BREAK" | "FREEZE_DEPLOYMENTS";
}

export interface RogueAssessmentEvent {
  at: number;
  agentId: string;
  riskLevel: "LOW" | "MEDIUM" | "HIGH" | "CRITICAL";
  compositeScore: number;
  quarantineRecommended: boolean;
  reasons: string[];
}

export interface ChaosFaultEvent {
  at: number;
  experiment: string;
  faultId: string;
  faultType: string;
  agentId: string;
  target: string;
}

export interface CallRefusedEvent {
  at: number;
  agentId: string;
  taskId: string | undefined;
  kind: "model" | "tool";
  name: string;
  code: RefusalCode;
  message: string;
}

export interface AlertDeliveryFailedEvent {
  at: number;
  receiver: string;
  /** `slack`, `pagerduty`, `teams`, `opsgenie`, `webhook`, or a custom channel's type. */
  channel: string;
  groupKey: string;
  status: "firing" | "resolved";
  /** Names of the alerts the lost notification carried. */
  alerts: string[];
  attempts: number;
  /** The last error (secrets redacted). */
  error: string;
  httpStatus: number | undefined;
}

export type RolloutState = "pending" | "progressing" | "paused" | "completed" | "rolled_back" | "aborted";

export interface RolloutTransitionEvent {
  at: number;
  rolloutId: string;
  action: "start" | "promote" | "complete" | "rollback" | "pause" | "resume" | "abort";
  from: RolloutState;
  to: RolloutState;
  /** The step after the transition, and the candidate's share of new tasks there (percent). */
  stepIndex: number;
  percent: number;
  /** Why: the failed gate for an automatic rollback, the operator's words otherwise. */
  reason: string;
  automatic: boolean;
}

export interface RolloutHoldEvent {
  at: number;
  rolloutId: string;
  stepIndex: number;
  percent: number;
  reason: "frozen" | "insufficient_samples";
  detail: string;
}

export interface BudgetDowngradeEvent {
  at: number;
  agentId: string;
  fromModel: string;
  toModel: string;
  utilization: number;
  threshold: number;
}

/** A finished (executed) call: the pipeline's `CallObservation`. */
export type CallCompletedEvent = CallObservation;

export type Listener<K extends AgentSREEventName> = (payload: AgentSREEvents[K]) => void;

/** What components receive to emit events; `has()` lets hot paths skip building payloads nobody hears. */
export interface EventSink {
  emit<K extends AgentSREEventName>(name: K, payload: AgentSREEvents[K]): void;
  has(name: AgentSREEventName): boolean;
}

/** A sink that drops everything (the default for components used standalone). */
export const silentSink: EventSink = { emit: () => {}, has: () => false };

/**
 * A small typed emitter. A listener that throws does not break the pipeline: the error is passed to
 * `onListenerError` (default: `console.error`).
 */
export class EventBus implements EventSink {
  readonly #listeners = new Map<AgentSREEventName, Array<Listener<AgentSREEventName>>>();
  /**
   * Whether `call.completed` has listeners: every settled call asks, so it is a field, not a `Map` lookup.
   * @internal
   */
  completedListened = false;
  readonly #onListenerError: (error: unknown, name: AgentSREEventName) => void;

  constructor(options: { onListenerError?: (error: unknown, name: AgentSREEventName) => void } = {}) {
    this.#onListenerError =
      options.onListenerError ??
      ((error, name) => console.error(`agent-sre: listener for "${name}" threw`, error));
  }

  on<K extends AgentSREEventName>(name: K, listener: Listener<K>): () => void {
    const list = this.#listeners.get(name) ?? [];
    list.push(listener as Listener<AgentSREEventName>);
    this.#listeners.set(name, list);
    if (name === "call.completed") this.completedListened = true;
    return () => this.off(name, listener);
  }

  once<K extends AgentSREEventName>(name: K, listener: Listener<K>): () => void {
    const off = this.on(name, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  off<K extends AgentSREEventName>(name: K, listener: Listener<K>): void {
    const list = this.#listeners.get(name);
    if (!list) return;
    const index = list.indexOf(listener as Listener<AgentSREEventName>);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) {
      this.#listeners.delete(name);
      if (name === "call.completed") this.completedListened = false;
    }
  }

  has(name: AgentSREEventName): boolean {
    return this.#listeners.has(name);
  }

  emit<K extends AgentSREEventName>(name: K, payload: AgentSREEvents[K]): void {
    const list = this.#listeners.get(name);
    if (!list) return;
    for (const listener of list.slice()) {
      try {
        listener(payload);
      } catch (error) {
        this.#onListenerError(error, name);
      }
    }
  }
}
