export { type SqliteOutboxEntry, SqliteOutboxStore, type SqliteOutboxStoreOptions } from "./outbox-store.js";
export { readSqliteState, type SqliteStateDump } from "./read-state.js";
export { SqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
