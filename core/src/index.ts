export * from "./clock.js";
export * from "./duration.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./types.js";
