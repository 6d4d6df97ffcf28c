import { ConfigError } from "./errors.js";

/** A duration: milliseconds as a number, or a string such as `"250ms"`, `"30s"`, `"5m"`, `"24h"`, `"30d"`, `"1w"`. */
export type Duration = number | `${number}${"ms" | "s" | "m" | "h" | "d" | "w"}` | string;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const DURATION_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/;

/**
 * Parses a duration into milliseconds. `field` names the config field in the error message.
 * Rejects negative, NaN and infinite numbers and malformed strings; `allowZero` controls whether 0 is valid.
 */
export function parseDuration(value: Duration, field: string, options: { allowZero?: boolean } = {}): number {
  let ms: number;
  if (typeof value === "number") {
    ms = value;
  } else if (typeof value === "string") {
    const match = DURATION_PATTERN.exec(value);
    if (!match) {
      throw new ConfigError(field, value, 'a duration such as 1500, "30s", "5m", "24h" or "30d"');
    }
    ms = Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  } else {
    throw new ConfigError(field, value, 'a duration in ms or a string such as "30s"');
  }
  if (!Number.isFinite(ms) || ms < 0 || (ms === 0 && !options.allowZero)) {
    throw new ConfigError(field, value, options.allowZero ? "a duration >= 0" : "a duration > 0");
  }
  return ms;
}
