import { ConfigError, type RefusalCode, RefusalError } from "@agent-sre/core";
import { AIMessage, type BaseMessage, ToolMessage } from "@langchain/core/messages";

/**
 * What the middleware does when the engine refuses (or a guarded call fails with a typed error):
 * - `"end"`: end the run gracefully — the model is not called and the run finishes with an AI message
 *   that explains why (a refused tool first answers its tool call with an error ToolMessage);
 * - `"error"`: throw — `agent.invoke` rejects with LangChain's `MiddlewareError` whose `cause` is the
 *   typed `RefusalError` (use `refusalFrom(error)`);
 * - `"tool-message"` (tool calls only): answer the tool call with an error ToolMessage the model can
 *   react to, and let the run go on. On a model call it means `"end"`.
 */
export type ViolationMode = "end" | "error" | "tool-message";

/** Modes per refusal code; `default` covers the codes not listed. */
export type ViolationModes = Partial<Record<RefusalCode, ViolationMode>> & { default?: ViolationMode };

/** One mode for every refusal, or per call kind — each a mode or a table per refusal code. */
export type OnViolation =
  | ViolationMode
  | { model?: ViolationMode | ViolationModes; tool?: ViolationMode | ViolationModes };

export const REFUSAL_CODES: readonly RefusalCode[] = [
  "CIRCUIT_OPEN",
  "BUDGET_EXCEEDED",
  "TOKEN_LIMIT_EXCEEDED",
  "AGENT_THROTTLED",
  "AGENT_KILLED",
  "AGENT_QUARANTINED",
  "TOOL_NOT_ALLOWED",
  "LOOP_DETECTED",
  "RATE_LIMITED",
  "MODEL_NOT_PRICED",
  "TIMEOUT",
  "CHAOS_INJECTED",
];

const MODES: readonly ViolationMode[] = ["end", "error", "tool-message"];

/**
 * Production defaults. Model calls: every pre-flight refusal ends the run gracefully; a timeout or an
 * injected fault is thrown like the provider error it stands for (so retry and fallback middleware see
 * it). Tool calls: a blocked or failing tool answers with an error ToolMessage; a killed, quarantined or
 * out-of-budget agent ends the run.
 */
export const DEFAULT_MODEL_MODES: Readonly<Record<RefusalCode, ViolationMode>> = {
  CIRCUIT_OPEN: "end",
  BUDGET_EXCEEDED: "end",
  TOKEN_LIMIT_EXCEEDED: "end",
  AGENT_THROTTLED: "end",
  AGENT_KILLED: "end",
  AGENT_QUARANTINED: "end",
  TOOL_NOT_ALLOWED: "end",
  LOOP_DETECTED: "end",
  RATE_LIMITED: "end",
  MODEL_NOT_PRICED: "end",
  TIMEOUT: "error",
  CHAOS_INJECTED: "error",
};

export const DEFAULT_TOOL_MODES: Readonly<Record<RefusalCode, ViolationMode>> = {
  CIRCUIT_OPEN: "tool-message",
  BUDGET_EXCEEDED: "end",
  TOKEN_LIMIT_EXCEEDED: "end",
  AGENT_THROTTLED: "tool-message",
  AGENT_KILLED: "end",
  AGENT_QUARANTINED: "end",
  TOOL_NOT_ALLOWED: "tool-message",
  LOOP_DETECTED: "tool-message",
  RATE_LIMITED: "tool-message",
  MODEL_NOT_PRICED: "tool-message",
  TIMEOUT: "tool-message",
  CHAOS_INJECTED: "tool-message",
};

export type ModeTable = Readonly<Record<RefusalCode, ViolationMode>>;

/** Resolves an `onViolation` option into one table per call kind, over `base` (the defaults or a parent table). */
export function resolveModes(
  option: OnViolation | undefined,
  base: { model: ModeTable; tool: ModeTable } = { model: DEFAULT_MODEL_MODES, tool: DEFAULT_TOOL_MODES },
  field = "onViolation",
): { model: ModeTable; tool: ModeTable } {
  if (option === undefined) return base;
  if (typeof option === "string") {
    const mode = checkMode(option, field);
    return { model: fill(base.model, mode, "model"), tool: fill(base.tool, mode, "tool") };
  }
  if (typeof option !== "object" || option === null) {
    throw new ConfigError(field, option, '"end", "error", "tool-message" or { model?, tool? }');
  }
  return {
    model: resolveKind(option.model, base.model, "model", `${field}.model`),
    tool: resolveKind(option.tool, base.tool, "tool", `${field}.tool`),
  };
}

function resolveKind(
  option: ViolationMode | ViolationModes | undefined,
  base: ModeTable,
  kind: "model" | "tool",
  field: string,
): ModeTable {
  if (option === undefined) return base;
  if (typeof option === "string") return fill(base, checkMode(option, field), kind);
  if (typeof option !== "object" || option === null) {
    throw new ConfigError(field, option, "a mode or an object of modes per refusal code");
  }
  const table = { ...base } as Record<RefusalCode, ViolationMode>;
  for (const key of Object.keys(option)) {
    if (key !== "default" && !REFUSAL_CODES.includes(key as RefusalCode)) {
      throw new ConfigError(
        `${field}.${key}`,
        key,
        `"default" or a refusal code (${REFUSAL_CODES.join(", ")})`,
      );
    }
  }
  if (option.default !== undefined) {
    const mode = forKind(checkMode(option.default, `${field}.default`), kind);
    for (const code of REFUSAL_CODES) table[code] = mode;
  }
  for (const code of REFUSAL_CODES) {
    const mode = option[code];
    if (mode !== undefined) table[code] = forKind(checkMode(mode, `${field}.${code}`), kind);
  }
  return table;
}

