import type { Clock } from "../clock.js";
import { systemClock } from "../clock.js";
import { ConfigError } from "../errors.js";
import type { BreakerTransition, EventSink } from "../events.js";
import { silentSink } from "../events.js";
import { STATE_KINDS, type StateChange, type StateStore, type StateValue } from "../store/state-store.js";
import { requireNonEmptyString, requirePositiveInteger } from "../validate.js";
import { type BreakerSnapshot, CircuitBreaker, type SavedBreakerState } from "./circuit-breaker.js";
import { type CircuitBreakerOptions, resolveBreakerOptions } from "./options.js";
import { compilePattern, isPattern } from "./pattern.js";
import { BreakerPolicy, BreakerTally } from "./policy.js";

/** Per-breaker options a registry accepts: the id, clock and events come from the registry. */
export type BreakerDefaults = Omit<CircuitBreakerOptions, "id" | "clock" | "events">;

export interface BreakerRegistryOptions {
  /** Options every breaker starts from. */
  defaults?: BreakerDefaults;
  /**
   * Options layered over `defaults`, keyed by exact id or `*` pattern. An exact id wins; otherwise the longest
   * matching pattern (ties: the one declared first). Fields are replaced, not merged (a `window` replaces the
   * default `window` as a whole).
   */
  overrides?: Record<string, BreakerDefaults>;
  /** How many OPEN breakers make a cascade (default 3). */
  cascadeThreshold?: number;
  clock?: Clock;
  events?: EventSink;
  /**
   * Where breaker states are kept: every transition is written, a breaker created later resumes its saved
   * state, and a transition written by another process (a shared store) is applied here.
   */
  state?: StateStore;
}

export interface BreakerRegistrySnapshot {
  at: number;
  cascadeThreshold: number;
  cascading: boolean;
  openCircuits: string[];
  breakers: BreakerSnapshot[];
}

export const DEFAULT_CASCADE_THRESHOLD = 3;
const BREAKER = STATE_KINDS.breaker;

const REGISTRY_KEYS: ReadonlySet<string> = new Set([
  "defaults",
  "overrides",
  "cascadeThreshold",
  "clock",
  "events",
  "state",
]);
const REGISTRY_OWNED_KEYS = ["id", "clock", "events"] as const;

interface PatternOverride {
  pattern: string;
  regex: RegExp;
  options: BreakerDefaults;
}

/**
 * A fleet of breakers keyed by id (`"tool:search"`, `"model:gpt-4o"`, `"agent:analyst"`), created lazily from
 * defaults + the most specific override, sharing one clock and event sink. It tracks which breakers are OPEN as
 * they transition (no scan per call) and emits `breaker.cascade` once when the OPEN count reaches
 * `cascadeThreshold`, re-arming when it falls below.
 */
export class BreakerRegistry {
  readonly cascadeThreshold: number;
  readonly #clock: Clock;
  readonly #events: EventSink;
  readonly #defaults: BreakerDefaults;
  readonly #exactOverrides = new Map<string, BreakerDefaults>();
  /** Longest first, then declaration order. */
  readonly #patternOverrides: PatternOverride[] = [];
  readonly #breakers = new Map<string, CircuitBreaker>();
  /** One per override in use (and one for the defaults), keyed by the override's options object. */
  readonly #policies = new Map<BreakerDefaults, BreakerPolicy>();
  /** Breakers of this registry that are not CLOSED (every policy of it counts here). */
  readonly #tally = new BreakerTally();
  /** Breakers whose last transition was to OPEN (some may have passed their timeout: checked lazily). */
  readonly #open = new Map<string, CircuitBreaker>();
  #cascadeArmed = true;
  readonly #state: StateStore | undefined;

