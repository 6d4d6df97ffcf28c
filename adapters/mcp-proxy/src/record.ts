import { type AgentSRE, type GuardCall, parseDuration, Recorder } from "@agent-sre/core";
import { FileTraceSink } from "@agent-sre/replay";
import type { AgentSreSection } from "./config/schema.js";
import type { Logger } from "./logger.js";
import type { ProxyContext } from "./proxy-context.js";
import { MCP_API, type RecordedTool } from "./replay.js";

/** Where a recorded tool call came from: the route's server and the tool as listed. */
interface RouteLike {
  readonly name: string;
  readonly server: string;
  readonly upstreamName: string;
  readonly tool: { description?: string; inputSchema?: unknown };
}

/** Records a tools/call's arguments (before the engine sees it), when the proxy records. */
export function recordRequest(
  ctx: ProxyContext,
  call: GuardCall<never> | GuardCall<unknown>,
  args: unknown,
): void {
  ctx.recorder?.request(call, args, MCP_API);
}

/** Records a tools/call's result, and the tool's definition in the run's header (for the replay upstream). */
export function recordResult(
  ctx: ProxyContext,
  call: GuardCall<never> | GuardCall<unknown>,
  route: RouteLike,
  result: unknown,
): void {
  const recorder = ctx.recorder;
  if (recorder === undefined) return;
  recorder.response(call, result);
  const tool: RecordedTool = { server: route.server, upstreamName: route.upstreamName };
  if (route.tool.description !== undefined) tool.description = route.tool.description;
  if (route.tool.inputSchema !== undefined)
    tool.inputSchema = route.tool.inputSchema as RecordedTool["inputSchema"];
  recorder.annotateRun(call.agentId, call.taskId, { tools: { [route.name]: tool } });
}

/** Recorder options from an `agentSre.record` section: traces go to files in `dir`. */
export function recorderOptions(section: NonNullable<Exclude<AgentSreSection["record"], false>>) {
  const { dir, runIdleMs, ...rest } = section;
  return {
    ...rest,
    sink: new FileTraceSink({ dir }),
    ...(runIdleMs === undefined ? {} : { runIdleMs: parseDuration(runIdleMs, "record.runIdleMs") }),
  };
}

/** The proxy's recorder (attached to its engine), from a `Recorder` or an `agentSre.record` section. */
export function buildRecorder(
  record: Recorder | NonNullable<Exclude<AgentSreSection["record"], false>> | undefined,
  sre: AgentSRE,
  logger: Logger,
): Recorder | undefined {
  if (record === undefined) return undefined;
  const recorder =
    record instanceof Recorder
      ? record
      : new Recorder({
          ...recorderOptions(record),
          source: "mcp-proxy",
          onError: (error) => logger.error(`trace sink: ${String(error)}`),
        });
  recorder.attach(sre);
  return recorder;
}
