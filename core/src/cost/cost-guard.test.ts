import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import {
  AgentKilledError,
  AgentThrottledError,
  BudgetExceededError,
  ConfigError,
  InvalidArgumentError,
  TokenLimitExceededError,
} from "../errors.js";
import { type AgentSREEventName, type AgentSREEvents, EventBus } from "../events.js";
import { MemoryStore } from "../store/memory-store.js";
import { CostGuard } from "./cost-guard.js";
import { BudgetAction, type BudgetAlert, type CostGuardOptions } from "./cost-types.js";

const MINUTE = 60_000;
const HOUR = 3_600_000;

function setup(options: Omit<CostGuardOptions, "clock" | "events"> = {}, start = Date.UTC(2026, 0, 10, 12)) {
  const clock = new ManualClock(start);
  const events = new EventBus();
  const seen: Array<{ name: AgentSREEventName; payload: unknown }> = [];
  for (const name of [
    "budget.alert",
    "budget.throttle",
    "budget.kill",
    "budget.revive",
    "budget.overrun",
    "cost.anomaly",
    "agent.throttle",
  ] as const) {
    events.on(name, (payload) => seen.push({ name, payload }));
  }
  const store = options.store ?? new MemoryStore();
  const guard = new CostGuard({ anomalyDetection: false, ...options, store, clock, events });
  const named = <K extends AgentSREEventName>(name: K) =>
    seen.filter((event) => event.name === name).map((event) => event.payload as AgentSREEvents[K]);
  return { clock, guard, seen, named, store };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

describe("CostGuard reservations", () => {
  it("holds the estimate, commits the actual and returns the rest", () => {
    const { guard } = setup();
    const reservation = guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 1.5 });
    expect(reservation.reservedUsd).toBe(1.5);
    expect(guard.agentStatus("a")).toMatchObject({ spentTodayUsd: 0, reservedTodayUsd: 1.5 });
    expect(reservation.commit(0.4)).toEqual([]);
    expect(reservation.state).toBe("committed");
    expect(guard.agentStatus("a")).toMatchObject({
      spentTodayUsd: 0.4,
      reservedTodayUsd: 0,
      spentThisMonthUsd: 0.4,
    });
    expect(guard.snapshot().org).toMatchObject({ spentThisMonthUsd: 0.4, reservedUsd: 0 });
  });

  it("release returns all held money and tokens", () => {
    const { guard } = setup({ perAgentDailyTokenLimit: 1000 });
    const reservation = guard.reserve({ agentId: "a", estimatedCostUsd: 1, estimatedTokens: 600 });
    expect(guard.agentStatus("a")).toMatchObject({ reservedTodayUsd: 1, reservedTokensToday: 600 });
    reservation.release();
    expect(guard.agentStatus("a")).toMatchObject({
      spentTodayUsd: 0,
      reservedTodayUsd: 0,
      tokensToday: 0,
      reservedTokensToday: 0,
    });
    expect(reservation.state).toBe("released");
  });

  it("settles exactly once: a second commit or release throws and changes nothing", () => {
    const { guard } = setup();
    const reservation = guard.reserve({ agentId: "a", estimatedCostUsd: 1 });
    reservation.commit(0.5);
    const before = guard.agentStatus("a");
    expect(() => reservation.commit(0.5)).toThrow(InvalidArgumentError);
    expect(() => reservation.release()).toThrow(InvalidArgumentError);
    expect(guard.agentStatus("a")).toEqual(before);

    const released = guard.reserve({ agentId: "a", estimatedCostUsd: 1 });
    released.release();
    expect(() => released.commit(1)).toThrow(/reservation/);
    expect(guard.agentStatus("a").spentTodayUsd).toBe(0.5);
  });

  it("rejects a negative or NaN commit and keeps the reservation open", () => {
    const { guard } = setup();
    const reservation = guard.reserve({ agentId: "a", estimatedCostUsd: 1 });
    expect(() => reservation.commit(-1)).toThrow(InvalidArgumentError);
    expect(() => reservation.commit(Number.NaN)).toThrow(/actualCostUsd/);
    expect(() => reservation.commit(0.1, { tokens: -5 })).toThrow(/tokens/);
    expect(() => reservation.commit(0.1, { breakdown: { model: -1 } })).toThrow(/breakdown\.model/);
    expect(reservation.state).toBe("open");
    expect(guard.agentStatus("a")).toMatchObject({ spentTodayUsd: 0, reservedTodayUsd: 1 });
    reservation.commit(0.25);
    expect(guard.agentStatus("a").spentTodayUsd).toBe(0.25);
  });

  it("records a commit above the reservation in full and reports the overrun", () => {
    const { guard, named } = setup();
    const reservation = guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 0.1 });
    const alerts = reservation.commit(0.35);
    expect(guard.agentStatus("a").spentTodayUsd).toBe(0.35);
    expect(alerts).toEqual([
      expect.objectContaining({
        type: "overrun",
        agentId: "a",
        taskId: "t",
        reservedUsd: 0.1,
        actualUsd: 0.35,
      }),
    ]);
    // Plain data: a copy keeps the message.
    expect({ ...alerts[0] }).toMatchObject({ message: 'Agent "a" spent $0.35 on a reservation of $0.10' });
    expect(named("budget.overrun")).toEqual([
      expect.objectContaining({ agentId: "a", taskId: "t", reservedUsd: 0.1, actualUsd: 0.35 }),
    ]);
  });

  it("writes an unread overrun's message when the alert is read, and checks like commit", () => {
    const { guard, named, clock } = setup();
    const reservation = guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 0.1 });
    guard.commitUnread(reservation, 0.35, 40, clock.now());
    expect(reservation.state).toBe("committed");
    expect(guard.agentStatus("a")).toMatchObject({ spentTodayUsd: 0.35, tokensToday: 40 });
    expect(named("budget.overrun")).toEqual([
      expect.objectContaining({ agentId: "a", taskId: "t", reservedUsd: 0.1, actualUsd: 0.35 }),
    ]);
    const message = 'Agent "a" spent $0.35 on a reservation of $0.10';
    expect(guard.agentStatus("a").recentAlerts).toEqual([
      expect.objectContaining({ type: "overrun", reservedUsd: 0.1, actualUsd: 0.35, message }),
    ]);
    expect(guard.snapshot().recentAlerts[0]).toMatchObject({ message });
    // The same errors as commit: settled once, a cost and tokens >= 0.
    expect(() => guard.commitUnread(reservation, 0.1, 1, clock.now())).toThrow(/open reservation/);
    const other = guard.reserve({ agentId: "a", estimatedCostUsd: 0.1 });
    expect(() => guard.commitUnread(other, -1, 1, clock.now())).toThrow(/actualCostUsd/);
    expect(() => guard.commitUnread(other, 0.1, -1, clock.now())).toThrow(/tokens/);
    expect(other.state).toBe("open");
  });

  it("refuses with typed errors naming the scope, limit, remaining and wait", () => {
    const { guard, clock } = setup({ perTaskLimitUsd: 2, perAgentDailyLimitUsd: 5, orgMonthlyBudgetUsd: 7 });
    const task = thrown(() => guard.reserve({ agentId: "a", estimatedCostUsd: 2.5 })) as BudgetExceededError;
    expect(task).toBeInstanceOf(BudgetExceededError);
    expect(task).toMatchObject({
      scope: "task",
      limitUsd: 2,
      remainingUsd: 2,
      requestedUsd: 2.5,
      code: "BUDGET_EXCEEDED",
    });

    // A task's spend accumulates across its calls.
    guard.reserve({ agentId: "a", taskId: "t1", estimatedCostUsd: 1.5 }).commit(1.5);
    const taskTotal = thrown(() =>
      guard.reserve({ agentId: "a", taskId: "t1", estimatedCostUsd: 0.6 }),
    ) as BudgetExceededError;
    expect(taskTotal).toMatchObject({ scope: "task", remainingUsd: 0.5 });
    expect(guard.reserve({ agentId: "a", taskId: "t1", estimatedCostUsd: 0.5 }).state).toBe("open");

    guard.reserve({ agentId: "a", taskId: "t2", estimatedCostUsd: 2 });
    const daily = thrown(() => guard.reserve({ agentId: "a", estimatedCostUsd: 1.5 })) as BudgetExceededError;
    expect(daily).toMatchObject({ scope: "agent-daily", limitUsd: 5, remainingUsd: 1, requestedUsd: 1.5 });
    expect(daily.retryAfterMs).toBe(Date.UTC(2026, 0, 11) - clock.now());

    guard.reserve({ agentId: "b", estimatedCostUsd: 2 });
    const org = thrown(() => guard.reserve({ agentId: "c", estimatedCostUsd: 1.5 })) as BudgetExceededError;
    expect(org).toMatchObject({ scope: "org-monthly", limitUsd: 7, remainingUsd: 1, requestedUsd: 1.5 });
    expect(org.retryAfterMs).toBe(Date.UTC(2026, 1, 1) - clock.now());
  });

  it("allows a reservation that ends exactly at the limit, and refuses a zero estimate once nothing is left", () => {
    const { guard } = setup({ perAgentDailyLimitUsd: 1, killSwitchThreshold: 1, throttleThreshold: 1 });
    guard.reserve({ agentId: "a", estimatedCostUsd: 0.6 }).commit(0.6);
    const last = guard.reserve({ agentId: "a", estimatedCostUsd: 0.4 });
    expect(guard.checkTask("a", { estimatedCostUsd: 0 })).toMatchObject({ allowed: false });
    expect(() => guard.reserve({ agentId: "a", estimatedCostUsd: 0 })).toThrow(BudgetExceededError);
    last.release();
    expect(guard.reserve({ agentId: "a", estimatedCostUsd: 0 }).state).toBe("open");
  });

  it("enforces per-task and per-agent-day token limits", () => {
    const { guard } = setup({ perTaskTokenLimit: 1000, perAgentDailyTokenLimit: 2500 });
    const single = thrown(() => guard.reserve({ agentId: "a", estimatedCostUsd: 0, estimatedTokens: 1200 }));
    expect(single).toBeInstanceOf(TokenLimitExceededError);
    expect(single).toMatchObject({ scope: "task", limitTokens: 1000, requestedTokens: 1200 });

    guard
      .reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 0, estimatedTokens: 800 })
      .commit(0, { tokens: 900 });
    expect(
      thrown(() => guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 0, estimatedTokens: 200 })),
    ).toMatchObject({
      scope: "task",
      remainingTokens: 100,
    });
    guard.reserve({ agentId: "a", taskId: "u", estimatedCostUsd: 0, estimatedTokens: 1000 }).commit(0);
    const daily = thrown(() => guard.reserve({ agentId: "a", estimatedCostUsd: 0, estimatedTokens: 700 }));
    expect(daily).toMatchObject({ scope: "agent-daily", limitTokens: 2500, remainingTokens: 600 });
    expect(guard.agentStatus("a").tokensToday).toBe(1900);
    // Tokens are per agent.
    expect(guard.reserve({ agentId: "b", estimatedCostUsd: 0, estimatedTokens: 900 }).state).toBe("open");
  });

  it("applies per-agent overrides", () => {
    const { guard } = setup({
      perAgentDailyLimitUsd: 10,
      agents: { big: { dailyLimitUsd: 50, perTaskLimitUsd: 20 }, tight: { dailyTokenLimit: 100 } },
    });
    expect(guard.reserve({ agentId: "big", estimatedCostUsd: 15 }).reservedUsd).toBe(15);
    expect(() => guard.reserve({ agentId: "small", estimatedCostUsd: 15 })).toThrow(BudgetExceededError);
    expect(() => guard.reserve({ agentId: "tight", estimatedCostUsd: 0, estimatedTokens: 101 })).toThrow(
      TokenLimitExceededError,
    );
    expect(guard.agentStatus("big").limits).toEqual({
      dailyLimitUsd: 50,
      perTaskLimitUsd: 20,
      dailyTokenLimit: null,
      perTaskTokenLimit: null,
    });
  });

  it("bounds per-task state: a task's balance expires after taskTtl without activity", () => {
    const store = new MemoryStore();
    const { guard, clock } = setup({ store, taskTtl: "1h", perTaskLimitUsd: 1 });
    // Money and tokens: both task keys exist (a key nothing was held or spent on is never created).
    guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 1, estimatedTokens: 10 }).commit(1);
    expect(() => guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 0.5 })).toThrow(
      BudgetExceededError,
    );
    const keysWithTask = store.size;
    clock.advance(HOUR + MINUTE);
    guard.checkTask("a");
    expect(store.size).toBe(keysWithTask - 2);
    expect(guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 0.5 }).state).toBe("open");
  });
});

