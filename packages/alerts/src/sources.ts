import { type AgentSREEventName, type AgentSREEvents, formatUsd } from "@agent-sre/core";
import type { Alert, AlertInput, AlertSeverity } from "./alert.js";

/**
 * Engine events → alert signals. A `fire` signal raises (or refreshes) an alert; a `resolve` signal
 * resolves the active alerts it selects. Each firing source is paired with the event that ends it:
 *
 * | alert               | fired by                         | resolved by                                     |
 * |---------------------|----------------------------------|-------------------------------------------------|
 * | SloBurnRate         | `slo.alert` (page / ticket)      | `slo.status` leaving CRITICAL (page) / WARNING  |
 * | SloBudgetExhausted  | `slo.exhausted`                  | `slo.status` leaving EXHAUSTED                  |
 * | BudgetThreshold     | `budget.alert`                   | `budget.revive` (same agent / org), period end  |
 * | BudgetThrottle      | `budget.throttle`                | `budget.revive`, period end                     |
 * | BudgetKill          | `budget.kill`                    | `budget.revive`, period end                     |
 * | BreakerOpen         | `breaker.open`                   | `breaker.close` (same breaker)                  |
 * | BreakerCascade      | `breaker.cascade`                | open breakers falling below the threshold       |
 * | RogueRisk           | `rogue.assessment` HIGH/CRITICAL | an assessment of LOW/MEDIUM for the agent       |
 * | AgentQuarantined    | `agent.quarantine`               | `agent.release`                                 |
 * | CostAnomaly         | `cost.anomaly`                   | (event-like: `resolveTimeoutMs` after the last) |
 * | AgentHeld           | `cost.anomaly` that held the agent | `cost.anomaly.release` (confirmed or lapsed)  |
 * | AgentThrottled      | `agent.throttle`                 | (event-like)                                    |
 * | ChaosAborted        | `chaos.abort`                    | (event-like)                                    |
 * | McpToolDrift        | the proxy's `drift` report       | (event-like)                                    |
 * | RolloutRollback     | `rollout.transition` rollback/abort | the rollout's next start/promote/complete    |
 * | RolloutProgress     | `rollout.transition` promote/complete | (event-like, info)                          |
 * | RolloutHeld         | `rollout.hold` (frozen)          | the rollout's next transition                   |
 * | BudgetDowngrade     | `budget.downgrade`               | (event-like, info)                              |
 *
 * Event-like alerts have no resolving event; like Alertmanager's `resolve_timeout`, they resolve once
 * they have not been raised again for `resolveTimeoutMs`.
 */

export type AlertSignal =
  | { kind: "fire"; alert: AlertInput; eventLike: boolean }
  | { kind: "resolve"; at: number; source: string; select: (alert: Alert) => boolean };

/** The engine events the mapper listens to. */
export const SOURCE_EVENTS = [
  "slo.alert",
  "slo.exhausted",
  "slo.status",
  "budget.alert",
  "budget.throttle",
  "budget.kill",
  "budget.revive",
  "breaker.open",
  "breaker.close",
  "breaker.cascade",
  "cost.anomaly",
  "cost.anomaly.release",
  "rogue.assessment",
  "agent.quarantine",
  "agent.release",
  "agent.throttle",
  "chaos.abort",
  "rollout.transition",
  "rollout.hold",
  "budget.downgrade",
] as const satisfies readonly AgentSREEventName[];

export type SourceEventName = (typeof SOURCE_EVENTS)[number];

/** Every alert name a source can raise (the keys of the `sources` config). */
export const ALERT_NAMES = [
  "SloBurnRate",
  "SloBudgetExhausted",
  "BudgetThreshold",
  "BudgetThrottle",
  "BudgetKill",
  "BreakerOpen",
  "BreakerCascade",
  "CostAnomaly",
  "AgentHeld",
  "RogueRisk",
  "AgentQuarantined",
  "AgentThrottled",
  "ChaosAborted",
  "McpToolDrift",
  "RolloutRollback",
  "RolloutProgress",
  "RolloutHeld",
  "BudgetDowngrade",
] as const;

export type AlertName = (typeof ALERT_NAMES)[number];

