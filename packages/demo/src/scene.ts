import { formatUsd } from "@agent-sre/core";
import type { Fleet } from "./fleet.js";

export type SceneName =
  | "loop"
  | "canary"
  | "rollback"
  | "downgrade"
  | "drift"
  | "cost"
  | "anomaly"
  | "rogue"
  | "cascade"
  | "retry-storm"
  | "chaos"
  | "failover"
  | "alerts"
  | "restart"
  | "replay";

export interface SceneContext {
  fleet: Fleet;
  /** Live progress text (shown next to the spinner on a terminal). */
  progress(text: string): void;
}

/** Machine-readable figures a scene reports; the e2e tests assert on them. */
export type SceneFacts = Record<string, number | string | boolean | null | string[]>;

export interface SceneOutcome {
  /** Whether the guard contained the failure as the scene says (its key facts hold). */
  contained: boolean;
  /** One line: what the guard did. */
  headline: string;
  /** A few lines of detail. */
  lines: string[];
  facts: SceneFacts;
}

export interface Scene {
  name: SceneName;
  title: string;
  /** The failure mode, in one line. */
  failure: string;
  run(context: SceneContext): Promise<SceneOutcome>;
}

/** `digits` decimals, or more when they would show a non-zero amount as $0.00 (`formatUsd`). */
export const usd = (value: number, digits = 4) =>
  value !== 0 && Math.abs(value) < 0.5 * 10 ** -digits ? formatUsd(value) : `$${value.toFixed(digits)}`;
export const int = (value: number) => Math.round(value).toLocaleString("en-US");
export const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