describe("CostGuard checkTask", () => {
  it("answers without holding anything", () => {
    const { guard } = setup({ perAgentDailyLimitUsd: 10 });
    expect(guard.checkTask("a", { estimatedCostUsd: 1 })).toEqual({
      allowed: true,
      reason: undefined,
      action: BudgetAction.ALLOW,
    });
    expect(guard.agentStatus("a").reservedTodayUsd).toBe(0);
    const refused = guard.checkTask("a", { estimatedCostUsd: 3 });
    expect(refused.allowed).toBe(false);
    expect(refused.reason).toMatch(/task/);
    // A refused check never says ALLOW (or ALERT): a limit refusing it is a DENY.
    expect(refused.action).toBe(BudgetAction.DENY);
    expect(() => guard.checkTask("a", { estimatedCostUsd: Number.NaN })).toThrow(InvalidArgumentError);
  });

  it("reports the agent's state as the action", () => {
    const { guard } = setup({ perAgentDailyLimitUsd: 10, perTaskLimitUsd: 10 });
    guard.recordCost({ agentId: "a", costUsd: 6 });
    expect(guard.checkTask("a", { estimatedCostUsd: 0.1 })).toMatchObject({ allowed: true, action: "ALERT" });
    guard.recordCost({ agentId: "a", costUsd: 2.6 });
    expect(guard.checkTask("a", { estimatedCostUsd: 0.1 })).toMatchObject({
      allowed: true,
      action: "THROTTLE",
    });
    guard.recordCost({ agentId: "a", costUsd: 1 });
    const killed = guard.checkTask("a", { estimatedCostUsd: 0.1 });
    expect(killed).toMatchObject({ allowed: false, action: "KILL" });
    expect(killed.reason).toMatch(/killed/);
  });
});

