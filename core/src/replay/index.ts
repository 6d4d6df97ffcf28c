export {
  type DecisionReplay,
  type DecisionReplayOptions,
  replayDecisions,
  reviveError,
} from "./decisions.js";
export {
  type CompareOptions,
  DEFAULT_TRACE_IGNORE,
  diffJson,
  diffTraces,
  formatDifferences,
  formatPath,
  formatTraceDiff,
  type JsonDifference,
  type NumericTolerance,
  type StepDiff,
  type StepStatus,
  showValue,
  type TraceDiff,
} from "./diff.js";
export {
  describeCall,
  formatTrace,
  parseTrace,
  TRACE_FORMAT,
  TRACE_FORMAT_VERSION,
  type Trace,
  type TraceCall,
  type TraceChaos,
  type TraceDecision,
  type TraceEnd,
  type TraceError,
  TraceFormatError,
  type TraceHeader,
  type TraceLine,
  type TraceTruncation,
} from "./format.js";
export {
  type CaptureInfo,
  type RecordedRun,
  Recorder,
  type RecorderOptions,
  type Sampling,
  type TraceSink,
} from "./recorder.js";
export { REDACTED, type RedactOptions, Redactor } from "./redact.js";
export { sanitize, TRUNCATED_MARK } from "./sanitize.js";
export {
  type Divergence,
  type DivergenceReason,
  formatReplayReport,
  type LiveCall,
  ReplayDivergenceError,
  type ReplayedCall,
  type ReplayOptions,
  type ReplayReport,
  ReplaySession,
  type WhatIfFinding,
} from "./session.js";
