/**
 * Scene 5 — Cascading failure. Three AI SDK agents (checkout, pricing, shipping) work orders with tools
 * served by two real MCP servers behind our proxy: the inventory server (ours) and
 * `@modelcontextprotocol/server-everything` (from npm). The inventory's database goes down; every agent's
 * model retries its failing tool, order after order — a retry storm against a dead dependency. Each tool's
 * breaker opens after three failures and answers at once from then on; with three open the engine reports a
 * cascade. The other server keeps serving. When the database is back and the recovery timeout has passed
 * (simulated), each breaker admits one probe (half-open), the probe succeeds, and the breaker closes.
 */
import { agentSREMiddleware } from "@agent-sre/ai-sdk";
import { generateText, stepCountIs, wrapLanguageModel } from "ai";
import type { Gateway } from "../mcp.js";
import { type ModelDecision, type ModelView, scriptedLanguageModel } from "../models/ai-model.js";
import { type Scene, seconds } from "../scene.js";

interface Role {
  agent: string;
  /** The inventory tool the agent depends on. */
  tool: string;
  args: (sku: string) => Record<string, unknown>;
  /** What it does with the everything server after a good answer. */
  followUp: (sku: string, answer: string) => { name: string; input: Record<string, unknown> };
}

const ROLES: Role[] = [
  {
    agent: "checkout-agent",
    tool: "inventory__get_stock",
    args: (sku) => ({ sku }),
    followUp: (sku) => ({
      name: "everything__echo",
      input: { message: `order for ${sku}: stock confirmed` },
    }),
  },
  {
    agent: "pricing-agent",
    tool: "inventory__get_price",
    args: (sku) => ({ sku }),
    followUp: (_sku, answer) => ({
      name: "everything__get-sum",
      input: { a: (JSON.parse(answer) as { priceUsd: number }).priceUsd, b: 4.99 },
    }),
  },
  {
    agent: "shipping-agent",
    tool: "inventory__quote_shipping",
    args: (sku) => ({ sku, zip: "10115" }),
    followUp: (sku) => ({ name: "everything__echo", input: { message: `shipping quoted for ${sku}` } }),
  },
];

/** The agents' model: call the tool; on an error try once more; after two errors notify and give up. */
function policy(role: Role, sku: string) {
  return (view: ModelView): ModelDecision => {
    const own = view.results.filter((r) => r.toolName === role.tool);
    const good = own.find((r) => r.ok);
    if (good !== undefined) {
      const next = role.followUp(sku, good.text);
      if (!view.results.some((r) => r.toolName === next.name)) return { toolCalls: [next], outputTokens: 30 };
      return { text: `Done for ${sku}.`, outputTokens: 20 };
    }
    if (own.length < 2) return { toolCalls: [{ name: role.tool, input: role.args(sku) }], outputTokens: 25 };
    if (!view.results.some((r) => r.toolName === "everything__echo")) {
      const message = `${role.agent}: ${sku} deferred, inventory unavailable`;
      return { toolCalls: [{ name: "everything__echo", input: { message } }], outputTokens: 30 };
    }
    return { text: `Could not complete ${sku}; deferred.`, outputTokens: 20 };
  };
}

