import {
  ConfigError,
  type Delivery,
  type DeliveryRolloutOptions,
  type RolloutConfigError,
  resolveRolloutOptions,
} from "@agent-sre/core";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { compareDefinitions, type PinnedDefinition } from "./drift.js";
import type { Logger } from "./logger.js";
import type { UpstreamPlan } from "./proxy-context.js";
import type { UpstreamConnection } from "./upstream.js";

/**
 * A rollout of an upstream server version: `baseline.id` and `candidate.id` name two servers of the config
 * (e.g. `search-v1` and `search-v2`). Clients see the baseline's tools; each `tools/call` of one of them is
 * routed to the same tool of the candidate for the tasks the rollout assigns to it.
 */
export type ProxyRolloutOptions = DeliveryRolloutOptions;

export interface ProxyDeliveryOptions {
  rollouts: ProxyRolloutOptions[];
}

/** What a routed tool call needs to be reported to its rollout. */
export interface RoutedTool<R> {
  route: R;
  rolloutId: string | undefined;
  variantId: string | undefined;
}

interface ServerRollout {
  rolloutId: string;
  baseline: string;
  candidate: string;
}

/**
 * Every problem of an `agentSre.delivery` section at once, with JSON paths: each rollout's own config
 * (strict, as `Rollout` reads it), variants naming configured servers, no shadow traffic (tools act on the
 * world: a mirrored call would act twice), no server in two rollouts.
 */
export function deliveryIssues(
  section: unknown,
  servers: readonly string[],
  path = "agentSre.delivery",
): Array<{ path: string; message: string }> {
  const issues: Array<{ path: string; message: string }> = [];
  if (section === undefined) return issues;
  if (typeof section !== "object" || section === null || Array.isArray(section)) {
    return [{ path, message: "expected an object { rollouts: [...] }" }];
  }
  for (const key of Object.keys(section)) {
    if (key !== "rollouts")
      issues.push({ path: `${path}.${key}`, message: 'unknown key (expected "rollouts")' });
  }
  const rollouts = (section as { rollouts?: unknown }).rollouts;
  if (!Array.isArray(rollouts) || rollouts.length === 0) {
    issues.push({ path: `${path}.rollouts`, message: "expected a non-empty array of rollouts" });
    return issues;
  }
  const known = new Set(servers);
  const used = new Map<string, string>();
  const ids = new Set<string>();
  rollouts.forEach((raw: unknown, index: number) => {
    const at = `${path}.rollouts[${index}]`;
    try {
      resolveRolloutOptions(raw);
    } catch (error) {
      const problems = (error as RolloutConfigError).problems;
      if (problems === undefined) throw error;
      for (const problem of problems) {
        issues.push({
          path: problem.path === "" ? at : `${at}.${problem.path}`,
          message: `expected ${problem.expected} (got ${JSON.stringify(problem.value) ?? "undefined"})`,
        });
      }
      return;
    }
    const r = raw as ProxyRolloutOptions;
    if (ids.has(r.id)) issues.push({ path: `${at}.id`, message: `rollout id "${r.id}" is used twice` });
    ids.add(r.id);
    for (const side of ["baseline", "candidate"] as const) {
      const variant = r[side];
      if (!known.has(variant.id)) {
        issues.push({
          path: `${at}.${side}.id`,
          message: `expected the name of a configured server (${servers.join(", ")}), got "${variant.id}"`,
        });
      }
      if (variant.model !== undefined) {
        issues.push({
          path: `${at}.${side}.model`,
          message: "the proxy routes servers: a variant is { id: <server> }",
        });
      }
      const other = used.get(variant.id);
      if (other !== undefined) {
        issues.push({
          path: `${at}.${side}.id`,
          message: `server "${variant.id}" is already in rollout "${other}"`,
        });
      }
      used.set(variant.id, r.id);
    }
    if (r.mirrorPercent !== undefined && r.mirrorPercent > 0) {
      issues.push({
        path: `${at}.mirrorPercent`,
        message:
          "tools act on the world: a mirrored tool call would act twice (no shadow traffic in the proxy)",
      });
    }
  });
  return issues;
}

/**
 * The proxy's side of progressive delivery: which servers are candidates (hidden from `tools/list`), which
 * tool calls a rollout routes, and what their outcomes tell the analysis. Decisions stay in core's `Delivery`.
 */
export class ProxyDelivery {
  readonly delivery: Delivery;
  /** Candidate servers: their tools are never listed, only reached through a rollout. */
  readonly hidden: ReadonlySet<string>;
  readonly #byBaseline = new Map<string, ServerRollout>();
  readonly #plans: ReadonlyMap<string, UpstreamPlan>;
  readonly #logger: Logger;
  /** Rollouts already rolled back for incompatible tools (once each). */
  readonly #incompatible = new Set<string>();

