import type { BudgetAlert, BudgetOverrunAlert } from "./cost-types.js";
import { formatUsd } from "./money.js";

/**
 * A commit above its reservation (the full cost was recorded). Its `message` is written the first time it is
 * read: the engine commits every overrunning call and never reads what `commit` returns, and formatting the
 * two amounts is most of an overrun's cost. `toJSON()` (and the status views, which copy it) carry the message.
 */
export class OverrunAlert implements BudgetOverrunAlert {
  readonly type = "overrun";
  at: number;
  agentId: string;
  taskId: string | undefined;
  readonly scope = "call";
  reservedUsd: number;
  actualUsd: number;
  readonly severity = "warning";
  readonly action = "ALERT";
  #message: string | undefined = undefined;

  constructor(
    at: number,
    agentId: string,
    taskId: string | undefined,
    reservedUsd: number,
    actualUsd: number,
  ) {
    this.at = at;
    this.agentId = agentId;
    this.taskId = taskId;
    this.reservedUsd = reservedUsd;
    this.actualUsd = actualUsd;
  }

  get message(): string {
    this.#message ??= overrunMessage(this.agentId, this.actualUsd, this.reservedUsd);
    return this.#message;
  }

  set message(message: string) {
    this.#message = message;
  }

  /** The alert as plain data, message included (what `recentAlerts` in a status or snapshot holds). */
  toJSON(): BudgetOverrunAlert {
    return {
      type: this.type,
      at: this.at,
      agentId: this.agentId,
      taskId: this.taskId,
      scope: this.scope,
      reservedUsd: this.reservedUsd,
      actualUsd: this.actualUsd,
      severity: this.severity,
      action: this.action,
      message: this.message,
    };
  }
}

export function overrunMessage(agentId: string, actualUsd: number, reservedUsd: number): string {
  return `Agent "${agentId}" spent ${formatUsd(actualUsd)} on a reservation of ${formatUsd(reservedUsd)}`;
}

/** Alerts handed to a caller: plain data, an overrun's message written (a spread copy keeps it). */
export function plainAlerts(alerts: readonly BudgetAlert[]): BudgetAlert[] {
  return alerts.map((alert) => (alert instanceof OverrunAlert ? alert.toJSON() : alert));
}
