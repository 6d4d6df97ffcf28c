import { parseArgs } from "node:util";

/** What `agent-sre chaos` needs from the CLI (kept apart from cli.ts). */
export interface ChaosCommandIO {
  env: Readonly<Record<string, string | undefined>>;
  out(text: string): void;
  err(text: string): void;
  fetch?: typeof fetch;
}

export class ChaosUsageError extends Error {}

const USAGE = `agent-sre chaos list --url <proxy> [--token <t>] [--json]       schedules, next run, blackout now
agent-sre chaos run <schedule> --url <proxy> [--token <t>]       start a schedule's experiment now
agent-sre chaos history --url <proxy> [--schedule <s>] [--limit N] [--json]`;

interface ScheduleRow {
  name: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  next: number | null;
  running: boolean;
}

interface RunRow {
  id: string;
  schedule: string;
  scheduledAt: number;
  startedAt: number | null;
  endedAt: number | null;
  outcome: string;
  reason: string | null;
  resilienceScore: number | null;
  manual: boolean;
}

/**
 * `agent-sre chaos list|run|history`: talks to a running proxy (`/chaos`), whose engine the scheduled
 * experiments run against. Exit 0 ok, 1 failure (unreachable, refused run), 2 usage error (thrown).
 */
export async function chaosCommand(args: readonly string[], io: ChaosCommandIO): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: [...rest],
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: "string" },
      token: { type: "string" },
      json: { type: "boolean" },
      schedule: { type: "string" },
      limit: { type: "string" },
    },
  });
  if (sub !== "list" && sub !== "run" && sub !== "history") throw new ChaosUsageError(USAGE);
  const base = values.url ?? io.env.AGENT_SRE_URL;
  if (base === undefined) throw new ChaosUsageError(`chaos ${sub} needs --url (e.g. http://127.0.0.1:7341)`);
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new ChaosUsageError(`invalid --url "${base}"`);
  }
  const root = url.pathname.replace(/\/(mcp|status)?\/?$/, "");
  const token = values.token ?? io.env.AGENT_SRE_TOKEN;
  const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  const doFetch = io.fetch ?? fetch;
  const call = async (
    path: string,
    method = "GET",
  ): Promise<{ status: number; body: unknown } | undefined> => {
    const target = new URL(url);
    target.pathname = `${root}${path}`;
    target.search = "";
    try {
      const response = await doFetch(target, { method, headers, signal: AbortSignal.timeout(10_000) });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // plain text answer
      }
      return { status: response.status, body };
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      io.err(
        `agent-sre: cannot reach ${target.href}${cause ? ` (${cause})` : `: ${(error as Error).message}`}`,
      );
      return undefined;
    }
  };

  if (sub === "run") {
    const name = positionals[0];
    if (name === undefined) throw new ChaosUsageError("chaos run needs a schedule name");
    const answer = await call(`/chaos/run/${encodeURIComponent(name)}`, "POST");
    if (answer === undefined) return 1;
    if (answer.status !== 200) {
      io.err(`agent-sre: ${describeError(answer)}`);
      return 1;
    }
    const run = answer.body as RunRow;
    if (values.json) io.out(JSON.stringify(run, null, 2));
    else if (run.outcome === "running") io.out(`started "${run.schedule}" (${run.id})`);
    else io.out(`did not start "${run.schedule}": ${run.reason}`);
    return run.outcome === "running" ? 0 : 1;
  }

  const query = new URLSearchParams();
  if (values.schedule !== undefined) query.set("schedule", values.schedule);
  if (values.limit !== undefined) query.set("limit", values.limit);
  const answer = await call(`/chaos${query.size > 0 ? `?${query}` : ""}`);
  if (answer === undefined) return 1;
  if (answer.status !== 200) {
    io.err(`agent-sre: ${describeError(answer)}`);
    return 1;
  }
  const body = answer.body as { schedules: ScheduleRow[]; history: RunRow[]; blackout: string | null };
  if (values.json) {
    io.out(
      JSON.stringify(
        sub === "list" ? { schedules: body.schedules, blackout: body.blackout } : body.history,
        null,
        2,
      ),
    );
    return 0;
  }
  if (sub === "list") {
    io.out(
      table(
        ["schedule", "cron", "time zone", "next run", "state"],
        body.schedules.map((s) => [
          s.name,
          s.cron,
          s.timezone,
          s.next === null ? "-" : new Date(s.next).toISOString(),
          !s.enabled ? "disabled" : s.running ? "running" : "armed",
        ]),
      ),
    );
    if (body.blackout !== null) io.out(`blackout now: ${body.blackout}`);
    return 0;
  }
  io.out(
    table(
      ["run", "outcome", "started", "ended", "score", "reason"],
      body.history.map((r) => [
        r.id,
        r.outcome,
        r.startedAt === null ? "-" : new Date(r.startedAt).toISOString(),
        r.endedAt === null ? "-" : new Date(r.endedAt).toISOString(),
        r.resilienceScore === null ? "-" : r.resilienceScore.toFixed(1),
        r.reason ?? "-",
      ]),
    ),
  );
  return 0;
}

function describeError(answer: { status: number; body: unknown }): string {
  const message = (answer.body as { error?: string } | undefined)?.error;
  return answer.status === 401
    ? "the proxy needs a bearer token (--token or AGENT_SRE_TOKEN)"
    : `HTTP ${answer.status}${message ? `: ${message}` : ""}`;
}

function table(head: string[], rows: string[][]): string {
  if (rows.length === 0) return "(none)";
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join("  ")
      .trimEnd();
  return [line(head.map((h) => h.toUpperCase())), ...rows.map(line)].join("\n");
}
