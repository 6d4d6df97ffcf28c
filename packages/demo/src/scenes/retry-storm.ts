/**
 * Scene — Retry storm. Three MCP client agents (picker, packer, tracker) work orders through the gateway
 * (our proxy in front of the inventory server) and, like a naive client, retry every failed call at once,
 * up to four times, tagging each retry (`_meta` "io.github.agent-sre/attempt"). The inventory's database
 * goes down: the retries would multiply the load on the failing server five-fold. The engine's retry budget
 * (retries ≤ minRetries + 20 % of first attempts, per upstream) refuses the retries over it; the breakers
 * open; with three open the engine reports a cascade, and the cascade response sheds every retry until it is
 * over. When the database is back and the recovery timeout has passed (simulated), the half-open probes
 * close the breakers and the response lifts itself.
 */
import type { Gateway } from "../mcp.js";
import { type Scene, seconds } from "../scene.js";

const AGENTS = [
  { agent: "picker-agent", tool: "inventory__get_stock", args: (sku: string) => ({ sku }) },
  { agent: "packer-agent", tool: "inventory__get_price", args: (sku: string) => ({ sku }) },
  {
    agent: "tracker-agent",
    tool: "inventory__quote_shipping",
    args: (sku: string) => ({ sku, zip: "10115" }),
  },
] as const;
const MAX_ATTEMPTS = 5;
const OUTAGE_ORDERS = 6;

interface Tally {
  attempts: number;
  firstAttempts: number;
  retries: number;
  done: number;
  /** Refusals by code; retries refused by the budget vs. shed by the cascade response apart. */
  codes: Record<string, number>;
  budgetRefused: number;
  shed: number;
}

export const retryStormScene: Scene = {
  name: "retry-storm",
  title: "Retry storm",
  failure: "agents retry every failure at once and multiply the load on a failing upstream",
  async run({ fleet, progress }) {
    const { sre, clock } = fleet;
    progress("starting the MCP gateway (inventory + server-everything)");
    const gateway: Gateway = await fleet.gateway();
    for (const { agent } of AGENTS) fleet.addAgent(agent, "MCP");
    let order = 0;

    /** One order per agent; each failed call is retried at once, up to MAX_ATTEMPTS attempts. */
    const round = async (label: string, tally: Tally) => {
      for (const { agent, tool, args } of AGENTS) {
        const sku = `SKU-${2000 + ++order}`;
        progress(`${label}: ${agent}, order ${order}`);
        for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
          tally.attempts++;
          if (attempt === 1) tally.firstAttempts++;
          else tally.retries++;
          const outcome = await gateway.call(agent, tool, args(sku), undefined, attempt);
          if (outcome.ok) {
            tally.done++;
            break;
          }
          if (outcome.code !== undefined) {
            tally.codes[outcome.code] = (tally.codes[outcome.code] ?? 0) + 1;
            if (outcome.code === "RETRY_BUDGET_EXCEEDED") {
              if (/cascade/.test(outcome.text)) tally.shed++;
              else tally.budgetRefused++;
            }
          }
        }
      }
      clock.advance(1_000);
    };
    const tally = (): Tally => ({
      attempts: 0,
      firstAttempts: 0,
      retries: 0,
      done: 0,
      codes: {},
      budgetRefused: 0,
      shed: 0,
    });

    const healthy = tally();
    for (let i = 0; i < 2; i++) await round("healthy", healthy);

    const outageFrom = fleet.events.length;
    const auditFrom = gateway.audit.records.length;
    const outageStart = clock.now();
    gateway.setInventoryDown(true);
    const storm = tally();
    for (let i = 0; i < OUTAGE_ORDERS; i++) await round("inventory database down", storm);
    const reached = gateway.audit.records
      .slice(auditFrom)
      .filter((r) => r.server === "inventory" && r.decision === "allowed").length;
    const response = fleet.eventsOf("cascade.response", outageFrom)[0];
    const budget = sre.retryBudget?.snapshot().targets["upstream:inventory"];

    progress("database back; waiting out the recovery timeout (simulated)");
    gateway.setInventoryDown(false);
    const downFor = clock.now() - outageStart;
    const recoveryFrom = fleet.events.length;
    clock.advance(30_000);
    const recovered = tally();
    for (let i = 0; i < 2; i++) await round("recovered", recovered);
    const closed = fleet.eventsOf("breaker.close", recoveryFrom).map((e) => e.breakerId);
    const lifted = fleet.eventsOf("cascade.lifted", recoveryFrom)[0];
    const stillOpen = sre.breakers.openCircuits();
    const unbudgeted = storm.firstAttempts * MAX_ATTEMPTS;

    return {
      contained:
        reached < storm.attempts &&
        storm.budgetRefused + storm.shed > 0 &&
        response !== undefined &&
        lifted !== undefined &&
        stillOpen.length === 0,
      headline:
        `${storm.retries} retries tried in ${seconds(downFor)} of outage; ${storm.budgetRefused + storm.shed} refused by the ` +
        `retry budget, ${reached} of ${storm.attempts} attempts reached the failing server; the cascade response ` +
        `shed retries and lifted itself on recovery`,
      lines: [
        `without a guard: ${storm.firstAttempts} orders × ${MAX_ATTEMPTS} attempts = ${unbudgeted} calls at the failing server; ` +
          `with it: ${reached} (the rest answered at once)`,
        `retry budget (${sre.retryBudget?.minRetries ?? 0} + ${(sre.retryBudget?.ratio ?? 0) * 100} % of first attempts per ` +
          `${seconds(sre.retryBudget?.windowMs ?? 0)}): ${storm.budgetRefused} retries refused over budget` +
          (budget === undefined
            ? ""
            : ` (window now: ${budget.retries} retries of ${budget.retriesAllowed} allowed)`),
        response === undefined
          ? "no cascade response"
          : `breaker.cascade (${response.openBreakers.length} open) → cascade response [${response.actions.join(", ")}]: ` +
            `${storm.shed} retries shed; open breakers answered ${storm.codes.CIRCUIT_OPEN ?? 0} calls (CIRCUIT_OPEN)`,
        `back up + 30 s: ${closed.length} breakers closed through half-open, response lifted` +
          `${lifted === undefined ? " — not yet" : ` after ${seconds(lifted.durationMs)}`}; ${recovered.done}/${recovered.firstAttempts} orders done`,
      ],
      facts: {
        agents: AGENTS.map((a) => a.agent),
        stormAttempts: storm.attempts,
        stormFirstAttempts: storm.firstAttempts,
        stormRetries: storm.retries,
        unguardedCalls: unbudgeted,
        reachedFailingServer: reached,
        retriesRefusedByBudget: storm.budgetRefused,
        retriesShedByCascade: storm.shed,
        refusedByOpenBreaker: storm.codes.CIRCUIT_OPEN ?? 0,
        cascadeResponseActions: response?.actions ?? [],
        cascadeLifted: lifted !== undefined,
        breakersClosed: closed,
        openCircuitsAfter: stillOpen,
        ordersDoneAfterRecovery: recovered.done,
      },
    };
  },
};
