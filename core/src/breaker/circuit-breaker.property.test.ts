import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { EventBus } from "../events.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import type { CircuitBreakerOptions } from "./options.js";
import {
  type AdmittedPermit,
  type BreakerState,
  PERMIT_PROBE,
  PERMIT_REJECTED,
  type Permit,
} from "./permit.js";

const START = 1_000_000;

type Op =
  | { kind: "acquire" }
  | { kind: "success"; pick: number; durationMs: number }
  | { kind: "failure"; pick: number; durationMs: number }
  | { kind: "cancel"; pick: number }
  | { kind: "advance"; ms: number }
  | { kind: "read" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: "acquire" as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("success" as const),
      pick: fc.nat(),
      durationMs: fc.integer({ min: 0, max: 400 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("failure" as const),
      pick: fc.nat(),
      durationMs: fc.integer({ min: 0, max: 400 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 700 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "read" as const }) },
);

interface ModelConfig {
  failureThreshold: number;
  recoveryTimeoutMs: number;
  halfOpenMaxCalls: number;
  halfOpenRetryAfterMs: number;
  slowCallMs: number | undefined;
  slowCallRateThreshold: number | undefined;
  window:
    | { type: "count"; size: number; minimumCalls: number; failureRateThreshold: number | undefined }
    | {
        type: "time";
        durationMs: number;
        buckets: number;
        minimumCalls: number;
        failureRateThreshold: number | undefined;
      }
    | undefined;
  backoff: { multiplier: number; maxRecoveryTimeoutMs: number } | undefined;
}

const configArb: fc.Arbitrary<ModelConfig> = fc
  .record({
    failureThreshold: fc.integer({ min: 1, max: 4 }),
    recoveryTimeoutMs: fc.integer({ min: 100, max: 1_000 }),
    halfOpenMaxCalls: fc.integer({ min: 1, max: 3 }),
    halfOpenRetryAfterMs: fc.integer({ min: 1, max: 500 }),
    slow: fc.option(
      fc.record({
        slowCallMs: fc.integer({ min: 50, max: 350 }),
        slowCallRateThreshold: fc.constantFrom(0.25, 0.5, 1),
      }),
      { nil: undefined },
    ),
    window: fc.option(
      fc.oneof(
        fc
          .record({ size: fc.integer({ min: 1, max: 8 }), minimumCalls: fc.integer({ min: 1, max: 8 }) })
          .chain(({ size, minimumCalls }) =>
            fc.record({
              type: fc.constant("count" as const),
              size: fc.constant(size),
              minimumCalls: fc.constant(Math.min(size, minimumCalls)),
              failureRateThreshold: fc.constantFrom(0.1, 0.3, 0.5, 1),
            }),
          ),
        fc.record({
          type: fc.constant("time" as const),
          durationMs: fc.constantFrom(1_000, 2_000),
          buckets: fc.constantFrom(1, 4, 10),
          minimumCalls: fc.integer({ min: 1, max: 6 }),
          failureRateThreshold: fc.constantFrom(0.1, 0.3, 0.5, 1),
        }),
      ),
      { nil: undefined },
    ),
    backoff: fc.option(
      fc.record({ multiplier: fc.constantFrom(1.5, 2), extra: fc.integer({ min: 0, max: 3_000 }) }),
      {
        nil: undefined,
      },
    ),
  })
  .map((c) => ({
    failureThreshold: c.failureThreshold,
    recoveryTimeoutMs: c.recoveryTimeoutMs,
    halfOpenMaxCalls: c.halfOpenMaxCalls,
    halfOpenRetryAfterMs: c.halfOpenRetryAfterMs,
    slowCallMs: c.slow?.slowCallMs,
    slowCallRateThreshold: c.slow?.slowCallRateThreshold,
    window:
      c.window ??
      (c.slow
        ? { type: "count" as const, size: 20, minimumCalls: 10, failureRateThreshold: undefined }
        : undefined),
    backoff: c.backoff && {
      multiplier: c.backoff.multiplier,
      maxRecoveryTimeoutMs: c.recoveryTimeoutMs + c.backoff.extra,
    },
  }));

/** Biased toward HALF_OPEN traffic: quick trips, short timeouts, several probes, so stale probes happen often. */
const probeHeavyConfigArb: fc.Arbitrary<ModelConfig> = configArb.map((c) => ({
  ...c,
  failureThreshold: 1,
  recoveryTimeoutMs: Math.min(c.recoveryTimeoutMs, 300),
  halfOpenMaxCalls: c.halfOpenMaxCalls + 1,
  window: c.slowCallMs === undefined ? undefined : c.window,
}));

const anyConfigArb = fc.oneof(configArb, probeHeavyConfigArb);
const opsArb = fc.array(opArb, { minLength: 20, maxLength: 150, size: "max" });

function breakerOptions(config: ModelConfig): Omit<CircuitBreakerOptions, "id"> {
  const window =
    config.window && config.window.failureRateThreshold !== undefined
      ? config.window.type === "count"
        ? {
            type: "count" as const,
            size: config.window.size,
            minimumCalls: config.window.minimumCalls,
            failureRateThreshold: config.window.failureRateThreshold,
          }
        : {
            type: "time" as const,
            durationMs: config.window.durationMs,
            buckets: config.window.buckets,
            minimumCalls: config.window.minimumCalls,
            failureRateThreshold: config.window.failureRateThreshold,
          }
      : undefined;
  return {
    failureThreshold: config.failureThreshold,
    recoveryTimeoutMs: config.recoveryTimeoutMs,
    halfOpenMaxCalls: config.halfOpenMaxCalls,
    halfOpenRetryAfterMs: config.halfOpenRetryAfterMs,
    ...(config.slowCallMs !== undefined && {
      slowCallMs: config.slowCallMs,
      slowCallRateThreshold: config.slowCallRateThreshold,
    }),
    ...(window && { window }),
    ...(config.backoff && { backoff: config.backoff }),
  };
}

/**
 * A deliberately plain reference model: the window is a list of timestamped outcomes filtered on every read
 * (no ring, no buckets, no running totals), and the state machine is written as the spec reads.
 */
class ModelBreaker {
  state: BreakerState = "CLOSED";
  consecutiveFailures = 0;
  outcomes: Array<{ at: number; failed: boolean; slow: boolean }> = [];
  openUntil = 0;
  recoveryTimeoutMs: number;
  tripCount = 0;
  probesInFlight = 0;
  probeSuccesses = 0;
  staleProbes = 0;

  constructor(
    readonly config: ModelConfig,
    readonly now: () => number,
  ) {
    this.recoveryTimeoutMs = config.recoveryTimeoutMs;
  }

  get rateRule(): boolean {
    return this.config.window?.failureRateThreshold !== undefined;
  }

  liveOutcomes() {
    const window = this.config.window;
    if (window === undefined) return [];
    if (window.type === "count") return this.outcomes.slice(-window.size);
    const bucketMs = window.durationMs / window.buckets;
    const current = Math.floor(this.now() / bucketMs);
    return this.outcomes.filter((o) => Math.floor(o.at / bucketMs) > current - window.buckets);
  }

  get failureCount(): number {
    return this.rateRule ? this.liveOutcomes().filter((o) => o.failed).length : this.consecutiveFailures;
  }

  refresh(): void {
    if (this.state === "OPEN" && this.now() >= this.openUntil) {
      this.state = "HALF_OPEN";
      this.probesInFlight = 0;
      this.probeSuccesses = 0;
    }
  }

  slotFree(): boolean {
    const max = this.config.halfOpenMaxCalls;
    return this.probeSuccesses + this.probesInFlight < max && this.probesInFlight + this.staleProbes < max;
  }

  acquire(): Permit {
    if (this.state === "CLOSED") return 1;
    this.refresh();
    if (this.state === "OPEN") return 0;
    if (!this.slotFree()) return 0;
    this.probesInFlight++;
    return 2;
  }

  retryAfter(): number {
    if (this.state === "CLOSED") return 0;
    if (this.state === "OPEN") return Math.max(this.openUntil - this.now(), 1);
    return this.slotFree() ? 0 : this.config.halfOpenRetryAfterMs;
  }

  isSlow(durationMs: number): boolean {
    return this.config.slowCallMs !== undefined && durationMs > this.config.slowCallMs;
  }

  settle(permit: AdmittedPermit, ok: boolean, durationMs: number): void {
    const slow = this.isSlow(durationMs);
    if (permit === 1) {
      if (this.state === "CLOSED" && this.closedOutcomeTrips(ok, slow)) this.open();
      return;
    }
    const probeOk = ok && !slow;
    if (this.state !== "HALF_OPEN") {
      if (this.staleProbes > 0) this.staleProbes--;
      return;
    }
    if (this.staleProbes > 0) {
      this.staleProbes--;
      if (probeOk) return;
    } else if (this.probesInFlight > 0) {
      this.probesInFlight--;
    } else {
      return;
    }
    if (!probeOk) this.open();
    else if (++this.probeSuccesses >= this.config.halfOpenMaxCalls) this.close();
  }

  /** Records an outcome while CLOSED; true when a trip rule fires. */
  closedOutcomeTrips(ok: boolean, slow: boolean): boolean {
    const window = this.config.window;
    if (window) this.outcomes.push({ at: this.now(), failed: !ok, slow });
    if (!this.rateRule) {
      if (ok) this.consecutiveFailures = 0;
      else if (++this.consecutiveFailures >= this.config.failureThreshold) return true;
    }
    if (!window) return false;
    const live = this.liveOutcomes();
    if (live.length < window.minimumCalls) return false;
    const failureRate = live.filter((o) => o.failed).length / live.length;
    const slowRate = live.filter((o) => o.slow).length / live.length;
    if (window.failureRateThreshold !== undefined && failureRate >= window.failureRateThreshold) return true;
    return this.config.slowCallRateThreshold !== undefined && slowRate >= this.config.slowCallRateThreshold;
  }

  cancel(permit: AdmittedPermit): void {
    if (permit !== 2) return;
    if (this.state === "HALF_OPEN" && this.probesInFlight > 0) this.probesInFlight--;
    else if (this.staleProbes > 0) this.staleProbes--;
  }

  open(): void {
    if (this.state === "HALF_OPEN" && this.config.backoff) {
      this.recoveryTimeoutMs = Math.min(
        this.recoveryTimeoutMs * this.config.backoff.multiplier,
        this.config.backoff.maxRecoveryTimeoutMs,
      );
    }
    this.state = "OPEN";
    this.openUntil = this.now() + this.recoveryTimeoutMs;
    this.staleProbes += this.probesInFlight;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
    this.tripCount++;
  }

  close(): void {
    this.state = "CLOSED";
    this.staleProbes += this.probesInFlight;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
    this.consecutiveFailures = 0;
    this.outcomes = [];
    this.recoveryTimeoutMs = this.config.recoveryTimeoutMs;
  }
}

describe("CircuitBreaker state machine (property)", () => {
  it("matches the reference model for any sequence of acquire / success / failure / cancel / advance", () => {
    fc.assert(
      fc.property(anyConfigArb, opsArb, (config, ops) => {
        const clock = new ManualClock(START);
        const breaker = new CircuitBreaker({ id: "p", clock, ...breakerOptions(config) });
        const model = new ModelBreaker(config, () => clock.now());
        const outstanding: AdmittedPermit[] = [];
        for (const op of ops) {
          switch (op.kind) {
            case "acquire": {
              const permit = breaker.tryAcquire();
              expect(permit).toBe(model.acquire());
              if (permit === PERMIT_REJECTED) {
                const retryAfterMs = breaker.retryAfterMs();
                expect(retryAfterMs).toBeGreaterThan(0);
                expect(retryAfterMs).toBe(model.retryAfter());
              } else {
                outstanding.push(permit);
              }
              break;
            }
            case "success":
            case "failure": {
              if (outstanding.length === 0) break;
              const [permit] = outstanding.splice(op.pick % outstanding.length, 1) as [AdmittedPermit];
              if (op.kind === "success") breaker.onSuccess(permit, op.durationMs);
              else breaker.onFailure(permit, op.durationMs);
              model.settle(permit, op.kind === "success", op.durationMs);
              break;
            }
            case "cancel": {
              if (outstanding.length === 0) break;
              const [permit] = outstanding.splice(op.pick % outstanding.length, 1) as [AdmittedPermit];
              breaker.cancel(permit);
              model.cancel(permit);
              break;
            }
            case "advance":
              clock.advance(op.ms);
              break;
            case "read":
              model.refresh();
              expect(breaker.state).toBe(model.state);
              break;
          }
          expect(breaker.retryAfterMs()).toBe(model.retryAfter());
          expect(breaker.failureCount).toBe(model.failureCount);
          expect(breaker.tripCount).toBe(model.tripCount);
          expect(breaker.recoveryTimeoutMs).toBe(model.recoveryTimeoutMs);
        }
        model.refresh();
        expect(breaker.state).toBe(model.state);
      }),
      { numRuns: 500 },
    );
  });

  it("holds the safety invariants, tracked from the outside with real permit identities", () => {
    fc.assert(
      fc.property(anyConfigArb, opsArb, (config, ops) => {
        const clock = new ManualClock(START);
        const bus = new EventBus();
        const max = config.halfOpenMaxCalls;
        // Ground truth, from events: when the breaker may next admit, and which HALF_OPEN period is current.
        let openUntil: number | undefined;
        let period = 0;
        let inHalfOpen = false;
        let periodStartedWithStaleProbes = false;
        bus.on("breaker.open", (t) => {
          openUntil = t.at + (t.recoveryTimeoutMs as number);
          inHalfOpen = false;
        });
        bus.on("breaker.half_open", (t) => {
          expect(t.at).toBeGreaterThanOrEqual(openUntil as number);
          openUntil = undefined;
          inHalfOpen = true;
          period++;
          periodStartedWithStaleProbes = outstanding.some((p) => p.permit === PERMIT_PROBE);
        });
        bus.on("breaker.close", () => {
          openUntil = undefined;
          inHalfOpen = false;
        });
        const breaker = new CircuitBreaker({ id: "p", clock, events: bus, ...breakerOptions(config) });
        const outstanding: Array<{ permit: AdmittedPermit; period: number }> = [];
        let periodSuccesses = 0;
        let successPeriod = -1;

        for (const op of ops) {
          if (op.kind === "acquire") {
            const permit = breaker.tryAcquire();
            if (permit === PERMIT_REJECTED) {
              expect(breaker.retryAfterMs()).toBeGreaterThan(0);
              continue;
            }
            // OPEN never admits before its recovery timeout.
            if (openUntil !== undefined) expect(clock.now()).toBeGreaterThanOrEqual(openUntil);
            outstanding.push({ permit, period });
            // Never more than halfOpenMaxCalls probes in flight, counting probes of earlier periods.
            expect(outstanding.filter((p) => p.permit === PERMIT_PROBE).length).toBeLessThanOrEqual(max);
          } else if (op.kind === "success" || op.kind === "failure" || op.kind === "cancel") {
            if (outstanding.length === 0) continue;
            const [entry] = outstanding.splice(op.pick % outstanding.length, 1) as [
              { permit: AdmittedPermit; period: number },
            ];
            if (op.kind === "cancel") {
              breaker.cancel(entry.permit);
              continue;
            }
            const slow = config.slowCallMs !== undefined && op.durationMs > config.slowCallMs;
            if (op.kind === "success") breaker.onSuccess(entry.permit, op.durationMs);
            else breaker.onFailure(entry.permit, op.durationMs);
            const wasLiveProbe = inHalfOpen && entry.permit === PERMIT_PROBE && entry.period === period;
            if (wasLiveProbe && op.kind === "success" && !slow) {
              if (successPeriod !== period) {
                successPeriod = period;
                periodSuccesses = 0;
              }
              periodSuccesses++;
              // CLOSED after a full set of successful probes (when no earlier probe muddied the period).
              if (periodSuccesses === max && !periodStartedWithStaleProbes) {
                expect(breaker.state).toBe("CLOSED");
              }
            }
            if (wasLiveProbe && !(op.kind === "success" && !slow)) {
              // Any failed (or slow) probe of the live period re-opens, now.
              expect(breaker.state).toBe("OPEN");
              expect(breaker.snapshot().openedAt).toBe(clock.now());
            }
          } else if (op.kind === "advance") {
            clock.advance(op.ms);
          } else {
            const state = breaker.state;
            if (state === "OPEN") expect(openUntil === undefined || clock.now() < openUntil).toBe(true);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it("admits exactly halfOpenMaxCalls probes however many calls race in", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 100 }), (max, callers) => {
        const clock = new ManualClock(START);
        const breaker = new CircuitBreaker({
          id: "p",
          clock,
          failureThreshold: 1,
          recoveryTimeoutMs: 1_000,
          halfOpenMaxCalls: max,
        });
        breaker.recordFailure();
        clock.advance(1_000);
        const permits = Array.from({ length: callers }, () => breaker.tryAcquire());
        expect(permits.filter((p) => p === PERMIT_PROBE).length).toBe(Math.min(max, callers));
        for (let i = 0; i < Math.min(max, callers); i++) breaker.onSuccess(PERMIT_PROBE, 1);
        expect(breaker.state).toBe(callers >= max ? "CLOSED" : "HALF_OPEN");
      }),
    );
  });
});
