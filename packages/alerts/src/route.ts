import { compileGlob } from "@agent-sre/core";
import type { AlertSeverity } from "./alert.js";
import { type CompiledMatcher, compileMatchers, type Matcher, matchAll } from "./matchers.js";

/**
 * The routing tree (Alertmanager semantics): an alert enters at the root (which matches everything),
 * descends into the first child that matches — or every matching child while `continue` is set — and is
 * handled by the deepest routes it reaches. Children inherit the receiver, grouping and timing they do
 * not set.
 */
export interface RouteOptions {
  receiver?: string;
  /** Every matcher must hold (`severity="page"`, `agent=~"support-.*"`). */
  matchers?: ReadonlyArray<Matcher | string>;
  /** Shorthand for a severity matcher. */
  severity?: AlertSeverity | readonly AlertSeverity[];
  /** Shorthand for an agent matcher: names or globs (`support-*`). */
  agent?: string | readonly string[];
  /** Labels that split alerts into groups (one notification per group). `["..."]` = every label. */
  groupBy?: readonly string[];
  /** Wait before the first notification of a new group (default 30 s). */
  groupWaitMs?: number;
  /** Wait between notifications about changes in a group (default 5 min). */
  groupIntervalMs?: number;
  /** Re-send a still-firing group this often (default 4 h). */
  repeatIntervalMs?: number;
  /** Keep looking at siblings after this route matched. */
  continue?: boolean;
  routes?: readonly RouteOptions[];
}

export interface CompiledRoute {
  /** Position in the tree (`root`, `root.0`, `root.0.1`): part of each group's key. */
  id: string;
  receiver: string;
  groupBy: readonly string[] | "all";
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
  continue: boolean;
  matches(labels: Readonly<Record<string, string>>): boolean;
  children: CompiledRoute[];
}

export const ROUTE_DEFAULTS = {
  groupBy: ["alertname", "agent"] as readonly string[],
  groupWaitMs: 30_000,
  groupIntervalMs: 300_000,
  repeatIntervalMs: 14_400_000,
};

export function compileRoute(options: RouteOptions, parent?: CompiledRoute, id = "root"): CompiledRoute {
  const receiver = options.receiver ?? parent?.receiver;
  if (receiver === undefined) throw new Error(`${id}: the root route needs a receiver`);
  const matchers: CompiledMatcher[] = compileMatchers(options.matchers);
  const severities =
    options.severity === undefined ? undefined : ([] as AlertSeverity[]).concat(options.severity);
  const agents =
    options.agent === undefined
      ? undefined
      : ([] as string[]).concat(options.agent).map((glob) => compileGlob(glob));
  const groupBy = options.groupBy ?? (parent === undefined ? ROUTE_DEFAULTS.groupBy : parent.groupBy);
  const route: CompiledRoute = {
    id,
    receiver,
    groupBy: groupBy === "all" || (Array.isArray(groupBy) && groupBy.includes("...")) ? "all" : groupBy,
    groupWaitMs: options.groupWaitMs ?? parent?.groupWaitMs ?? ROUTE_DEFAULTS.groupWaitMs,
    groupIntervalMs: options.groupIntervalMs ?? parent?.groupIntervalMs ?? ROUTE_DEFAULTS.groupIntervalMs,
    repeatIntervalMs: options.repeatIntervalMs ?? parent?.repeatIntervalMs ?? ROUTE_DEFAULTS.repeatIntervalMs,
    continue: options.continue ?? false,
    matches: (labels) =>
      (severities === undefined || severities.includes(labels.severity as AlertSeverity)) &&
      (agents === undefined || agents.some((match) => match(labels.agent ?? ""))) &&
      matchAll(matchers, labels),
    children: [],
  };
  route.children = (options.routes ?? []).map((child, index) => compileRoute(child, route, `${id}.${index}`));
  return route;
}

/** The routes that handle an alert with these labels (at least the root). */
export function matchRoutes(root: CompiledRoute, labels: Readonly<Record<string, string>>): CompiledRoute[] {
  const out: CompiledRoute[] = [];
  descend(root, labels, out);
  return out;
}

function descend(route: CompiledRoute, labels: Readonly<Record<string, string>>, out: CompiledRoute[]): void {
  let matched = false;
  for (const child of route.children) {
    if (!child.matches(labels)) continue;
    descend(child, labels, out);
    matched = true;
    if (!child.continue) break;
  }
  if (!matched) out.push(route);
}

/** The group labels of an alert on a route, and the group's stable key. */
export function groupOf(
  route: CompiledRoute,
  labels: Readonly<Record<string, string>>,
): { key: string; labels: Record<string, string> } {
  const groupLabels: Record<string, string> = {};
  const names = route.groupBy === "all" ? Object.keys(labels).sort() : [...route.groupBy].sort();
  for (const name of names) groupLabels[name] = labels[name] ?? "";
  const body = names.map((name) => `${name}=${JSON.stringify(groupLabels[name])}`).join(",");
  return { key: `${route.id}:{${body}}`, labels: groupLabels };
}
