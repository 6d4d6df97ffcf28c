export { GuardedAPIPromise } from "./api-promise.js";
export { type GuardOpenAIOptions, guardOpenAI, toClientError } from "./guard-openai.js";
export { type Endpoint, estimateInputTokens, usageReport } from "./usage.js";
