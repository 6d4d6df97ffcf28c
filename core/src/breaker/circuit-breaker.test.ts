import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { CircuitOpenError, InvalidArgumentError } from "../errors.js";
import { type AgentSREEventName, type BreakerTransition, EventBus, type EventSink } from "../events.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import type { CircuitBreakerOptions } from "./options.js";
import { PERMIT_CLOSED, PERMIT_PROBE, PERMIT_REJECTED } from "./permit.js";

const START = 1_000_000;

function setup(options: Partial<CircuitBreakerOptions> = {}) {
  const clock = new ManualClock(START);
  const bus = new EventBus();
  const events: Array<{ name: AgentSREEventName; payload: BreakerTransition }> = [];
  for (const name of ["breaker.open", "breaker.half_open", "breaker.close"] as const) {
    bus.on(name, (payload) => events.push({ name, payload }));
  }
  const breaker = new CircuitBreaker({ id: "data-analyst", clock, events: bus, ...options });
  return { clock, breaker, events };
}

function fail(breaker: CircuitBreaker, times = 1, durationMs = 10): void {
  for (let i = 0; i < times; i++) {
    const permit = breaker.tryAcquire();
    if (permit === PERMIT_REJECTED) throw new Error("unexpectedly rejected");
    breaker.onFailure(permit, durationMs);
  }
}

