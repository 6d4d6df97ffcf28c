import { mulberry32, type Rng, toSeed } from "../chaos/rng.js";
import type { Clock } from "../clock.js";
import type { PriceCatalog } from "../cost/price-catalog.js";
import type { UsageReport } from "../engine/types.js";
import { ConfigError, InvalidArgumentError, type RefusalCode } from "../errors.js";
import type { AgentSREEventName, AgentSREEvents, EventSink } from "../events.js";
import type { StateChange, StateStore } from "../store/state-store.js";
import type { CallObservation } from "../types.js";
import type { RolloutOptions, Variant } from "./config.js";
import { DowngradePolicy, type DowngradePolicyOptions, type UtilizationSource } from "./downgrade.js";
import { Rollout, type RolloutStatus } from "./rollout.js";
import { ROLLOUT_STATE_KIND } from "./rollout-record.js";

/** What a `Delivery` needs from the engine (an `AgentSRE` is one). */
export interface DeliveryHost {
  readonly clock: Clock;
  readonly events: EventSink & {
    on<K extends AgentSREEventName>(name: K, listener: (payload: AgentSREEvents[K]) => void): () => void;
  };
  readonly budget: UtilizationSource;
  readonly prices: PriceCatalog;
  readonly store: StateStore;
  readonly deploymentsFrozen: boolean;
  /** The engine's slot: adapters route through `sre.delivery`, and `sre.status()` includes it. */
  delivery?: Delivery | undefined;
}

/** A rollout as a `Delivery` takes it: the engine supplies the clock, events, freeze and store. */
export type DeliveryRolloutOptions = Omit<RolloutOptions, "clock" | "events" | "isFrozen" | "store">;

export interface DeliveryOptions {
  rollouts?: DeliveryRolloutOptions[];
  /** Budget-aware downgrade: near its daily limit, an agent's calls go to the cheaper model. */
  downgrade?: Omit<DowngradePolicyOptions, "budget" | "clock" | "events">;
  /** Keep each rollout's state, seed and decisions in the engine's store (default true). */
  persist?: boolean;
  /** Shadow calls in flight at once; a mirror beyond it is skipped (counted). Default 8. */
  maxConcurrentMirrors?: number;
  /** Seed of the mirror sampling (default: 1). */
  mirrorSeed?: number | string;
}

/** Where a model call goes: what the adapter calls instead of the model it was asked for. */
export interface ModelRoute {
  agentId: string;
  taskId: string | undefined;
  requestedModel: string;
  /** The model to call. */
  model: string;
  /** The rollout that chose `model`, and the variant. */
  rolloutId: string | undefined;
  variantId: string | undefined;
  /** `model` is a budget downgrade of `requestedModel`. */
  downgraded: boolean;
  /** Also send this call to the candidate (`delivery.mirror(route, ...)`): its result is discarded. */
  mirror: { rolloutId: string; variantId: string; model: string } | undefined;
}

/** A cheap utilisation read of one rollout. */
export interface RolloutUtilisation {
  /** Calls routed to each side since this process started it (or restored it). */
  routed: { baseline: number; candidate: number };
  /** Shadow calls sent to the candidate: their cost is counted here, never on the caller's budget. */
  mirror: { calls: number; failures: number; costUsd: number; skipped: number; inFlight: number };
  agents: string[] | undefined;
}

export interface DowngradeStatus {
  threshold: number;
  models: Record<string, string>;
  /** Agents whose calls are being downgraded: since when, how many calls. */
  active: Array<{ agentId: string; fromModel: string; toModel: string; since: number; calls: number }>;
}

export interface DeliveryStatus {
  rollouts: Array<RolloutStatus & RolloutUtilisation>;
  downgrade: DowngradeStatus | undefined;
}

/** Refusals that say something about how a variant behaves (not about the fleet's state). */
const BEHAVIOURAL_REFUSALS: ReadonlySet<RefusalCode> = new Set<RefusalCode>([
  "LOOP_DETECTED",
  "TOOL_NOT_ALLOWED",
  "BUDGET_EXCEEDED",
  "TOKEN_LIMIT_EXCEEDED",
]);

