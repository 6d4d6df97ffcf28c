import { existsSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { formatUsd, type Store } from "@agent-sre/core";
import type { AgentSreSection } from "@agent-sre/mcp-proxy";
import { table } from "./status-table.js";

/**
 * Where the CLI keeps state. `--state` wins, then the config's `agentSre.state`, then the default: a SQLite
 * file `state.db` in the state directory, which is `$AGENT_SRE_STATE_DIR`, else `.agent-sre/` beside the
 * config file (or in the working directory when there is none). So a restarted proxy keeps its spend,
 * kills, quarantines and breaker states.
 */
export type StateSpec =
  | { type: "memory" }
  | { type: "sqlite"; path: string }
  | { type: "redis"; url: string; keyPrefix?: string; onUnavailable?: "closed" | "open" };

export function stateDirectory(env: Readonly<Record<string, string | undefined>>, baseDir: string): string {
  const fromEnv = env.AGENT_SRE_STATE_DIR;
  if (fromEnv !== undefined && fromEnv !== "") return resolve(baseDir, fromEnv);
  return join(baseDir, ".agent-sre");
}

export function resolveStateSpec(
  flag: string | undefined,
  section: AgentSreSection["state"],
  env: Readonly<Record<string, string | undefined>>,
  baseDir: string,
  cwd: string,
): StateSpec {
  if (flag !== undefined) {
    if (flag === "memory") return { type: "memory" };
    if (/^rediss?:\/\//.test(flag)) return { type: "redis", url: flag };
    return { type: "sqlite", path: isAbsolute(flag) ? flag : resolve(cwd, flag) };
  }
  if (section === "memory") return { type: "memory" };
  if (section !== undefined && "sqlite" in section) return { type: "sqlite", path: section.sqlite };
  if (section !== undefined && "redis" in section) return { type: "redis", ...section.redis };
  return { type: "sqlite", path: join(stateDirectory(env, baseDir), "state.db") };
}

export function describeState(spec: StateSpec): string {
  switch (spec.type) {
    case "memory":
      return "memory (lost on exit)";
    case "sqlite":
      return `SQLite ${spec.path}`;
    default:
      return `Redis ${spec.url.replace(/\/\/[^@/]*@/, "//***@")} (prefix ${spec.keyPrefix ?? "agent-sre:"})`;
  }
}

/** Opens the store a spec names; undefined for memory (the engine's default). */
export async function openStore(spec: StateSpec): Promise<Store | undefined> {
  switch (spec.type) {
    case "memory":
      return undefined;
    case "sqlite": {
      const { SqliteStore } = await import("@agent-sre/store-sqlite");
      return new SqliteStore(spec.path);
    }
    default: {
      const { RedisStore } = await import("@agent-sre/store-redis");
      return await RedisStore.connect({
        url: spec.url,
        ...(spec.keyPrefix === undefined ? {} : { keyPrefix: spec.keyPrefix }),
        ...(spec.onUnavailable === undefined ? {} : { onUnavailable: spec.onUnavailable }),
      });
    }
  }
}

/** The default state file of a directory, if it exists (for `agent-sre status` without `--url`). */
export function defaultStateFile(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): string | undefined {
  const file = join(stateDirectory(env, cwd), "state.db");
  return existsSync(file) ? file : undefined;
}

export interface OfflineStatus {
  file: string;
  writers: number[];
  agents: Array<{
    agentId: string;
    spentTodayUsd: number;
    killed: string | null;
    throttled: string | null;
    /** Held after a cost anomaly until confirmed: the anomaly's figures. */
    held: string | null;
    quarantined: string | null;
  }>;
  breakers: Array<{ id: string; state: string; openedAt: number | null; reason: string | null }>;
  /** Rollouts (progressive delivery): where each is, and its latest decision. */
  rollouts: Array<{
    id: string;
    state: string;
    stepIndex: number;
    percent: number | null;
    lastDecision: string | null;
    decidedAt: number | null;
  }>;
}

/** What a state file says, read without touching it: today's spend and every decision in force. */
export async function readOfflineStatus(file: string, nowMs: number = Date.now()): Promise<OfflineStatus> {
  // Loaded on demand: the native SQLite binding is not needed by the other commands.
  const { readSqliteState } = await import("@agent-sre/store-sqlite");
  const dump = readSqliteState(file);
  const agents = new Map<string, OfflineStatus["agents"][number]>();
  const agent = (agentId: string) => {
    let entry = agents.get(agentId);
    if (entry === undefined) {
      entry = { agentId, spentTodayUsd: 0, killed: null, throttled: null, held: null, quarantined: null };
      agents.set(agentId, entry);
    }
    return entry;
  };
  // Day keys are `agent-day:<day start ms>:<agent id>`: the latest day that has started is today's.
  const latestDay = new Map<string, number>();
  for (const row of dump.ledger) {
    const match = /^agent-day:(\d+):(.*)$/.exec(row.key);
    if (match === null) continue;
    const dayStart = Number(match[1]);
    const agentId = match[2] as string;
    if (dayStart > nowMs || (latestDay.get(agentId) ?? -1) > dayStart) continue;
    latestDay.set(agentId, dayStart);
    agent(agentId).spentTodayUsd = row.spent / 1_000_000;
  }
  const breakers: OfflineStatus["breakers"] = [];
  const rollouts: OfflineStatus["rollouts"] = [];
  for (const record of dump.state) {
    const value = record.value as Record<string, unknown>;
    if (record.kind === "kill" && value.periodStartMs === latestDay.get(record.id)) {
      agent(record.id).killed = String(value.reason);
    } else if (record.kind === "anomaly-hold") {
      const until = typeof value.untilMs === "number" ? value.untilMs : null;
      if (until === null || until > nowMs) {
        agent(record.id).held =
          `${formatUsd(Number(value.costUsd))} vs ${formatUsd(Number(value.expectedUsd))} (z=${Number(value.score).toFixed(1)})` +
          (until === null ? ", until confirmed" : `, until ${new Date(until).toISOString()}`);
      }
    } else if (record.kind === "quarantine") {
      agent(record.id).quarantined = String(value.reason);
    } else if (record.kind === "throttle") {
      const reason = value.external ?? (value.budget === true ? "daily budget throttle" : null);
      if (reason !== null) agent(record.id).throttled = String(reason);
    } else if (record.kind === "rollout") {
      const decisions = Array.isArray(value.decisions) ? value.decisions : [];
      const last = decisions.at(-1) as
        | { action?: string; reason?: string; percent?: number; at?: number }
        | undefined;
      rollouts.push({
        id: record.id,
        state: String(value.state),
        stepIndex: typeof value.stepIndex === "number" ? value.stepIndex : 0,
        percent: typeof last?.percent === "number" ? last.percent : null,
        lastDecision: last === undefined ? null : `${last.action}: ${last.reason}`,
        decidedAt: typeof last?.at === "number" ? last.at : null,
      });
    } else if (record.kind === "breaker") {
      breakers.push({
        id: record.id,
        state: String(value.state),
        openedAt: typeof value.openedAt === "number" ? value.openedAt : null,
        reason: typeof value.reason === "string" ? value.reason : null,
      });
    }
  }
  return { file, writers: dump.writers, agents: [...agents.values()], breakers, rollouts };
}

export function renderOfflineStatus(status: OfflineStatus): string {
  const lines = [
    `state file ${status.file} (${status.writers.length === 0 ? "no process writing" : `written by pid ${status.writers.join(", ")}`})`,
    "",
  ];
  lines.push(
    status.agents.length === 0
      ? "no agents"
      : table(
          ["AGENT", "SPENT TODAY", "KILLED", "THROTTLED", "HELD", "QUARANTINED"],
          status.agents.map((a) => [
            a.agentId,
            formatUsd(a.spentTodayUsd),
            a.killed ?? "-",
            a.throttled ?? "-",
            a.held ?? "-",
            a.quarantined ?? "-",
          ]),
        ),
  );
  const notClosed = status.breakers.filter((b) => b.state !== "CLOSED");
  if (notClosed.length > 0) {
    lines.push("");
    lines.push(
      table(
        ["BREAKER", "STATE", "OPENED", "REASON"],
        notClosed.map((b) => [
          b.id,
          b.state,
          b.openedAt === null ? "-" : new Date(b.openedAt).toISOString(),
          b.reason ?? "-",
        ]),
      ),
    );
  }
  if (status.rollouts.length > 0) {
    lines.push("");
    lines.push(
      table(
        ["ROLLOUT", "STATE", "STEP", "CANDIDATE %", "LAST DECISION"],
        status.rollouts.map((r) => [
          r.id,
          r.state,
          String(r.stepIndex),
          r.percent === null ? "-" : `${r.percent}%`,
          r.lastDecision ?? "-",
        ]),
      ),
    );
  }
  return lines.join("\n");
}
