import type { CostGuard } from "../cost/index.js";
import type { SLO } from "../slo/index.js";
import type { EngineContext } from "./context.js";

// What an SLO's exhaustion action does to the agents it covers (an SLO without an agent covers every agent the
// engine tracks), and what its recovery undoes. ALERT does nothing here: the SLO already emitted the event.

export function applySloExhausted(ctx: EngineContext, budget: CostGuard, slo: SLO, action: string): void {
  const reason = `SLO "${slo.name}" error budget exhausted`;
  switch (action) {
    case "THROTTLE":
      for (const agentId of sloTargets(ctx, slo)) budget.throttle(agentId, reason);
      return;
    case "CIRCUIT_BREAK":
      for (const agentId of sloTargets(ctx, slo)) ctx.agent(agentId).breaker.forceOpen(reason);
      return;
    case "FREEZE_DEPLOYMENTS":
      ctx.frozenBy.set(`slo:${slo.name}`, { at: ctx.clock.now(), reason });
      return;
    default:
      return;
  }
}

export function applySloRecovered(ctx: EngineContext, budget: CostGuard, slo: SLO, action: string): void {
  switch (action) {
    case "THROTTLE":
      for (const agentId of sloTargets(ctx, slo)) budget.unthrottle(agentId);
      return;
    case "CIRCUIT_BREAK":
      for (const agentId of sloTargets(ctx, slo)) ctx.agent(agentId).breaker.reset();
      return;
    case "FREEZE_DEPLOYMENTS":
      ctx.frozenBy.delete(`slo:${slo.name}`);
      return;
    default:
      return;
  }
}

function sloTargets(ctx: EngineContext, slo: SLO): string[] {
  return slo.agentId === undefined ? [...ctx.agents.keys()] : [slo.agentId];
}
