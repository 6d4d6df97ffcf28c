import type {
  AgentSRE,
  AgentSREEventName,
  AgentSREEvents,
  CallObserver,
  CallOutcome,
  GuardCall,
  RefusalError,
} from "@agent-sre/core";
import { formatUsd } from "@agent-sre/core";

/** One decision the engine made about a call (what the per-agent detail lists). */
export interface Decision {
  at: number;
  kind: "model" | "tool";
  name: string;
  decision: "allowed" | "refused";
  /** `ok`, `error`, `cancelled` for calls that ran; the refusal code for refused ones. */
  outcome: string;
  costUsd: number;
  durationMs: number | null;
  detail: string | null;
}

export interface AlertEntry {
  at: number;
  event: AgentSREEventName;
  severity: "info" | "warning" | "critical";
  agentId: string | null;
  summary: string;
}

/**
 * An alert manager the dashboard can show and silence (`AlertManager` of `@agent-sre/alerts` fits; the
 * dashboard does not depend on that package).
 */
export interface AlertControl {
  status(): {
    alerts: ReadonlyArray<{
      fingerprint: string;
      name: string;
      severity: string;
      agent: string | null;
      summary: string;
      startsAt: number;
      mutedBy: string | null;
    }>;
    silences: ReadonlyArray<{
      id: string;
      matchers: ReadonlyArray<{ name: string; type: string; value: string }>;
      startsAt: number;
      endsAt: number;
      createdBy: string;
      comment: string;
    }>;
  };
  silence(input: { matchers: string[]; durationMs: number; createdBy?: string; comment?: string }): {
    id: string;
    endsAt: number;
  };
  expireSilence(id: string): boolean;
  /** Told when alerts fire or resolve, so the page updates. */
  on(name: "alert.firing" | "alert.resolved", listener: () => void): () => void;
}

/** The alert manager's side of the page: what pages on-call, what is silenced. */
export interface ManagedAlerts {
  active: Array<{
    fingerprint: string;
    name: string;
    severity: string;
    agent: string | null;
    summary: string;
    startsAt: number;
    mutedBy: string | null;
    /** The matchers a "silence" button sends: the alert's name and agent. */
    matchers: string[];
  }>;
  silences: Array<{ id: string; matchers: string[]; endsAt: number; createdBy: string; comment: string }>;
}

export interface AgentRow {
  id: string;
  framework: string | null;
  calls: number;
  refused: number;
  failed: number;
  spentTodayUsd: number;
  dailyLimitUsd: number | null;
  utilization: number;
  breaker: string;
  quarantined: string | null;
  killed: boolean;
  throttled: boolean;
  /** Held after a cost anomaly until an operator confirms: the figures that set it off. */
  held: { costUsd: number; expectedUsd: number; score: number; refusedCalls: number } | null;
  slo: string;
  risk: string;
}

export interface SloView {
  name: string;
  agentId: string | null;
  status: string;
  target: number;
  budgetRemainingPercent: number;
  burnRates: Record<string, number>;
  firing: Array<{ severity: string; burnRateThreshold: number }>;
}

export interface DashboardState {
  at: number;
  /** Increments with every change the feed saw (the page shows it and tests wait on it). */
  revision: number;
  agents: AgentRow[];
  breakers: {
    open: string[];
    cascading: boolean;
    cascadeThreshold: number;
    list: Array<{
      id: string;
      state: string;
      forced: boolean;
      retryAfterMs: number | null;
      tripCount: number;
    }>;
  };
  slos: SloView[];
  chaos: Array<{
    name: string;
    state: string;
    targetAgent: string;
    injectedTotal: number;
    calls: number;
    endsAt: number | null;
  }>;
  alerts: AlertEntry[];
  /** Present when an alert manager is attached (`alerts` option). */
  managedAlerts: ManagedAlerts | null;
  deploymentsFrozen: boolean;
  freezeReasons: string[];
  actions: { silenceAlerts: boolean };
}

