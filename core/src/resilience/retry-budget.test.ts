import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentSRE } from "../engine/agent-sre.js";
import { MemoryStore } from "../store/memory-store.js";
import type { StateChange, StateValue } from "../store/state-store.js";
import { RetryBudget, RetryBudgetExceededError } from "./retry-budget.js";

describe("RetryBudget", () => {
  it("admits retries up to minRetries + ratio × first attempts in the window", () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ ratio: 0.2, minRetries: 2, windowMs: 10_000 }, clock);
    for (let i = 0; i < 50; i++) expect(budget.admit("upstream:s", false)).toBeUndefined();
    // 2 + 0.2 × 50 = 12 retries.
    let admitted = 0;
    let refusal: RetryBudgetExceededError | undefined;
    for (let i = 0; i < 30; i++) {
      const r = budget.admit("upstream:s", true, "agent-a");
      if (r === undefined) admitted++;
      else refusal = r;
    }
    expect(admitted).toBe(12);
    expect(refusal).toBeInstanceOf(RetryBudgetExceededError);
    expect(refusal?.code).toBe("RETRY_BUDGET_EXCEEDED");
    expect(refusal?.retryable).toBe(true);
    expect(refusal?.agentId).toBe("agent-a");
    expect(refusal?.retryAfterMs).toBe(10_000);
    expect(budget.snapshot().targets["upstream:s"]).toEqual({
      firstAttempts: 50,
      retries: 12,
      retriesAllowed: 12,
    });
    // Another target has its own budget.
    expect(budget.admit("upstream:other", true)).toBeUndefined();
  });

  it("slides: retries leave the window bucket by bucket", () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ ratio: 0, minRetries: 3, windowMs: 1_000 }, clock);
    for (let i = 0; i < 3; i++) expect(budget.admit("t", true)).toBeUndefined();
    const refused = budget.admit("t", true);
    expect(refused?.retryAfterMs).toBe(1_000);
    clock.advance(999);
    expect(budget.admit("t", true)).toBeDefined();
    clock.advance(1);
    expect(budget.admit("t", true)).toBeUndefined();
    clock.advance(60_000);
    expect(budget.snapshot().targets.t).toEqual({ firstAttempts: 0, retries: 0, retriesAllowed: 3 });
  });

  it("sheds every retry on demand and resumes", () => {
    const budget = new RetryBudget({}, new ManualClock());
    budget.shed("cascade");
    expect(budget.admit("t", true)?.message).toMatch(/cascade/);
    expect(budget.admit("t", false)).toBeUndefined();
    budget.resume();
    expect(budget.admit("t", true)).toBeUndefined();
  });

  it("validates its options and bounds its targets", () => {
    const clock = new ManualClock();
    expect(() => new RetryBudget({ ratio: 2 }, clock)).toThrow(/retryBudget.ratio/);
    expect(() => new RetryBudget({ windowMs: 0 }, clock)).toThrow(/retryBudget.windowMs/);
    const budget = new RetryBudget({ maxTargets: 2 }, clock);
    budget.admit("a", false);
    budget.admit("b", false);
    budget.admit("c", false);
    expect(Object.keys(budget.snapshot().targets)).toEqual(["b", "c"]);
  });
});

