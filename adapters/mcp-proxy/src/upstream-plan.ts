import * as core from "@agent-sre/core";
import { type AgentSRE, compileGlob, parseDuration } from "@agent-sre/core";
import type { UpstreamPlan } from "./proxy-context.js";
import type { McpProxyOptions } from "./proxy-options.js";
import { redactUrl } from "./redact.js";
import {
  DEFAULT_SUPERVISION,
  type SupervisionOptions,
  type UpstreamTransportSpec,
} from "./upstream-types.js";

/** How each upstream's tools are named, filtered, priced and timed out, resolved once from the options. */
export function planUpstreams(options: McpProxyOptions, sre: AgentSRE): UpstreamPlan[] {
  const mode = options.naming?.prefix ?? "auto";
  const separator = options.naming?.separator ?? "__";
  const many = options.upstreams.length > 1;
  const globalCosts = compileCosts(options.tools?.costs);
  const globalTimeout =
    options.tools?.timeoutMs === undefined
      ? undefined
      : parseDuration(options.tools.timeoutMs, "tools.timeoutMs", { allowZero: true });
  return options.upstreams.map((upstream) => {
    const prefix = upstream.prefix ?? (mode === "always" || (mode === "auto" && many) ? upstream.name : "");
    const allow = upstream.tools?.allow?.map(compileGlob);
    const deny = upstream.tools?.deny?.map(compileGlob);
    const serverCosts = compileCosts(upstream.tools?.costs);
    return {
      spec: upstream,
      prefix,
      exposedName: prefix === "" ? (name: string) => name : (name: string) => `${prefix}${separator}${name}`,
      visible: (name: string) =>
        (allow === undefined || allow.some((m) => m(name))) && !(deny?.some((m) => m(name)) ?? false),
      costFor: (name: string, exposed: string) => serverCosts(name) ?? globalCosts(exposed),
      timeoutMs: upstream.timeoutMs ?? globalTimeout,
      isErrorClass: upstream.isErrorClass ?? options.tools?.isErrorClass ?? "caller",
      breaker: sre.breakers.get(`upstream:${upstream.name}`),
      breakers: [`upstream:${upstream.name}`],
    };
  });
}

function compileCosts(costs: Record<string, number> | undefined): (name: string) => number | undefined {
  if (costs === undefined) return () => undefined;
  const exact = new Map<string, number>();
  const patterns: Array<{ match: (name: string) => boolean; cost: number; length: number }> = [];
  for (const [pattern, cost] of Object.entries(costs)) {
    if (!Number.isFinite(cost) || cost < 0)
      throw new core.ConfigError(`tools.costs["${pattern}"]`, cost, "a price >= 0");
    if (pattern.includes("*")) patterns.push({ match: compileGlob(pattern), cost, length: pattern.length });
    else exact.set(pattern, cost);
  }
  // The most specific (longest) pattern wins.
  patterns.sort((a, b) => b.length - a.length);
  return (name) => exact.get(name) ?? patterns.find((p) => p.match(name))?.cost;
}

export function resolveSupervision(options: McpProxyOptions["supervision"]): SupervisionOptions {
  const out: SupervisionOptions = { ...DEFAULT_SUPERVISION };
  if (options === undefined) return out;
  for (const key of ["initialDelayMs", "maxDelayMs", "startupTimeoutMs", "stableAfterMs"] as const) {
    const value = options[key];
    if (value !== undefined) out[key] = parseDuration(value, `supervision.${key}`);
  }
  if (options.multiplier !== undefined) {
    if (!(options.multiplier >= 1))
      throw new core.ConfigError("supervision.multiplier", options.multiplier, "a number >= 1");
    out.multiplier = options.multiplier;
  }
  return out;
}

export function describeTransport(spec: UpstreamTransportSpec): string {
  switch (spec.type) {
    case "stdio":
      return `stdio: ${[spec.command, ...spec.args].join(" ")}`;
    case "custom":
      return "custom";
    default:
      return `${spec.type}: ${redactUrl(spec.url)}`;
  }
}
