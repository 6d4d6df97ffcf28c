export {
  exceedsLimit,
  type LedgerBalance,
  type LedgerLine,
  type LedgerStore,
  RESERVE_OK,
  type ReserveResult,
  type SettleLine,
} from "./ledger-store.js";
export { MemoryStore } from "./memory-store.js";
export {
  isStateStore,
  STATE_KINDS,
  type StateChange,
  type StateStore,
  type StateValue,
  type Store,
} from "./state-store.js";
