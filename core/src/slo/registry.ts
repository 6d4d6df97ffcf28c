import { type Clock, systemClock } from "../clock.js";
import { type Duration, parseDuration } from "../duration.js";
import { ConfigError } from "../errors.js";
import type { EventSink } from "../events.js";
import { STATE_KINDS, type StateStore, type StateValue } from "../store/state-store.js";
import type { CallKind, CallObservation } from "../types.js";
import { isBuiltInIndicator } from "./indicators.js";
import { SLO, type SLOBudgetHook, type SLOContext, type SLOEvaluation } from "./slo.js";

export interface SLORegistryOptions {
  /** Clock given to SLOs that have none. Default: the system clock. */
  clock?: Clock;
  /** Where SLOs without their own sink emit `slo.status`, `slo.alert`, `slo.exhausted`. */
  events?: EventSink;
  /** Runs (besides any hook of the SLO itself) when an SLO's budget becomes exhausted. */
  onExhausted?: SLOBudgetHook;
  /** Runs when an exhausted SLO's budget is no longer exhausted. */
  onRecovered?: SLOBudgetHook;
  /** `evaluateDue()` evaluates at most this often. Default 1 s. */
  evaluationIntervalMs?: Duration;
  /**
   * Where each SLO's error-budget counts are kept (the engine's `store`): restored when the SLO is added
   * (a restart keeps its budget, its burn rates and an EXHAUSTED status with its action), saved by
   * evaluations when they changed, at most once per `saveIntervalMs`, and by `saveAll()`.
   *
   * A shared store (`state.shared`, a fleet on Redis) aggregates: each process saves its own counts as a part
   * (`slo-part` records, `<name>` + this registry's key), and every process reads its counts plus every other
   * part it sees (loaded when the SLO is added, kept current by the store's broadcast), so each evaluation
   * sees the fleet's error budget. A restarted process starts a new part and reads its old one as a peer:
   * nothing is counted twice. Parts expire with the SLO window.
   */
  state?: StateStore;
  /** How often changed counts are written to `state`. Default 60 s: a crash loses at most that much. */
  saveIntervalMs?: Duration;
}

interface SaveMark {
  events: number;
  atMs: number;
}

/**
 * The SLOs the engine holds: dispatches observations to the SLOs that watch the call's agent
 * (O(matching SLOs)), and evaluates them at most once per `evaluationIntervalMs` so the hot path pays a
 * timestamp comparison.
 */
