// The public API of @agent-sre/langchain: LangChain.js hooks translated into the engine's one interception API.
export {
  AgentSRECallbackHandler,
  type AgentSRECallbackHandlerOptions,
  type RunInfo,
} from "./callback-handler.js";
export { classifyLangChainFailure } from "./failure-class.js";
export {
  type AgentSREContext,
  type AgentSREMiddlewareOptions,
  type AgentSREUsageState,
  agentSREMiddleware,
  type TaskIdInput,
} from "./middleware.js";
export { estimateInputTokens, type ModelInfo, modelInfo } from "./models.js";
export {
  LANGCHAIN_API,
  messageOf,
  modelRequestOf,
  modelResponseOf,
  type RecordedMessage,
  toolNames,
  toolResponseOf,
} from "./record.js";
export {
  DEFAULT_MODEL_MODES,
  DEFAULT_TOOL_MODES,
  defaultRefusalText,
  METADATA_KEY,
  type ModelViolationMode,
  type OnViolation,
  type RefusalContext,
  type RefusalFormatter,
  type RefusalMetadata,
  refusalFrom,
  retryableError,
  sreMetadata,
  type ToolErrorMode,
  type ViolationMode,
  type ViolationModes,
} from "./refusals.js";
export { ReplayChatModel, type ReplayChatModelFields, replayTools } from "./replay.js";
export type { RouteModels } from "./routing.js";
export { aiMessageOf, usageFromLLMResult, usageFromMessage, usageFromMetadata } from "./usage.js";
