import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { ConfigError } from "../errors.js";
import { type AgentSREEvents, EventBus } from "../events.js";
import type { CircuitBreaker } from "./circuit-breaker.js";
import { compilePattern } from "./pattern.js";
import { BreakerRegistry, type BreakerRegistryOptions } from "./registry.js";

const START = 1_000_000;

function setup(options: Omit<BreakerRegistryOptions, "clock" | "events"> = {}) {
  const clock = new ManualClock(START);
  const bus = new EventBus();
  const cascades: Array<AgentSREEvents["breaker.cascade"]> = [];
  const opens: string[] = [];
  bus.on("breaker.cascade", (payload) => cascades.push(payload));
  bus.on("breaker.open", (payload) => opens.push(payload.breakerId));
  const registry = new BreakerRegistry({ clock, events: bus, ...options });
  return { clock, registry, cascades, opens };
}

/** Failures needed to trip a fresh breaker (its effective failureThreshold). */
function failuresToTrip(breaker: CircuitBreaker): number {
  for (let n = 1; n <= 100; n++) {
    breaker.recordFailure();
    if (breaker.state === "OPEN") return n;
  }
  throw new Error("never tripped");
}

describe("override patterns", () => {
  it("`*` matches any run of characters; everything else is literal", () => {
    expect(compilePattern("model:*").test("model:gpt-4o")).toBe(true);
    expect(compilePattern("model:*").test("model:")).toBe(true);
    expect(compilePattern("model:*").test("tool:model:x")).toBe(false);
    expect(compilePattern("*search*").test("tool:web-search:v2")).toBe(true);
    expect(compilePattern("tool.(x)+*").test("tool.(x)+1")).toBe(true);
    expect(compilePattern("tool.(x)+*").test("toolA(x)1")).toBe(false);
  });
});

describe("BreakerRegistry", () => {
  it("creates breakers lazily and returns the same instance", () => {
    const { registry } = setup();
    expect(registry.size).toBe(0);
    expect(registry.peek("tool:search")).toBeUndefined();
    expect(registry.size).toBe(0);
    const breaker = registry.get("tool:search");
    expect(breaker.id).toBe("tool:search");
    expect(registry.get("tool:search")).toBe(breaker);
    expect(registry.peek("tool:search")).toBe(breaker);
    expect(registry.ids()).toEqual(["tool:search"]);
  });

  it("applies defaults, then the exact override, else the longest matching pattern", () => {
    const { registry } = setup({
      defaults: { failureThreshold: 2 },
      overrides: {
        "model:*": { failureThreshold: 3 },
        "model:gpt-*": { failureThreshold: 4 },
        "model:gpt-4o": { failureThreshold: 6 },
        "*:gpt-*": { failureThreshold: 7 }, // matches "model:gpt-4o-mini" too, but "model:gpt-*" is longer
      },
    });
    expect(failuresToTrip(registry.get("tool:search"))).toBe(2);
    expect(failuresToTrip(registry.get("model:claude"))).toBe(3);
    expect(failuresToTrip(registry.get("model:gpt-4o-mini"))).toBe(4);
    expect(failuresToTrip(registry.get("model:gpt-4o"))).toBe(6);
    expect(failuresToTrip(registry.get("azure:gpt-4"))).toBe(7);
  });

  it("breaks ties between equally long patterns by declaration order", () => {
    const { registry } = setup({
      overrides: { "a*": { failureThreshold: 2 }, "*b": { failureThreshold: 3 } },
    });
    expect(failuresToTrip(registry.get("ab"))).toBe(2);
  });

  it("an override replaces fields, keeping the other defaults", () => {
    const { registry, clock } = setup({
      defaults: { failureThreshold: 1, recoveryTimeoutMs: "10s" },
      overrides: {
        "tool:*": { window: { type: "count", size: 4, minimumCalls: 4, failureRateThreshold: 0.5 } },
      },
    });
    const tool = registry.get("tool:search");
    tool.recordFailure(); // the window replaced the consecutive rule
    expect(tool.state).toBe("CLOSED");
    tool.recordSuccess();
    tool.recordSuccess();
    tool.recordFailure();
    expect(tool.state).toBe("OPEN");
    expect(tool.retryAfterMs()).toBe(10_000);
    clock.advance(10_000);
    expect(tool.state).toBe("HALF_OPEN");
  });

  it("hands each breaker the registry's clock and events", () => {
    const { registry, clock, opens } = setup({ defaults: { failureThreshold: 1 } });
    clock.advance(500);
    registry.get("a").recordFailure();
    expect(opens).toEqual(["a"]);
    expect(registry.get("a").snapshot().openedAt).toBe(START + 500);
  });

  it("still calls an onStateChange given in the defaults", () => {
    const seen: string[] = [];
    const { registry } = setup({
      defaults: { failureThreshold: 1, onStateChange: (t) => seen.push(`${t.breakerId}:${t.to}`) },
    });
    registry.get("x").recordFailure();
    expect(seen).toEqual(["x:OPEN"]);
  });

  it("openCircuits lists OPEN breakers only, respecting lazy recovery timeouts", () => {
    const { registry, clock } = setup({ defaults: { failureThreshold: 1, recoveryTimeoutMs: 1_000 } });
    registry.get("a").recordFailure();
    clock.advance(500);
    registry.get("b").recordFailure();
    registry.get("c");
    expect(registry.openCircuits()).toEqual(["a", "b"]);
    clock.advance(500); // a's timeout has passed: it reads HALF_OPEN
    expect(registry.openCircuits()).toEqual(["b"]);
    expect(registry.get("a").state).toBe("HALF_OPEN");
  });

  it("emits breaker.cascade once when the OPEN count reaches the threshold, and re-arms below it", () => {
    const { registry, cascades, clock } = setup({ cascadeThreshold: 3, defaults: { failureThreshold: 1 } });
    registry.get("a").recordFailure();
    registry.get("b").recordFailure();
    expect(registry.isCascading()).toBe(false);
    expect(cascades).toEqual([]);
    clock.advance(10);
    registry.get("c").recordFailure();
    expect(cascades).toEqual([{ at: START + 10, openBreakers: ["a", "b", "c"], threshold: 3 }]);
    expect(registry.isCascading()).toBe(true);

    registry.get("d").recordFailure(); // still cascading: no second event
    expect(cascades).toHaveLength(1);

    registry.get("a").reset(); // 3 open: still at the threshold, not re-armed
    registry.get("a").recordFailure();
    expect(cascades).toHaveLength(1);

    registry.get("a").reset();
    registry.get("b").reset(); // 2 open: below, re-armed
    expect(registry.isCascading()).toBe(false);
    registry.get("b").recordFailure();
    expect(cascades).toHaveLength(2);
    expect(cascades[1]?.openBreakers).toEqual(["c", "d", "b"]);
  });

  it("does not count breakers whose recovery timeout has passed toward a cascade", () => {
    const { registry, cascades, clock } = setup({
      cascadeThreshold: 2,
      defaults: { failureThreshold: 1, recoveryTimeoutMs: 1_000 },
    });
    registry.get("a").recordFailure();
    clock.advance(1_000);
    registry.get("b").recordFailure();
    expect(cascades).toEqual([]);
    expect(registry.openCircuits()).toEqual(["b"]);
  });

  it("counts forced-open breakers and re-opened breakers", () => {
    const { registry, cascades, clock } = setup({
      cascadeThreshold: 2,
      defaults: { failureThreshold: 1, recoveryTimeoutMs: 1_000 },
    });
    registry.get("a").forceOpen("maintenance");
    registry.get("b").recordFailure();
    expect(cascades).toHaveLength(1);
    clock.advance(1_000);
    expect(registry.openCircuits()).toEqual(["a"]); // b is HALF_OPEN: re-armed
    registry.get("b").recordFailure(); // probe fails: OPEN again
    expect(cascades).toHaveLength(2);
  });

  it("resetAll closes every breaker", () => {
    const { registry } = setup({ defaults: { failureThreshold: 1 } });
    for (const id of ["a", "b", "c"]) registry.get(id).recordFailure();
    registry.get("b").forceOpen("x");
    registry.resetAll();
    expect(registry.openCircuits()).toEqual([]);
    expect(["a", "b", "c"].map((id) => registry.get(id).state)).toEqual(["CLOSED", "CLOSED", "CLOSED"]);
  });

  it("snapshot is JSON-serializable and lists every breaker", () => {
    const { registry } = setup({ cascadeThreshold: 1, defaults: { failureThreshold: 1 } });
    registry.get("a").recordFailure();
    registry.get("b");
    const snapshot = registry.snapshot();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    expect(snapshot).toMatchObject({
      at: START,
      cascadeThreshold: 1,
      cascading: true,
      openCircuits: ["a"],
    });
    expect(snapshot.breakers.map((b) => `${b.id}:${b.state}`)).toEqual(["a:OPEN", "b:CLOSED"]);
  });

  it("defaults cascadeThreshold to 3", () => {
    expect(new BreakerRegistry().cascadeThreshold).toBe(3);
  });
});