describe("CostGuard reporting", () => {
  it("counts open reservations per agent until they are committed or released", () => {
    const { guard } = setup({ perAgentDailyLimitUsd: 10 });
    const first = guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 0.01 });
    const second = guard.reserve({ agentId: "a", taskId: "t", estimatedCostUsd: 0.01 });
    guard.reserve({ agentId: "b", estimatedCostUsd: 0.01 });
    expect(guard.agentStatus("a").openReservations).toBe(2);
    first.commit(0.005);
    second.release();
    expect(guard.agentStatus("a").openReservations).toBe(0);
    expect(guard.agentStatus("b").openReservations).toBe(1);
  });

  it("money in refusals and alerts carries meaningful precision", () => {
    const { guard, named } = setup({ perTaskLimitUsd: 0.0001, perAgentDailyLimitUsd: 0.005 });
    const refused = guard.refusalFor("a", { estimatedCostUsd: 0.000123, taskId: "t" });
    expect(refused?.message).toMatch(/requested \$0\.000123, remaining \$0\.0001 of \$0\.0001/);
    guard.recordCost({ agentId: "a", costUsd: 0.0048 });
    const kill = named("budget.kill")[0] as { message: string } | undefined;
    expect(kill?.message).toMatch(/of \$0\.005 \(\$0\.0048\)/);
  });
});

