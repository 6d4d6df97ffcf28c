// The public API of @agent-sre/replay: where recorded traces are kept on Node, and golden-trace assertions.
export {
  expectRunToMatchGolden,
  GoldenMismatchError,
  type GoldenOptions,
  type GoldenResult,
} from "./golden.js";
export {
  defaultTraceFileName,
  FileTraceSink,
  type FileTraceSinkOptions,
  listStoredTraces,
  readTraceFile,
  StateStoreTraceSink,
  type StateStoreTraceSinkOptions,
  TRACE_STATE_KIND,
} from "./sinks.js";
