import type { DeliveryStatus } from "../delivery/delivery.js";
import type { RiskLevel } from "../rogue/index.js";
import type { TrackedEntries } from "./generations.js";

/** What `AgentSRE.status()` reports: one snapshot of the engine, JSON-serializable. */
export interface AgentStatus {
  breaker: string;
  quarantined: { reason: string; at: number } | null;
  riskLevel: RiskLevel;
  calls: number;
  refused: number;
  failed: number;
  unpricedTokens: number;
  /** Budget reservations held by calls in flight (or leaked: never committed or released). */
  openReservations: number;
  budget: Record<string, unknown>;
}

export interface AgentSREStatus {
  at: number;
  budgetEnforced: boolean;
  agents: Record<string, AgentStatus>;
  breakers: Record<string, unknown>;
  openCircuits: string[];
  budget: Record<string, unknown>;
  slos: unknown[];
  chaos: Array<Record<string, unknown>>;
  deploymentsFrozen: boolean;
  freezeReasons: string[];
  /** Entries in the engine's bounded per-agent / per-target tables (see the `memory` option). */
  tracked?: TrackedEntries;
  /** Rollouts (split, calls per variant, decisions) and downgrades, when a `Delivery` is attached. */
  delivery?: DeliveryStatus;
}