function succeed(breaker: CircuitBreaker, times = 1, durationMs = 10): void {
  for (let i = 0; i < times; i++) {
    const permit = breaker.tryAcquire();
    if (permit === PERMIT_REJECTED) throw new Error("unexpectedly rejected");
    breaker.onSuccess(permit, durationMs);
  }
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("CircuitBreaker: consecutive rule", () => {
  it("starts CLOSED with the documented defaults", () => {
    const { breaker } = setup();
    expect(breaker.state).toBe("CLOSED");
    expect(breaker.failureCount).toBe(0);
    expect(breaker.recoveryTimeoutMs).toBe(30_000);
    expect(breaker.retryAfterMs()).toBe(0);
    fail(breaker, 4);
    expect(breaker.state).toBe("CLOSED");
    fail(breaker);
    expect(breaker.state).toBe("OPEN"); // default failureThreshold 5
  });

  it("trips at failureThreshold consecutive failures; a success resets the count", () => {
    const { breaker } = setup({ failureThreshold: 3 });
    fail(breaker, 2);
    expect(breaker.failureCount).toBe(2);
    succeed(breaker);
    expect(breaker.failureCount).toBe(0);
    fail(breaker, 2);
    expect(breaker.state).toBe("CLOSED");
    fail(breaker);
    expect(breaker.state).toBe("OPEN");
    expect(breaker.failureCount).toBe(3);
    expect(breaker.tripCount).toBe(1);
  });

  it("rejects while OPEN with a truthful retryAfterMs that counts down to half-open", () => {
    const { breaker, clock } = setup({ failureThreshold: 1, recoveryTimeoutMs: 30_000 });
    fail(breaker);
    expect(breaker.tryAcquire()).toBe(PERMIT_REJECTED);
    expect(breaker.retryAfterMs()).toBe(30_000);
    clock.advance(29_999);
    expect(breaker.tryAcquire()).toBe(PERMIT_REJECTED);
    expect(breaker.retryAfterMs()).toBe(1);
    clock.advance(1);
    expect(breaker.tryAcquire()).toBe(PERMIT_PROBE);
    expect(breaker.state).toBe("HALF_OPEN");
  });

  it("moves OPEN → HALF_OPEN lazily when read, emitting breaker.half_open then", () => {
    const { breaker, clock, events } = setup({ failureThreshold: 1, recoveryTimeoutMs: "5s" });
    fail(breaker);
    clock.advance(60_000);
    expect(events.map((e) => e.name)).toEqual(["breaker.open"]);
    expect(breaker.state).toBe("HALF_OPEN");
    expect(events.map((e) => e.name)).toEqual(["breaker.open", "breaker.half_open"]);
    expect(events[1]?.payload.at).toBe(START + 60_000);
  });

  it("closes when the probe succeeds and re-opens (fresh timeout) when it fails", () => {
    const { breaker, clock } = setup({ failureThreshold: 1, recoveryTimeoutMs: 1_000 });
    fail(breaker);
    clock.advance(1_000);
    fail(breaker); // the probe fails
    expect(breaker.state).toBe("OPEN");
    expect(breaker.retryAfterMs()).toBe(1_000);
    clock.advance(1_000);
    succeed(breaker);
    expect(breaker.state).toBe("CLOSED");
    expect(breaker.failureCount).toBe(0);
  });
});

describe("CircuitBreaker: half-open probes", () => {
  it("admits exactly halfOpenMaxCalls probes out of 50 concurrent calls", async () => {
    const { breaker, clock } = setup({ failureThreshold: 1, recoveryTimeoutMs: 10_000, halfOpenMaxCalls: 2 });
    fail(breaker);
    clock.advance(10_000);
    const gate = deferred<string>();
    let started = 0;
    const results = Array.from({ length: 50 }, () =>
      breaker.call(async () => {
        started++;
        return gate.promise;
      }),
    );
    const settledEarly = await Promise.allSettled(results.slice(2));
    expect(started).toBe(2);
    for (const outcome of settledEarly) {
      expect(outcome.status).toBe("rejected");
      const error = (outcome as PromiseRejectedResult).reason;
      expect(error).toBeInstanceOf(CircuitOpenError);
      expect(error.breakerId).toBe("data-analyst");
      expect(error.retryAfterMs).toBeGreaterThan(0);
      expect(error.retryAfterMs).toBe(1_000); // min(1 s, recoveryTimeoutMs)
    }
    expect(breaker.state).toBe("HALF_OPEN");
    gate.resolve("ok");
    expect(await Promise.all(results.slice(0, 2))).toEqual(["ok", "ok"]);
    expect(breaker.state).toBe("CLOSED");
  });

  it("closes only after every permitted probe succeeded", () => {
    const { breaker, clock, events } = setup({
      failureThreshold: 1,
      recoveryTimeoutMs: 1_000,
      halfOpenMaxCalls: 3,
    });
    fail(breaker);
    clock.advance(1_000);
    const probes = [breaker.tryAcquire(), breaker.tryAcquire(), breaker.tryAcquire()];
    expect(probes).toEqual([PERMIT_PROBE, PERMIT_PROBE, PERMIT_PROBE]);
    expect(breaker.tryAcquire()).toBe(PERMIT_REJECTED);
    breaker.onSuccess(PERMIT_PROBE, 5);
    breaker.onSuccess(PERMIT_PROBE, 5);
    expect(breaker.state).toBe("HALF_OPEN");
    // A finished probe does not free a slot: the period admits 3 probes in total.
    expect(breaker.tryAcquire()).toBe(PERMIT_REJECTED);
    breaker.onSuccess(PERMIT_PROBE, 5);
    expect(breaker.state).toBe("CLOSED");
    expect(events.at(-1)?.payload.reason).toBe("3 of 3 probes succeeded");
  });

  it("re-opens on any probe failure, even after other probes succeeded", () => {
    const { breaker, clock } = setup({ failureThreshold: 1, recoveryTimeoutMs: 1_000, halfOpenMaxCalls: 2 });
    fail(breaker);
    clock.advance(1_000);
    breaker.tryAcquire();
    breaker.tryAcquire();
    breaker.onSuccess(PERMIT_PROBE, 1);
    breaker.onFailure(PERMIT_PROBE, 1);
    expect(breaker.state).toBe("OPEN");
    expect(breaker.tripCount).toBe(2);
  });

  it("reports halfOpenRetryAfterMs (> 0) to calls refused while probes are in flight, 0 when a slot is free", () => {
    const { breaker, clock } = setup({
      failureThreshold: 1,
      recoveryTimeoutMs: 60_000,
      halfOpenRetryAfterMs: "250ms",
    });
    fail(breaker);
    clock.advance(60_000);
    expect(breaker.state).toBe("HALF_OPEN");
    expect(breaker.retryAfterMs()).toBe(0);
    expect(breaker.tryAcquire()).toBe(PERMIT_PROBE);
    expect(breaker.tryAcquire()).toBe(PERMIT_REJECTED);
    expect(breaker.retryAfterMs()).toBe(250);
  });

  it("defaults the half-open wait to the recovery timeout when that is under 1 s", () => {
    const { breaker, clock } = setup({ failureThreshold: 1, recoveryTimeoutMs: 200 });
    fail(breaker);
    clock.advance(200);
    breaker.tryAcquire();
    expect(breaker.tryAcquire()).toBe(PERMIT_REJECTED);
    expect(breaker.retryAfterMs()).toBe(200);
  });

  it("cancel gives a probe slot back without recording an outcome", () => {
    const { breaker, clock } = setup({ failureThreshold: 1, recoveryTimeoutMs: 1_000 });
    fail(breaker);
    clock.advance(1_000);
    const probe = breaker.tryAcquire();
    expect(probe).toBe(PERMIT_PROBE);
    expect(breaker.tryAcquire()).toBe(PERMIT_REJECTED);
    breaker.cancel(PERMIT_PROBE);
    expect(breaker.state).toBe("HALF_OPEN");
    expect(breaker.tryAcquire()).toBe(PERMIT_PROBE);
  });

  it("cancel of a closed permit changes nothing", () => {
    const { breaker } = setup({ failureThreshold: 2 });
    fail(breaker);
    breaker.tryAcquire();
    breaker.cancel(PERMIT_CLOSED);
    expect(breaker.failureCount).toBe(1);
    fail(breaker);
    expect(breaker.state).toBe("OPEN");
  });

  it("ignores a closed permit reported after the breaker tripped", () => {
    const { breaker, clock } = setup({ failureThreshold: 2, recoveryTimeoutMs: 1_000 });
    const lateCall = breaker.tryAcquire();
    expect(lateCall).toBe(PERMIT_CLOSED);
    fail(breaker, 2);
    clock.advance(1_000);
    expect(breaker.state).toBe("HALF_OPEN");
    breaker.onSuccess(PERMIT_CLOSED, 1); // stale: must not close the breaker
    breaker.onFailure(PERMIT_CLOSED, 1); // stale: must not re-open it
    expect(breaker.state).toBe("HALF_OPEN");
    expect(breaker.tryAcquire()).toBe(PERMIT_PROBE);
  });

  it("keeps probes from an ended period in flight: their slot stays taken and their success does not close", () => {
    const { breaker, clock } = setup({ failureThreshold: 1, recoveryTimeoutMs: 1_000, halfOpenMaxCalls: 2 });
    fail(breaker);
    clock.advance(1_000);
    breaker.tryAcquire(); // probe A
    breaker.tryAcquire(); // probe B
    breaker.onFailure(PERMIT_PROBE, 1); // A fails → OPEN; B is still out
    clock.advance(1_000);
    expect(breaker.tryAcquire()).toBe(PERMIT_PROBE); // C: one slot, B holds the other
    expect(breaker.tryAcquire()).toBe(PERMIT_REJECTED);
    breaker.onSuccess(PERMIT_PROBE, 1); // B (or C) reports: attributed to the stale probe
    expect(breaker.state).toBe("HALF_OPEN");
    breaker.onSuccess(PERMIT_PROBE, 1); // the other one: counts for this period
    expect(breaker.state).toBe("HALF_OPEN");
    expect(breaker.tryAcquire()).toBe(PERMIT_PROBE); // D
    breaker.onSuccess(PERMIT_PROBE, 1);
    expect(breaker.state).toBe("CLOSED");
  });

  it("ignores a probe report when no probe is outstanding", () => {
    const { breaker, clock } = setup({ failureThreshold: 1, recoveryTimeoutMs: 1_000 });
    fail(breaker);
    clock.advance(1_000);
    expect(breaker.state).toBe("HALF_OPEN");
    breaker.onFailure(PERMIT_PROBE, 1);
    breaker.onSuccess(PERMIT_PROBE, 1);
    expect(breaker.state).toBe("HALF_OPEN");
    expect(breaker.tripCount).toBe(1);
  });

  it("ignores permits that are not 1 or 2", () => {
    const { breaker } = setup({ failureThreshold: 1 });
    breaker.onFailure(0 as never, 1);
    breaker.onFailure(3 as never, 1);
    breaker.cancel(0 as never);
    expect(breaker.state).toBe("CLOSED");
    expect(breaker.failureCount).toBe(0);
  });
});

describe("CircuitBreaker: failure-rate windows", () => {
  it("count window: trips at failureRateThreshold once minimumCalls are in, ignoring failureThreshold", () => {
    const { breaker, events } = setup({
      failureThreshold: 1,
      window: { type: "count", size: 10, minimumCalls: 5, failureRateThreshold: 0.5 },
    });
    fail(breaker, 4); // 4 failures in a row: the consecutive rule is off
    expect(breaker.state).toBe("CLOSED");
    expect(breaker.failureCount).toBe(4);
    succeed(breaker); // 5 calls, 4 failures: 80% >= 50%
    expect(breaker.state).toBe("OPEN");
    expect(events[0]?.payload.reason).toBe("failure rate 80% >= 50% over 5 calls");
    expect(events[0]?.payload.failureCount).toBe(4);
  });

  it("count window: old outcomes are evicted", () => {
    const { breaker } = setup({
      window: { type: "count", size: 10, minimumCalls: 10, failureRateThreshold: 0.5 },
    });
    fail(breaker, 4);
    succeed(breaker, 10); // the 4 failures fall out
    expect(breaker.failureCount).toBe(0);
    fail(breaker, 4);
    expect(breaker.state).toBe("CLOSED");
    fail(breaker); // 5 of the last 10
    expect(breaker.state).toBe("OPEN");
  });

  it("count window: a rate just below the threshold does not trip (no float drift)", () => {
    const { breaker } = setup({
      window: { type: "count", size: 30, minimumCalls: 30, failureRateThreshold: 0.1 },
    });
    fail(breaker, 2);
    succeed(breaker, 28);
    expect(breaker.state).toBe("CLOSED");
    fail(breaker, 2); // each evicts one of the first two failures: still 2 of 30
    expect(breaker.state).toBe("CLOSED");
    fail(breaker); // evicts a success: 3 of 30 = exactly 10% (0.1 * 30 > 3 in floating point)
    expect(breaker.state).toBe("OPEN");
  });

  it("time window: failures expire with their bucket", () => {
    const { breaker, clock } = setup({
      window: { type: "time", durationMs: "10s", buckets: 10, minimumCalls: 4, failureRateThreshold: 0.5 },
    });
    fail(breaker, 3);
    clock.advance(10_000); // the whole window has passed
    expect(breaker.failureCount).toBe(0);
    fail(breaker); // 1 call only: under minimumCalls
    succeed(breaker, 2);
    expect(breaker.state).toBe("CLOSED");
    clock.advance(5_000);
    fail(breaker); // 4 calls, 2 failures = 50%
    expect(breaker.state).toBe("OPEN");
  });

  it("time window: a bucket still inside the window counts", () => {
    const { breaker, clock } = setup({
      window: { type: "time", durationMs: 4_000, buckets: 4, minimumCalls: 2, failureRateThreshold: 1 },
    });
    fail(breaker);
    clock.advance(3_999);
    fail(breaker);
    expect(breaker.state).toBe("OPEN");
  });

  it("time window: minimumCalls holds off even a 100% failure rate", () => {
    const { breaker } = setup({
      window: { type: "time", durationMs: 60_000, minimumCalls: 20, failureRateThreshold: 0.5 },
    });
    fail(breaker, 19);
    expect(breaker.state).toBe("CLOSED");
    fail(breaker);
    expect(breaker.state).toBe("OPEN");
  });

  it("clears the window when the breaker closes", () => {
    const { breaker, clock } = setup({
      recoveryTimeoutMs: 1_000,
      window: { type: "count", size: 10, minimumCalls: 4, failureRateThreshold: 0.5 },
    });
    fail(breaker, 4);
    clock.advance(1_000);
    succeed(breaker);
    expect(breaker.state).toBe("CLOSED");
    expect(breaker.snapshot().window).toEqual({
      type: "count",
      calls: 0,
      failures: 0,
      slowCalls: 0,
      failureRate: 0,
      slowCallRate: 0,
    });
    fail(breaker, 3);
    expect(breaker.state).toBe("CLOSED");
  });
});

describe("CircuitBreaker: slow-call rule", () => {
  it("trips on the slow-call rate even though every call succeeded", async () => {
    const { breaker, clock, events } = setup({
      slowCallMs: 1_000,
      slowCallRateThreshold: 0.6,
      window: { type: "count", size: 10, minimumCalls: 5, failureRateThreshold: 0.5 },
    });
    const slowCall = () =>
      breaker.call(async () => {
        clock.advance(1_500);
        return "slow";
      });
    await slowCall();
    await slowCall();
    succeed(breaker, 2, 100);
    expect(breaker.state).toBe("CLOSED");
    expect(await slowCall()).toBe("slow"); // 3 slow of 5 = 60%
    expect(breaker.state).toBe("OPEN");
    expect(events[0]?.payload.reason).toBe("slow-call rate 60% >= 60% over 5 calls");
    expect(breaker.snapshot().window?.slowCallRate).toBe(0.6);
  });

  it("a call exactly at slowCallMs is not slow", () => {
    const { breaker } = setup({
      slowCallMs: 1_000,
      window: { type: "count", size: 2, minimumCalls: 2, failureRateThreshold: 1 },
    });
    succeed(breaker, 2, 1_000);
    expect(breaker.state).toBe("CLOSED");
    succeed(breaker, 2, 1_001); // default slowCallRateThreshold 1: all slow
    expect(breaker.state).toBe("OPEN");
  });

  it("without a window uses the default count window (20 calls, minimum 10) beside the consecutive rule", () => {
    const { breaker } = setup({ failureThreshold: 3, slowCallMs: 500, slowCallRateThreshold: 0.5 });
    expect(breaker.snapshot().window?.type).toBe("count");
    succeed(breaker, 4, 600);
    succeed(breaker, 5, 10);
    expect(breaker.state).toBe("CLOSED"); // 9 calls: under minimumCalls
    succeed(breaker, 1, 600); // 10 calls, 5 slow
    expect(breaker.state).toBe("OPEN");

    const other = setup({ failureThreshold: 3, slowCallMs: 500 }).breaker;
    fail(other, 3); // the consecutive rule still trips on failures
    expect(other.state).toBe("OPEN");
  });

  it("counts a slow probe as a failed probe", () => {
    const { breaker, clock, events } = setup({
      failureThreshold: 1,
      recoveryTimeoutMs: 1_000,
      slowCallMs: 2_000,
    });
    fail(breaker);
    clock.advance(1_000);
    const probe = breaker.tryAcquire();
    expect(probe).toBe(PERMIT_PROBE);
    breaker.onSuccess(PERMIT_PROBE, 2_500);
    expect(breaker.state).toBe("OPEN");
    expect(events.at(-1)?.payload.reason).toBe("slow probe (2500 ms > 2000 ms)");
  });

  it("treats a NaN or negative duration as not slow", () => {
    const { breaker } = setup({
      slowCallMs: 10,
      window: { type: "count", size: 2, minimumCalls: 1, failureRateThreshold: 1 },
    });
    succeed(breaker, 1, Number.NaN);
    succeed(breaker, 1, -5);
    expect(breaker.state).toBe("CLOSED");
    expect(breaker.snapshot().window?.slowCalls).toBe(0);
  });
});

describe("CircuitBreaker: backoff", () => {
  it("grows the recovery timeout on each re-open, caps it, and resets it on close", () => {
    const { breaker, clock, events } = setup({
      failureThreshold: 1,
      recoveryTimeoutMs: 1_000,
      backoff: { multiplier: 2, maxRecoveryTimeoutMs: "5s" },
    });
    const reopenAfterTimeout = () => {
      clock.advance(breaker.recoveryTimeoutMs);
      fail(breaker);
      return breaker.retryAfterMs();
    };
    fail(breaker);
    expect(breaker.retryAfterMs()).toBe(1_000);
    expect(reopenAfterTimeout()).toBe(2_000);
    expect(reopenAfterTimeout()).toBe(4_000);
    expect(reopenAfterTimeout()).toBe(5_000);
    expect(reopenAfterTimeout()).toBe(5_000);
    const opens = events.filter((e) => e.name === "breaker.open").map((e) => e.payload.recoveryTimeoutMs);
    expect(opens).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);

    clock.advance(5_000);
    succeed(breaker);
    expect(breaker.state).toBe("CLOSED");
    expect(breaker.recoveryTimeoutMs).toBe(1_000);
    fail(breaker);
    expect(breaker.retryAfterMs()).toBe(1_000);
  });

  it("reset() also restores the base timeout", () => {
    const { breaker, clock } = setup({
      failureThreshold: 1,
      recoveryTimeoutMs: 1_000,
      backoff: { multiplier: 3, maxRecoveryTimeoutMs: 60_000 },
    });
    fail(breaker);
    clock.advance(1_000);
    fail(breaker);
    expect(breaker.recoveryTimeoutMs).toBe(3_000);
    breaker.reset();
    fail(breaker);
    expect(breaker.retryAfterMs()).toBe(1_000);
  });
});

