import { entropyScore } from "./action-window.js";
import type { AgentSignals } from "./agent-signals.js";
import type { RogueAssessmentDetails, RogueSignalScores } from "./assessment-log.js";
import { frequencyScore } from "./frequency.js";
import type { ResolvedRogueDetectorOptions } from "./options.js";

// What an assessment says (its scores, details and reasons), out of detector.ts: only a logged entry, a
// snapshot or `assess()` needs it.

/** Every signal's score, the composite (summed as `#compositeScoreAt` does: bit-identical) and the details. */
export function measureSignals(
  options: ResolvedRogueDetectorOptions,
  maxEntropyBits: number,
  state: AgentSignals,
  nowMs: number,
): { scores: RogueSignalScores; compositeScore: number; details: RogueAssessmentDetails } {
  const weights = options.weights;
  state.advanceWindowTo(nowMs);
  const zScore = state.frequencyZScore(options.frequencyMinWindows);
  const entropyBits = state.windowActions >= options.entropyMinActions ? state.entropyBits : undefined;
  const loopActive = nowMs - state.loopDetectedAtMs < options.loopWindowMs;
  const scores: RogueSignalScores = {
    frequency: frequencyScore(zScore, options.frequencyZThreshold),
    entropy:
      entropyBits === undefined
        ? 0
        : entropyScore(entropyBits, options.entropyLowBits, options.entropyHighBits, maxEntropyBits),
    capability: state.violationCount > 0 ? 1 : 0,
    loop: loopActive ? 1 : 0,
  };
  // Summed in the same order as #compositeScore so both give bit-identical results.
  let compositeScore = weights.frequency * scores.frequency;
  if (entropyBits !== undefined) compositeScore += weights.entropy * scores.entropy;
  if (scores.capability > 0) compositeScore += weights.capability;
  if (loopActive) compositeScore += weights.loop;
  const details: RogueAssessmentDetails = {
    frequencyZScore: zScore ?? null,
    currentWindowActions: state.currentWindowActions,
    meanWindowActions: state.meanWindowActions,
    completedWindows: state.completedWindows,
    entropyBits: entropyBits ?? null,
    windowActions: state.windowActions,
    capabilityViolations: state.violationCount,
    lastViolation:
      state.violationCount > 0
        ? { toolName: state.lastViolationTool, decision: state.lastViolationDecision }
        : null,
    loopToolName: loopActive ? state.loopToolName : null,
    loopRepeats: loopActive ? state.loopRepeats : 0,
  };
  return { scores, compositeScore, details };
}

/** An assessment's reasons, one sentence per signal that scores. */
export function assessmentReasons(
  options: ResolvedRogueDetectorOptions,
  scores: RogueSignalScores,
  details: RogueAssessmentDetails,
): string[] {
  const weights = options.weights;
  const reasons: string[] = [];
  if (scores.frequency > 0 && weights.frequency > 0) {
    reasons.push(
      `tool-call burst: ${details.currentWindowActions} actions in the current ${options.frequencyWindowMs} ms window, ` +
        `z = ${(details.frequencyZScore as number).toFixed(2)} over threshold ${options.frequencyZThreshold} ` +
        `(baseline mean ${details.meanWindowActions.toFixed(2)} over ${details.completedWindows} windows)`,
    );
  }
  if (scores.entropy > 0 && weights.entropy > 0) {
    const bits = details.entropyBits as number;
    reasons.push(
      bits < options.entropyLowBits
        ? `repetitive actions: entropy ${bits.toFixed(3)} bits over the last ${details.windowActions} actions is below ${options.entropyLowBits} bits`
        : `erratic actions: entropy ${bits.toFixed(3)} bits over the last ${details.windowActions} actions is above ${options.entropyHighBits} bits`,
    );
  }
  if (scores.capability > 0 && weights.capability > 0 && details.lastViolation !== null) {
    const { toolName, decision } = details.lastViolation;
    reasons.push(
      `capability violation: ${details.capabilityViolations} of the last ${details.windowActions} actions used tools outside the profile ` +
        `(latest "${toolName}", ${decision === "denied" ? "on the deny list" : "not on the allow list"})`,
    );
  }
  if (scores.loop > 0 && weights.loop > 0) {
    reasons.push(
      `tool-call loop: "${details.loopToolName}" called ${details.loopRepeats} times with identical arguments within ${options.loopWindowMs} ms`,
    );
  }
  return reasons;
}
