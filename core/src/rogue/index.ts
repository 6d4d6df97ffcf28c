export {
  type ChainVerification,
  computeAssessmentHash,
  type ExportedAssessmentLog,
  GENESIS_HASH,
  type RogueAssessment,
  type RogueAssessmentDetails,
  type RogueSignalScores,
  verifyAssessmentLog,
} from "./assessment-log.js";
export { canonicalJson } from "./canonical-json.js";
export type { CapabilityDecision, CapabilityProfile } from "./capability.js";
export {
  type RogueActionRecord,
  RogueAgentDetector,
  type RogueAgentSnapshot,
  type RogueDetectorSnapshot,
} from "./detector.js";
export { fingerprintToolCall } from "./fingerprint.js";
export {
  DEFAULT_SIGNAL_WEIGHTS,
  type ResolvedRogueDetectorOptions,
  type RogueDetectorOptions,
  type RogueSignalWeights,
} from "./options.js";
export {
  compareRisk,
  DEFAULT_RISK_THRESHOLDS,
  maxRisk,
  RISK_LEVELS,
  type RiskLevel,
  type RiskThresholds,
  riskAtLeast,
  riskLevelForScore,
  riskRank,
} from "./risk.js";
export { sha256Hex } from "./sha256.js";