describe("RetryBudget handles (the engine's per-target record keeps one)", () => {
  const ok = async () => "ok";
  const tool = { kind: "tool" as const, agentId: "a", name: "t" };

  it("admitTo counts like admitNamed; an evicted handle is marked, a new one starts afresh", () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ ratio: 0, minRetries: 1, maxTargets: 2 }, clock);
    const handle = budget.targetNamed("tool", "t", clock.now());
    expect(budget.targetNamed("tool", "t", clock.now())).toBe(handle);
    expect(budget.admitTo(handle, true, "a", clock.now())).toBeUndefined();
    expect(budget.admitNamed("tool", "t", true, "a", clock.now())).toBeInstanceOf(RetryBudgetExceededError);
    expect(budget.snapshot().targets["tool:t"]).toMatchObject({ retries: 1 });
    budget.admit("x", false);
    budget.admit("y", false); // pushes tool:t out
    expect(handle.evicted).toBe(true);
    const fresh = budget.targetNamed("tool", "t", clock.now());
    expect(fresh).not.toBe(handle);
    expect(fresh.evicted).toBe(false);
    expect(budget.admitTo(fresh, true, "a", clock.now())).toBeUndefined();
  });

  it("the engine's handle survives the budget evicting its window: it counts into the live one", async () => {
    const sre = new AgentSRE({
      clock: new ManualClock(),
      rogue: false,
      retryBudget: { ratio: 0, minRetries: 2, maxTargets: 2 },
    });
    await sre.guard({ ...tool, attempt: 2 }, ok); // the engine's record of tool:t holds the handle
    await sre.guard({ ...tool, name: "u" }, ok);
    await sre.guard({ ...tool, name: "v" }, ok); // the budget drops tool:t (the engine keeps its record)
    expect(Object.keys(sre.retryBudget?.snapshot().targets ?? {})).toEqual(["tool:u", "tool:v"]);
    await sre.guard({ ...tool, attempt: 2 }, ok);
    await sre.guard({ ...tool, attempt: 3 }, ok);
    await expect(sre.guard({ ...tool, attempt: 4 }, ok)).rejects.toMatchObject({
      code: "RETRY_BUDGET_EXCEEDED",
    });
    expect(sre.retryBudget?.snapshot().targets["tool:t"]).toEqual({
      firstAttempts: 0,
      retries: 2,
      retriesAllowed: 2,
    });
  });

  it("the engine evicting its target record keeps the budget's window: a new record finds it", async () => {
    const clock = new ManualClock();
    const sre = new AgentSRE({
      clock,
      rogue: false,
      memory: { maxTargets: 2 },
      retryBudget: { ratio: 0, minRetries: 2 },
    });
    await sre.guard({ ...tool, attempt: 2 }, ok);
    for (let i = 0; i < 5; i++) await sre.guard({ ...tool, name: `other-${i}` }, ok); // the record goes
    expect(sre.status().tracked?.tools).toBeLessThanOrEqual(2);
    await sre.guard({ ...tool, attempt: 2 }, ok);
    await expect(sre.guard({ ...tool, attempt: 3 }, ok)).rejects.toMatchObject({
      code: "RETRY_BUDGET_EXCEEDED",
    });
    expect(sre.retryBudget?.snapshot().targets["tool:t"]).toMatchObject({ retries: 2 });
  });

  it("handles count fleet-wide on a shared store", async () => {
    const clock = new ManualClock();
    const [storeA, storeB] = linked();
    const options = { clock, rogue: false as const, retryBudget: { ratio: 0.1, minRetries: 1 } };
    const a = new AgentSRE({ ...options, store: storeA });
    const b = new AgentSRE({ ...options, store: storeB });
    await b.guard(tool, ok); // B's record of tool:t and its handle exist before A's counts arrive
    for (let i = 0; i < 20; i++) await a.guard(tool, ok);
    a.retryBudget?.flush();
    // 1 + 0.1 × 21 = 3 retries for the fleet, all through B's handle.
    for (let i = 0; i < 3; i++) await b.guard({ ...tool, attempt: 2 }, ok);
    await expect(b.guard({ ...tool, attempt: 2 }, ok)).rejects.toMatchObject({
      code: "RETRY_BUDGET_EXCEEDED",
      message: expect.stringMatching(/fleet-wide/),
    });
  });
});

/** Two stores that see each other's writes at once, as two processes on one Redis do (its broadcast). */
class LinkedStore extends MemoryStore {
  readonly shared = true;
  peer: LinkedStore | undefined;
  readonly #listeners: Array<(change: StateChange) => void> = [];

  override putState(kind: string, id: string, value: StateValue, expiresAtMs: number): void {
    super.putState(kind, id, value, expiresAtMs);
    this.peer?.receive({ kind, id, value }, expiresAtMs);
  }

  override subscribe(listener: (change: StateChange) => void): () => void {
    this.#listeners.push(listener);
    return () => {};
  }

