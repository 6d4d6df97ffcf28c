export { AgentSREApiCallError, refusalFrom, toSdkError } from "./errors.js";
export { classifyAiSdkFailure } from "./failure-class.js";
export { guardModel } from "./guard-model.js";
export {
  type AgentSRECallOptions,
  type AgentSREIdentity,
  agentSRECallOptions,
  identityFromContext,
} from "./identity.js";
export {
  type AgentSREMiddleware,
  type AgentSREModelOptions,
  agentSREMiddleware,
  type CutOffInfo,
  REFUSED_FINISH_REASON,
} from "./middleware.js";
export { AI_SDK_API, generateResponseOf, requestOf } from "./record.js";
export { type ReplayLanguageModel, type ReplayModelOptions, replayModel, replayTools } from "./replay.js";
export type { RouteModels } from "./routing.js";
export { agentSREStopWhen, type StopWhenOptions } from "./stop.js";
export { CUT_OFF_FINISH_REASON } from "./stream-parts.js";
export { type GuardToolsOptions, guardTools } from "./tools.js";
export type {
  AgentSREProviderOptions,
  CallOptionsLike,
  GenerateResultLike,
  LanguageModelLike,
  ModelUsageLike,
  StreamResultLike,
} from "./types.js";
export { estimatePromptTokens, toUsageReport } from "./usage.js";
