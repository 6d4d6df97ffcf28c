/** What the restart scene and its worker process share: names, limits and the worker's JSON-line reports. */
export const RESTART_AGENT = "nightly-reconciler";
export const RESTART_MODEL = "gpt-4.1";
export const RESTART_TOOL = "ledger_sync";
/** The same process's ledger job: its calls go through the tool's shared breaker. */
export const RESTART_SYNC_AGENT = "ledger-syncer";
export const RESTART_DAILY_LIMIT_USD = 0.25;

export type WorkerReport =
  | {
      report: "state";
      life: string;
      store: string;
      at: number;
      spentUsd: number;
      killed: boolean;
      breaker: string;
    }
  | { report: "call"; kind: "model" | "tool"; ok: boolean; code: string | null; spentUsd: number }
  | { report: "ready"; at: number; providerCalls: number };
