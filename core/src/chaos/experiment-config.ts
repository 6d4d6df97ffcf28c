import { ConfigError } from "../errors.js";
import { type Fault, validateFault } from "./faults.js";
import { toSeed } from "./rng.js";
import { compileTarget, type TargetMatcher } from "./target.js";

/** An experiment's faults, validated: ids unique within it, each with its compiled target. */
export interface ResolvedFaults {
  readonly faults: readonly Fault[];
  readonly indexById: Map<string, number>;
  readonly matchers: TargetMatcher[];
}

export function resolveFaults(faults: unknown): ResolvedFaults {
  if (!Array.isArray(faults)) throw new ConfigError("faults", faults, "an array of faults");
  const resolved = Object.freeze(faults.map((fault, i) => validateFault(fault, `faults[${i}]`)));
  const indexById = new Map<string, number>();
  resolved.forEach((fault, i) => {
    if (indexById.has(fault.id)) {
      throw new ConfigError(`faults[${i}].id`, fault.id, "an id unique within the experiment (set `id`)");
    }
    indexById.set(fault.id, i);
  });
  const matchers = resolved.map((fault, i) => compileTarget(fault.target, `faults[${i}].target`));
  return { faults: resolved, indexById, matchers };
}

/** An explicit seed: an integer or a string (hashed); `undefined` when none was given. */
export function resolveSeed(seed: unknown): number | undefined {
  if (seed === undefined) return undefined;
  if (!(typeof seed === "string" || (typeof seed === "number" && Number.isInteger(seed)))) {
    throw new ConfigError("seed", seed, "an integer or a string");
  }
  return toSeed(seed);
}
