/**
 * The fleet: one Agent SRE engine (the same policy for every agent, whatever its framework), the demo
 * clock, an event log, and the MCP gateway when a scene needs it. Scenes add their agents to it; the final
 * summary table is read from `sre.status()`.
 */
import {
  AgentSRE,
  type AgentSREEventName,
  type AgentSREEvents,
  Delivery,
  ErrorRate,
  maxRisk,
  type RiskLevel,
  SLO,
  TaskSuccessRate,
} from "@agent-sre/core";
import { DemoClock } from "./clock.js";
import { type Gateway, startGateway } from "./mcp.js";

/** Monday 5 January 2026, 09:00 UTC: the demo's simulated start. */
export const DEMO_START_MS = Date.UTC(2026, 0, 5, 9, 0, 0);

export type Framework = "LangChain.js" | "AI SDK" | "MCP";

export interface AgentRow {
  agent: string;
  framework: Framework;
  calls: number;
  blocked: number;
  failed: number;
  spentUsd: number;
  budgetUsd: number | null;
  breaker: string;
  /** Openings of breakers that failed or refused this agent's calls (its models and tools). */
  breakerTrips: number;
  slo: string;
  /** The rogue detector's risk now. */
  risk: RiskLevel;
  /** The highest risk the detector reported for the agent during the run. */
  peakRisk: RiskLevel;
  quarantined: boolean;
  killed: boolean;
}

export interface LoggedEvent<K extends AgentSREEventName = AgentSREEventName> {
  name: K;
  payload: AgentSREEvents[K];
}

const LOGGED_EVENTS: AgentSREEventName[] = [
  "breaker.open",
  "breaker.half_open",
  "breaker.close",
  "breaker.cascade",
  "cascade.response",
  "cascade.lifted",
  "budget.alert",
  "budget.throttle",
  "budget.kill",
  "slo.status",
  "slo.alert",
  "slo.exhausted",
  "rogue.assessment",
  "agent.quarantine",
  "chaos.fault",
  "chaos.abort",
  "chaos.complete",
  "rollout.transition",
  "rollout.hold",
  "budget.downgrade",
  "call.refused",
  "call.completed",
];

/**
 * The fleet's policy. Everything the scenes show comes from this one configuration: nothing in a scene
 * decides to block a call; the engine does.
 */
export function fleetPolicy(clock: DemoClock, seed: number) {
  return {
    clock,
    chaosSeed: seed,
    budget: {
      perTaskLimitUsd: 0.5,
      perAgentDailyLimitUsd: 5,
      orgMonthlyBudgetUsd: 1_000,
      alertThresholds: [0.5, 0.75, 0.9],
      throttleThreshold: 0.85,
      killSwitchThreshold: 0.95,
      throttleTasksPerMinute: 1,
      anomalyDetection: false as const,
      agents: {
        "report-writer": { dailyLimitUsd: 1, perTaskLimitUsd: 0.05 },
        "digest-agent": { dailyLimitUsd: 1 },
      },
    },
    breakers: { defaults: { failureThreshold: 3, recoveryTimeoutMs: "30s" }, cascadeThreshold: 3 },
    // Retries (tagged by the clients) may not exceed 5 + 20 % of first attempts per dependency per 10 s;
    // during a cascade every retry is shed until the breakers close again.
    retryBudget: { ratio: 0.2, minRetries: 5, windowMs: "10s" },
    cascade: { actions: ["shed-retries" as const] },
    tools: { deny: ["shell_*"] },
    agents: { "ops-agent": { allowedTools: ["read_logs", "restart_service"] } },
    throttle: { mode: "delay" as const, maxDelayMs: "2m" },
    rogue: { quarantineAt: "HIGH" as const, entropyWindowSize: 20 },
    sloEvaluationIntervalMs: 1_000,
    // The summary covers the whole simulated run (well over an hour): no agent is forgotten as idle before it.
    memory: { idleMs: "1d" },
  };
}

export class Fleet {
  readonly clock: DemoClock;
  readonly sre: AgentSRE;
  readonly seed: number;
  readonly events: LoggedEvent[] = [];
  readonly #agents = new Map<string, { framework: Framework; slo: SLO | undefined }>();
  #gateway: Promise<Gateway> | undefined;
  #delivery: Delivery | undefined;

  constructor(options: { seed?: number } = {}) {
    this.seed = options.seed ?? 42;
    this.clock = new DemoClock(DEMO_START_MS);
    this.sre = new AgentSRE(fleetPolicy(this.clock, this.seed));
    for (const name of LOGGED_EVENTS) {
      this.sre.on(name, (payload) => {
        this.events.push({ name, payload } as LoggedEvent);
      });
    }
  }