describe("CircuitBreaker: forceOpen and reset", () => {
  it("forceOpen holds OPEN until reset, refusing with retryAfterMs Infinity", async () => {
    const { breaker, clock, events } = setup({ recoveryTimeoutMs: 1_000 });
    breaker.forceOpen("maintenance");
    expect(breaker.state).toBe("OPEN");
    expect(breaker.isForcedOpen).toBe(true);
    clock.advance(86_400_000);
    expect(breaker.state).toBe("OPEN");
    expect(breaker.tryAcquire()).toBe(PERMIT_REJECTED);
    expect(breaker.retryAfterMs()).toBe(Number.POSITIVE_INFINITY);
    await expect(breaker.call(async () => 1)).rejects.toMatchObject({
      code: "CIRCUIT_OPEN",
      retryAfterMs: Number.POSITIVE_INFINITY,
    });
    expect(events[0]?.payload).toMatchObject({ from: "CLOSED", to: "OPEN", reason: "forced: maintenance" });
    expect(events[0]?.payload.recoveryTimeoutMs).toBeUndefined();

    breaker.forceOpen("again"); // already forced: no-op
    expect(breaker.tripCount).toBe(1);

    breaker.reset();
    expect(breaker.state).toBe("CLOSED");
    expect(breaker.isForcedOpen).toBe(false);
    expect(breaker.tryAcquire()).toBe(PERMIT_CLOSED);
    expect(events.at(-1)?.payload).toMatchObject({ from: "OPEN", to: "CLOSED", reason: "reset" });
  });

  it("forceOpen during HALF_OPEN retires the probe: its later success does not close", () => {
    const { breaker, clock } = setup({ failureThreshold: 1, recoveryTimeoutMs: 1_000 });
    fail(breaker);
    clock.advance(1_000);
    expect(breaker.tryAcquire()).toBe(PERMIT_PROBE);
    breaker.forceOpen("operator");
    breaker.onSuccess(PERMIT_PROBE, 1);
    expect(breaker.state).toBe("OPEN");
  });

  it("ignores a closed permit reported while forced open", () => {
    const { breaker } = setup({ failureThreshold: 2 });
    const permit = breaker.tryAcquire();
    breaker.forceOpen("drain");
    breaker.onFailure(permit as 1, 1);
    expect(breaker.failureCount).toBe(0);
    breaker.reset();
    fail(breaker);
    expect(breaker.state).toBe("CLOSED");
  });

  it("reset clears the failure count but keeps tripCount and history", () => {
    const { breaker } = setup({ failureThreshold: 3 });
    fail(breaker, 2);
    breaker.reset();
    expect(breaker.failureCount).toBe(0);
    fail(breaker, 2);
    expect(breaker.state).toBe("CLOSED");
    fail(breaker);
    breaker.reset();
    expect(breaker.tripCount).toBe(1);
    expect(breaker.history().map((t) => t.to)).toEqual(["OPEN", "CLOSED"]);
  });

  it("forceOpen rejects a non-string reason", () => {
    const { breaker } = setup();
    expect(() => breaker.forceOpen(42 as never)).toThrow(InvalidArgumentError);
    expect(breaker.state).toBe("CLOSED");
  });
});