export interface FleetFeedOptions {
  /** The framework behind an agent (LangChain.js, AI SDK, MCP, ...), for the fleet table. */
  framework?: (agentId: string) => string | undefined;
  /** Decisions kept per agent (default 50). */
  decisionsPerAgent?: number;
  /** Alerts kept (default 100). */
  alertLimit?: number;
  /** Most agents whose decisions are kept (default 1,000; the oldest-seen is dropped first). */
  agentLimit?: number;
  /** An alert manager on the same engine: its active alerts and silences, and the "silence" action. */
  alerts?: AlertControl;
}

const WATCHED: AgentSREEventName[] = [
  "breaker.open",
  "breaker.half_open",
  "breaker.close",
  "breaker.cascade",
  "budget.alert",
  "budget.throttle",
  "budget.kill",
  "budget.revive",
  "cost.anomaly",
  "cost.anomaly.release",
  "slo.status",
  "slo.alert",
  "slo.exhausted",
  "agent.quarantine",
  "agent.release",
  "chaos.fault",
  "chaos.abort",
  "chaos.complete",
];

const SEVERITY: Record<string, number> = { HEALTHY: 0, UNKNOWN: 0, WARNING: 1, CRITICAL: 2, EXHAUSTED: 3 };

/**
 * What the dashboard shows, kept beside a running engine: recent decisions per agent (through the engine's
 * call-observer seam), alerts from its events (bounded rings), and a snapshot built on demand from
 * `status()`. `subscribe()` is told (at most once per tick) when something changed.
 */
export class FleetFeed implements CallObserver<undefined> {
  readonly #sre: AgentSRE;
  readonly #framework: (agentId: string) => string | undefined;
  readonly #decisionsPerAgent: number;
  readonly #alertLimit: number;
  readonly #agentLimit: number;
  readonly #decisions = new Map<string, Decision[]>();
  readonly #alerts: AlertEntry[] = [];
  readonly #listeners = new Set<() => void>();
  readonly #off: Array<() => void> = [];
  readonly #alertControl: AlertControl | undefined;
  #revision = 0;
  #pending = false;

  constructor(sre: AgentSRE, options: FleetFeedOptions = {}) {
    this.#sre = sre;
    this.#framework = options.framework ?? (() => undefined);
    this.#decisionsPerAgent = options.decisionsPerAgent ?? 50;
    this.#alertLimit = options.alertLimit ?? 100;
    this.#agentLimit = options.agentLimit ?? 1_000;
    this.#off.push(sre.use(this));
    this.#alertControl = options.alerts;
    if (options.alerts !== undefined) {
      for (const name of ["alert.firing", "alert.resolved"] as const) {
        this.#off.push(options.alerts.on(name, () => this.#changed()));
      }
    }
    for (const name of WATCHED) {
      this.#off.push(
        sre.on(name, (payload: AgentSREEvents[typeof name]) => {
          const alert = toAlert(name, payload as never);
          if (alert !== undefined) {
            this.#alerts.push(alert);
            if (this.#alerts.length > this.#alertLimit) this.#alerts.shift();
          }
          this.#changed();
        }),
      );
    }
  }

  get revision(): number {
    return this.#revision;
  }

  start(): undefined {
    return undefined;
  }

