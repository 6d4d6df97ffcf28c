import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { AgentSRE } from "../engine/agent-sre.js";
import { ChaosExperiment } from "./experiment.js";
import { errorInjection } from "./faults.js";
import { type ChaosSchedule, ChaosScheduler, MemoryChaosRunStore } from "./scheduler.js";

const HOUR = 3_600_000;

function setup(schedules: Array<Partial<ChaosSchedule> & { cron: string }>, at: string, extra = {}) {
  const clock = new ManualClock(Date.parse(at));
  const sre = new AgentSRE({ clock });
  const scheduler = new ChaosScheduler(sre, {
    schedules: schedules.map((s, i) => ({
      name: s.name ?? `s${i}`,
      experiment: () =>
        new ChaosExperiment({
          name: s.name ?? `s${i}`,
          targetAgent: "agent-a",
          durationMs: 30 * 60_000,
          faults: [errorInjection("tool:*", { rate: 1 })],
        }),
      ...s,
    })),
    checkIntervalMs: 60_000,
    ...extra,
  });
  return { clock, sre, scheduler };
}

async function startTimes(scheduler: ChaosScheduler): Promise<string[]> {
  return (await scheduler.history())
    .filter((r) => r.startedAt !== null)
    .map((r) => new Date(r.startedAt as number).toISOString())
    .reverse();
}