const BASELINE_SIDE = 1;
const CANDIDATE_SIDE = 2;

/** Bound on per-agent maps (last variant, active downgrades). */
const MAX_AGENTS = 10_000;

interface Entry {
  readonly rollout: Rollout;
  readonly agents: ReadonlySet<string> | undefined;
  readonly byAgent: boolean;
  readonly mirrorPercent: number;
  /**
   * The sides each agent's calls were routed to since its last rogue assessment (1 baseline, 2 candidate):
   * an assessment (agent-level) is attributed only to an agent that ran on one side alone.
   */
  readonly sides: Map<string, number>;
  routedBaseline: number;
  routedCandidate: number;
  mirrorCalls: number;
  mirrorFailures: number;
  mirrorCostUsd: number;
  mirrorSkipped: number;
}

interface ActiveDowngrade {
  agentId: string;
  fromModel: string;
  toModel: string;
  since: number;
  calls: number;
}

/**
 * Progressive delivery on an engine: the rollouts and the budget downgrade every adapter routes through.
 * `new Delivery(sre, options)` puts itself at `sre.delivery`; the adapters then ask `route()` which model
 * each call goes to (sticky per task, or per agent), and send a sampled share of baseline calls to the
 * candidate as shadow traffic with `mirror()`. The engine's own measurements feed the analysis: finished
 * calls by model name, behavioural refusals and rogue assessments by the task's or agent's variant.
 * Decisions persist in the engine's store (and reach other processes through a shared one).
 */
export class Delivery {
  readonly #host: DeliveryHost;
  readonly #entries = new Map<string, Entry>();
  /** Model rollouts by the model they replace (`baseline.model`). */
  readonly #byModel = new Map<string, Entry[]>();
  /** Model rollouts by either variant's model, for attributing finished calls. */
  readonly #byName = new Map<string, Entry[]>();
  readonly #downgrade: DowngradePolicy | undefined;
  readonly #downgradeOptions: DeliveryOptions["downgrade"];
  readonly #downgrades = new Map<string, ActiveDowngrade>();
  readonly #persist: boolean;
  readonly #maxMirrors: number;
  readonly #rng: Rng;
  readonly #pending = new Set<Promise<void>>();
  readonly #unsubscribe: Array<() => void> = [];