describe("CostGuard alerts", () => {
  it("fires each threshold once per period per scope, with severity", () => {
    const { guard, named, clock } = setup({
      perAgentDailyLimitUsd: 100,
      autoThrottle: false,
      killSwitchThreshold: 1,
    });
    const first = guard.recordCost({ agentId: "a", costUsd: 55 });
    expect(first.map((alert) => (alert.type === "budget" ? alert.threshold : undefined))).toEqual([0.5]);
    expect(first[0]).toMatchObject({
      scope: "agent-daily",
      severity: "warning",
      action: "ALERT",
      spentUsd: 55,
    });
    expect(guard.recordCost({ agentId: "a", costUsd: 1 })).toEqual([]);
    const jump = guard.recordCost({ agentId: "a", costUsd: 36 });
    expect(jump.map((alert) => (alert.type === "budget" ? [alert.threshold, alert.severity] : []))).toEqual([
      [0.75, "warning"],
      [0.9, "critical"],
    ]);
    expect(guard.recordCost({ agentId: "a", costUsd: 1 })).toEqual([]);
    expect(named("budget.alert").map((event) => event.threshold)).toEqual([0.5, 0.75, 0.9]);

    // The next day starts afresh and fires again.
    clock.set(Date.UTC(2026, 0, 11, 1));
    expect(guard.recordCost({ agentId: "a", costUsd: 50 }).length).toBe(1);
    expect(guard.agentStatus("a").spentTodayUsd).toBe(50);
  });

  it("fires org thresholds once per month", () => {
    const { guard, named } = setup({
      orgMonthlyBudgetUsd: 100,
      perAgentDailyLimitUsd: Number.POSITIVE_INFINITY,
    });
    guard.recordCost({ agentId: "a", costUsd: 30 });
    guard.recordCost({ agentId: "b", costUsd: 30 });
    guard.recordCost({ agentId: "c", costUsd: 1 });
    const orgAlerts = named("budget.alert").filter((event) => event.scope === "org-monthly");
    expect(orgAlerts).toEqual([
      expect.objectContaining({ threshold: 0.5, agentId: undefined, spentUsd: 60, limitUsd: 100 }),
    ]);
  });

  it("keeps recent alerts bounded and in order", () => {
    const { guard, clock } = setup({ perAgentDailyLimitUsd: 1, autoThrottle: false, killSwitchThreshold: 1 });
    for (let day = 0; day < 40; day++) {
      guard.recordCost({ agentId: "a", costUsd: 1 });
      clock.advance(24 * HOUR);
    }
    const recent = guard.snapshot().recentAlerts;
    expect(recent.length).toBe(100);
    const times = recent.map((alert) => alert.at);
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(recent.at(-1)?.at).toBe(Date.UTC(2026, 0, 10, 12) + 39 * 24 * HOUR);
  });
});

