import { ConfigError } from "../errors.js";
import { requireRatio } from "../validate.js";

/** `blastRadius` of an experiment: a share of calls, or shares of calls and agents (each in [0, 1]). */
export function resolveBlastRadius(value: unknown): { calls: number; agents: number } {
  if (typeof value === "number") return { calls: requireRatio(value, "blastRadius"), agents: 1 };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError("blastRadius", value, "a share of calls in [0, 1] or { calls?, agents? }");
  }
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (key !== "calls" && key !== "agents") {
      throw new ConfigError(`blastRadius.${key}`, raw[key], 'no other keys than "calls" and "agents"');
    }
  }
  return {
    calls: raw.calls === undefined ? 1 : requireRatio(raw.calls, "blastRadius.calls"),
    agents: raw.agents === undefined ? 1 : requireRatio(raw.agents, "blastRadius.agents"),
  };
}
