import type { AlertsConfig } from "@agent-sre/alerts";
import { type AgentSREOptions, Recorder } from "@agent-sre/core";
import type { ProxyConfig } from "./config/load.js";
import type { ProxyDeliveryOptions } from "./delivery.js";
import { McpProxy } from "./proxy.js";
import type { McpProxyOptions } from "./proxy-options.js";
import { recorderOptions } from "./record.js";

/** Builds a proxy from a validated config file (`loadConfigFile`). */
export function createProxyFromConfig(
  config: ProxyConfig,
  overrides: Partial<McpProxyOptions> = {},
): McpProxy {
  const section = config.agentSre;
  const options: McpProxyOptions = { upstreams: config.upstreams, sre: engineOptionsFromConfig(config) };
  if (section.naming !== undefined) options.naming = section.naming;
  const tools: NonNullable<McpProxyOptions["tools"]> = {};
  if (section.tools?.costs !== undefined) tools.costs = section.tools.costs;
  if (section.tools?.timeoutMs !== undefined) tools.timeoutMs = section.tools.timeoutMs;
  if (section.tools?.hideDenied !== undefined) tools.hideDenied = section.tools.hideDenied;
  if (section.tools?.errorsAreFailures !== undefined)
    tools.errorsAreFailures = section.tools.errorsAreFailures;
  if (section.tools?.isErrorClass !== undefined) tools.isErrorClass = section.tools.isErrorClass;
  options.tools = tools;
  if (section.drift !== undefined) options.drift = section.drift;
  if (section.audit !== undefined && section.audit !== false) options.audit = section.audit;
  if (section.record !== undefined && section.record !== false) {
    // The section is the recorded config: `agent-sre replay` replays a trace under it by default.
    options.record = new Recorder({
      ...recorderOptions(section.record),
      config: section,
      source: "mcp-proxy",
    });
  }
  if (section.identity !== undefined) options.identity = section.identity;
  if (section.supervision !== undefined) options.supervision = section.supervision;
  if (section.chaos !== undefined) options.chaos = section.chaos;
  // Validated (and its ${VAR}s expanded) by the loader; the AlertManager checks it again.
  if (section.alerts !== undefined) options.alerts = section.alerts as AlertsConfig;
  if (section.loops !== undefined) options.loops = section.loops;
  // Validated by the loader (every problem with its path).
  if (section.delivery !== undefined) options.delivery = section.delivery as unknown as ProxyDeliveryOptions;
  return new McpProxy({ ...options, ...overrides });
}

/** The engine options of a validated config's `agentSre` section (what the proxy's engine is built from). */
export function engineOptionsFromConfig(config: ProxyConfig): AgentSREOptions {
  const section = config.agentSre;
  const sreOptions: AgentSREOptions = {};
  if (section.budgets !== undefined) sreOptions.budget = section.budgets as AgentSREOptions["budget"];
  if (section.breakers !== undefined) sreOptions.breakers = section.breakers as AgentSREOptions["breakers"];
  if (section.rogue !== undefined) sreOptions.rogue = section.rogue as AgentSREOptions["rogue"];
  if (section.agents !== undefined) sreOptions.agents = section.agents;
  if (section.rateLimits !== undefined) sreOptions.rateLimits = section.rateLimits;
  if (section.tools?.allow !== undefined || section.tools?.deny !== undefined) {
    sreOptions.tools = {};
    if (section.tools.allow !== undefined) sreOptions.tools.allow = section.tools.allow;
    if (section.tools.deny !== undefined) sreOptions.tools.deny = section.tools.deny;
  }
  if (section.chaos?.seed !== undefined) sreOptions.chaosSeed = section.chaos.seed;
  if (section.retryBudget !== undefined) sreOptions.retryBudget = section.retryBudget;
  if (section.cascade !== undefined) sreOptions.cascade = section.cascade as AgentSREOptions["cascade"];
  return sreOptions;
}