  constructor(host: DeliveryHost, options: DeliveryOptions = {}) {
    const known = new Set(["rollouts", "downgrade", "persist", "maxConcurrentMirrors", "mirrorSeed"]);
    for (const key of Object.keys(options)) {
      if (!known.has(key)) {
        throw new ConfigError(
          key,
          (options as Record<string, unknown>)[key],
          `a known option (${[...known].join(", ")})`,
        );
      }
    }
    if (host.delivery !== undefined) {
      // Two would both listen and fight over `sre.delivery`: add rollouts to the one there is.
      throw new ConfigError(
        "delivery",
        "a second Delivery",
        "one Delivery per engine (use sre.delivery.add())",
      );
    }
    const maxMirrors = options.maxConcurrentMirrors ?? 8;
    if (!Number.isInteger(maxMirrors) || maxMirrors < 0) {
      throw new ConfigError("maxConcurrentMirrors", maxMirrors, "an integer >= 0");
    }
    this.#host = host;
    this.#persist = options.persist ?? true;
    this.#maxMirrors = maxMirrors;
    this.#rng = mulberry32(toSeed(options.mirrorSeed ?? 1));
    this.#downgradeOptions = options.downgrade;
    if (options.downgrade !== undefined) {
      this.#downgrade = new DowngradePolicy({
        ...options.downgrade,
        budget: host.budget,
        clock: host.clock,
        events: host.events,
      });
    }
    const events = host.events;
    this.#unsubscribe.push(
      events.on("call.completed", (call) => this.#onCompleted(call)),
      events.on("call.refused", (event) => this.#onRefused(event)),
      events.on("rogue.assessment", (event) => this.#onAssessment(event)),
      events.on("budget.downgrade", (event) => this.#onDowngrade(event)),
    );
    const store = host.store;
    if (this.#persist && typeof store.subscribe === "function") {
      this.#unsubscribe.push(store.subscribe((change) => this.#onRemoteChange(change)));
    }
    for (const rollout of options.rollouts ?? []) this.add(rollout);
    host.delivery = this;
  }

  /**
   * Adds a rollout and starts it — unless its state was restored from the store (a restart), where it
   * carries on from its saved step or stays rolled back. `start: false` leaves a new rollout pending.
   */
  add(options: DeliveryRolloutOptions, { start = true }: { start?: boolean } = {}): Rollout {
    const id = (options as { id?: unknown }).id;
    if (typeof id === "string" && this.#entries.has(id)) {
      throw new ConfigError("id", id, "a rollout id not already in this delivery");
    }
    const host = this.#host;
    const rollout = new Rollout({
      ...options,
      clock: host.clock,
      events: host.events,
      isFrozen: () => host.deploymentsFrozen,
      ...(this.#persist ? { store: host.store } : {}),
    });
    const entry: Entry = {
      rollout,
      agents: options.agents === undefined ? undefined : new Set(options.agents),
      byAgent: options.stickyBy === "agent",
      mirrorPercent: options.mirrorPercent ?? 0,
      sides: new Map(),
      routedBaseline: 0,
      routedCandidate: 0,
      mirrorCalls: 0,
      mirrorFailures: 0,
      mirrorCostUsd: 0,
      mirrorSkipped: 0,
    };
    this.#entries.set(rollout.id, entry);
    const { baseline, candidate } = rollout;
    if (baseline.model !== undefined && candidate.model !== undefined && baseline.model !== candidate.model) {
      push(this.#byModel, baseline.model, entry);
      push(this.#byName, baseline.model, entry);
      push(this.#byName, candidate.model, entry);
    }
    if (start && !rollout.restored && rollout.state === "pending") rollout.start();
    return rollout;
  }

  rollout(id: string): Rollout | undefined {
    return this.#entries.get(id)?.rollout;
  }

  rollouts(): Rollout[] {
    return [...this.#entries.values()].map((entry) => entry.rollout);
  }

  /**
   * Where a model call of `agentId` (in `taskId`) asking for `model` goes, or undefined when it goes where
   * it asked (no rollout of that model for the agent, no downgrade). A downgrade comes first: a call near
   * the budget's limit is not part of an experiment. O(1) per call.
   */
  route(agentId: string, taskId: string | undefined, model: string): ModelRoute | undefined {
    if (this.#downgrade !== undefined) {
      const cheaper = this.#downgrade.modelFor(agentId, model);
      if (cheaper === model) {
        // Back under the threshold (a new day): no longer downgraded.
        if (this.#downgrades.size > 0) this.#downgrades.delete(`${agentId}\u0000${model}`);
      } else {
        const active = this.#downgrades.get(`${agentId}\u0000${model}`);
        if (active !== undefined) active.calls++;
        return {
          agentId,
          taskId,
          requestedModel: model,
          model: cheaper,
          rolloutId: undefined,
          variantId: undefined,
          downgraded: true,
          mirror: undefined,
        };
      }
    }
    const entries = this.#byModel.get(model);
    if (entries === undefined) return undefined;
    for (const entry of entries) {
      if (entry.agents !== undefined && !entry.agents.has(agentId)) continue;
      const rollout = entry.rollout;
      const variant = this.#assign(entry, agentId, taskId);
      const onCandidate = variant === rollout.candidate;
      let mirror: ModelRoute["mirror"];
      if (
        !onCandidate &&
        entry.mirrorPercent > 0 &&
        rollout.state === "progressing" &&
        this.#rng() * 100 < entry.mirrorPercent
      ) {
        const candidate = rollout.candidate;
        mirror = { rolloutId: rollout.id, variantId: candidate.id, model: candidate.model as string };
      }
      return {
        agentId,
        taskId,
        requestedModel: model,
        model: variant.model ?? model,
        rolloutId: rollout.id,
        variantId: variant.id,
        downgraded: false,
        mirror,
      };
    }
    return undefined;
  }

  /**
   * The variant of rollout `rolloutId` for a call of `agentId` in `taskId` (sticky per task, or per agent),
   * for variants the application or the MCP proxy maps itself (prompt versions, upstream servers).
   */
  assign(rolloutId: string, agentId: string, taskId?: string): Variant {
    const entry = this.#entries.get(rolloutId);
    if (entry === undefined)
      throw new InvalidArgumentError("rolloutId", rolloutId, "a rollout of this delivery");
    return this.#assign(entry, agentId, taskId);
  }

  /**
   * Feeds a finished call of a variant the adapter routed itself with `assign()` (the MCP proxy's upstream
   * versions, an application's prompt versions). Model rollouts are fed from the engine's events instead.
   */
  observe(rolloutId: string, variantId: string, call: CallObservation): void {
    this.#entries.get(rolloutId)?.rollout.observe(call, variantId);
  }

  /** A call routed to `variantId` that could not reach it (its server down, its breaker open): a failure. */
  unavailable(rolloutId: string, variantId: string): void {
    this.#entries.get(rolloutId)?.rollout.observeUnavailable(variantId);
  }

  /**
   * Sends the shadow copy of a call to the candidate, off the caller's path: `run` calls the candidate's
   * model, `usage` reads its usage. The result is discarded; the outcome feeds the candidate's analysis and
   * its cost is counted on the rollout (status `mirror.costUsd`), never on the caller's budget. Errors are
   * the candidate's failures, never the caller's. At most `maxConcurrentMirrors` run at once.
   */
  mirror<T>(
    route: ModelRoute,
    run: () => PromiseLike<T>,
    usage: (result: T) => UsageReport | undefined,
    provider?: string,
  ): void {
    const target = route.mirror;
    if (target === undefined) return;
    const entry = this.#entries.get(target.rolloutId);
    if (entry === undefined) return;
    if (this.#pending.size >= this.#maxMirrors) {
      entry.mirrorSkipped++;
      return;
    }
    const clock = this.#host.clock;
    const startedAt = clock.now();
    const record = (ok: boolean, report: UsageReport | undefined) => {
      const at = clock.now();
      const inputTokens = report?.inputTokens ?? 0;
      const outputTokens = report?.outputTokens ?? 0;
      const costUsd =
        report?.costUsd ??
        (report === undefined
          ? 0
          : (this.#host.prices.costMicros(target.model, report, provider) ?? 0) / 1_000_000);
      entry.mirrorCalls++;
      if (!ok) entry.mirrorFailures++;
      entry.mirrorCostUsd += costUsd;
      entry.rollout.observe(
        {
          at,
          agentId: route.agentId,
          taskId: route.taskId,
          kind: "model",
          name: target.model,
          ok,
          durationMs: at - startedAt,
          costUsd,
          inputTokens,
          outputTokens,
          errorCode: undefined,
        },
        target.variantId,
        true,
      );
    };
    let pending: Promise<void>;
    try {
      pending = Promise.resolve(run()).then(
        (result) => {
          let report: UsageReport | undefined;
          try {
            report = usage(result);
          } catch {
            report = undefined;
          }
          record(true, report);
        },
        () => record(false, undefined),
      );
    } catch {
      record(false, undefined);
      return;
    }
    const tracked = pending.finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  /** Resolves when every shadow call in flight has finished (tests, graceful shutdown). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  status(): DeliveryStatus {
    const rollouts = [...this.#entries.values()].map((entry) => {
      const inFlight = this.#pending.size;
      return {
        ...entry.rollout.status(),
        routed: { baseline: entry.routedBaseline, candidate: entry.routedCandidate },
        mirror: {
          calls: entry.mirrorCalls,
          failures: entry.mirrorFailures,
          costUsd: entry.mirrorCostUsd,
          skipped: entry.mirrorSkipped,
          inFlight: entry.mirrorPercent > 0 ? inFlight : 0,
        },
        agents: entry.agents === undefined ? undefined : [...entry.agents],
      };
    });
    const d = this.#downgradeOptions;
    return {
      rollouts,
      downgrade:
        d === undefined
          ? undefined
          : {
              threshold: d.threshold,
              models: { ...d.models },
              active: [...this.#downgrades.values()].map((a) => ({ ...a })),
            },
    };
  }

  /** Stops listening to the engine and the store, and leaves `sre.delivery`. */
  close(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
    if (this.#host.delivery === this) this.#host.delivery = undefined;
  }

  #assign(entry: Entry, agentId: string, taskId: string | undefined): Variant {
    const rollout = entry.rollout;
    const variant = rollout.assign(entry.byAgent || taskId === undefined ? agentId : taskId);
    if (variant === rollout.candidate) entry.routedCandidate++;
    else entry.routedBaseline++;
    const side = variant === rollout.candidate ? CANDIDATE_SIDE : BASELINE_SIDE;
    const sides = entry.sides;
    const seen = sides.get(agentId);
    if (seen === undefined) {
      if (sides.size >= MAX_AGENTS) sides.clear();
      sides.set(agentId, side);
    } else if ((seen & side) === 0) {
      sides.set(agentId, seen | side);
    }
    return variant;
  }

  #onCompleted(call: AgentSREEvents["call.completed"]): void {
    if (call.kind !== "model") return;
    const entries = this.#byName.get(call.name);
    if (entries === undefined) return;
    for (const entry of entries) {
      if (entry.agents !== undefined && !entry.agents.has(call.agentId)) continue;
      const { baseline, candidate } = entry.rollout;
      entry.rollout.observe(call, call.name === candidate.model ? candidate.id : baseline.id);
    }
  }

  #onRefused(event: AgentSREEvents["call.refused"]): void {
    if (event.code === "CIRCUIT_OPEN" && event.kind === "model") {
      // A variant whose model's breaker is open fails every call routed to it.
      for (const entry of this.#byName.get(event.name) ?? []) {
        if (entry.agents !== undefined && !entry.agents.has(event.agentId)) continue;
        const { baseline, candidate } = entry.rollout;
        entry.rollout.observeUnavailable(event.name === candidate.model ? candidate.id : baseline.id);
      }
      return;
    }
    if (!BEHAVIOURAL_REFUSALS.has(event.code)) return;
    for (const entry of this.#entries.values()) {
      if (entry.agents !== undefined && !entry.agents.has(event.agentId)) continue;
      const key = entry.byAgent || event.taskId === undefined ? event.agentId : event.taskId;
      entry.rollout.observeSignal(key, "refusal");
    }
  }

  #onAssessment(event: AgentSREEvents["rogue.assessment"]): void {
    for (const entry of this.#entries.values()) {
      const seen = entry.sides.get(event.agentId);
      if (seen === undefined) continue;
      entry.sides.set(event.agentId, 0);
      // An agent whose tasks ran on both sides tells nothing about either (`stickyBy: "agent"` avoids that).
      if (seen === BASELINE_SIDE) entry.rollout.observeRisk(event.riskLevel, entry.rollout.baseline.id);
      else if (seen === CANDIDATE_SIDE)
        entry.rollout.observeRisk(event.riskLevel, entry.rollout.candidate.id);
    }
  }

  #onDowngrade(event: AgentSREEvents["budget.downgrade"]): void {
    const key = `${event.agentId}\u0000${event.fromModel}`;
    if (this.#downgrades.has(key)) return;
    if (this.#downgrades.size >= MAX_AGENTS) this.#downgrades.clear();
    this.#downgrades.set(key, {
      agentId: event.agentId,
      fromModel: event.fromModel,
      toModel: event.toModel,
      since: event.at,
      calls: 0,
    });
  }

  /** Another process changed a rollout in the shared store (a rollback there reaches this one). */
  #onRemoteChange(change: StateChange): void {
    if (change.kind !== ROLLOUT_STATE_KIND) return;
    this.#entries.get(change.id)?.rollout.reload();
  }
}

function push(map: Map<string, Entry[]>, key: string, entry: Entry): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [entry]);
  else list.push(entry);
}
