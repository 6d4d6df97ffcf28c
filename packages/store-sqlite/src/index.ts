export { readSqliteState, type SqliteStateDump } from "./read-state.js";
export { SqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
