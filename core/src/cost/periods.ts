import { ConfigError } from "../errors.js";

/** A calendar period [startMs, endMs). */
export interface PeriodBounds {
  readonly startMs: number;
  readonly endMs: number;
}

const HOUR_MS = 3_600_000;

/**
 * Calendar days and months in one IANA time zone. Bounds are computed with `Intl` only when a period ends
 * (once a day), never per call: `current(nowMs)` is a comparison while `nowMs` stays inside the cached day.
 * Days are real local days (23 or 25 hours across a DST change). Periods only move forward: if the clock
 * steps back, the current period is kept rather than reopening one that was already closed.
 */
export class CalendarPeriods {
  readonly timeZone: string;
  readonly #format: Intl.DateTimeFormat | undefined;
  #day: PeriodBounds;
  #month: PeriodBounds;

  constructor(timeZone: string, nowMs: number) {
    if (typeof timeZone !== "string" || timeZone === "") {
      throw new ConfigError("timeZone", timeZone, 'an IANA time zone such as "UTC" or "America/New_York"');
    }
    this.timeZone = timeZone;
    if (timeZone.toUpperCase() === "UTC") {
      this.#format = undefined;
    } else {
      try {
        this.#format = new Intl.DateTimeFormat("en-US-u-ca-gregory-nu-latn", {
          timeZone,
          year: "numeric",
          month: "numeric",
          day: "numeric",
          hour: "numeric",
          minute: "numeric",
          second: "numeric",
          hourCycle: "h23",
        });
      } catch {
        throw new ConfigError("timeZone", timeZone, 'an IANA time zone such as "UTC" or "America/New_York"');
      }
    }
    this.#day = this.#dayAt(nowMs);
    this.#month = this.#monthAt(nowMs);
  }

  /** The current day; recomputed only when `nowMs` has reached the cached day's end. */
  day(nowMs: number): PeriodBounds {
    if (nowMs >= this.#day.endMs) this.#day = this.#dayAt(nowMs);
    return this.#day;
  }

  /** The current month; recomputed only when `nowMs` has reached the cached month's end. */
  month(nowMs: number): PeriodBounds {
    if (nowMs >= this.#month.endMs) this.#month = this.#monthAt(nowMs);
    return this.#month;
  }

  #dayAt(nowMs: number): PeriodBounds {
    const [year, month, day] = this.#localDate(nowMs);
    return { startMs: this.#startOf(year, month, day), endMs: this.#startOf(year, month, day + 1) };
  }

  #monthAt(nowMs: number): PeriodBounds {
    const [year, month] = this.#localDate(nowMs);
    return { startMs: this.#startOf(year, month, 1), endMs: this.#startOf(year, month + 1, 1) };
  }

  /** Local calendar date at an instant: [year, month 1-12, day]. */
  #localDate(ms: number): [number, number, number] {
    const parts = this.#localParts(ms) as [number, number, number];
    return [parts[0], parts[1], parts[2]];
  }

  /** Local wall clock at an instant: [year, month, day, hour, minute, second]. */
  #localParts(ms: number): number[] {
    if (this.#format === undefined) {
      const date = new Date(ms);
      return [
        date.getUTCFullYear(),
        date.getUTCMonth() + 1,
        date.getUTCDate(),
        date.getUTCHours(),
        date.getUTCMinutes(),
        date.getUTCSeconds(),
      ];
    }
    const values = [0, 0, 0, 0, 0, 0];
    for (const part of this.#format.formatToParts(ms)) {
      const slot = PART_SLOTS[part.type];
      if (slot !== undefined) values[slot] = Number(part.value);
    }
    return values;
  }

  /** Offset of local wall time from UTC at an instant, in ms (whole seconds). */
  #offsetAt(ms: number): number {
    const [y, mo, d, h, mi, s] = this.#localParts(ms) as [number, number, number, number, number, number];
    return Date.UTC(y, mo - 1, d, h, mi, s) - (ms - (((ms % 1000) + 1000) % 1000));
  }

  /** Code of the local date at an instant, comparable as a number (yyyymmdd). */
  #dateCode(ms: number): number {
    const [y, m, d] = this.#localDate(ms);
    return y * 10_000 + m * 100 + d;
  }

  /**
   * The first instant of a local calendar date (month and day may overflow: day 32 is the next month's 1st).
   * Usually local midnight found from the zone offset; when a DST change skips midnight the day starts at
   * the change, found by bisection.
   */
  #startOf(year: number, month: number, day: number): number {
    const utcMidnight = Date.UTC(year, month - 1, day);
    if (this.#format === undefined) return utcMidnight;
    const normalized = new Date(utcMidnight);
    const target =
      normalized.getUTCFullYear() * 10_000 + (normalized.getUTCMonth() + 1) * 100 + normalized.getUTCDate();
    const firstGuess = utcMidnight - this.#offsetAt(utcMidnight);
    const guess = utcMidnight - this.#offsetAt(firstGuess);
    if (this.#dateCode(guess) >= target && this.#dateCode(guess - 1) < target) return guess;
    // Local midnight of any zone (offsets -12 h .. +14 h) lies in (utcMidnight - 15 h, utcMidnight + 13 h].
    let low = utcMidnight - 15 * HOUR_MS;
    let high = utcMidnight + 13 * HOUR_MS;
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (this.#dateCode(middle) >= target) high = middle;
      else low = middle;
    }
    return high;
  }
}

const PART_SLOTS: Partial<Record<Intl.DateTimeFormatPartTypes, number>> = {
  year: 0,
  month: 1,
  day: 2,
  hour: 3,
  minute: 4,
  second: 5,
};
