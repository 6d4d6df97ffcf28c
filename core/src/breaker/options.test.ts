import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { ConfigError } from "../errors.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import { resolveBreakerOptions } from "./options.js";

function configError(options: unknown): ConfigError {
  try {
    new CircuitBreaker(options as never);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("breaker options", () => {
  it.each([
    [{ id: "" }, "id", 'Invalid id: "" (expected a non-empty string)'],
    [
      { id: "a", failureThreshold: 0 },
      "failureThreshold",
      "Invalid failureThreshold: 0 (expected an integer > 0)",
    ],
    [{ id: "a", failureThreshold: 2.5 }, "failureThreshold", "Invalid failureThreshold: 2.5"],
    [{ id: "a", recoveryTimeoutMs: -1 }, "recoveryTimeoutMs", "Invalid recoveryTimeoutMs: -1"],
    [{ id: "a", recoveryTimeoutMs: "soon" }, "recoveryTimeoutMs", 'Invalid recoveryTimeoutMs: "soon"'],
    [{ id: "a", recoveryTimeoutMs: 0 }, "recoveryTimeoutMs", "expected a duration > 0"],
    [{ id: "a", halfOpenMaxCalls: 0 }, "halfOpenMaxCalls", "Invalid halfOpenMaxCalls: 0"],
    [{ id: "a", halfOpenRetryAfterMs: 0 }, "halfOpenRetryAfterMs", "Invalid halfOpenRetryAfterMs: 0"],
    [{ id: "a", window: { type: "sliding" } }, "window.type", 'Invalid window.type: "sliding"'],
    [{ id: "a", window: null }, "window", "Invalid window: null (expected an object)"],
    [
      { id: "a", window: { type: "count", size: 0, minimumCalls: 1, failureRateThreshold: 0.5 } },
      "window.size",
      "Invalid window.size: 0",
    ],
    [
      { id: "a", window: { type: "count", size: 10, minimumCalls: 11, failureRateThreshold: 0.5 } },
      "window.minimumCalls",
      "Invalid window.minimumCalls: 11 (expected an integer <= window.size (10))",
    ],
    [
      { id: "a", window: { type: "count", size: 10, minimumCalls: 5, failureRateThreshold: 0 } },
      "window.failureRateThreshold",
      "Invalid window.failureRateThreshold: 0 (expected a number in (0, 1])",
    ],
    [
      { id: "a", window: { type: "count", size: 10, minimumCalls: 5, failureRateThreshold: 1.5 } },
      "window.failureRateThreshold",
      "Invalid window.failureRateThreshold: 1.5",
    ],
    [
      { id: "a", window: { type: "count", size: 10, minimumCalls: 5 } },
      "window.failureRateThreshold",
      "Invalid window.failureRateThreshold: undefined",
    ],
    [
      { id: "a", window: { type: "time", durationMs: "1x", minimumCalls: 5, failureRateThreshold: 0.5 } },
      "window.durationMs",
      'Invalid window.durationMs: "1x"',
    ],
    [
      {
        id: "a",
        window: { type: "time", durationMs: 5, buckets: 10, minimumCalls: 5, failureRateThreshold: 0.5 },
      },
      "window.buckets",
      "Invalid window.buckets: 10",
    ],
    [
      { id: "a", window: { type: "time", durationMs: "1m", minimumCalls: 0, failureRateThreshold: 0.5 } },
      "window.minimumCalls",
      "Invalid window.minimumCalls: 0",
    ],
    [
      { id: "a", window: { type: "count", size: 5, minimumCalls: 5, failureRateThreshold: 0.5, extra: 1 } },
      "window.extra",
      "Invalid window.extra: 1 (expected a known option",
    ],
    [{ id: "a", slowCallMs: -5 }, "slowCallMs", "Invalid slowCallMs: -5"],
    [
      { id: "a", slowCallRateThreshold: 0.5 },
      "slowCallRateThreshold",
      "Invalid slowCallRateThreshold: 0.5 (expected to be set together with slowCallMs)",
    ],
    [
      { id: "a", slowCallMs: 100, slowCallRateThreshold: 0 },
      "slowCallRateThreshold",
      "(expected a number in (0, 1])",
    ],
    [
      { id: "a", backoff: { multiplier: 1, maxRecoveryTimeoutMs: 60_000 } },
      "backoff.multiplier",
      "Invalid backoff.multiplier: 1 (expected a finite number > 1)",
    ],
    [
      { id: "a", recoveryTimeoutMs: "30s", backoff: { multiplier: 2, maxRecoveryTimeoutMs: "10s" } },
      "backoff.maxRecoveryTimeoutMs",
      'Invalid backoff.maxRecoveryTimeoutMs: "10s" (expected a duration >= recoveryTimeoutMs (30000 ms))',
    ],
    [
      { id: "a", backoff: { multiplier: 2 } },
      "backoff.maxRecoveryTimeoutMs",
      "Invalid backoff.maxRecoveryTimeoutMs",
    ],
    [{ id: "a", isFailure: "yes" }, "isFailure", 'Invalid isFailure: "yes" (expected a function)'],
    [{ id: "a", onStateChange: 1 }, "onStateChange", "Invalid onStateChange: 1 (expected a function)"],
    [{ id: "a", historySize: -1 }, "historySize", "Invalid historySize: -1"],
    [{ id: "a", clock: {} }, "clock", "Invalid clock: {} (expected a Clock with now())"],
    [{ id: "a", events: { emit: () => {} } }, "events", "(expected an EventSink with emit() and has())"],
    [
      { id: "a", failureTreshold: 3 },
      "failureTreshold",
      "Invalid failureTreshold: 3 (expected a known option",
    ],
  ])("rejects %j naming %s", (options, field, message) => {
    const error = configError(options);
    expect(error.field).toBe(field);
    expect(error.message).toContain(message);
  });

  it("rejects a non-object", () => {
    expect(configError(undefined).field).toBe("options");
  });

  it("accepts durations as strings and applies defaults", () => {
    const resolved = resolveBreakerOptions({
      id: "a",
      recoveryTimeoutMs: "2m",
      slowCallMs: "1.5s",
      window: { type: "time", durationMs: "1m", minimumCalls: 5, failureRateThreshold: 0.5 },
      backoff: { multiplier: 2, maxRecoveryTimeoutMs: "1h" },
    });
    expect(resolved).toMatchObject({
      failureThreshold: 5,
      recoveryTimeoutMs: 120_000,
      halfOpenMaxCalls: 1,
      halfOpenRetryAfterMs: 1_000,
      slowCallMs: 1_500,
      slowCallRateThreshold: 1,
      consecutiveRule: false,
      window: { type: "time", durationMs: 60_000, buckets: 10, minimumCalls: 5, failureRateThreshold: 0.5 },
      backoff: { multiplier: 2, maxRecoveryTimeoutMs: 3_600_000 },
      historySize: 20,
    });
  });

  it("uses the default slow-call window only when the slow rule is on and no window is set", () => {
    expect(resolveBreakerOptions({ id: "a" }).window).toBeUndefined();
    expect(resolveBreakerOptions({ id: "a", slowCallMs: 100 })).toMatchObject({
      consecutiveRule: true,
      window: { type: "count", size: 20, minimumCalls: 10, failureRateThreshold: undefined },
    });
  });

  it("prefixes field names (as the registry does)", () => {
    expect(() => resolveBreakerOptions({ id: "a", failureThreshold: -1 }, 'overrides["tool:x"].')).toThrow(
      'Invalid overrides["tool:x"].failureThreshold: -1',
    );
    expect(() =>
      resolveBreakerOptions(
        { id: "a", window: { type: "count", size: 1, minimumCalls: 2, failureRateThreshold: 1 } },
        "defaults.",
      ),
    ).toThrow("Invalid defaults.window.minimumCalls: 2");
  });

  it("a breaker built with a clock uses it", () => {
    const clock = new ManualClock(5_000);
    const breaker = new CircuitBreaker({ id: "a", failureThreshold: 1, clock });
    breaker.recordFailure();
    expect(breaker.snapshot().openedAt).toBe(5_000);
  });
});
