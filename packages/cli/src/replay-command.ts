import { readFileSync } from "node:fs";
import { type ParseArgsConfig, parseArgs } from "node:util";
import {
  AgentSRE,
  diffTraces,
  formatReplayReport,
  formatTraceDiff,
  parseTrace,
  replayDecisions,
  type Trace,
} from "@agent-sre/core";
import { buildExperiment, engineOptionsFromConfig, parseConfig } from "@agent-sre/mcp-proxy";

/** What `agent-sre replay` / `diff` need from the CLI (kept apart from cli.ts). */
export interface ReplayCommandIO {
  cwd: string;
  out(text: string): void;
  err(text: string): void;
}

export class ReplayUsageError extends Error {}

export const REPLAY_USAGE = `agent-sre replay <trace.jsonl> [--config <what-if.json>] [--json]
agent-sre diff <a.jsonl> <b.jsonl> [--ignore <path>]... [--json]`;

function read(file: string): Trace {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
  return parseTrace(text);
}

/**
 * The engine a replay runs under: the `agentSre` section of `--config` (a proxy config, or `{ "agentSre": … }`),
 * validated like a proxy config (every problem with its path); else the section a proxy recorded in the
 * trace's header; else engine defaults. Chaos experiments of the section are started on the replay engine.
 */
function whatIfEngine(
  trace: Trace,
  file: string | undefined,
): { label: string; build: (clock: AgentSRE["clock"]) => AgentSRE } {
  let section: unknown;
  let label: string;
  if (file !== undefined) {
    let document: Record<string, unknown>;
    try {
      document = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`cannot read ${file}: ${(error as Error).message}`);
    }
    section = document?.agentSre;
    if (section === undefined) throw new ReplayUsageError(`${file} has no "agentSre" section`);
    label = file;
  } else if (trace.header.source === "mcp-proxy" && trace.header.config !== undefined) {
    section = trace.header.config;
    label = "the config recorded in the trace";
  } else {
    return { label: "engine defaults", build: (clock) => new AgentSRE({ clock }) };
  }
  // Validated as the agentSre section of a proxy config (paths as in a config file).
  const config = parseConfig(
    { mcpServers: { replay: { command: "replay" } }, agentSre: section },
    file === undefined ? {} : { file },
  );
  const options = engineOptionsFromConfig(config);
  const experiments = (config.agentSre.chaos?.experiments ?? []).map((e) => buildExperiment(e));
  return {
    label,
    build: (clock) => {
      const sre = new AgentSRE({ ...options, clock });
      for (const experiment of experiments) sre.startExperiment(experiment);
      return sre;
    },
  };
}

/** `agent-sre replay`: exit 0 when the config decides every call as recorded, 1 when any decision changed. */
export async function replayCommand(args: readonly string[], io: ReplayCommandIO): Promise<number> {
  const { values, positionals } = parseOrUsage(args, {
    config: { type: "string", short: "c" },
    json: { type: "boolean" },
  });
  if (positionals.length !== 1) throw new ReplayUsageError("replay needs one trace file");
  const trace = read(positionals[0] as string);
  const engine = whatIfEngine(trace, values.config as string | undefined);
  const report = await replayDecisions(trace, { build: engine.build });
  if (values.json === true) {
    const { sre: _, ...json } = report;
    io.out(JSON.stringify({ config: engine.label, ...json }, null, 2));
  } else {
    const h = trace.header;
    io.out(
      `replaying ${h.agentId}${h.taskId === undefined ? "" : `/${h.taskId}`} (${trace.calls.length} calls, recorded ${h.startedAt}) under ${engine.label}`,
    );
    io.out(formatReplayReport(report));
    if (report.firstRefusal !== undefined) {
      io.out(
        `first call the config would have stopped: #${report.firstRefusal.seq} ${report.firstRefusal.kind} ${report.firstRefusal.name} (${report.firstRefusal.replayed.code})`,
      );
    }
  }
  return report.whatIf.length === 0 && report.divergences.length === 0 ? 0 : 1;
}

/** `agent-sre diff`: exit 0 when equal (ids and timings aside), 1 at the first divergence. */
export function diffCommand(args: readonly string[], io: ReplayCommandIO): number {
  const { values, positionals } = parseOrUsage(args, {
    ignore: { type: "string", multiple: true },
    json: { type: "boolean" },
  });
  if (positionals.length !== 2) throw new ReplayUsageError("diff needs two trace files");
  const [fileA, fileB] = positionals as [string, string];
  const diff = diffTraces(read(fileA), read(fileB), {
    ignore: (values.ignore as string[] | undefined) ?? [],
  });
  if (values.json === true) io.out(JSON.stringify(diff, null, 2));
  else io.out(formatTraceDiff(diff, { a: fileA, b: fileB }));
  return diff.equal ? 0 : 1;
}

function parseOrUsage<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: readonly string[],
  options: T,
) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new ReplayUsageError((error as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ""));
  }
}
