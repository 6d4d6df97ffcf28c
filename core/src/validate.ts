import { ConfigError } from "./errors.js";

/** Small validators that throw a `ConfigError` naming the field and the value. */

export function requireFiniteNonNegative(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new ConfigError(field, value, "a finite number >= 0");
  }
  return value;
}

export function requirePositive(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(field, value, "a finite number > 0");
  }
  return value;
}

export function requirePositiveInteger(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new ConfigError(field, value, "an integer > 0");
  }
  return value;
}

export function requireNonNegativeInteger(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new ConfigError(field, value, "an integer >= 0");
  }
  return value;
}

/** A ratio in [0, 1] (or (0, 1] with `exclusiveZero`). */
export function requireRatio(
  value: unknown,
  field: string,
  options: { exclusiveZero?: boolean } = {},
): number {
  if (
    typeof value !== "number" ||
    !Number.isFinite(value) ||
    value < 0 ||
    value > 1 ||
    (options.exclusiveZero && value === 0)
  ) {
    throw new ConfigError(field, value, options.exclusiveZero ? "a number in (0, 1]" : "a number in [0, 1]");
  }
  return value;
}

export function requireOneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(field, value, `one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}`);
  }
  return value as T;
}

export function requireNonEmptyString(value: unknown, field: string): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new ConfigError(field, value, "a non-empty string");
  }
  return value;
}

export function requireFunction<T extends Function>(value: unknown, field: string): T {
  if (typeof value !== "function") throw new ConfigError(field, value, "a function");
  return value as T;
}
