export {
  RATE_LIMIT_SCOPES,
  RateLimiter,
  type RateLimiterOptions,
  type RateLimiterSnapshot,
  type RateLimitRefusal,
  type RateLimitRule,
  type RateLimitRuleSnapshot,
  type RateLimitScope,
} from "./rate-limiter.js";