  /**
   * Registers an agent for the summary, with an SLO on its calls: 95 % of calls succeed over a day
   * (or, when given, your own SLO).
   */
  /** The framework an agent runs on (for the dashboard's fleet table). */
  frameworkOf(agentId: string): Framework | undefined {
    return this.#agents.get(agentId)?.framework;
  }

  addAgent(agentId: string, framework: Framework, slo?: SLO): void {
    if (this.#agents.has(agentId)) return;
    const objective =
      slo ??
      new SLO({
        name: `${agentId}/calls`,
        agentId,
        indicators: [new ErrorRate({ name: "call_error_rate" })],
        errorBudget: { total: 0.05, windowMs: "1d" },
      });
    this.sre.slos.add(objective);
    this.#agents.set(agentId, { framework, slo: objective });
    this.sre.agentBreaker(agentId); // the agent appears in status() from now on
  }

  /**
   * The research agent's SLO: 99 % of its tasks succeed (the application records each task's outcome);
   * exhausting the error budget freezes deployments (model rollouts included).
   */
  static researchSlo(agentId: string): { slo: SLO; tasks: TaskSuccessRate } {
    const tasks = new TaskSuccessRate();
    const slo = new SLO({
      name: `${agentId}/task-success`,
      agentId,
      description: "99 % of briefs succeed; an exhausted budget freezes model rollouts",
      indicators: [tasks],
      errorBudget: { total: 0.01, windowMs: "7d", exhaustionAction: "FREEZE_DEPLOYMENTS" },
    });
    return { slo, tasks };
  }

  /**
   * Progressive delivery on the fleet's engine (`sre.delivery`): scenes add their rollouts to it. Its budget
   * downgrade sends the digest agent's gpt-4.1 calls to gpt-4.1-mini past 70 % of its daily budget.
   */
  delivery(): Delivery {
    this.#delivery ??= new Delivery(this.sre, {
      downgrade: { threshold: 0.7, models: { "gpt-4.1": "gpt-4.1-mini" }, agents: ["digest-agent"] },
    });
    return this.#delivery;
  }

  /** The MCP gateway (our proxy in front of two real MCP servers), started on first use. */
  gateway(): Promise<Gateway> {
    this.#gateway ??= startGateway(this.sre);
    return this.#gateway;
  }

  /** Events of one name logged since `from` (an index into `events`). */
  eventsOf<K extends AgentSREEventName>(name: K, from = 0): Array<AgentSREEvents[K]> {
    const out: Array<AgentSREEvents[K]> = [];
    for (let i = from; i < this.events.length; i++) {
      const event = this.events[i] as LoggedEvent;
      if (event.name === name) out.push(event.payload as AgentSREEvents[K]);
    }
    return out;
  }

  /** One row per registered agent, from the engine's status. */
  rows(): AgentRow[] {
    const status = this.sre.status();
    const opened = this.eventsOf("breaker.open").map((e) => e.breakerId);
    const rows: AgentRow[] = [];
    for (const [agentId, info] of this.#agents) {
      const agent = status.agents[agentId];
      if (agent === undefined) continue;
      const budget = agent.budget as {
        spentTodayUsd: number;
        limits: { dailyLimitUsd: number | null };
        killed: boolean;
      };
      const path = new Set<string>([`agent:${agentId}`]);
      let peakRisk: RiskLevel = agent.riskLevel;
      for (const event of this.events) {
        if (event.name === "rogue.assessment" || event.name === "agent.quarantine") {
          const assessed = event.payload as { agentId: string; riskLevel?: RiskLevel };
          if (assessed.agentId === agentId && assessed.riskLevel !== undefined) {
            peakRisk = maxRisk(peakRisk, assessed.riskLevel);
          }
          continue;
        }
        if (event.name !== "call.completed" && event.name !== "call.refused") continue;
        const call = event.payload as {
          agentId: string;
          kind: string;
          name: string;
          ok?: boolean;
          code?: string;
        };
        if (call.agentId !== agentId) continue;
        if (call.ok === false || call.code === "CIRCUIT_OPEN") path.add(`${call.kind}:${call.name}`);
      }
      const evaluation = info.slo?.evaluate();
      rows.push({
        agent: agentId,
        framework: info.framework,
        calls: agent.calls,
        blocked: agent.refused,
        failed: agent.failed,
        spentUsd: budget.spentTodayUsd,
        budgetUsd: budget.limits.dailyLimitUsd,
        breaker: agent.breaker,
        breakerTrips: opened.filter((id) => path.has(id)).length,
        slo: evaluation?.status ?? "—",
        risk: agent.riskLevel,
        peakRisk,
        quarantined: agent.quarantined !== null,
        killed: budget.killed,
      });
    }
    return rows;
  }

  async close(): Promise<void> {
    const gateway = this.#gateway;
    this.#gateway = undefined;
    if (gateway !== undefined) await (await gateway).close();
  }
}