/** The shape of the MCP proxy's drift report (structural, so this package does not depend on the proxy). */
export interface DriftReportLike {
  at: number;
  server: string;
  policy: string;
  severity: "info" | "warning" | "critical";
  changes: ReadonlyArray<{ tool: string; kind: string; severity: string; details: readonly string[] }>;
  action: string;
}

const pct = (value: number) => `${Math.round(value * 1000) / 10}%`;
const usd = formatUsd;
const minutes = (ms: number) => (ms >= 3_600_000 ? `${ms / 3_600_000}h` : `${ms / 60_000}m`);

/** Stateful mapper: remembers open breakers so a cascade resolves when enough breakers close. */
export class EventMapper {
  readonly #openBreakers = new Set<string>();
  #cascadeThreshold: number | undefined;

  map<K extends SourceEventName>(name: K, payload: AgentSREEvents[K]): AlertSignal[] {
    switch (name) {
      case "slo.alert":
        return this.#sloAlert(payload as AgentSREEvents["slo.alert"]);
      case "slo.exhausted": {
        const e = payload as AgentSREEvents["slo.exhausted"];
        return [
          fire("slo.exhausted", e.at, {
            name: "SloBudgetExhausted",
            severity: "page",
            agent: e.agentId,
            labels: { slo: e.slo },
            summary: `SLO "${e.slo}" has exhausted its error budget (action: ${e.action})`,
            details: { slo: e.slo, action: e.action },
          }),
        ];
      }
      case "slo.status":
        return this.#sloStatus(payload as AgentSREEvents["slo.status"]);
      case "budget.alert":
      case "budget.throttle":
      case "budget.kill":
        return [this.#budget(name, payload as AgentSREEvents["budget.alert"])];
      case "budget.revive": {
        const e = payload as AgentSREEvents["budget.revive"];
        const scope = e.scope === "org" ? "org-monthly" : "agent-daily";
        return [
          resolve(
            "budget.revive",
            e.at,
            (a) =>
              a.name.startsWith("Budget") &&
              a.labels.scope === scope &&
              (e.scope === "org" || a.agent === e.agentId),
          ),
        ];
      }
      case "breaker.open": {
        const e = payload as AgentSREEvents["breaker.open"];
        this.#openBreakers.add(e.breakerId);
        const details: Record<string, string | number> = {
          breaker: e.breakerId,
          reason: e.reason,
          failureCount: e.failureCount,
          from: e.from,
        };
        if (e.recoveryTimeoutMs !== undefined) details.recoveryTimeoutMs = e.recoveryTimeoutMs;
        return [
          fire("breaker.open", e.at, {
            name: "BreakerOpen",
            severity: "ticket",
            labels: { breaker: e.breakerId },
            summary: `Circuit breaker "${e.breakerId}" opened after ${e.failureCount} failure${e.failureCount === 1 ? "" : "s"} (${e.reason})`,
            details,
          }),
        ];
      }
      case "breaker.close": {
        const e = payload as AgentSREEvents["breaker.close"];
        this.#openBreakers.delete(e.breakerId);
        const out = [
          resolve("breaker.close", e.at, (a) => a.name === "BreakerOpen" && a.labels.breaker === e.breakerId),
        ];
        if (this.#cascadeThreshold !== undefined && this.#openBreakers.size < this.#cascadeThreshold) {
          out.push(resolve("breaker.close", e.at, (a) => a.name === "BreakerCascade"));
        }
        return out;
      }
      case "breaker.cascade": {
        const e = payload as AgentSREEvents["breaker.cascade"];
        this.#cascadeThreshold = e.threshold;
        for (const id of e.openBreakers) this.#openBreakers.add(id);
        return [
          fire("breaker.cascade", e.at, {
            name: "BreakerCascade",
            severity: "page",
            summary: `${e.openBreakers.length} circuit breakers open at once (cascade threshold ${e.threshold}): ${e.openBreakers.join(", ")}`,
            details: { openBreakers: e.openBreakers.join(", "), threshold: e.threshold },
          }),
        ];
      }
      case "cost.anomaly": {
        const e = payload as AgentSREEvents["cost.anomaly"];
        const figures = {
          costUsd: e.costUsd,
          expectedUsd: e.expectedUsd,
          score: e.score,
          threshold: e.threshold,
        };
        const signals = [
          fire(
            "cost.anomaly",
            e.at,
            {
              name: "CostAnomaly",
              severity: "ticket",
              agent: e.agentId,
              summary: `Agent "${e.agentId}" call cost ${usd(e.costUsd)} vs ${usd(e.expectedUsd)} expected (z=${e.score.toFixed(1)})`,
              details: { ...figures, response: e.response },
            },
            true,
          ),
        ];
        if (e.response === "hold") {
          // Someone has to look: the agent's calls are refused until an operator confirms.
          signals.push(
            fire("cost.anomaly", e.at, {
              name: "AgentHeld",
              severity: "page",
              agent: e.agentId,
              summary: `Agent "${e.agentId}" held after a cost anomaly: ${usd(e.costUsd)}, ${(e.costUsd / e.expectedUsd).toFixed(1)}× its typical ${usd(e.expectedUsd)} (z=${e.score.toFixed(1)}); its calls are refused until confirmed`,
              details: e.untilMs === undefined ? figures : { ...figures, untilMs: e.untilMs },
            }),
          );
        }
        return signals;
      }
      case "cost.anomaly.release": {
        const e = payload as AgentSREEvents["cost.anomaly.release"];
        return [
          resolve("cost.anomaly.release", e.at, (a) => a.name === "AgentHeld" && a.agent === e.agentId),
        ];
      }
      case "rogue.assessment":
        return this.#rogue(payload as AgentSREEvents["rogue.assessment"]);
      case "agent.quarantine": {
        const e = payload as AgentSREEvents["agent.quarantine"];
        const details: Record<string, string> = { reason: e.reason };
        if (e.riskLevel !== undefined) details.riskLevel = e.riskLevel;
        return [
          fire("agent.quarantine", e.at, {
            name: "AgentQuarantined",
            severity: "page",
            agent: e.agentId,
            summary: `Agent "${e.agentId}" quarantined: ${e.reason}`,
            details,
          }),
        ];
      }
      case "agent.release": {
        const e = payload as AgentSREEvents["agent.release"];
        return [
          resolve("agent.release", e.at, (a) => a.name === "AgentQuarantined" && a.agent === e.agentId),
        ];
      }
      case "agent.throttle": {
        const e = payload as AgentSREEvents["agent.throttle"];
        return [
          fire(
            "agent.throttle",
            e.at,
            {
              name: "AgentThrottled",
              severity: "ticket",
              agent: e.agentId,
              summary: `Agent "${e.agentId}" throttled to ${e.tasksPerMinute} tasks/min: ${e.reason}`,
              details: { reason: e.reason, tasksPerMinute: e.tasksPerMinute },
            },
            true,
          ),
        ];
      }
      case "chaos.abort": {
        const e = payload as AgentSREEvents["chaos.abort"];
        return [
          fire(
            "chaos.abort",
            e.at,
            {
              name: "ChaosAborted",
              severity: "ticket",
              labels: { experiment: e.experiment },
              summary: `Chaos experiment "${e.experiment}" aborted: ${e.reason}`,
              details: { experiment: e.experiment, reason: e.reason },
            },
            true,
          ),
        ];
      }
      case "rollout.transition":
        return this.#rollout(payload as AgentSREEvents["rollout.transition"]);
      case "rollout.hold": {
        const e = payload as AgentSREEvents["rollout.hold"];
        // Too few samples is the normal state of a young step; a freeze is something to know about.
        if (e.reason !== "frozen") return [];
        return [
          fire("rollout.hold", e.at, {
            name: "RolloutHeld",
            severity: "ticket",
            labels: { rollout: e.rolloutId },
            summary: `Rollout "${e.rolloutId}" is held at ${e.percent}% (step ${e.stepIndex}): ${e.detail}`,
            details: { rollout: e.rolloutId, stepIndex: e.stepIndex, percent: e.percent, reason: e.reason },
          }),
        ];
      }
      case "budget.downgrade": {
        const e = payload as AgentSREEvents["budget.downgrade"];
        return [
          fire(
            "budget.downgrade",
            e.at,
            {
              name: "BudgetDowngrade",
              severity: "info",
              agent: e.agentId,
              labels: { model: e.fromModel },
              summary: `Agent "${e.agentId}" at ${pct(e.utilization)} of its daily budget: ${e.fromModel} calls now go to ${e.toModel}`,
              details: {
                fromModel: e.fromModel,
                toModel: e.toModel,
                utilization: round(e.utilization),
                threshold: e.threshold,
              },
            },
            true,
          ),
        ];
      }
      default:
        return [];
    }
  }

  /** Rollout decisions: a rollback pages whoever owns the candidate; promotions are told, not paged. */
  #rollout(e: AgentSREEvents["rollout.transition"]): AlertSignal[] {
    const same = (a: Alert) => a.labels.rollout === e.rolloutId;
    const details = {
      rollout: e.rolloutId,
      action: e.action,
      stepIndex: e.stepIndex,
      percent: e.percent,
      reason: e.reason,
      automatic: e.automatic,
    };
    switch (e.action) {
      case "rollback":
      case "abort":
        return [
          resolve("rollout.transition", e.at, (a) => a.name === "RolloutHeld" && same(a)),
          fire("rollout.transition", e.at, {
            name: "RolloutRollback",
            // An automatic rollback means a candidate regressed in production traffic: someone should look.
            severity: e.automatic ? "page" : "ticket",
            labels: { rollout: e.rolloutId },
            summary: `Rollout "${e.rolloutId}" ${e.action === "abort" ? "aborted" : "rolled back"}${e.automatic ? " automatically" : ""}: ${e.reason}`,
            details,
          }),
        ];
      case "promote":
      case "complete":
        return [
          resolve(
            "rollout.transition",
            e.at,
            (a) => (a.name === "RolloutHeld" || a.name === "RolloutRollback") && same(a),
          ),
          fire(
            "rollout.transition",
            e.at,
            {
              name: "RolloutProgress",
              severity: "info",
              labels: { rollout: e.rolloutId },
              summary:
                e.action === "complete"
                  ? `Rollout "${e.rolloutId}" completed: the candidate serves 100% (${e.reason})`
                  : `Rollout "${e.rolloutId}" promoted to ${e.percent}% (${e.reason})`,
              details,
            },
            true,
          ),
        ];
      case "start":
        return [resolve("rollout.transition", e.at, (a) => a.name === "RolloutRollback" && same(a))];
      default:
        return [resolve("rollout.transition", e.at, (a) => a.name === "RolloutHeld" && same(a))];
    }
  }