  constructor(
    delivery: Delivery,
    options: ProxyDeliveryOptions,
    plans: readonly UpstreamPlan[],
    logger: Logger,
  ) {
    const issues = deliveryIssues(
      options,
      plans.map((plan) => plan.spec.name),
      "delivery",
    );
    if (issues.length > 0) {
      const first = issues[0] as { path: string; message: string };
      const error = new ConfigError(first.path, undefined, first.message);
      error.message = issues.map((issue) => `${issue.path}: ${issue.message}`).join("\n");
      throw error;
    }
    this.delivery = delivery;
    this.#plans = new Map(plans.map((plan) => [plan.spec.name, plan]));
    this.#logger = logger;
    const hidden = new Set<string>();
    for (const rollout of options.rollouts) {
      delivery.add(rollout);
      hidden.add(rollout.candidate.id);
      this.#byBaseline.set(rollout.baseline.id, {
        rolloutId: rollout.id,
        baseline: rollout.baseline.id,
        candidate: rollout.candidate.id,
      });
    }
    this.hidden = hidden;
  }

  /**
   * Where a call of the baseline's tool goes: the candidate's tool of the same upstream name for a task the
   * rollout assigns to the candidate, else the route itself. O(1).
   */
  route<R extends { server: string; upstreamName: string }>(
    route: R,
    routes: ReadonlyMap<string, R>,
    agentId: string,
    taskId: string | undefined,
  ): RoutedTool<R> {
    const rollout = this.#byBaseline.get(route.server);
    if (rollout === undefined) return { route, rolloutId: undefined, variantId: undefined };
    const variant = this.delivery.assign(rollout.rolloutId, agentId, taskId);
    if (variant.id !== rollout.candidate)
      return { route, rolloutId: rollout.rolloutId, variantId: variant.id };
    const plan = this.#plans.get(rollout.candidate);
    const target = plan === undefined ? undefined : routes.get(plan.exposedName(route.upstreamName));
    // The candidate does not serve this tool (yet): the compatibility check rolls it back; this call stays.
    if (target === undefined) return { route, rolloutId: undefined, variantId: undefined };
    return { route: target, rolloutId: rollout.rolloutId, variantId: variant.id };
  }

  /** Reports a routed call that ran: its outcome and latency feed the variant's analysis. */
  finished(
    routed: RoutedTool<unknown>,
    call: { agentId: string; taskId: string | undefined; name: string; at: number },
    outcome: { ok: boolean; durationMs: number; costUsd: number },
  ): void {
    if (routed.rolloutId === undefined || routed.variantId === undefined) return;
    this.delivery.observe(routed.rolloutId, routed.variantId, {
      at: call.at,
      agentId: call.agentId,
      taskId: call.taskId,
      kind: "tool",
      name: call.name,
      ok: outcome.ok,
      durationMs: outcome.durationMs,
      costUsd: outcome.costUsd,
      inputTokens: 0,
      outputTokens: 0,
      errorCode: undefined,
    });
  }

  /** A routed call that could not reach its server (down, restarting, its breaker open): a failure. */
  unavailable(routed: RoutedTool<unknown>): void {
    if (routed.rolloutId === undefined || routed.variantId === undefined) return;
    this.delivery.unavailable(routed.rolloutId, routed.variantId);
  }

  /**
   * Tools-list compatibility (the drift machinery's comparison): every tool the baseline exposes must exist
   * on the candidate without a breaking change (a removed parameter, a changed type). A candidate that
   * fails it is rolled back before a client can trip over it.
   */
  checkCompatibility(connections: readonly UpstreamConnection[]): void {
    for (const rollout of this.#byBaseline.values()) {
      if (this.#incompatible.has(rollout.rolloutId)) continue;
      const baseline = connections.find((c) => c.name === rollout.baseline && c.ready);
      const candidate = connections.find((c) => c.name === rollout.candidate && c.ready);
      if (baseline === undefined || candidate === undefined) continue;
      const problems = incompatibilities(
        baseline.tools.filter((tool) => this.#plans.get(rollout.baseline)?.visible(tool.name) ?? true),
        candidate.tools,
      );
      if (problems.length === 0) continue;
      this.#incompatible.add(rollout.rolloutId);
      const rolloutState = this.delivery.rollout(rollout.rolloutId);
      const reason = `candidate server "${rollout.candidate}" is not compatible with "${rollout.baseline}": ${problems.join("; ")}`;
      this.#logger.warn(`rollout "${rollout.rolloutId}": ${reason}`);
      if (rolloutState?.state === "progressing" || rolloutState?.state === "paused")
        rolloutState.rollback(reason);
    }
  }
}

function incompatibilities(baseline: readonly Tool[], candidate: readonly Tool[]): string[] {
  const byName = new Map(candidate.map((tool) => [tool.name, tool]));
  const problems: string[] = [];
  for (const tool of baseline) {
    const next = byName.get(tool.name);
    if (next === undefined) {
      problems.push(`tool "${tool.name}" missing`);
      continue;
    }
    const change = compareDefinitions(tool.name, tool as PinnedDefinition, next as PinnedDefinition);
    if (change.severity === "critical") problems.push(`tool "${tool.name}": ${change.details.join(", ")}`);
  }
  return problems;
}
