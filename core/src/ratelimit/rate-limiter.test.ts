import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { ConfigError } from "../errors.js";
import { RateLimiter } from "./rate-limiter.js";

describe("RateLimiter", () => {
  it("admits `burst` calls back to back, then one per interval", () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ clock, rules: [{ tools: "search", limit: 3, per: "1m" }] });
    expect(limiter.tryAcquire("a", "search")).toBeUndefined();
    expect(limiter.tryAcquire("a", "search")).toBeUndefined();
    expect(limiter.tryAcquire("a", "search")).toBeUndefined();
    const refusal = limiter.tryAcquire("a", "search");
    expect(refusal).toMatchObject({ limit: 3, perMs: 60_000, burst: 3, scope: "agent+tool" });
    expect(refusal?.retryAfterMs).toBeCloseTo(20_000, 6);
    clock.advance(19_999);
    expect(limiter.tryAcquire("a", "search")?.retryAfterMs).toBeCloseTo(1, 6);
    clock.advance(1);
    expect(limiter.tryAcquire("a", "search")).toBeUndefined();
    expect(limiter.tryAcquire("a", "search")).toBeDefined();
  });

  it("keeps one bucket per agent and tool by default, and ignores calls no rule selects", () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ clock, rules: [{ tools: ["fs__*"], limit: 1, per: "10s" }] });
    expect(limiter.tryAcquire("a", "fs__read")).toBeUndefined();
    expect(limiter.tryAcquire("a", "fs__read")).toBeDefined();
    expect(limiter.tryAcquire("a", "fs__write")).toBeUndefined();
    expect(limiter.tryAcquire("b", "fs__read")).toBeUndefined();
    for (let i = 0; i < 100; i++) expect(limiter.tryAcquire("a", "web__fetch")).toBeUndefined();
  });

  it("shares buckets by scope: agent, tool, global", () => {
    const clock = new ManualClock();
    const agent = new RateLimiter({ clock, rules: [{ limit: 2, per: "1m", scope: "agent" }] });
    expect(agent.tryAcquire("a", "x")).toBeUndefined();
    expect(agent.tryAcquire("a", "y")).toBeUndefined();
    expect(agent.tryAcquire("a", "z")?.key).toBe("a");
    expect(agent.tryAcquire("b", "z")).toBeUndefined();

    const tool = new RateLimiter({ clock, rules: [{ limit: 1, per: "1m", scope: "tool" }] });
    expect(tool.tryAcquire("a", "x")).toBeUndefined();
    expect(tool.tryAcquire("b", "x")?.key).toBe("x");

    const global = new RateLimiter({ clock, rules: [{ limit: 1, per: "1m", scope: "global" }] });
    expect(global.tryAcquire("a", "x")).toBeUndefined();
    expect(global.tryAcquire("b", "y")?.key).toBe("*");
  });

  it("is all-or-nothing across matching rules and reports the longest wait", () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({
      clock,
      rules: [
        { id: "fast", limit: 10, per: "1s", scope: "global" },
        { id: "slow", tools: "pay", limit: 1, per: "1m" },
      ],
    });
    expect(limiter.tryAcquire("a", "pay")).toBeUndefined();
    const refusal = limiter.tryAcquire("a", "pay");
    expect(refusal?.ruleId).toBe("slow");
    // The refused call charged nothing: the global rule still has 9 admissions for other tools.
    for (let i = 0; i < 9; i++) expect(limiter.tryAcquire("a", "other")).toBeUndefined();
    expect(limiter.tryAcquire("a", "other")?.ruleId).toBe("fast");
    const snapshot = limiter.snapshot();
    expect(snapshot.rules.find((r) => r.ruleId === "slow")?.refused).toBe(1);
  });

  it("check() answers without taking; agent globs select agents; reset() refills", () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ clock, rules: [{ agents: "bot-*", limit: 1, per: "1h" }] });
    expect(limiter.check("bot-1", "t")).toBeUndefined();
    expect(limiter.check("bot-1", "t")).toBeUndefined();
    expect(limiter.tryAcquire("bot-1", "t")).toBeUndefined();
    expect(limiter.check("bot-1", "t")?.retryAfterMs).toBe(3_600_000);
    expect(limiter.tryAcquire("human", "t")).toBeUndefined();
    expect(limiter.tryAcquire("human", "t")).toBeUndefined();
    limiter.reset("bot-1");
    expect(limiter.tryAcquire("bot-1", "t")).toBeUndefined();
    limiter.reset();
    expect(limiter.snapshot().rules[0]?.buckets).toEqual([]);
  });

  it("supports fractional rates and reports available admissions", () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ clock, rules: [{ id: "r", limit: 0.5, per: "1m", burst: 2 }] });
    expect(limiter.tryAcquire("a", "t")).toBeUndefined();
    expect(limiter.snapshot().rules[0]?.buckets[0]?.available).toBe(1);
    expect(limiter.tryAcquire("a", "t")).toBeUndefined();
    expect(limiter.tryAcquire("a", "t")?.retryAfterMs).toBe(120_000);
    clock.advance(120_000);
    expect(limiter.snapshot().rules[0]?.buckets[0]?.available).toBe(1);
  });

  it("sweeps refilled buckets past maxBuckets without changing decisions", () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ clock, maxBuckets: 10, rules: [{ limit: 1, per: "1s" }] });
    for (let i = 0; i < 10; i++) expect(limiter.tryAcquire(`a${i}`, "t")).toBeUndefined();
    clock.advance(1_000);
    expect(limiter.tryAcquire("late", "t")).toBeUndefined();
    expect(limiter.snapshot().rules[0]?.buckets.map((b) => b.key)).toEqual(["late\u0000t"]);
    expect(limiter.tryAcquire("late", "t")).toBeDefined();
  });

  it("rejects bad rules with the field named", () => {
    const bad = (rule: unknown) => () => new RateLimiter({ rules: [rule as never] });
    expect(bad({ limit: 0 })).toThrow(/rules\[0\]\.limit/);
    expect(bad({ limit: 1, per: "soon" })).toThrow(/rules\[0\]\.per/);
    expect(bad({ limit: 1, burst: 1.5 })).toThrow(/rules\[0\]\.burst/);
    expect(bad({ limit: 1, scope: "user" })).toThrow(/rules\[0\]\.scope/);
    expect(bad({ limit: 1, tools: [] })).toThrow(/rules\[0\]\.tools/);
    expect(bad({ limit: 1, windowMs: 5 })).toThrow(/rules\[0\]\.windowMs/);
    expect(
      () =>
        new RateLimiter({
          rules: [
            { id: "x", limit: 1 },
            { id: "x", limit: 2 },
          ],
        }),
    ).toThrow(ConfigError);
  });
});