  end(_state: undefined, call: GuardCall<never>, outcome: CallOutcome): void {
    const error = outcome.error as { code?: unknown; message?: unknown } | undefined;
    this.#record(call.agentId, {
      at: this.#sre.clock.now(),
      kind: call.kind,
      name: call.name,
      decision: "allowed",
      outcome: outcome.ok ? "ok" : outcome.cancelled ? "cancelled" : "error",
      costUsd: outcome.costUsd,
      durationMs: outcome.durationMs,
      detail:
        outcome.ok || error === undefined
          ? null
          : typeof error.code === "string"
            ? `${error.code}: ${String(error.message ?? "")}`
            : String(error.message ?? error),
    });
  }

  refused(call: GuardCall<never>, error: RefusalError): void {
    this.#record(call.agentId, {
      at: this.#sre.clock.now(),
      kind: call.kind,
      name: call.name,
      decision: "refused",
      outcome: error.code,
      costUsd: 0,
      durationMs: null,
      detail: error.message,
    });
  }

  /** The agent's recent decisions, newest first. */
  decisions(agentId: string): Decision[] {
    return [...(this.#decisions.get(agentId) ?? [])].reverse();
  }

  /** Called after changes, batched to one call per tick. Returns an unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Marks a change made outside the engine's events (an operator action). */
  touch(): void {
    this.#changed();
  }

  snapshot(): DashboardState {
    const sre = this.#sre;
    const status = sre.status();
    const breakers = sre.breakers.snapshot();
    const slos = sre.slos.snapshot();
    const worstSlo = new Map<string | null, string>();
    for (const slo of slos) {
      const key = slo.agentId ?? null;
      const current = worstSlo.get(key);
      if (current === undefined || (SEVERITY[slo.status] ?? 0) > (SEVERITY[current] ?? 0))
        worstSlo.set(key, slo.status);
    }
    const agents: AgentRow[] = Object.entries(status.agents).map(([id, agent]) => {
      const budget = agent.budget as {
        spentTodayUsd?: number;
        limits?: { dailyLimitUsd?: number | null };
        utilization?: number;
        killed?: boolean;
        throttled?: boolean;
        hold?: { costUsd: number; expectedUsd: number; score: number; refusedCalls: number } | null;
      };
      const hold = budget.hold ?? null;
      return {
        id,
        framework: this.#framework(id) ?? null,
        calls: agent.calls,
        refused: agent.refused,
        failed: agent.failed,
        spentTodayUsd: budget.spentTodayUsd ?? 0,
        dailyLimitUsd: budget.limits?.dailyLimitUsd ?? null,
        utilization: budget.utilization ?? 0,
        breaker: agent.breaker,
        quarantined: agent.quarantined?.reason ?? null,
        killed: budget.killed === true,
        throttled: budget.throttled === true,
        held:
          hold === null
            ? null
            : {
                costUsd: hold.costUsd,
                expectedUsd: hold.expectedUsd,
                score: hold.score,
                refusedCalls: hold.refusedCalls,
              },
        slo: worstSlo.get(id) ?? worstSlo.get(null) ?? "NONE",
        risk: agent.riskLevel,
      };
    });
    agents.sort((a, b) => a.id.localeCompare(b.id));
    return {
      at: status.at,
      revision: this.#revision,
      agents,
      breakers: {
        open: breakers.openCircuits,
        cascading: breakers.cascading,
        cascadeThreshold: breakers.cascadeThreshold,
        list: breakers.breakers
          .filter((b) => b.state !== "CLOSED" || b.tripCount > 0 || b.forced)
          .map((b) => ({
            id: b.id,
            state: b.state,
            forced: b.forced,
            retryAfterMs: b.retryAfterMs,
            tripCount: b.tripCount,
          })),
      },
      slos: slos.map((slo) => ({
        name: slo.name,
        agentId: slo.agentId ?? null,
        status: slo.status,
        target: slo.target,
        budgetRemainingPercent: slo.budgetRemainingPercent,
        burnRates: Object.fromEntries(
          Object.entries(slo.burnRates).map(([window, rate]) => [window, Number.isFinite(rate) ? rate : 0]),
        ),
        firing: slo.firingAlerts.map((alert) => ({
          severity: alert.severity,
          burnRateThreshold: alert.burnRateThreshold,
        })),
      })),
      chaos: status.chaos.map((report) => {
        const r = report as {
          name: string;
          state: string;
          targetAgent: string;
          injectedTotal: number;
          calls: number;
          endsAt: number | null;
        };
        return {
          name: r.name,
          state: r.state,
          targetAgent: r.targetAgent,
          injectedTotal: r.injectedTotal,
          calls: r.calls,
          endsAt: r.endsAt,
        };
      }),
      alerts: [...this.#alerts].reverse(),
      managedAlerts: this.#alertControl === undefined ? null : managedAlerts(this.#alertControl),
      deploymentsFrozen: status.deploymentsFrozen,
      freezeReasons: status.freezeReasons,
      actions: { silenceAlerts: this.#alertControl !== undefined },
    };
  }

  /** Detaches from the engine. */
  close(): void {
    for (const off of this.#off.splice(0)) off();
    this.#listeners.clear();
  }

  #record(agentId: string, decision: Decision): void {
    let list = this.#decisions.get(agentId);
    if (list === undefined) {
      if (this.#decisions.size >= this.#agentLimit) {
        const oldest = this.#decisions.keys().next().value;
        if (oldest !== undefined) this.#decisions.delete(oldest);
      }
      list = [];
      this.#decisions.set(agentId, list);
    }
    list.push(decision);
    if (list.length > this.#decisionsPerAgent) list.shift();
    this.#changed();
  }

  #changed(): void {
    this.#revision++;
    if (this.#pending || this.#listeners.size === 0) return;
    this.#pending = true;
    // One notification per tick however many calls settle in it.
    queueMicrotask(() => {
      this.#pending = false;
      for (const listener of this.#listeners) listener();
    });
  }
}

function toAlert<K extends AgentSREEventName>(name: K, payload: AgentSREEvents[K]): AlertEntry | undefined {
  const p = payload as Record<string, unknown> & { at: number };
  const agentId = typeof p.agentId === "string" ? p.agentId : null;
  switch (name) {
    case "breaker.open":
      return {
        at: p.at,
        event: name,
        severity: "warning",
        agentId,
        summary: `${p.breakerId} opened: ${p.reason}`,
      };
    case "breaker.cascade":
      return {
        at: p.at,
        event: name,
        severity: "critical",
        agentId,
        summary: `cascade: ${(p.openBreakers as string[]).length} breakers open (threshold ${p.threshold})`,
      };
    case "budget.alert":
    case "budget.throttle":
    case "budget.kill":
      return {
        at: p.at,
        event: name,
        severity: p.severity as AlertEntry["severity"],
        agentId,
        summary: `${p.scope} budget ${Math.round(Number(p.utilization) * 100)}% used (${formatUsd(Number(p.spentUsd))} of ${formatUsd(Number(p.limitUsd))}): ${p.action}`,
      };
    case "cost.anomaly":
      return {
        at: p.at,
        event: name,
        severity: "warning",
        agentId,
        summary: `cost anomaly: ${formatUsd(Number(p.costUsd))} vs ~${formatUsd(Number(p.expectedUsd))} expected${p.response === "hold" ? "; agent held until confirmed" : ""}`,
      };
    case "cost.anomaly.release":
      return {
        at: p.at,
        event: name,
        severity: "info",
        agentId,
        summary: `cost anomaly hold ${p.by === "confirm" ? "confirmed" : "lapsed"} (${p.refusedCalls} calls refused while held)`,
      };
    case "slo.alert":
      return {
        at: p.at,
        event: name,
        severity: p.severity === "page" ? "critical" : "warning",
        agentId,
        summary: `SLO ${p.slo}: burn rate ${Number(p.longBurnRate).toFixed(1)}× over ${Number(p.longWindowMs) / 60_000} min (${p.severity})`,
      };
    case "slo.exhausted":
      return {
        at: p.at,
        event: name,
        severity: "critical",
        agentId,
        summary: `SLO ${p.slo}: error budget exhausted (${p.action})`,
      };
    case "agent.quarantine":
      return { at: p.at, event: name, severity: "critical", agentId, summary: `quarantined: ${p.reason}` };
    case "chaos.abort":
      return {
        at: p.at,
        event: name,
        severity: "warning",
        agentId,
        summary: `experiment ${p.experiment} aborted: ${p.reason}`,
      };
    default:
      return undefined;
  }
}

function managedAlerts(control: AlertControl): ManagedAlerts {
  const status = control.status();
  const quote = (value: string) => JSON.stringify(value);
  return {
    active: status.alerts.map((alert) => ({
      ...alert,
      matchers: [
        `alertname=${quote(alert.name)}`,
        ...(alert.agent === null ? [] : [`agent=${quote(alert.agent)}`]),
      ],
    })),
    silences: status.silences.map((silence) => ({
      id: silence.id,
      matchers: silence.matchers.map((m) => `${m.name}${m.type}${quote(m.value)}`),
      endsAt: silence.endsAt,
      createdBy: silence.createdBy,
      comment: silence.comment,
    })),
  };
}