  receive(change: StateChange, expiresAtMs: number): void {
    if (change.value !== undefined) super.putState(change.kind, change.id, change.value, expiresAtMs);
    for (const listener of this.#listeners) listener(change);
  }
}

function linked(): [LinkedStore, LinkedStore] {
  const a = new LinkedStore();
  const b = new LinkedStore();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

describe("RetryBudget shared by a fleet (share)", () => {
  const options = { ratio: 0.1, minRetries: 2, windowMs: 10_000 };

  it("counts every engine's first attempts and retries against one budget per target", () => {
    const clock = new ManualClock();
    const [storeA, storeB] = linked();
    const a = new RetryBudget(options, clock);
    const b = new RetryBudget(options, clock);
    a.share(storeA);
    b.share(storeB);
    // A sees the traffic: 100 first attempts; B sees none of it itself.
    for (let i = 0; i < 100; i++) a.admit("upstream:inventory", false);
    a.flush();
    // B may retry what the fleet's traffic allows: 2 + 0.1 × 100 = 12 (alone it would allow 2).
    let admitted = 0;
    for (let i = 0; i < 20; i++) if (b.admit("upstream:inventory", true, "b-agent") === undefined) admitted++;
    expect(admitted).toBe(12);
    const refusal = b.admit("upstream:inventory", true, "b-agent");
    expect(refusal?.message).toMatch(/12 retries fleet-wide .* \(12: 2 \+ 0\.1 × 100 first attempts\)/);
    // B's retries reach A at B's next publication: A's retries are refused too (one budget, not two).
    b.flush();
    expect(a.admit("upstream:inventory", true)).toBeInstanceOf(RetryBudgetExceededError);
    expect(a.snapshot()).toMatchObject({
      fleet: { engines: 2 },
      targets: { "upstream:inventory": { firstAttempts: 100, retries: 12, retriesAllowed: 12 } },
    });
    // Other targets keep their own budgets.
    expect(b.admit("upstream:other", true)).toBeUndefined();
  });

  it("publishes at most once per bucket, from the calls themselves; peers' counts slide out of the window", () => {
    const clock = new ManualClock();
    const [storeA, storeB] = linked();
    let writes = 0;
    const put = storeA.putState.bind(storeA);
    storeA.putState = (kind, id, value, expiresAtMs) => {
      writes++;
      put(kind, id, value, expiresAtMs);
    };
    const a = new RetryBudget(options, clock);
    const b = new RetryBudget(options, clock);
    a.share(storeA);
    b.share(storeB);
    for (let i = 0; i < 1_000; i++) a.admit("t", false); // all within the first bucket (1 s)
    expect(writes).toBe(1); // the first call published; the rest wait for the next bucket
    clock.advance(1_000);
    a.admit("t", false); // a new bucket: this call publishes the counts so far
    expect(writes).toBe(2);
    expect(b.snapshot().targets).toEqual({});
    expect(b.admit("t", true)).toBeUndefined(); // 2 + 0.1 × 1,001 = 102 allowed
    expect(b.snapshot().targets.t).toMatchObject({ firstAttempts: 1_001, retriesAllowed: 102 });
    clock.advance(10_000); // A's buckets have all left the window
    expect(b.snapshot().targets.t).toMatchObject({ firstAttempts: 0, retriesAllowed: 2 });
  });

  it("an engine shares only on a shared store, unless fleetWide is false", () => {
    const [shared] = linked();
    const clock = new ManualClock();
    expect(new AgentSRE({ clock, store: shared, rogue: false }).retryBudget?.shared).toBe(true);
    expect(
      new AgentSRE({ clock, store: shared, rogue: false, retryBudget: { fleetWide: false } }).retryBudget
        ?.shared,
    ).toBe(false);
    expect(new AgentSRE({ clock, store: new MemoryStore(), rogue: false }).retryBudget?.shared).toBe(false);
    expect(() => new RetryBudget({ fleetWide: "yes" as never }, clock)).toThrow(/retryBudget.fleetWide/);
  });
});