describe("CircuitBreaker: call()", () => {
  it("returns the result and records success", async () => {
    const { breaker } = setup({ failureThreshold: 2 });
    fail(breaker);
    expect(await breaker.call(() => 42)).toBe(42);
    expect(breaker.failureCount).toBe(0);
  });

  it("records a rejected promise or a synchronous throw as a failure and rethrows it", async () => {
    const { breaker } = setup({ failureThreshold: 2 });
    const boom = new Error("boom");
    await expect(breaker.call(() => Promise.reject(boom))).rejects.toBe(boom);
    await expect(
      breaker.call(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(breaker.state).toBe("OPEN");
  });

  it("throws CircuitOpenError with the time until half-open", async () => {
    const { breaker, clock } = setup({ failureThreshold: 1, recoveryTimeoutMs: 30_000 });
    fail(breaker);
    clock.advance(10_000);
    const error = await breaker.call(async () => "never").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).retryAfterMs).toBe(20_000);
    expect((error as CircuitOpenError).message).toBe('Circuit "data-analyst" is open; retry after 20000 ms');
  });

  it("fallback answers a refusal (with the CircuitOpenError) and a failure (after recording it)", async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    const seen: unknown[] = [];
    const fallback = (error: unknown) => {
      seen.push(error);
      return "cached";
    };
    expect(await breaker.call(() => Promise.reject(new Error("down")), { fallback })).toBe("cached");
    expect(breaker.state).toBe("OPEN");
    let ran = false;
    expect(
      await breaker.call(
        async () => {
          ran = true;
          return "live";
        },
        { fallback },
      ),
    ).toBe("cached");
    expect(ran).toBe(false);
    expect((seen[0] as Error).message).toBe("down");
    expect(seen[1]).toBeInstanceOf(CircuitOpenError);
  });

  it("an error thrown by the fallback propagates", async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    breaker.forceOpen("x");
    const fallbackError = new Error("no cache");
    await expect(
      breaker.call(async () => 1, {
        fallback: () => {
          throw fallbackError;
        },
      }),
    ).rejects.toBe(fallbackError);
  });

  it("isFailure decides which errors count; the rest count as successes", async () => {
    const { breaker } = setup({
      failureThreshold: 2,
      isFailure: (error) => !(error instanceof RangeError),
    });
    await expect(breaker.call(() => Promise.reject(new Error("503")))).rejects.toThrow("503");
    await expect(breaker.call(() => Promise.reject(new RangeError("bad input")))).rejects.toThrow(RangeError);
    expect(breaker.failureCount).toBe(0); // the ignored error counted as a success
    for (let i = 0; i < 5; i++) {
      await breaker.call(() => Promise.reject(new RangeError("bad input"))).catch(() => {});
    }
    expect(breaker.state).toBe("CLOSED");
    expect(breaker.isFailure(new RangeError("x"))).toBe(false);
    expect(breaker.isFailure(new Error("x"))).toBe(true);
  });

  it("an isFailure predicate that throws counts the error as a failure", () => {
    const { breaker } = setup({
      failureThreshold: 1,
      isFailure: () => {
        throw new Error("predicate bug");
      },
    });
    const permit = breaker.tryAcquire() as 1;
    breaker.onError(permit, 1, new Error("x"));
    expect(breaker.state).toBe("OPEN");
  });

  it("rejects a non-function without taking a permit", async () => {
    const { breaker, clock } = setup({ failureThreshold: 1, recoveryTimeoutMs: 1_000 });
    fail(breaker);
    clock.advance(1_000);
    await expect(breaker.call("nope" as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(breaker.tryAcquire()).toBe(PERMIT_PROBE);
  });
});