export class SLORegistry implements Iterable<SLO> {
  readonly evaluationIntervalMs: number;
  readonly #context: SLOContext;
  readonly #clock: Clock;
  readonly #byName = new Map<string, SLO>();
  readonly #byAgent = new Map<string, SLO[]>();
  readonly #allAgents: SLO[] = [];
  #nextEvaluationMs = Number.NEGATIVE_INFINITY;
  readonly #state: StateStore | undefined;
  readonly saveIntervalMs: number;
  /** Per SLO name: what was last saved (or restored), so unchanged counts are not written again. */
  readonly #saved = new Map<string, SaveMark>();
  /** This process's part key on a shared store (undefined: one record per SLO, restored at add). */
  readonly #partKey: string | undefined;
  /**
   * SLOs held that may keep a reference to an observation (a subclass of `SLO`, or an indicator that is not
   * a built-in class): while any is held, `observeCall` builds a fresh observation per call.
   */
  #keepers = 0;
  /** The observation `observeCall` refills (built-in SLOs and indicators read it and keep nothing). */
  readonly #scratch: CallObservation = {
    at: 0,
    agentId: "",
    taskId: undefined,
    kind: "model",
    name: "",
    ok: true,
    durationMs: 0,
    costUsd: 0,
    inputTokens: 0,
    outputTokens: 0,
    errorCode: undefined,
  };

  constructor(options: SLORegistryOptions = {}) {
    this.evaluationIntervalMs = parseDuration(options.evaluationIntervalMs ?? 1000, "evaluationIntervalMs", {
      allowZero: true,
    });
    for (const key of ["onExhausted", "onRecovered"] as const) {
      if (options[key] !== undefined && typeof options[key] !== "function") {
        throw new ConfigError(key, options[key], "a function");
      }
    }
    this.saveIntervalMs = parseDuration(options.saveIntervalMs ?? 60_000, "saveIntervalMs", {
      allowZero: true,
    });
    this.#state = options.state;
    this.#clock = options.clock ?? systemClock;
    if (this.#state?.shared === true) {
      this.#partKey = randomKey();
      this.#state.subscribe((change) => {
        if (change.kind === STATE_KINDS.sloPart) this.#onPart(change.id, change.value);
      });
    }
    this.#context = {
      clock: this.#clock,
      ...(options.events === undefined ? {} : { events: options.events }),
      ...(options.onExhausted === undefined ? {} : { onExhausted: options.onExhausted }),
      ...(options.onRecovered === undefined ? {} : { onRecovered: options.onRecovered }),
    };
  }

  /** Adds an SLO; names are unique. */
  add(slo: SLO): this {
    if (this.#byName.has(slo.name)) {
      throw new ConfigError("slo.name", slo.name, "a name not already in the registry");
    }
    slo.attach(this.#context);
    this.#byName.set(slo.name, slo);
    if (this.#partKey !== undefined) {
      for (const [id, value] of (this.#state as StateStore).listState(STATE_KINDS.sloPart)) {
        if (partOf(id)?.name === slo.name) slo.errorBudget.setPeerState(id, value);
      }
    } else if (this.#state !== undefined) {
      const saved = this.#state.getState(STATE_KINDS.slo, slo.name);
      if (saved !== undefined && slo.errorBudget.restoreState(saved)) {
        this.#saved.set(slo.name, { events: slo.errorBudget.eventsRecorded, atMs: this.#clock.now() });
      }
    }
    if (keepsObservations(slo)) this.#keepers++;
    if (slo.agentId === undefined) {
      this.#allAgents.push(slo);
    } else {
      const list = this.#byAgent.get(slo.agentId);
      if (list === undefined) this.#byAgent.set(slo.agentId, [slo]);
      else list.push(slo);
    }
    return this;
  }

  /** Removes an SLO by name; returns whether it was there. */
  remove(name: string): boolean {
    const slo = this.#byName.get(name);
    if (slo === undefined) return false;
    this.#byName.delete(name);
    this.#saved.delete(name);
    const list = slo.agentId === undefined ? this.#allAgents : this.#byAgent.get(slo.agentId);
    if (list !== undefined) {
      list.splice(list.indexOf(slo), 1);
      if (slo.agentId !== undefined && list.length === 0) this.#byAgent.delete(slo.agentId);
    }
    if (keepsObservations(slo)) this.#keepers--;
    slo.detach(this.#context);
    return true;
  }

  get(name: string): SLO | undefined {
    return this.#byName.get(name);
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  get size(): number {
    return this.#byName.size;
  }

  [Symbol.iterator](): Iterator<SLO> {
    return this.#byName.values();
  }

  /** SLOs that watch `agentId` (its own and the all-agents ones). */
  forAgent(agentId: string): SLO[] {
    return [...(this.#byAgent.get(agentId) ?? []), ...this.#allAgents];
  }

  /** Feeds one finished call to every SLO that watches its agent. */
  observe(observation: CallObservation): void {
    // Most registries hold only all-agent SLOs: no lookup by agent id then.
    const own = this.#byAgent.size === 0 ? undefined : this.#byAgent.get(observation.agentId);
    if (own !== undefined) for (let i = 0; i < own.length; i++) (own[i] as SLO).observe(observation);
    const all = this.#allAgents;
    for (let i = 0; i < all.length; i++) (all[i] as SLO).observe(observation);
  }

  /**
   * @internal Feeds one finished call given by its fields (the engine's path when nobody else reads the
   * observation): the same as `observe()` with an object of these fields, but with only built-in SLOs and
   * indicators held it refills one object instead of building one per call. Observers see it only during
   * the call.
   */
  observeCall(
    at: number,
    agentId: string,
    taskId: string | undefined,
    kind: CallKind,
    name: string,
    ok: boolean,
    durationMs: number,
    costUsd: number,
    inputTokens: number,
    outputTokens: number,
    errorCode: CallObservation["errorCode"],
  ): void {
    if (this.#keepers > 0) {
      this.observe({
        at,
        agentId,
        taskId,
        kind,
        name,
        ok,
        durationMs,
        costUsd,
        inputTokens,
        outputTokens,
        errorCode,
      });
      return;
    }
    const observation = this.#scratch;
    observation.at = at;
    observation.agentId = agentId;
    observation.taskId = taskId;
    observation.kind = kind;
    observation.name = name;
    observation.ok = ok;
    observation.durationMs = durationMs;
    observation.costUsd = costUsd;
    observation.inputTokens = inputTokens;
    observation.outputTokens = outputTokens;
    observation.errorCode = errorCode;
    this.observe(observation);
  }

  /**
   * Evaluates every SLO if at least `evaluationIntervalMs` passed since the last time; returns whether
   * it did. Cheap enough to call after every observation.
   */
  evaluateDue(nowMs: number = this.#clock.now()): boolean {
    if (nowMs < this.#nextEvaluationMs) return false;
    this.#nextEvaluationMs = nowMs + this.evaluationIntervalMs;
    this.evaluateAll();
    return true;
  }

  /**
   * Evaluates every SLO now (events and hooks run). If a hook throws, the remaining SLOs are still
   * evaluated and the first error is rethrown.
   */
  evaluateAll(): SLOEvaluation[] {
    const out: SLOEvaluation[] = [];
    let failed = false;
    let failure: unknown;
    for (const slo of this.#byName.values()) {
      try {
        out.push(slo.evaluate());
      } catch (error) {
        if (!failed) {
          failed = true;
          failure = error;
        }
        const evaluation = slo.lastEvaluation;
        if (evaluation !== undefined) out.push(evaluation);
      }
    }
    if (this.#state !== undefined) this.#saveChanged(this.#clock.now(), false);
    if (failed) throw failure;
    return out;
  }

  /** Writes every SLO's changed counts to the state store now (e.g. before a planned shutdown). */
  saveAll(): void {
    if (this.#state !== undefined) this.#saveChanged(this.#clock.now(), true);
  }

  #saveChanged(nowMs: number, force: boolean): void {
    const state = this.#state as StateStore;
    for (const slo of this.#byName.values()) {
      const budget = slo.errorBudget;
      const events = budget.eventsRecorded;
      const mark = this.#saved.get(slo.name);
      if (mark !== undefined && mark.events === events) continue;
      if (mark !== undefined && !force && nowMs - mark.atMs < this.saveIntervalMs) continue;
      if (mark === undefined && events === 0) continue;
      // Counts older than the SLO window no longer matter, so the record may go with them.
      state.putState(
        this.#partKey === undefined ? STATE_KINDS.slo : STATE_KINDS.sloPart,
        this.#partKey === undefined ? slo.name : `${slo.name}${PART_SEPARATOR}${this.#partKey}`,
        budget.exportState() as unknown as StateValue,
        nowMs + budget.windowMs,
      );
      this.#saved.set(slo.name, { events, atMs: nowMs });
    }
  }

  /** Another process saved (or its record went) its part of an SLO's counts. */
  #onPart(id: string, value: StateValue | undefined): void {
    const part = partOf(id);
    if (part === undefined || part.key === this.#partKey) return;
    this.#byName.get(part.name)?.errorBudget.setPeerState(id, value);
  }

  /** Every SLO's evaluation now, without recording it or running events and hooks. */
  snapshot(): SLOEvaluation[] {
    return [...this.#byName.values()].map((slo) => slo.peek());
  }
}

/** Whether an SLO may keep the observations it is fed (anything but the built-in classes). */
function keepsObservations(slo: SLO): boolean {
  if (slo.constructor !== SLO) return true;
  for (const indicator of slo.indicators) if (!isBuiltInIndicator(indicator)) return true;
  return false;
}

/** Between an SLO's name and a process's key in `slo-part` ids; the key (base 36) never contains it. */
const PART_SEPARATOR = "#";

function partOf(id: string): { name: string; key: string } | undefined {
  const at = id.lastIndexOf(PART_SEPARATOR);
  return at < 0 ? undefined : { name: id.slice(0, at), key: id.slice(at + 1) };
}

/** A process's part key: random, so two processes (or two lives of one) never share a part. */
function randomKey(): string {
  let key = "";
  for (let i = 0; i < 4; i++) key += Math.floor(Math.random() * 0x100000000).toString(36);
  return key;
}
