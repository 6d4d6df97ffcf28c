import type { Recorder } from "@agent-sre/core";
import { ConfigError } from "@agent-sre/core";
import type { AIMessage, BaseMessage } from "@langchain/core/messages";

/** How the LangChain adapter's model calls appear in a trace (`api` of their call lines). */
export const LANGCHAIN_API = { api: "langchain" } as const;

/** A recorded message: what the model saw or said, without the ids LangChain generates per run. */
export interface RecordedMessage {
  type: string;
  content: unknown;
  name?: string;
  tool_calls?: Array<{ name: string; args: unknown; id?: string }>;
  tool_call_id?: string;
  status?: string;
}

export function messageOf(message: BaseMessage): RecordedMessage {
  const m = message as BaseMessage & {
    tool_calls?: Array<{ name: string; args: unknown; id?: string }>;
    tool_call_id?: string;
    status?: string;
  };
  const out: RecordedMessage = { type: m.type, content: m.content };
  if (typeof m.name === "string" && m.name !== "") out.name = m.name;
  if (Array.isArray(m.tool_calls) && m.tool_calls.length > 0) {
    out.tool_calls = m.tool_calls.map((c) =>
      c.id === undefined ? { name: c.name, args: c.args } : { name: c.name, args: c.args, id: c.id },
    );
  }
  if (typeof m.tool_call_id === "string") out.tool_call_id = m.tool_call_id;
  if (typeof m.status === "string") out.status = m.status;
  return out;
}

/** The names of the tools offered to a model (tool objects, OpenAI-style dicts or bare names). */
export function toolNames(tools: readonly unknown[] | undefined): string[] {
  const names: string[] = [];
  for (const tool of tools ?? []) {
    if (typeof tool === "string") names.push(tool);
    else if (typeof tool === "object" && tool !== null) {
      const t = tool as { name?: unknown; function?: { name?: unknown } };
      const name = typeof t.name === "string" ? t.name : t.function?.name;
      if (typeof name === "string") names.push(name);
    }
  }
  return names;
}

/** The request of a model call as recorded and as the replay chat model compares it. */
export function modelRequestOf(
  model: string,
  messages: readonly BaseMessage[],
  systemMessage: BaseMessage | undefined,
  tools: readonly unknown[] | undefined,
): { model: string; messages: RecordedMessage[]; tools: string[] } {
  const all = systemMessage === undefined || isEmpty(systemMessage) ? messages : [systemMessage, ...messages];
  return { model, messages: all.map(messageOf), tools: toolNames(tools) };
}

function isEmpty(message: BaseMessage): boolean {
  const content = message.content;
  return content === "" || (Array.isArray(content) && content.length === 0);
}

/** A tool's answer as recorded: its ToolMessage (content, status), or what a Command carried. */
export function toolResponseOf(output: unknown): unknown {
  if (typeof output !== "object" || output === null) return output;
  const message = output as BaseMessage & { tool_call_id?: unknown; status?: unknown; artifact?: unknown };
  if (typeof message.type === "string" && "content" in message) {
    const out: Record<string, unknown> = { ...messageOf(message) };
    if (message.artifact !== undefined) out.artifact = message.artifact;
    return out;
  }
  return { command: (output as { update?: unknown }).update };
}

/** A model's answer as recorded: the message and its usage and metadata. */
export function modelResponseOf(message: AIMessage | undefined): Record<string, unknown> | undefined {
  if (message === undefined) return undefined;
  const out: Record<string, unknown> = { ...messageOf(message) };
  if (message.usage_metadata !== undefined) out.usage_metadata = message.usage_metadata;
  if (message.response_metadata !== undefined && Object.keys(message.response_metadata).length > 0) {
    out.response_metadata = message.response_metadata;
  }
  if (typeof message.id === "string") out.id = message.id;
  return out;
}

export function checkRecorder(record: unknown): Recorder | undefined {
  if (record === undefined) return undefined;
  if (typeof (record as { attach?: unknown })?.attach !== "function") {
    throw new ConfigError("options.record", record, "a Recorder from @agent-sre/core");
  }
  return record as Recorder;
}