describe("BreakerRegistry validation", () => {
  function configError(options: unknown): ConfigError {
    try {
      new BreakerRegistry(options as BreakerRegistryOptions);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return error as ConfigError;
    }
    throw new Error("expected a ConfigError");
  }

  it.each([
    [{ overrides: { "tool:search": { failureThreshold: 0 } } }, 'overrides["tool:search"].failureThreshold'],
    [
      {
        overrides: {
          "model:*": { window: { type: "count", size: 5, minimumCalls: 9, failureRateThreshold: 1 } },
        },
      },
      'overrides["model:*"].window.minimumCalls',
    ],
    [{ overrides: { "tool:x": { failureTreshold: 3 } } }, 'overrides["tool:x"].failureTreshold'],
    [{ overrides: { "tool:x": { id: "y" } } }, 'overrides["tool:x"].id'],
    [{ overrides: { "tool:x": null } }, 'overrides["tool:x"]'],
    [{ overrides: { "": {} } }, 'overrides[""] key'],
    [{ overrides: [] }, "overrides"],
    [{ defaults: { recoveryTimeoutMs: "later" } }, "defaults.recoveryTimeoutMs"],
    [{ defaults: { clock: {} } }, "defaults.clock"],
    [
      // The merge of defaults and override is checked, and blamed on the override.
      {
        defaults: { backoff: { multiplier: 2, maxRecoveryTimeoutMs: "1m" } },
        overrides: { "tool:slow": { recoveryTimeoutMs: "2m" } },
      },
      'overrides["tool:slow"].backoff.maxRecoveryTimeoutMs',
    ],
    [{ cascadeThreshold: 0 }, "cascadeThreshold"],
    [{ cascadeThreshold: 1.5 }, "cascadeThreshold"],
    [{ clock: { now: 1 } }, "clock"],
    [{ events: {} }, "events"],
    [{ cascade: 3 }, "cascade"],
  ])("rejects %j naming %s", (options, field) => {
    expect(configError(options).field).toBe(field);
  });

  it("names the field and value in the message", () => {
    expect(configError({ overrides: { "tool:search": { failureThreshold: -2 } } }).message).toBe(
      'Invalid overrides["tool:search"].failureThreshold: -2 (expected an integer > 0)',
    );
  });

  it("rejects an empty id in get()", () => {
    expect(() => new BreakerRegistry().get("")).toThrow(ConfigError);
  });
});
