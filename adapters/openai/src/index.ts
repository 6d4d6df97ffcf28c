export { GuardedAPIPromise } from "./api-promise.js";
export { toClientError } from "./errors.js";
export {
  classifyOpenAIFailure,
  type OpenAIFailureClassifier,
  openAIFailureClassifier,
} from "./failure-class.js";
export { type GuardOpenAIOptions, guardOpenAI } from "./guard-openai.js";
export { type Endpoint, estimateInputTokens, usageReport } from "./usage.js";
