import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { CalendarPeriods } from "./periods.js";

const HOUR = 3_600_000;

function localDate(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(ms);
}

describe("CalendarPeriods", () => {
  it("uses UTC calendar days and months", () => {
    const now = Date.UTC(2026, 0, 31, 15, 30);
    const periods = new CalendarPeriods("UTC", now);
    expect(periods.day(now)).toEqual({ startMs: Date.UTC(2026, 0, 31), endMs: Date.UTC(2026, 1, 1) });
    expect(periods.month(now)).toEqual({ startMs: Date.UTC(2026, 0, 1), endMs: Date.UTC(2026, 1, 1) });
    expect(periods.month(Date.UTC(2026, 1, 1))).toEqual({
      startMs: Date.UTC(2026, 1, 1),
      endMs: Date.UTC(2026, 2, 1),
    });
    expect(periods.month(Date.UTC(2026, 11, 31, 23))).toEqual({
      startMs: Date.UTC(2026, 11, 1),
      endMs: Date.UTC(2027, 0, 1),
    });
  });

  it("uses local midnights in another time zone", () => {
    const now = Date.UTC(2026, 0, 15, 3); // 22:00 on Jan 14 in New York
    const periods = new CalendarPeriods("America/New_York", now);
    expect(periods.day(now)).toEqual({ startMs: Date.UTC(2026, 0, 14, 5), endMs: Date.UTC(2026, 0, 15, 5) });
    expect(periods.month(now)).toEqual({ startMs: Date.UTC(2026, 0, 1, 5), endMs: Date.UTC(2026, 1, 1, 5) });
  });

  it("has 23- and 25-hour days across DST changes", () => {
    const spring = Date.UTC(2026, 2, 8, 12); // US DST starts 2026-03-08
    const fall = Date.UTC(2026, 10, 1, 12); // and ends 2026-11-01
    const periods = new CalendarPeriods("America/New_York", spring);
    const springDay = periods.day(spring);
    expect(springDay).toEqual({ startMs: Date.UTC(2026, 2, 8, 5), endMs: Date.UTC(2026, 2, 9, 4) });
    expect(springDay.endMs - springDay.startMs).toBe(23 * HOUR);
    const fallDay = periods.day(fall);
    expect(fallDay.endMs - fallDay.startMs).toBe(25 * HOUR);
  });

  it("starts the day at the DST change when midnight does not exist (America/Santiago)", () => {
    // Chile moves clocks from 24:00 to 01:00 on 2024-09-08: that day starts at 01:00 local (04:00Z).
    const now = Date.UTC(2024, 8, 8, 12);
    const day = new CalendarPeriods("America/Santiago", now).day(now);
    expect(localDate(day.startMs, "America/Santiago")).toBe("2024-09-08");
    expect(localDate(day.startMs - 1, "America/Santiago")).toBe("2024-09-07");
    expect(day.startMs).toBe(Date.UTC(2024, 8, 8, 4));
  });

  it("recomputes only when a period ends, and never moves back", () => {
    const start = Date.UTC(2026, 0, 1, 10);
    const periods = new CalendarPeriods("Europe/Berlin", start);
    const first = periods.day(start);
    expect(periods.day(start + HOUR)).toBe(first);
    const next = periods.day(first.endMs);
    expect(next.startMs).toBe(first.endMs);
    expect(periods.day(first.endMs - 1)).toBe(next);
  });

  it("gives each instant the local day that contains it, in many zones", () => {
    const zones = [
      "Asia/Kolkata",
      "Pacific/Chatham",
      "Pacific/Kiritimati",
      "America/St_Johns",
      "Australia/Lord_Howe",
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2035, 0, 1) }),
        (zone, now) => {
          const periods = new CalendarPeriods(zone, now);
          const day = periods.day(now);
          expect(day.startMs).toBeLessThanOrEqual(now);
          expect(now).toBeLessThan(day.endMs);
          expect(localDate(day.startMs, zone)).toBe(localDate(now, zone));
          expect(localDate(day.startMs - 1, zone)).not.toBe(localDate(now, zone));
          expect(localDate(day.endMs, zone)).not.toBe(localDate(now, zone));
          const month = periods.month(now);
          expect(localDate(month.startMs, zone).slice(0, 7)).toBe(localDate(now, zone).slice(0, 7));
          expect(localDate(month.startMs, zone).slice(8)).toBe("01");
          expect(localDate(month.startMs - 1, zone).slice(0, 7)).not.toBe(localDate(now, zone).slice(0, 7));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("rejects unknown time zones with a ConfigError", () => {
    expect(() => new CalendarPeriods("Mars/Olympus", 0)).toThrow(ConfigError);
    expect(() => new CalendarPeriods("Mars/Olympus", 0)).toThrow(/timeZone/);
    expect(() => new CalendarPeriods("", 0)).toThrow(/timeZone/);
  });
});