describe("CircuitBreaker: manual recording", () => {
  it("recordFailure/recordSuccess drive the same rules", () => {
    const { breaker, clock } = setup({ failureThreshold: 2, recoveryTimeoutMs: 1_000 });
    breaker.recordFailure();
    breaker.recordSuccess();
    breaker.recordFailure();
    expect(breaker.state).toBe("CLOSED");
    breaker.recordFailure();
    expect(breaker.state).toBe("OPEN");
    breaker.recordSuccess(); // ignored while OPEN
    expect(breaker.state).toBe("OPEN");
    clock.advance(1_000);
    breaker.recordSuccess(); // HALF_OPEN: counts as the probe
    expect(breaker.state).toBe("CLOSED");
  });

  it("recordFailure in HALF_OPEN re-opens", () => {
    const { breaker, clock } = setup({ failureThreshold: 1, recoveryTimeoutMs: 1_000 });
    breaker.recordFailure();
    clock.advance(1_000);
    breaker.recordFailure();
    expect(breaker.state).toBe("OPEN");
    expect(breaker.tripCount).toBe(2);
  });

  it("rejects a NaN or negative duration and changes nothing", () => {
    const { breaker } = setup({ failureThreshold: 1 });
    expect(() => breaker.recordFailure(Number.NaN)).toThrow(InvalidArgumentError);
    expect(() => breaker.recordFailure(-1)).toThrow("Invalid durationMs: -1");
    expect(breaker.state).toBe("CLOSED");
    expect(breaker.failureCount).toBe(0);
  });
});