describe("CostGuard throttle", () => {
  it("throttles once the threshold is crossed, alerting once, and admits exactly N tasks per minute", () => {
    const { guard, named, clock } = setup({
      perAgentDailyLimitUsd: 100,
      perTaskLimitUsd: 100,
      throttleThreshold: 0.85,
      throttleTasksPerMinute: 6,
    });
    const alerts = guard.recordCost({ agentId: "a", costUsd: 86 });
    expect(alerts.filter((alert) => alert.action === "THROTTLE")).toHaveLength(1);
    expect(named("budget.throttle")).toEqual([
      expect.objectContaining({ agentId: "a", threshold: 0.85, action: "THROTTLE" }),
    ]);
    expect(guard.isThrottled("a")).toBe(true);

    for (let i = 0; i < 6; i++) guard.reserve({ agentId: "a", estimatedCostUsd: 0.01 }).commit(0.01);
    const refused = thrown(() =>
      guard.reserve({ agentId: "a", estimatedCostUsd: 0.01 }),
    ) as AgentThrottledError;
    expect(refused).toBeInstanceOf(AgentThrottledError);
    expect(refused.retryAfterMs).toBe(10_000);
    expect(refused.retryable).toBe(true);
    // A refused attempt holds nothing.
    expect(guard.agentStatus("a").reservedTodayUsd).toBe(0);

    clock.advance(9_999);
    expect(() => guard.reserve({ agentId: "a", estimatedCostUsd: 0.01 })).toThrow(AgentThrottledError);
    clock.advance(1);
    guard.reserve({ agentId: "a", estimatedCostUsd: 0.01 }).release();
    expect(() => guard.reserve({ agentId: "a", estimatedCostUsd: 0.01 })).toThrow(AgentThrottledError);

    clock.advance(MINUTE);
    let admitted = 0;
    for (let i = 0; i < 10; i++) {
      try {
        guard.reserve({ agentId: "a", estimatedCostUsd: 0 }).release();
        admitted++;
      } catch (error) {
        expect(error).toBeInstanceOf(AgentThrottledError);
      }
    }
    expect(admitted).toBe(6);
    expect(named("budget.throttle")).toHaveLength(1);
    // Other agents are not throttled.
    expect(guard.isThrottled("b")).toBe(false);
  });

  it("checkTask does not take an admission", () => {
    const { guard } = setup({ perTaskLimitUsd: 100, throttleTasksPerMinute: 1 });
    guard.recordCost({ agentId: "a", costUsd: 90 });
    expect(guard.checkTask("a").allowed).toBe(true);
    expect(guard.checkTask("a").allowed).toBe(true);
    guard.reserve({ agentId: "a", estimatedCostUsd: 0 }).release();
    expect(guard.checkTask("a")).toMatchObject({ allowed: false, action: "THROTTLE" });
  });

  it("lifts the budget throttle at the next day and on unthrottle", () => {
    const { guard, clock } = setup({ perTaskLimitUsd: 100 });
    guard.recordCost({ agentId: "a", costUsd: 90 });
    expect(guard.isThrottled("a")).toBe(true);
    expect(guard.unthrottle("a")).toBe(true);
    expect(guard.isThrottled("a")).toBe(false);
    guard.recordCost({ agentId: "b", costUsd: 90 });
    clock.set(Date.UTC(2026, 0, 11));
    expect(guard.isThrottled("b")).toBe(false);
  });

  it("supports an external throttle that lasts until unthrottle", () => {
    const { guard, clock, named } = setup({ throttleTasksPerMinute: 2 });
    guard.throttle("a", "SLO exhausted");
    expect(named("agent.throttle")).toEqual([
      { at: clock.now(), agentId: "a", reason: "SLO exhausted", tasksPerMinute: 2 },
    ]);
    guard.reserve({ agentId: "a", estimatedCostUsd: 0 }).release();
    guard.reserve({ agentId: "a", estimatedCostUsd: 0 }).release();
    const error = thrown(() => guard.reserve({ agentId: "a", estimatedCostUsd: 0 })) as AgentThrottledError;
    expect(error.message).toMatch(/SLO exhausted/);
    expect(error.retryAfterMs).toBe(30_000);
    clock.set(Date.UTC(2026, 0, 12));
    expect(guard.isThrottled("a")).toBe(true);
    expect(guard.agentStatus("a").throttleReason).toBe("SLO exhausted");
    guard.unthrottle("a");
    for (let i = 0; i < 5; i++) guard.reserve({ agentId: "a", estimatedCostUsd: 0 }).release();
    expect(() => guard.throttle("a", "")).toThrow(InvalidArgumentError);
  });
});