  #sloAlert(e: AgentSREEvents["slo.alert"]): AlertSignal[] {
    return [
      fire("slo.alert", e.at, {
        name: "SloBurnRate",
        severity: e.severity,
        agent: e.agentId,
        labels: { slo: e.slo },
        summary: `SLO "${e.slo}" is burning its error budget ${e.longBurnRate.toFixed(1)}x too fast (${minutes(e.longWindowMs)}) and ${e.shortBurnRate.toFixed(1)}x (${minutes(e.shortWindowMs)}); ${e.severity} threshold ${e.burnRateThreshold}x`,
        details: {
          slo: e.slo,
          burnRateThreshold: e.burnRateThreshold,
          longBurnRate: round(e.longBurnRate),
          shortBurnRate: round(e.shortBurnRate),
          longWindowMs: e.longWindowMs,
          shortWindowMs: e.shortWindowMs,
        },
      }),
    ];
  }

  #sloStatus(e: AgentSREEvents["slo.status"]): AlertSignal[] {
    const out: AlertSignal[] = [];
    const same = (a: Alert) => a.labels.slo === e.slo && a.agent === e.agentId;
    if (e.to === "HEALTHY" || e.to === "UNKNOWN") {
      out.push(resolve("slo.status", e.at, (a) => a.name === "SloBurnRate" && same(a)));
    } else if (e.to === "WARNING") {
      out.push(
        resolve("slo.status", e.at, (a) => a.name === "SloBurnRate" && a.severity === "page" && same(a)),
      );
    }
    if (e.from === "EXHAUSTED" && e.to !== "EXHAUSTED") {
      out.push(resolve("slo.status", e.at, (a) => a.name === "SloBudgetExhausted" && same(a)));
    }
    return out;
  }

  #budget(
    name: "budget.alert" | "budget.throttle" | "budget.kill",
    e: AgentSREEvents["budget.alert"],
  ): AlertSignal {
    const who = e.agentId === undefined ? "Org" : `Agent "${e.agentId}"`;
    const spend = `${usd(e.spentUsd)} of ${usd(e.limitUsd)} (${pct(e.utilization)})`;
    const details = {
      scope: e.scope,
      threshold: e.threshold,
      utilization: round(e.utilization),
      spentUsd: e.spentUsd,
      limitUsd: e.limitUsd,
    };
    // The period's end lifts a kill or throttle and starts spend afresh: each budget alert resolves then.
    const resolvesAt = e.periodEndMs;
    if (name === "budget.kill") {
      return fire(name, e.at, {
        name: "BudgetKill",
        resolvesAt,
        severity: "page",
        agent: e.agentId,
        labels: { scope: e.scope },
        summary: `${who} killed: spent ${spend} of its ${e.scope} budget`,
        details,
      });
    }
    if (name === "budget.throttle") {
      return fire(name, e.at, {
        name: "BudgetThrottle",
        resolvesAt,
        severity: "ticket",
        agent: e.agentId,
        labels: { scope: e.scope },
        summary: `${who} throttled: spent ${spend} of its ${e.scope} budget`,
        details,
      });
    }
    const severity: AlertSeverity =
      e.severity === "critical" ? "page" : e.severity === "warning" ? "ticket" : "info";
    return fire(name, e.at, {
      name: "BudgetThreshold",
      resolvesAt,
      severity,
      agent: e.agentId,
      labels: { scope: e.scope, threshold: String(e.threshold) },
      summary: `${who} spend crossed ${pct(e.threshold)} of its ${e.scope} budget: ${spend}`,
      details,
    });
  }

  #rogue(e: AgentSREEvents["rogue.assessment"]): AlertSignal[] {
    const rogue = (a: Alert) => a.name === "RogueRisk" && a.agent === e.agentId;
    if (e.riskLevel !== "HIGH" && e.riskLevel !== "CRITICAL") {
      return [resolve("rogue.assessment", e.at, rogue)];
    }
    const severity: AlertSeverity = e.riskLevel === "CRITICAL" ? "page" : "ticket";
    return [
      // An escalation or de-escalation replaces the alert of the other severity.
      resolve("rogue.assessment", e.at, (a) => rogue(a) && a.severity !== severity),
      fire("rogue.assessment", e.at, {
        name: "RogueRisk",
        severity,
        agent: e.agentId,
        summary: `Agent "${e.agentId}" risk ${e.riskLevel} (score ${e.compositeScore.toFixed(2)}): ${e.reasons.join("; ") || "no reason given"}`,
        details: {
          riskLevel: e.riskLevel,
          compositeScore: round(e.compositeScore),
          quarantineRecommended: e.quarantineRecommended,
          reasons: e.reasons.join("; "),
        },
      }),
    ];
  }
}

/** The MCP proxy's tool-drift report as an (event-like) alert. */
export function driftSignal(report: DriftReportLike): AlertSignal {
  const severity: AlertSeverity =
    report.severity === "critical" ? "page" : report.severity === "warning" ? "ticket" : "info";
  const changes = report.changes.map(
    (c) => `${c.tool}: ${c.kind}${c.details.length > 0 ? ` (${c.details.join("; ")})` : ""}`,
  );
  return fire(
    "mcp.drift",
    report.at,
    {
      name: "McpToolDrift",
      severity,
      labels: { server: report.server },
      summary: `MCP server "${report.server}" changed ${report.changes.length} tool definition${report.changes.length === 1 ? "" : "s"} (${report.action} under policy ${report.policy})`,
      details: {
        server: report.server,
        policy: report.policy,
        action: report.action,
        changes: changes.join(" | "),
      },
    },
    true,
  );
}

function fire(
  source: string,
  at: number,
  alert: Omit<AlertInput, "at" | "source">,
  eventLike = false,
): AlertSignal {
  return { kind: "fire", alert: { ...alert, at, source }, eventLike };
}

function resolve(source: string, at: number, select: (alert: Alert) => boolean): AlertSignal {
  return { kind: "resolve", at, source, select };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
