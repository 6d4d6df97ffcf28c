// The public API of @agent-sre/core. Edge-runtime safe: no `node:` imports anywhere below.
export * from "./breaker/index.js";
export * from "./chaos/index.js";
export * from "./clock.js";
export * from "./cost/index.js";
export * from "./delivery/index.js";
export * from "./duration.js";
export * from "./engine/index.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./ratelimit/index.js";
export * from "./replay/index.js";
export * from "./resilience/index.js";
export * from "./rogue/index.js";
export * from "./slo/index.js";
export * from "./store/index.js";
export * from "./types.js";