describe("CostGuard kill switch", () => {
  it("kills at the threshold until UTC midnight", () => {
    const { guard, clock, named } = setup({ perAgentDailyLimitUsd: 100, perTaskLimitUsd: 100 });
    const alerts = guard.recordCost({ agentId: "a", costUsd: 96 });
    expect(alerts.filter((alert) => alert.action === "KILL")).toEqual([
      expect.objectContaining({ severity: "critical", threshold: 0.95, scope: "agent-daily" }),
    ]);
    expect(named("budget.kill")).toHaveLength(1);
    expect(guard.isKilled("a")).toBe(true);
    const error = thrown(() => guard.reserve({ agentId: "a", estimatedCostUsd: 0.01 })) as AgentKilledError;
    expect(error).toBeInstanceOf(AgentKilledError);
    expect(error.retryAfterMs).toBe(Date.UTC(2026, 0, 11) - clock.now());
    // Spending more does not fire the kill again.
    guard.recordCost({ agentId: "a", costUsd: 1 });
    expect(named("budget.kill")).toHaveLength(1);
    expect(guard.isKilled("b")).toBe(false);

    clock.set(Date.UTC(2026, 0, 10, 23, 59, 59, 999));
    expect(guard.isKilled("a")).toBe(true);
    clock.set(Date.UTC(2026, 0, 11));
    expect(guard.isKilled("a")).toBe(false);
    expect(guard.reserve({ agentId: "a", estimatedCostUsd: 1 }).state).toBe("open");
  });

  it("rolls over at midnight in the configured time zone", () => {
    // 2026-01-10 20:00 in New York = 2026-01-11 01:00 UTC.
    const { guard, clock } = setup(
      { perAgentDailyLimitUsd: 10, perTaskLimitUsd: 10, timeZone: "America/New_York" },
      Date.UTC(2026, 0, 11, 1),
    );
    guard.recordCost({ agentId: "a", costUsd: 9.6 });
    const error = thrown(() => guard.reserve({ agentId: "a", estimatedCostUsd: 0 })) as AgentKilledError;
    expect(error.retryAfterMs).toBe(4 * HOUR);
    clock.set(Date.UTC(2026, 0, 11, 4, 59));
    expect(guard.isKilled("a")).toBe(true);
    clock.set(Date.UTC(2026, 0, 11, 5));
    expect(guard.isKilled("a")).toBe(false);
    expect(guard.agentStatus("a")).toMatchObject({
      spentTodayUsd: 0,
      dayStartMs: Date.UTC(2026, 0, 11, 5),
      dayEndMs: Date.UTC(2026, 0, 12, 5),
    });
  });

  it("revive lifts the kill for the rest of the day; the kill does not re-fire", () => {
    const { guard, named } = setup({ perAgentDailyLimitUsd: 10, perTaskLimitUsd: 10 });
    guard.recordCost({ agentId: "a", costUsd: 9.6 });
    expect(guard.revive("a")).toBe(true);
    expect(named("budget.revive")).toEqual([expect.objectContaining({ agentId: "a", scope: "agent" })]);
    expect(guard.isKilled("a")).toBe(false);
    guard.unthrottle("a");
    guard.reserve({ agentId: "a", estimatedCostUsd: 0.3 }).commit(0.3);
    expect(guard.isKilled("a")).toBe(false);
    // The hard limit still holds.
    expect(() => guard.reserve({ agentId: "a", estimatedCostUsd: 0.2 })).toThrow(BudgetExceededError);
    expect(guard.revive("a")).toBe(false);
  });

  it("kills the whole org at the threshold of the monthly budget until the month rolls over", () => {
    const { guard, clock, named } = setup({
      orgMonthlyBudgetUsd: 100,
      perAgentDailyLimitUsd: Number.POSITIVE_INFINITY,
      perTaskLimitUsd: Number.POSITIVE_INFINITY,
    });
    guard.recordCost({ agentId: "a", costUsd: 60 });
    const alerts = guard.recordCost({ agentId: "b", costUsd: 36 });
    expect(alerts.find((alert) => alert.action === "KILL")).toMatchObject({
      scope: "org-monthly",
      agentId: undefined,
    });
    expect(named("budget.kill")).toHaveLength(1);
    for (const agentId of ["a", "b", "never-seen"]) {
      const error = thrown(() => guard.reserve({ agentId, estimatedCostUsd: 0 })) as AgentKilledError;
      expect(error).toBeInstanceOf(AgentKilledError);
      expect(error.retryAfterMs).toBe(Date.UTC(2026, 1, 1) - clock.now());
    }
    expect(guard.snapshot().org.killed).toBe(true);
    clock.set(Date.UTC(2026, 0, 31, 23, 59));
    expect(guard.isKilled("a")).toBe(true);
    clock.set(Date.UTC(2026, 1, 1));
    expect(guard.isKilled("a")).toBe(false);
    expect(guard.snapshot().org).toMatchObject({ killed: false, spentThisMonthUsd: 0 });
    expect(guard.reserve({ agentId: "a", estimatedCostUsd: 50 }).state).toBe("open");
  });

  it("reviveOrg lifts the org kill", () => {
    const { guard, named } = setup({ orgMonthlyBudgetUsd: 10, perTaskLimitUsd: 100 });
    guard.recordCost({ agentId: "a", costUsd: 9.9 });
    expect(guard.isKilled("z")).toBe(true);
    expect(guard.reviveOrg()).toBe(true);
    expect(named("budget.revive")).toEqual([expect.objectContaining({ agentId: undefined, scope: "org" })]);
    expect(guard.isKilled("z")).toBe(false);
    expect(guard.reviveOrg()).toBe(false);
  });
});

describe("CostGuard periods", () => {
  it("settles a reservation made before midnight into the day it was held in, without alerting the new day", () => {
    const { guard, clock } = setup(
      { perAgentDailyLimitUsd: 10, perTaskLimitUsd: 10, autoThrottle: false },
      Date.UTC(2026, 0, 10, 23, 59),
    );
    const reservation = guard.reserve({ agentId: "a", estimatedCostUsd: 8 });
    clock.set(Date.UTC(2026, 0, 11, 0, 1));
    expect(reservation.commit(7)).toEqual([]);
    expect(guard.agentStatus("a")).toMatchObject({
      spentTodayUsd: 0,
      reservedTodayUsd: 0,
      spentThisMonthUsd: 7,
    });
    expect(guard.isKilled("a")).toBe(false);
    expect(guard.reserve({ agentId: "a", estimatedCostUsd: 10 }).state).toBe("open");
  });

  it("starts a new org month with an empty budget", () => {
    const { guard, clock } = setup(
      { orgMonthlyBudgetUsd: 10, perTaskLimitUsd: 10, killSwitchThreshold: 1, autoThrottle: false },
      Date.UTC(2026, 0, 31, 20),
    );
    guard.reserve({ agentId: "a", estimatedCostUsd: 10 }).commit(9.5);
    expect(() => guard.reserve({ agentId: "a", estimatedCostUsd: 1 })).toThrow(BudgetExceededError);
    clock.set(Date.UTC(2026, 1, 1));
    expect(guard.reserve({ agentId: "a", estimatedCostUsd: 10 }).state).toBe("open");
  });
});

