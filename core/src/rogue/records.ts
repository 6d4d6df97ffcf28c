import type { RogueSignalScores } from "./assessment-log.js";
import type { ResolvedRogueDetectorOptions } from "./options.js";
import type { RiskLevel } from "./risk.js";

/** One thing an agent did, as reported after the fact (executed or refused). */
export interface RogueActionRecord {
  agentId: string;
  /**
   * A label whose distribution describes the agent's behaviour; entropy is computed over it. Use the tool
   * name for tool calls, `model:<id>` for model calls, and `refused:<code>` for refused calls (e.g.
   * `refused:LOOP_DETECTED`, which also counts as a detected loop, and `refused:TOOL_NOT_ALLOWED`, which
   * also counts as a capability violation).
   */
  action: string;
  /** The tool called, if any: checked against the capability profile and fingerprinted for loops. */
  toolName?: string;
  /** The tool's arguments (fingerprinted with sorted keys; deep-equal arguments match). */
  input?: unknown;
  /** When it happened (ms); defaults to the clock. Times earlier than the agent's last action count as that. */
  timestamp?: number;
  /**
   * The call failed (threw, timed out). It still counts for frequency, entropy and capability, but not as a
   * repeat for loop detection: a retry of a failed call with the same arguments is recovery, not a loop.
   */
  failed?: boolean;
  /**
   * The task (run, thread) the call belongs to: loops are counted within one task, so the same call in
   * the agent's separate tasks (a polling tool, a per-request lookup) is not a loop. Without it, identical
   * calls within `loopWindowMs` count.
   */
  taskId?: string;
}

/** JSON view of the detector (see `snapshot()`). */
export interface RogueDetectorSnapshot {
  at: number;
  options: ResolvedRogueDetectorOptions;
  agents: Record<string, RogueAgentSnapshot>;
  profiles: Record<string, { allowedTools: string[] | null; deniedTools: string[] }>;
  assessmentLog: { length: number; totalAppended: number; anchorHash: string; headHash: string };
}

export interface RogueAgentSnapshot {
  /** The level computed now. */
  riskLevel: RiskLevel;
  /** The level last written to the assessment log for this agent. */
  loggedRiskLevel: RiskLevel;
  compositeScore: number;
  scores: RogueSignalScores;
  lastActionAt: number;
  /** Sizes of the bounded per-agent structures (they never exceed their configured capacities). */
  sizes: {
    frequencyWindows: number;
    windowActions: number;
    distinctActions: number;
    loopFingerprints: number;
  };
}
