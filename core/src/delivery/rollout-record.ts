import type { RolloutState, RolloutTransitionEvent } from "../events.js";
import type { StateValue } from "../store/state-store.js";
import type { ResolvedRolloutOptions } from "./config.js";

/** The state-store kind rollouts are kept under (id = the rollout id). */
export const ROLLOUT_STATE_KIND = "rollout";

/** Decisions kept per rollout (status and the store): the latest ones. */
export const MAX_DECISIONS = 32;

/** What survives a restart: where the rollout is, its assignment seed, and the decisions taken. */
export interface RolloutRecord {
  version: 1;
  baseline: string;
  candidate: string;
  strategy: "canary" | "blueGreen";
  steps: number;
  seed: number | string;
  state: RolloutState;
  stepIndex: number;
  stepStartedAt: number | null;
  decisions: RolloutTransitionEvent[];
}

const STATES: readonly RolloutState[] = [
  "pending",
  "progressing",
  "paused",
  "completed",
  "rolled_back",
  "aborted",
];

/**
 * A saved record that belongs to this rollout's configuration, or undefined. A record saved for other
 * variants or another number of steps is a different rollout under the same id: it is not restored (the
 * next transition replaces it).
 */
export function readRecord(
  value: StateValue | undefined,
  o: ResolvedRolloutOptions,
): RolloutRecord | undefined {
  if (value === undefined) return undefined;
  const r = value as Partial<RolloutRecord>;
  if (
    r.version !== 1 ||
    r.baseline !== o.baseline.id ||
    r.candidate !== o.candidate.id ||
    r.strategy !== o.strategyType ||
    r.steps !== o.steps.length ||
    !STATES.includes(r.state as RolloutState) ||
    !Number.isInteger(r.stepIndex) ||
    (r.stepIndex as number) < 0 ||
    (r.stepIndex as number) >= o.steps.length ||
    (typeof r.seed !== "string" && typeof r.seed !== "number")
  ) {
    return undefined;
  }
  return {
    version: 1,
    baseline: r.baseline,
    candidate: r.candidate,
    strategy: r.strategy,
    steps: r.steps,
    seed: r.seed,
    state: r.state as RolloutState,
    stepIndex: r.stepIndex as number,
    stepStartedAt: typeof r.stepStartedAt === "number" ? r.stepStartedAt : null,
    decisions: Array.isArray(r.decisions) ? r.decisions.slice(-MAX_DECISIONS) : [],
  };
}