  constructor(options: BreakerRegistryOptions = {}) {
    if (typeof options !== "object" || options === null)
      throw new ConfigError("options", options, "an object");
    for (const key of Object.keys(options)) {
      if (!REGISTRY_KEYS.has(key)) {
        throw new ConfigError(key, (options as Record<string, unknown>)[key], "a known registry option");
      }
    }
    this.cascadeThreshold =
      options.cascadeThreshold === undefined
        ? DEFAULT_CASCADE_THRESHOLD
        : requirePositiveInteger(options.cascadeThreshold, "cascadeThreshold");
    this.#clock = options.clock ?? systemClock;
    if (typeof this.#clock !== "object" || this.#clock === null || typeof this.#clock.now !== "function") {
      throw new ConfigError("clock", options.clock, "a Clock with now()");
    }
    this.#events = options.events ?? silentSink;
    if (typeof this.#events?.emit !== "function" || typeof this.#events?.has !== "function") {
      throw new ConfigError("events", options.events, "an EventSink with emit() and has()");
    }

    this.#defaults = options.defaults ?? {};
    checkRegistryOwnedKeys(this.#defaults, "defaults");
    resolveBreakerOptions({ ...this.#defaults, id: "defaults" }, "defaults.");

    const overrides = options.overrides ?? {};
    if (typeof overrides !== "object" || overrides === null || Array.isArray(overrides)) {
      throw new ConfigError("overrides", overrides, "an object keyed by breaker id or pattern");
    }
    for (const [key, value] of Object.entries(overrides)) {
      const prefix = `overrides[${JSON.stringify(key)}]`;
      requireNonEmptyString(key, `${prefix} key`);
      checkRegistryOwnedKeys(value, prefix);
      // Validate the merge each breaker will get, so cross-field errors surface now, named after the override.
      resolveBreakerOptions({ ...this.#defaults, ...value, id: key }, `${prefix}.`);
      if (isPattern(key)) {
        this.#patternOverrides.push({ pattern: key, regex: compilePattern(key), options: value });
      } else {
        this.#exactOverrides.set(key, value);
      }
    }
    // Array.prototype.sort is stable, so equal lengths keep declaration order.
    this.#patternOverrides.sort((a, b) => b.pattern.length - a.pattern.length);
    this.#state = options.state;
    this.#state?.subscribe((change) => this.#onRemoteChange(change));
  }

  /** The breaker for `id`, created on first use. */
  get(id: string): CircuitBreaker {
    const existing = this.#breakers.get(id);
    if (existing !== undefined) return existing;
    requireNonEmptyString(id, "id");
    const breaker = new CircuitBreaker({ id }, this.#policyFor(this.#overrideFor(id), id));
    this.#breakers.set(id, breaker);
    const saved = this.#state?.getState(BREAKER, id);
    if (saved !== undefined) this.#restore(breaker, saved);
    return breaker;
  }

  /** The breaker for `id` if it exists; never creates one. */
  peek(id: string): CircuitBreaker | undefined {
    return this.#breakers.get(id);
  }

  /**
   * Forgets the breaker for `id` (the engine does, for agents and targets it no longer tracks). A later
   * `get(id)` builds a new one, from the state store's saved state if there is one. Returns whether it existed.
   */
  forget(id: string): boolean {
    this.#open.delete(id);
    return this.#breakers.delete(id);
  }

  /** Ids of breakers that exist so far. */
  ids(): string[] {
    return [...this.#breakers.keys()];
  }

  /**
   * @internal Whether every breaker of this registry is CLOSED (then `tryAcquire()` on any of them returns
   * a CLOSED permit): the engine takes its agent breakers' permits without reading them while it holds. A
   * breaker forgotten while not CLOSED still counts (it may be held by a call in flight and close later).
   */
  get allClosed(): boolean {
    return this.#tally.notClosed === 0;
  }

  get size(): number {
    return this.#breakers.size;
  }

  /**
   * Ids of breakers currently OPEN (HALF_OPEN not counted). Only breakers that last transitioned to OPEN are
   * read, and reading moves those past their recovery timeout to HALF_OPEN.
   */
  openCircuits(): string[] {
    const candidates = [...this.#open.values()];
    const open: string[] = [];
    for (const breaker of candidates) {
      if (breaker.state === "OPEN") open.push(breaker.id);
    }
    return open;
  }

  isCascading(): boolean {
    return this.openCircuits().length >= this.cascadeThreshold;
  }

  /**
   * Writes every breaker's state with its window contents (CLOSED) or probe successes (HALF_OPEN) to the state
   * store, so a restarted process opens and closes on the same next outcomes (`sre.flush()` calls it before a
   * planned shutdown; transitions are written as they happen). Breakers with nothing to keep are skipped.
   */
  saveAll(): void {
    const state = this.#state;
    if (state === undefined) return;
    for (const breaker of this.#breakers.values()) {
      const saved = breaker.saveState({ window: true });
      const existing = state.getState(BREAKER, breaker.id);
      const window = saved.window;
      const holds =
        window !== undefined &&
        (window.type === "count" ? window.outcomes !== "" : window.buckets.length > 0);
      if (!holds) delete saved.window;
      // Nothing beyond what its last transition wrote: no write.
      if (
        !holds &&
        saved.probeSuccesses === undefined &&
        existing?.window === undefined &&
        existing?.probeSuccesses === undefined
      )
        continue;
      const record = { ...existing, ...saved, at: existing?.at ?? this.#clock.now() };
      if (saved.probeSuccesses === undefined) delete record.probeSuccesses;
      if (!holds) delete record.window;
      state.putState(BREAKER, breaker.id, record as unknown as StateValue, Number.POSITIVE_INFINITY);
    }
  }

  /** Resets every breaker to CLOSED. */
  resetAll(): void {
    for (const breaker of this.#breakers.values()) breaker.reset();
  }

  snapshot(): BreakerRegistrySnapshot {
    const breakers = [...this.#breakers.values()].map((breaker) => breaker.snapshot());
    const openCircuits = this.openCircuits();
    return {
      at: this.#clock.now(),
      cascadeThreshold: this.cascadeThreshold,
      cascading: openCircuits.length >= this.cascadeThreshold,
      openCircuits,
      breakers,
    };
  }

  toJSON(): BreakerRegistrySnapshot {
    return this.snapshot();
  }

  /** The options breakers under `override` (none: the defaults) share, built at the first of them. */
  #policyFor(override: BreakerDefaults | undefined, id: string): BreakerPolicy {
    const key = override ?? this.#defaults;
    const known = this.#policies.get(key);
    if (known !== undefined) return known;
    const merged: BreakerDefaults = { ...this.#defaults, ...override };
    const userOnStateChange = merged.onStateChange;
    const resolved = resolveBreakerOptions({
      ...merged,
      id,
      clock: this.#clock,
      events: this.#events,
      onStateChange: (transition: BreakerTransition) => {
        this.#onTransition(transition);
        userOnStateChange?.(transition);
      },
    });
    const policy = new BreakerPolicy(resolved, this.#tally);
    this.#policies.set(key, policy);
    return policy;
  }

  #overrideFor(id: string): BreakerDefaults | undefined {
    const exact = this.#exactOverrides.get(id);
    if (exact !== undefined) return exact;
    for (const candidate of this.#patternOverrides) {
      if (candidate.regex.test(id)) return candidate.options;
    }
    return undefined;
  }

  #restore(breaker: CircuitBreaker, saved: StateValue): void {
    breaker.restoreState(saved as unknown as SavedBreakerState);
    if (breaker.saveState().state === "OPEN") this.#open.set(breaker.id, breaker);
    else this.#open.delete(breaker.id);
  }

  /** A breaker changed in another process: the twin here takes its state (created if new here). */
  #onRemoteChange(change: StateChange): void {
    if (change.kind !== BREAKER || change.value === undefined) return;
    const breaker = this.#breakers.get(change.id);
    if (breaker === undefined) return; // resumed from the store when first used
    // Another process's window and probes are its own outcomes: a twin takes only the state.
    const {
      window: _window,
      probeSuccesses: _probes,
      ...state
    } = change.value as unknown as SavedBreakerState;
    this.#restore(breaker, state as unknown as StateValue);
  }

  #onTransition(transition: BreakerTransition): void {
    const breaker = this.#breakers.get(transition.breakerId);
    if (breaker === undefined) return;
    // Kept until replaced: a breaker's state has no period to lapse with.
    this.#state?.putState(
      BREAKER,
      transition.breakerId,
      { ...breaker.saveState(), at: transition.at, reason: transition.reason } as unknown as StateValue,
      Number.POSITIVE_INFINITY,
    );
    if (transition.to !== "OPEN") {
      this.#open.delete(transition.breakerId);
      if (this.#open.size < this.cascadeThreshold) this.#cascadeArmed = true;
      return;
    }
    this.#open.set(transition.breakerId, breaker);
    if (!this.#cascadeArmed || this.#open.size < this.cascadeThreshold) return;
    // Some tracked breakers may have passed their timeout; count only those still OPEN.
    const openBreakers = this.openCircuits();
    if (openBreakers.length < this.cascadeThreshold) return;
    this.#cascadeArmed = false;
    if (this.#events.has("breaker.cascade")) {
      this.#events.emit("breaker.cascade", {
        at: transition.at,
        openBreakers,
        threshold: this.cascadeThreshold,
      });
    }
  }
}

function checkRegistryOwnedKeys(value: unknown, prefix: string): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(prefix, value, "an object of breaker options");
  }
  for (const key of REGISTRY_OWNED_KEYS) {
    if ((value as Record<string, unknown>)[key] !== undefined) {
      throw new ConfigError(
        `${prefix}.${key}`,
        (value as Record<string, unknown>)[key],
        "unset (the registry sets it)",
      );
    }
  }
}