export const cascadeScene: Scene = {
  name: "cascade",
  title: "Cascading failure",
  failure: "an upstream MCP server fails and the agents' retries storm it",
  async run({ fleet, progress }) {
    const { sre, clock } = fleet;
    progress("starting the MCP gateway (inventory + server-everything)");
    const gateway: Gateway = await fleet.gateway();
    let order = 0;
    const agents = await Promise.all(
      ROLES.map(async (role) => {
        fleet.addAgent(role.agent, "AI SDK");
        let current: (view: ModelView) => ModelDecision = () => ({ text: "idle" });
        let taskId = "";
        const { model } = scriptedLanguageModel({
          modelId: "gpt-4.1-mini",
          clock,
          latencyMs: 400,
          decide: (view) => current(view),
        });
        const tools = await gateway.aiTools(
          role.agent,
          [role.tool, "everything__echo", "everything__get-sum"],
          () => taskId,
        );
        const guarded = wrapLanguageModel({
          model,
          middleware: agentSREMiddleware(sre, { agentId: role.agent }),
        });
        return {
          role,
          async work(): Promise<boolean> {
            const sku = `SKU-${1000 + ++order}`;
            taskId = `order-${order}`;
            current = policy(role, sku);
            const result = await generateText({
              model: guarded,
              tools,
              stopWhen: stepCountIs(6),
              prompt: `Handle ${sku} for order ${order}.`,
              providerOptions: { agentSre: { taskId } },
            });
            return result.text.startsWith("Done");
          },
        };
      }),
    );
    const round = async (label: string, rounds: number) => {
      let done = 0;
      for (let r = 0; r < rounds; r++) {
        for (const agent of agents) {
          progress(`${label}: ${agent.role.agent}, order ${order + 1}`);
          if (await agent.work()) done++;
        }
        clock.advance(2_000);
      }
      return done;
    };

    await round("healthy", 1);

    const outageFrom = fleet.events.length;
    const auditFrom = gateway.audit.records.length;
    const outageStart = clock.now();
    gateway.setInventoryDown(true);
    const doneDuringOutage = await round("inventory database down", 4);
    const outage = gateway.audit.records.slice(auditFrom);
    const inventoryCalls = outage.filter((r) => r.server === "inventory");
    const reached = inventoryCalls.filter((r) => r.decision === "allowed").length;
    const refusedOpen = inventoryCalls.filter((r) => r.code === "CIRCUIT_OPEN").length;
    const everythingOk = outage.filter((r) => r.server === "everything" && r.outcome === "ok").length;
    const opened = fleet.eventsOf("breaker.open", outageFrom).map((e) => e.breakerId);
    const cascade = fleet.eventsOf("breaker.cascade", outageFrom)[0];

    progress("database back; waiting out the recovery timeout (simulated)");
    gateway.setInventoryDown(false);
    const recoveryFrom = fleet.events.length;
    const downFor = clock.now() - outageStart;
    clock.advance(30_000);
    const doneAfter = await round("recovered", 2);
    const halfOpen = fleet.eventsOf("breaker.half_open", recoveryFrom).map((e) => e.breakerId);
    const closed = fleet.eventsOf("breaker.close", recoveryFrom).map((e) => e.breakerId);
    const stillOpen = sre.breakers.openCircuits();
    const total = ROLES.length * 4;

    return {
      contained:
        opened.length >= 3 &&
        cascade !== undefined &&
        reached < inventoryCalls.length &&
        stillOpen.length === 0,
      headline:
        `${opened.length} breakers opened, cascade detected; ${reached} of ${inventoryCalls.length} storm calls reached the ` +
        `failing server; all ${closed.length} closed again through half-open`,
      lines: [
        `inventory down for ${seconds(downFor)}: ${inventoryCalls.length} tool calls from ${ROLES.length} agents (each retried once); ` +
          `${reached} reached the server, ${refusedOpen} answered at once by an open breaker (CIRCUIT_OPEN)`,
        `opened: ${opened.join(", ")}${cascade === undefined ? "" : ` → breaker.cascade (${cascade.openBreakers.length} open ≥ ${cascade.threshold})`}`,
        `server-everything unaffected: ${everythingOk} calls served during the outage (deferral notices); ` +
          `${doneDuringOutage}/${total} orders completed, the rest deferred`,
        `back up + 30 s: half-open probes on ${halfOpen.length} breakers succeeded → closed; ${doneAfter}/${ROLES.length * 2} orders done; ` +
          `open circuits now: ${stillOpen.length === 0 ? "none" : stillOpen.join(", ")}`,
      ],
      facts: {
        agents: ROLES.map((r) => r.agent),
        outageToolCalls: inventoryCalls.length,
        reachedFailingServer: reached,
        refusedByOpenBreaker: refusedOpen,
        everythingOkDuringOutage: everythingOk,
        breakersOpened: opened,
        cascadeDetected: cascade !== undefined,
        cascadeOpenBreakers: cascade?.openBreakers ?? [],
        halfOpened: halfOpen,
        closed,
        openCircuitsAfter: stillOpen,
        ordersDoneDuringOutage: doneDuringOutage,
        ordersDoneAfterRecovery: doneAfter,
      },
    };
  },
};