describe("CostGuard recordCost", () => {
  it("rejects a negative or NaN cost and changes nothing", () => {
    const { guard } = setup();
    guard.recordCost({ agentId: "a", costUsd: 1 });
    const before = guard.snapshot();
    for (const costUsd of [-0.01, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => guard.recordCost({ agentId: "a", costUsd })).toThrow(InvalidArgumentError);
    }
    expect(() => guard.recordCost({ agentId: "a", costUsd: 1, tokens: -1 })).toThrow(/tokens/);
    expect(() => guard.recordCost({ agentId: "", costUsd: 1 })).toThrow(/agentId/);
    expect(guard.snapshot()).toEqual(before);
  });

  it("sums a million costs of $0.000123 exactly", () => {
    const { guard } = setup({
      perTaskLimitUsd: Number.POSITIVE_INFINITY,
      perAgentDailyLimitUsd: Number.POSITIVE_INFINITY,
      orgMonthlyBudgetUsd: Number.POSITIVE_INFINITY,
    });
    for (let i = 0; i < 1_000_000; i++) guard.recordCost({ agentId: "a", costUsd: 0.000123 });
    expect(guard.agentStatus("a").spentTodayUsd).toBe(123);
    expect(guard.snapshot().org.spentThisMonthUsd).toBe(123);
  });

  it("tallies breakdowns and unpriced tokens per agent per day, bounded", () => {
    const { guard, clock } = setup();
    guard.recordCost({ agentId: "a", costUsd: 0.3, breakdown: { model: 0.2, tool: 0.1 } });
    guard.reserve({ agentId: "a", estimatedCostUsd: 1 }).commit(0.5, { breakdown: { model: 0.5 } });
    guard.noteUnpricedTokens("a", "mystery-model", 1200);
    guard.noteUnpricedTokens("a", "mystery-model", 300);
    for (let i = 0; i < 100; i++) guard.noteUnpricedTokens("a", `model-${i}`, 1);
    const status = guard.agentStatus("a");
    expect(status.costBreakdownUsd).toEqual({ model: 0.7, tool: 0.1 });
    expect(status.unpricedTokens["mystery-model"]).toBe(1500);
    expect(Object.keys(status.unpricedTokens).length).toBeLessThanOrEqual(64);
    expect(status.unpricedTokens["(other)"]).toBeGreaterThan(0);
    clock.set(Date.UTC(2026, 0, 11));
    expect(guard.agentStatus("a").unpricedTokens).toEqual({});
  });
});

describe("CostGuard anomaly detection", () => {
  it("flags a spike after a stable baseline and emits cost.anomaly", () => {
    const { guard, named } = setup({ anomalyDetection: { minSamples: 20 }, perTaskLimitUsd: 100 });
    let state = 7;
    const noise = () => {
      state = (state * 48271) % 2147483647;
      return state / 2147483647;
    };
    for (let i = 0; i < 60; i++) {
      const alerts = guard.recordCost({ agentId: "a", costUsd: 0.01 * (0.8 + 0.4 * noise()) });
      expect(alerts.filter((alert) => alert.type === "anomaly")).toEqual([]);
    }
    const alerts = guard.recordCost({ agentId: "a", costUsd: 0.2 });
    const anomaly = alerts.find((alert) => alert.type === "anomaly");
    expect(anomaly).toMatchObject({
      agentId: "a",
      costUsd: 0.2,
      threshold: 4,
      action: "ALERT",
      response: "alert",
    });
    expect(anomaly?.type === "anomaly" && anomaly.expectedUsd).toBeCloseTo(0.01, 2);
    expect(named("cost.anomaly")).toEqual([
      expect.objectContaining({ agentId: "a", costUsd: 0.2, score: expect.any(Number), threshold: 4 }),
    ]);
    // Per agent: another agent's first expensive call is no anomaly.
    expect(
      guard.recordCost({ agentId: "b", costUsd: 5 }).filter((alert) => alert.type === "anomaly"),
    ).toEqual([]);
  });

  it("is off when disabled", () => {
    const { guard } = setup({ anomalyDetection: false, perTaskLimitUsd: 100 });
    for (let i = 0; i < 50; i++) guard.recordCost({ agentId: "a", costUsd: 0.01 });
    expect(guard.recordCost({ agentId: "a", costUsd: 1 })).toEqual([]);
  });
});