function fill(base: ModeTable, mode: ViolationMode, kind: "model" | "tool"): ModeTable {
  const table = { ...base } as Record<RefusalCode, ViolationMode>;
  for (const code of REFUSAL_CODES) table[code] = forKind(mode, kind);
  return table;
}

/** A model call cannot be answered with a ToolMessage: there `"tool-message"` means `"end"`. */
function forKind(mode: ViolationMode, kind: "model" | "tool"): ViolationMode {
  return kind === "model" && mode === "tool-message" ? "end" : mode;
}

function checkMode(mode: unknown, field: string): ViolationMode {
  if (!MODES.includes(mode as ViolationMode))
    throw new ConfigError(field, mode, '"end", "error" or "tool-message"');
  return mode as ViolationMode;
}

/**
 * The engine refusal behind an error, if any: the error itself or one in its `cause` chain (LangChain
 * wraps errors thrown by middleware in a `MiddlewareError` whose `cause` is the original).
 */
export function refusalFrom(error: unknown): RefusalError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    if (current instanceof RefusalError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The key under `response_metadata` where the adapter marks the messages it writes. */
export const METADATA_KEY = "agentSRE";

/** What the adapter writes under `response_metadata.agentSRE` of the messages it creates. */
export interface RefusalMetadata {
  /** `"end"`: the run was ended; `"tool-message"`: the tool call was answered with an error. */
  action: "end" | "tool-message";
  code: string;
  kind: "model" | "tool";
  /** The model or tool the refusal was about. */
  name: string;
  agentId: string | undefined;
  /** The engine's refusal message. */
  message: string;
  /** The text the run ends with (`"end"`) or the model reads (`"tool-message"`). */
  text: string;
}

/** Context for a refusal text: which call was refused and what the adapter does about it. */
export interface RefusalContext {
  kind: "model" | "tool";
  name: string;
  agentId: string;
  /** `"tool-message"`: the text answers the tool call for the model; `"end"`: the run ends with it. */
  action: "end" | "tool-message";
}

/** Turns a refusal into the text the model (tool-message) or the user (end) reads. */
export type RefusalFormatter = (refusal: RefusalError, context: RefusalContext) => string;

const TOOL_HINTS: Partial<Record<RefusalCode, string>> = {
  TOOL_NOT_ALLOWED: "Do not call this tool again; use another tool or answer without it.",
  LOOP_DETECTED:
    "Stop repeating this call: change the arguments, try another approach, or answer with what you have.",
  CIRCUIT_OPEN: "The tool is failing right now; use another tool or answer without it.",
  TIMEOUT: "The tool did not answer in time; you may retry once or continue without it.",
  CHAOS_INJECTED: "The tool failed with a transient error; you may retry once or continue without it.",
  AGENT_THROTTLED: "The agent is being rate-limited; wait before calling tools again.",
  RATE_LIMITED: "This tool's call-rate limit is reached; wait before calling it again or use another tool.",
};

/** The default texts: a tool-message tells the model what happened and what to do; an ending says why. */
export const defaultRefusalText: RefusalFormatter = (refusal, context) => {
  if (context.action === "tool-message") {
    const hint = TOOL_HINTS[refusal.code];
    return hint === undefined ? `Error: ${refusal.message}` : `Error: ${refusal.message}. ${hint}`;
  }
  return `The agent was stopped by Agent SRE (${refusal.code}): ${refusal.message}`;
};

export function metadataOf(refusal: RefusalError, context: RefusalContext, text: string): RefusalMetadata {
  return {
    action: context.action,
    code: refusal.code,
    kind: context.kind,
    name: context.name,
    agentId: refusal.agentId ?? context.agentId,
    message: refusal.message,
    text,
  };
}

/** The AI message that ends a run. */
export function endMessage(metadata: RefusalMetadata): AIMessage {
  return new AIMessage({ content: metadata.text, response_metadata: { [METADATA_KEY]: metadata } });
}

/** The error ToolMessage that answers a refused tool call. */
export function refusalToolMessage(
  toolCallId: string,
  toolName: string,
  metadata: RefusalMetadata,
): ToolMessage {
  return new ToolMessage({
    content: metadata.text,
    tool_call_id: toolCallId,
    name: toolName,
    status: "error",
    response_metadata: { [METADATA_KEY]: metadata },
  });
}

/**
 * If the latest tool results include one written in `"end"` mode, its metadata: the run must end
 * before the model is called again. Only the tool messages after the last AI message are looked at.
 */
export function pendingEnd(messages: readonly BaseMessage[]): RefusalMetadata | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i] as BaseMessage;
    if (!ToolMessage.isInstance(message)) return undefined;
    const metadata = (message.response_metadata as Record<string, unknown> | undefined)?.[METADATA_KEY] as
      | RefusalMetadata
      | undefined;
    if (metadata?.action === "end") return metadata;
  }
  return undefined;
}

/** The metadata the adapter attached to a message, if it wrote it. */
export function sreMetadata(message: BaseMessage): RefusalMetadata | undefined {
  return (message.response_metadata as Record<string, unknown> | undefined)?.[METADATA_KEY] as
    | RefusalMetadata
    | undefined;
}