describe("ChaosScheduler", () => {
  it("fires in the schedule's time zone across both DST changes", async () => {
    // Weekdays 09:00 Berlin: 08:00 UTC in winter, 07:00 UTC in summer (DST began 2026-03-29).
    const { clock, scheduler } = setup(
      [{ name: "weekday", cron: "0 9 * * 1-5", timezone: "Europe/Berlin" }],
      "2026-03-26T12:00:00Z",
    );
    await scheduler.start();
    clock.advance(5 * 24 * HOUR);
    expect(await startTimes(scheduler)).toEqual([
      "2026-03-27T08:00:00.000Z",
      "2026-03-30T07:00:00.000Z",
      "2026-03-31T07:00:00.000Z",
    ]);
    scheduler.stop();
  });

  it("runs a 02:30 job once on the day 02:30 happens twice and at 03:00 on the day it does not exist", async () => {
    const fall = setup([{ cron: "30 2 * * *", timezone: "Europe/Berlin" }], "2026-10-24T12:00:00Z");
    await fall.scheduler.start();
    fall.clock.advance(2 * 24 * HOUR);
    expect(await startTimes(fall.scheduler)).toEqual([
      "2026-10-25T00:30:00.000Z",
      "2026-10-26T01:30:00.000Z",
    ]);
    fall.scheduler.stop();
    const spring = setup([{ cron: "30 2 * * *", timezone: "Europe/Berlin" }], "2026-03-28T12:00:00Z");
    await spring.scheduler.start();
    spring.clock.advance(24 * HOUR);
    expect(await startTimes(spring.scheduler)).toEqual(["2026-03-29T01:00:00.000Z"]);
    spring.scheduler.stop();
  });

  it("stops a run when a blackout begins and starts none inside one", async () => {
    const { clock, sre, scheduler } = setup(
      [{ name: "hourly", cron: "50 * * * *" }],
      "2026-06-01T06:00:00Z",
      {
        blackouts: [
          { name: "office hours", cron: "0 9 * * 1-5", durationMs: "2h", timezone: "Europe/Berlin" },
        ],
      },
    );
    await scheduler.start();
    // 06:50 UTC starts (08:50 Berlin); the 07:00 UTC (09:00 Berlin) blackout stops it at the next check.
    clock.advance(HOUR);
    const [run] = await scheduler.history({ limit: 1 });
    expect(run).toMatchObject({ outcome: "aborted", reason: "blackout window office hours" });
    expect(run?.endedAt).toBe(Date.parse("2026-06-01T07:00:00Z"));
    expect(sre.chaos.active()).toHaveLength(0);
    // 07:50 and 08:50 UTC fall inside the blackout: skipped; 09:50 UTC (11:50 Berlin) runs.
    clock.advance(3 * HOUR);
    const all = await scheduler.history();
    expect(
      all.map((r) => [new Date(r.scheduledAt).toISOString().slice(11, 16), r.outcome]).reverse(),
    ).toEqual([
      ["06:50", "aborted"],
      ["07:50", "skipped"],
      ["08:50", "skipped"],
      ["09:50", "running"],
    ]);
    expect(all.find((r) => r.outcome === "skipped")?.reason).toBe("blackout window office hours");
    scheduler.stop();
  });

  it("honours one-off blackouts, frozen deployments, bad SLOs and killed or quarantined targets", async () => {
    const { clock, sre, scheduler } = setup([{ name: "s", cron: "0 * * * *" }], "2026-06-01T00:30:00Z", {
      blackouts: [{ from: "2026-06-01T00:45:00Z", to: "2026-06-01T01:15:00Z" }],
    });
    await scheduler.start();
    clock.advance(HOUR); // 01:00 inside the one-off window
    sre.freezeDeployments("release", "release week");
    clock.advance(HOUR); // 02:00 frozen
    sre.unfreezeDeployments("release");
    sre.quarantine("agent-a", "test");
    clock.advance(HOUR); // 03:00 quarantined
    const reasons = (await scheduler.history()).map((r) => r.reason).reverse();
    expect(reasons).toEqual([
      "blackout window 2026-06-01T00:45:00.000Z–2026-06-01T01:15:00.000Z",
      "deployments are frozen",
      'target agent "agent-a" is quarantined',
    ]);
    scheduler.stop();
  });

  it("never overlaps runs of one schedule", async () => {
    const { clock, scheduler } = setup([{ name: "fast", cron: "*/10 * * * *" }], "2026-06-01T00:05:00Z");
    await scheduler.start();
    clock.advance(40 * 60_000); // fires at :10 (30 min run), :20 and :30 overlap, :40 after it ended
    const rows = (await scheduler.history()).reverse().map((r) => [r.outcome, r.reason]);
    expect(rows).toEqual([
      ["completed", null],
      ["skipped", "the previous run (fast@2026-06-01T00:10:00.000Z) is still running"],
      ["skipped", "the previous run (fast@2026-06-01T00:10:00.000Z) is still running"],
      ["running", null],
    ]);
    scheduler.stop();
  });

  it("does not run a schedule missed during downtime late, unless told to", async () => {
    const store = new MemoryChaosRunStore();
    const daily = { name: "daily", cron: "0 3 * * *" };
    const first = setup([daily], "2026-06-01T02:00:00Z", { store });
    await first.scheduler.start();
    first.clock.advance(2 * HOUR); // 03:00 runs
    first.scheduler.stop("process exit");
    expect((await store.list()).length).toBe(1);
    // Down for three days; back at 05:00, two hours after the 03:00 run was due.
    const plain = setup([daily], "2026-06-04T05:00:00Z", { store });
    await plain.scheduler.start();
    expect((await store.list()).length).toBe(1);
    plain.scheduler.stop();
    const late = setup([{ ...daily, catchUpWithinMs: "6h" }], "2026-06-04T05:00:00Z", { store });
    await late.scheduler.start();
    const [caughtUp] = await store.list({ limit: 1 });
    expect(caughtUp).toMatchObject({ scheduledAt: Date.parse("2026-06-04T03:00:00Z"), outcome: "running" });
    expect(caughtUp?.startedAt).toBe(Date.parse("2026-06-04T05:00:00Z"));
    late.scheduler.stop();
    // Too long ago for the grace: skipped.
    const stale = setup([{ ...daily, catchUpWithinMs: "1h" }], "2026-06-05T05:00:00Z", { store });
    await stale.scheduler.start();
    expect((await store.list({ limit: 1 }))[0]?.scheduledAt).toBe(Date.parse("2026-06-04T03:00:00Z"));
    stale.scheduler.stop();
  });

  it("runs by hand, lists schedules, and rejects bad expressions and time zones by path", async () => {
    const { scheduler } = setup(
      [{ name: "weekly", cron: "0 10 * * 2", timezone: "Europe/Berlin" }],
      "2026-06-01T00:00:00Z",
    );
    expect(scheduler.list()).toEqual([
      {
        name: "weekly",
        cron: "0 10 * * 2",
        timezone: "Europe/Berlin",
        enabled: true,
        next: Date.parse("2026-06-02T08:00:00Z"),
        running: false,
      },
    ]);
    expect(scheduler.run("weekly")).toMatchObject({ outcome: "running", manual: true });
    expect(() => scheduler.run("nope")).toThrow(/schedule/);
    expect(() => setup([{ cron: "61 * * * *" }], "2026-06-01T00:00:00Z")).toThrow(
      /chaos.schedules\[0\].cron/,
    );
    expect(() => setup([{ cron: "0 * * * *", timezone: "Mars/Base" }], "2026-06-01T00:00:00Z")).toThrow(
      /chaos.schedules\[0\].timezone/,
    );
  });
});