describe("CostGuard configuration", () => {
  const bad: Array<[CostGuardOptions, RegExp]> = [
    [{ perTaskLimitUsd: -1 }, /perTaskLimitUsd/],
    [{ perAgentDailyLimitUsd: Number.NaN }, /perAgentDailyLimitUsd/],
    [{ orgMonthlyBudgetUsd: -5 }, /orgMonthlyBudgetUsd/],
    [{ alertThresholds: [0.5, 1.5] }, /alertThresholds\[1\]/],
    [{ alertThresholds: [0] }, /alertThresholds\[0\]/],
    [{ throttleThreshold: 0.96, killSwitchThreshold: 0.95 }, /throttleThreshold/],
    [{ killSwitchThreshold: 1.2 }, /killSwitchThreshold/],
    [{ throttleTasksPerMinute: 0 }, /throttleTasksPerMinute/],
    [{ perTaskTokenLimit: 1.5 }, /perTaskTokenLimit/],
    [{ perAgentDailyTokenLimit: -1 }, /perAgentDailyTokenLimit/],
    [{ agents: { x: { dailyLimitUsd: -1 } } }, /agents\.x\.dailyLimitUsd/],
    [{ agents: { x: { dailyLimitUSD: 1 } as never } }, /agents\.x\.dailyLimitUSD/],
    [{ anomalyDetection: { zThreshold: -1 } }, /anomalyDetection\.zThreshold/],
    [{ anomalyDetection: { alpha: 1 } }, /anomalyDetection\.alpha/],
    [{ timeZone: "Nowhere/Land" }, /timeZone/],
    [{ taskTtl: "soon" }, /taskTtl/],
    [{ perTaskLimit: 2 } as never, /perTaskLimit/],
    [{ autoThrottle: "yes" } as never, /autoThrottle/],
    [{ store: {} as never }, /store\.reserve/],
  ];
  it.each(bad)("rejects %j", (options, field) => {
    expect(() => new CostGuard(options)).toThrow(ConfigError);
    expect(() => new CostGuard(options)).toThrow(field);
  });

  it("accepts Infinity as no limit and defaults to the documented values", () => {
    const guard = new CostGuard({ perTaskLimitUsd: Number.POSITIVE_INFINITY, clock: new ManualClock() });
    expect(guard.agentStatus("a").limits).toEqual({
      dailyLimitUsd: 100,
      perTaskLimitUsd: null,
      dailyTokenLimit: null,
      perTaskTokenLimit: null,
    });
    expect(guard.snapshot().org.monthlyBudgetUsd).toBe(5000);
  });
});

describe("CostGuard status", () => {
  it("produces JSON without losing information", () => {
    const { guard } = setup({ perAgentDailyLimitUsd: 10, perTaskLimitUsd: 10 });
    guard.recordCost({ agentId: "a", costUsd: 9 });
    guard.reserve({ agentId: "b", taskId: "t", estimatedCostUsd: 0.5 });
    const snapshot = guard.snapshot();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    expect(snapshot.agents.map((agent) => agent.agentId)).toEqual(["a", "b"]);
    expect(snapshot.agents[0]).toMatchObject({ utilization: 0.9, throttled: true, action: "THROTTLE" });
    expect(snapshot.agents[0]?.recentAlerts.map((alert: BudgetAlert) => alert.action)).toEqual([
      "ALERT",
      "ALERT",
      "THROTTLE",
      "ALERT",
    ]);
    expect(
      snapshot.agents[0]?.recentAlerts.map((alert: BudgetAlert) =>
        alert.type === "budget" ? alert.threshold : 0,
      ),
    ).toEqual([0.5, 0.75, 0.85, 0.9]);
    expect(snapshot.agents[1]).toMatchObject({ reservedTodayUsd: 0.5 });
  });

  it("describes an agent it has never seen without remembering it", () => {
    const { guard } = setup();
    expect(guard.agentStatus("ghost")).toMatchObject({ spentTodayUsd: 0, killed: false, action: "ALLOW" });
    expect(guard.snapshot().agents).toEqual([]);
  });
});

describe("CostGuard hot path", () => {
  // Its speed is measured in bench/core.mjs; unit tests never assert wall-clock time.
  it("reserve + commit pairs keep exact totals over many iterations", () => {
    const { guard } = setup({
      perTaskLimitUsd: Number.POSITIVE_INFINITY,
      perAgentDailyLimitUsd: Number.POSITIVE_INFINITY,
      orgMonthlyBudgetUsd: Number.POSITIVE_INFINITY,
    });
    const run = (count: number) => {
      for (let i = 0; i < count; i++) guard.reserve({ agentId: "a", estimatedCostUsd: 0.01 }).commit(0.005);
    };
    run(20_000);
    run(200_000);
    expect(guard.agentStatus("a").spentTodayUsd).toBeCloseTo(220_000 * 0.005, 6);
  });
});
