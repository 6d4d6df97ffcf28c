export { RedisOutboxStore, type RedisOutboxStoreOptions } from "./outbox-store.js";
export { RedisStore, type RedisStoreOptions } from "./redis-store.js";
