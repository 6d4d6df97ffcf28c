import { formatUsd } from "@agent-sre/core";
import { type ProxyStatus, redactText } from "@agent-sre/mcp-proxy";

/** Left-aligned columns separated by two spaces; cells are cut at `max` characters. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>, max = 48): string {
  const cut = (cell: string) => (cell.length <= max ? cell : `${cell.slice(0, max - 1)}…`);
  const cells = [header, ...rows].map((row) => row.map(cut));
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? "").length)));
  return cells
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] as number)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function usd(value: unknown): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return "-";
  // Whole dollars from $100; below, as many digits as mean something ($0.004, not $0.00).
  return value >= 100 ? `$${value.toFixed(0)}` : formatUsd(value);
}

function ms(value: unknown): string {
  if (typeof value !== "number" || value <= 0) return "-";
  return value < 1_000
    ? `${Math.ceil(value)} ms`
    : value < 120_000
      ? `${Math.ceil(value / 1_000)} s`
      : `${Math.ceil(value / 60_000)} min`;
}

interface BreakerView {
  id: string;
  state: string;
  failureCount?: number;
  retryAfterMs?: number;
  forcedReason?: string | null;
}

/** A running proxy's status as readable tables: upstreams, agents, open circuits, drift. */
export function renderStatus(status: ProxyStatus): string {
  const out: string[] = [];
  const org = (
    status.sre.budget as { org?: { spentThisMonthUsd?: number; monthlyBudgetUsd?: number | null } }
  ).org;
  const orgLine =
    org === undefined
      ? ""
      : ` · org spend ${usd(org.spentThisMonthUsd)}${typeof org.monthlyBudgetUsd === "number" && Number.isFinite(org.monthlyBudgetUsd) ? ` of ${usd(org.monthlyBudgetUsd)} this month` : " this month"}`;
  out.push(
    `agent-sre proxy ${status.version} · ${status.sessions.length} session${status.sessions.length === 1 ? "" : "s"}${orgLine}${status.sre.budgetEnforced ? "" : " · budgets not enforced"}`,
  );

  out.push("", "UPSTREAMS");
  out.push(
    table(
      ["server", "transport", "state", "tools", "restarts", "breaker", "drift", "last error"],
      status.upstreams.map((u) => [
        u.server,
        redactText(u.transport),
        Object.entries(u.states)
          .map(([state, count]) => (count === 1 ? state : `${state}×${count}`))
          .join(" ") || "idle",
        String(u.tools),
        String(u.restarts),
        u.breaker,
        u.drift,
        u.lastError === null ? "-" : redactText(u.lastError),
      ]),
    ),
  );

  const agents = Object.entries(status.sre.agents);
  out.push("", "AGENTS");
  if (agents.length === 0) out.push("(no calls yet)");
  else {
    out.push(
      table(
        [
          "agent",
          "calls",
          "in flight",
          "refused",
          "failed",
          "breaker",
          "risk",
          "spent today",
          "daily limit",
          "state",
        ],
        agents.map(([id, agent]) => {
          const budget = agent.budget as {
            spentTodayUsd?: number;
            limits?: { dailyLimitUsd?: number | null };
            killed?: boolean;
            throttled?: boolean;
            hold?: { costUsd: number; expectedUsd: number; score: number; refusedCalls: number } | null;
          };
          const hold = budget.hold ?? null;
          const state = agent.quarantined
            ? `quarantined: ${agent.quarantined.reason}`
            : budget.killed
              ? "killed"
              : hold !== null
                ? `held: ${usd(hold.costUsd)} vs ${usd(hold.expectedUsd)} (z=${hold.score.toFixed(1)}), ${hold.refusedCalls} refused`
                : budget.throttled
                  ? "throttled"
                  : "ok";
          return [
            id,
            String(agent.calls),
            // Open budget reservations: calls in flight (or holds an adapter never settled).
            String(agent.openReservations ?? 0),
            String(agent.refused),
            String(agent.failed),
            agent.breaker,
            agent.riskLevel,
            usd(budget.spentTodayUsd),
            budget.limits?.dailyLimitUsd == null ? "-" : usd(budget.limits.dailyLimitUsd),
            state,
          ];
        }),
      ),
    );
  }

  const breakers = ((status.sre.breakers as { breakers?: BreakerView[] }).breakers ?? []).filter(
    (b) => b.state !== "CLOSED",
  );
  out.push("", "CIRCUITS");
  if (breakers.length === 0) out.push("all closed");
  else {
    out.push(
      table(
        ["breaker", "state", "failures", "retry in", "reason"],
        breakers.map((b) => [
          b.id,
          b.state,
          String(b.failureCount ?? "-"),
          ms(b.retryAfterMs),
          b.forcedReason ?? "-",
        ]),
      ),
    );
  }

  if (status.drift.reports.length > 0) {
    out.push("", "TOOL DRIFT");
    out.push(
      table(
        ["server", "severity", "action", "changes"],
        status.drift.reports
          .slice(-10)
          .map((r) => [
            r.server,
            r.severity,
            r.action,
            r.changes.map((c) => `${c.tool} ${c.kind}`).join(", "),
          ]),
        80,
      ),
    );
  }
  if (status.collisions.length > 0) {
    out.push("", "NAME COLLISIONS");
    out.push(
      table(
        ["name", "kept", "hidden"],
        status.collisions.map((c) => [c.name, c.kept, c.dropped]),
      ),
    );
  }
  return out.join("\n");
}