describe("CircuitBreaker: events, history and snapshot", () => {
  it("emits open, half_open and close with BreakerTransition payloads", () => {
    const { breaker, clock, events } = setup({ failureThreshold: 2, recoveryTimeoutMs: 5_000 });
    fail(breaker, 2);
    clock.advance(5_000);
    succeed(breaker);
    expect(events).toEqual([
      {
        name: "breaker.open",
        payload: {
          at: START,
          breakerId: "data-analyst",
          from: "CLOSED",
          to: "OPEN",
          reason: "2 consecutive failures",
          failureCount: 2,
          recoveryTimeoutMs: 5_000,
        },
      },
      {
        name: "breaker.half_open",
        payload: {
          at: START + 5_000,
          breakerId: "data-analyst",
          from: "OPEN",
          to: "HALF_OPEN",
          reason: "recovery timeout elapsed",
          failureCount: 2,
        },
      },
      {
        name: "breaker.close",
        payload: {
          at: START + 5_000,
          breakerId: "data-analyst",
          from: "HALF_OPEN",
          to: "CLOSED",
          reason: "1 of 1 probes succeeded",
          failureCount: 0,
        },
      },
    ]);
  });

  it("calls onStateChange for every transition", () => {
    const seen: string[] = [];
    const { breaker } = setup({ failureThreshold: 1, onStateChange: (t) => seen.push(`${t.from}>${t.to}`) });
    fail(breaker);
    breaker.reset();
    expect(seen).toEqual(["CLOSED>OPEN", "OPEN>CLOSED"]);
  });

  it("does not build or emit payloads for events nobody listens to", () => {
    const clock = new ManualClock(START);
    const deafSink: EventSink = {
      has: () => false,
      emit: () => {
        throw new Error("emit called without listeners");
      },
    };
    const breaker = new CircuitBreaker({ id: "x", failureThreshold: 1, clock, events: deafSink });
    fail(breaker);
    expect(breaker.state).toBe("OPEN");
  });

  it("keeps only the last historySize transitions, oldest first", () => {
    const { breaker, clock } = setup({ failureThreshold: 1, recoveryTimeoutMs: 1_000, historySize: 3 });
    fail(breaker); // OPEN
    clock.advance(1_000);
    fail(breaker); // HALF_OPEN, OPEN
    clock.advance(1_000);
    succeed(breaker); // HALF_OPEN, CLOSED
    expect(breaker.history().map((t) => `${t.from}>${t.to}`)).toEqual([
      "HALF_OPEN>OPEN",
      "OPEN>HALF_OPEN",
      "HALF_OPEN>CLOSED",
    ]);
    expect(breaker.tripCount).toBe(2);
  });

  it("snapshot is JSON-serializable and reports the documented fields", () => {
    const { breaker, clock } = setup({
      failureThreshold: 1,
      recoveryTimeoutMs: 10_000,
      window: { type: "time", durationMs: 60_000, minimumCalls: 1, failureRateThreshold: 1 },
    });
    fail(breaker);
    clock.advance(4_000);
    const snapshot = breaker.snapshot();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    expect(snapshot).toEqual({
      id: "data-analyst",
      state: "OPEN",
      forced: false,
      forcedReason: null,
      failureCount: 1,
      tripCount: 1,
      retryAfterMs: 6_000,
      recoveryTimeoutMs: 10_000,
      openedAt: START,
      window: { type: "time", calls: 1, failures: 1, slowCalls: 0, failureRate: 1, slowCallRate: 0 },
      halfOpen: null,
    });
    breaker.forceOpen("hold");
    const forced = breaker.snapshot();
    expect(JSON.parse(JSON.stringify(forced))).toEqual(forced);
    expect(forced).toMatchObject({ forced: true, forcedReason: "hold", retryAfterMs: null });
  });

  it("snapshot shows half-open probe progress and no window in the plain consecutive mode", () => {
    const { breaker, clock } = setup({ failureThreshold: 1, recoveryTimeoutMs: 1_000, halfOpenMaxCalls: 2 });
    fail(breaker);
    clock.advance(1_000);
    breaker.tryAcquire();
    expect(breaker.snapshot()).toMatchObject({
      state: "HALF_OPEN",
      window: null,
      retryAfterMs: 0,
      halfOpen: { probesInFlight: 1, probeSuccesses: 0, maxCalls: 2 },
    });
  });
});
