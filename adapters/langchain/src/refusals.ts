import { ConfigError, type RefusalCode, RefusalError } from "@agent-sre/core";
import { AIMessage, type BaseMessage, ToolMessage } from "@langchain/core/messages";

/**
 * What the middleware does when the engine refuses a call (or a guarded call fails with a typed error).
 * Each mode means the same for model and tool calls:
 * - `"end"`: end the run gracefully through LangChain's own `jumpTo: "end"` — nothing else is called and
 *   the run resolves with a final AI message that says why (with `responseFormat`, where an early end has
 *   no structured response, the refusal is thrown instead);
 * - `"error"`: throw the typed `RefusalError` — outer middleware (`modelFallbackMiddleware`,
 *   `modelRetryMiddleware`, `toolRetryMiddleware`) sees it like the provider or tool error it stands for;
 *   if nothing handles it, `agent.invoke` rejects (`refusalFrom(error)` finds the refusal);
 * - `"continue"` (tool calls only): answer the refused call with an error result the model reads, and let
 *   the run go on. A model call cannot be answered for the model, so there this mode is a config error.
 */
export type ViolationMode = "end" | "error" | "continue";

/** The modes a model call accepts. */
export type ModelViolationMode = Exclude<ViolationMode, "continue">;

/** Modes per refusal code; `default` covers the codes not listed. */
export type ViolationModes<Mode extends string = ViolationMode> = Partial<Record<RefusalCode, Mode>> & {
  default?: Mode;
};

/** One mode for every refusal, or per call kind — each a mode or a table per refusal code. */
export type OnViolation =
  | ModelViolationMode
  | {
      model?: ModelViolationMode | ViolationModes<ModelViolationMode>;
      tool?: ViolationMode | ViolationModes<ViolationMode>;
    };

export const REFUSAL_CODES: readonly RefusalCode[] = [
  "CIRCUIT_OPEN",
  "BUDGET_EXCEEDED",
  "TOKEN_LIMIT_EXCEEDED",
  "AGENT_THROTTLED",
  "AGENT_KILLED",
  "ANOMALY_HELD",
  "AGENT_QUARANTINED",
  "TOOL_NOT_ALLOWED",
  "LOOP_DETECTED",
  "RATE_LIMITED",
  "MODEL_NOT_PRICED",
  "TIMEOUT",
  "CHAOS_INJECTED",
  "RETRY_BUDGET_EXCEEDED",
];

/**
 * Model-call defaults, chosen so LangChain's resilience middleware works out of the box: a refusal that
 * another attempt or another model can get past (an open breaker, a rate limit, a throttle, a timeout, an
 * injected fault, an unpriced model) is thrown like the provider error it stands for, so
 * `modelFallbackMiddleware` / `modelRetryMiddleware` wrapped around this middleware handle it; a refusal
 * about the agent itself or its money (killed, held after a cost anomaly, quarantined, out of budget or
 * tokens) ends the run.
 */
export const DEFAULT_MODEL_MODES: Readonly<Record<RefusalCode, ModelViolationMode>> = {
  CIRCUIT_OPEN: "error",
  BUDGET_EXCEEDED: "end",
  TOKEN_LIMIT_EXCEEDED: "end",
  AGENT_THROTTLED: "error",
  AGENT_KILLED: "end",
  ANOMALY_HELD: "end",
  AGENT_QUARANTINED: "end",
  TOOL_NOT_ALLOWED: "end",
  LOOP_DETECTED: "end",
  RATE_LIMITED: "error",
  MODEL_NOT_PRICED: "error",
  TIMEOUT: "error",
  CHAOS_INJECTED: "error",
  RETRY_BUDGET_EXCEEDED: "error",
};

/**
 * Tool-call defaults: a blocked call (allow-list, loop, open breaker, rate limit, throttle) answers the
 * model with an error result and the run goes on; a timeout or an injected fault is thrown like the tool
 * error it stands for (so `toolRetryMiddleware` retries it; see `toolErrors`); a killed, held, quarantined or
 * out-of-budget agent ends the run.
 */
export const DEFAULT_TOOL_MODES: Readonly<Record<RefusalCode, ViolationMode>> = {
  CIRCUIT_OPEN: "continue",
  BUDGET_EXCEEDED: "end",
  TOKEN_LIMIT_EXCEEDED: "end",
  AGENT_THROTTLED: "continue",
  AGENT_KILLED: "end",
  ANOMALY_HELD: "end",
  AGENT_QUARANTINED: "end",
  TOOL_NOT_ALLOWED: "continue",
  LOOP_DETECTED: "continue",
  RATE_LIMITED: "continue",
  MODEL_NOT_PRICED: "continue",
  TIMEOUT: "error",
  CHAOS_INJECTED: "error",
  RETRY_BUDGET_EXCEEDED: "continue",
};

/** Refusals that stand for a failure of the tool itself: by default they follow `toolErrors`. */
const TOOL_FAILURE_CODES: readonly RefusalCode[] = ["TIMEOUT", "CHAOS_INJECTED"];

export type ModeTable = Readonly<Record<RefusalCode, ViolationMode>>;
export interface Modes {
  model: ModeTable;
  tool: ModeTable;
}

/** The default tables, with tool failures (timeouts, injected faults) following `toolErrors`. */
export function defaultModes(toolErrors: ToolErrorMode): Modes {
  if (toolErrors === "error") return { model: DEFAULT_MODEL_MODES, tool: DEFAULT_TOOL_MODES };
  const tool = { ...DEFAULT_TOOL_MODES } as Record<RefusalCode, ViolationMode>;
  for (const code of TOOL_FAILURE_CODES) tool[code] = toolErrors;
  return { model: DEFAULT_MODEL_MODES, tool };
}

/**
 * What an ordinary tool error (the tool threw) does: `"error"` (default) lets it propagate exactly as
 * thrown, so `toolRetryMiddleware` or LangChain's own error handling sees it; `"continue"` answers the
 * call with an error ToolMessage (`"<error>\n Please fix your mistakes."`, as LangChain does without any
 * `wrapToolCall` middleware) and the run goes on.
 */
export type ToolErrorMode = "error" | "continue";

export function checkToolErrors(value: unknown, field = "toolErrors"): ToolErrorMode {
  if (value === "error" || value === "continue") return value;
  throw new ConfigError(field, value, '"error" or "continue"');
}

/** Resolves an `onViolation` option into one table per call kind, over `base` (the defaults or a parent table). */
export function resolveModes(option: OnViolation | undefined, base: Modes, field = "onViolation"): Modes {
  if (option === undefined) return base;
  if (typeof option === "string") {
    const mode = checkMode(option, field, "model");
    return { model: fill(base.model, mode), tool: fill(base.tool, mode) };
  }
  if (typeof option !== "object" || option === null) {
    throw new ConfigError(field, option, '"end", "error" or { model?, tool? }');
  }
  for (const key of Object.keys(option)) {
    if (key !== "model" && key !== "tool") {
      throw new ConfigError(`${field}.${key}`, key, '"model" or "tool"');
    }
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
  if (typeof option === "string") return fill(base, checkMode(option, field, kind));
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
    const mode = checkMode(option.default, `${field}.default`, kind);
    for (const code of REFUSAL_CODES) table[code] = mode;
  }
  for (const code of REFUSAL_CODES) {
    const mode = option[code];
    if (mode !== undefined) table[code] = checkMode(mode, `${field}.${code}`, kind);
  }
  return table;
}

function fill(base: ModeTable, mode: ViolationMode): ModeTable {
  const table = { ...base } as Record<RefusalCode, ViolationMode>;
  for (const code of REFUSAL_CODES) table[code] = mode;
  return table;
}

function checkMode(mode: unknown, field: string, kind: "model" | "tool"): ViolationMode {
  if (mode === "end" || mode === "error" || (mode === "continue" && kind === "tool")) return mode;
  if (mode === "continue") {
    throw new ConfigError(
      field,
      mode,
      kind === "model" && !field.includes(".model")
        ? '"end" or "error" for every call ("continue" applies to tool calls only: use { tool: "continue" })'
        : '"end" or "error" ("continue" answers a tool call; a model call cannot be answered for the model)',
    );
  }
  if (mode === "tool-message") {
    throw new ConfigError(
      field,
      mode,
      `"end", "error"${kind === "tool" ? ' or "continue" ("tool-message" was renamed "continue")' : ""}`,
    );
  }
  throw new ConfigError(field, mode, kind === "tool" ? '"end", "error" or "continue"' : '"end" or "error"');
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

/** The mark LangChain's `stampRetryable` / `getRetryable` use (a registered symbol, shared by every copy of core). */
const RETRYABLE = Symbol.for("langchain.errors.retryable");

/**
 * A `retryOn` for LangChain's `modelRetryMiddleware` / `toolRetryMiddleware`: an engine refusal is retried
 * only when it says it can succeed later (`retryable`: an open breaker, a throttle, a rate limit, a
 * timeout, an injected fault) — not a budget, a kill or a block; any other error as LangChain decides by
 * default (its retryability mark, else retried).
 */
export function retryableError(error: unknown): boolean {
  const refusal = refusalFrom(error);
  if (refusal !== undefined) return refusal.retryable;
  if (typeof error !== "object" || error === null) return true;
  const mark = Object.getOwnPropertyDescriptor(error, RETRYABLE)?.value;
  return typeof mark === "boolean" ? mark : true;
}

/** The key under `response_metadata` where the adapter marks the messages it writes. */
export const METADATA_KEY = "agentSRE";

/** What the adapter writes under `response_metadata.agentSRE` of the messages it creates. */
export interface RefusalMetadata {
  /** `"end"`: the run was ended; `"continue"`: the tool call was answered with an error and the run went on. */
  action: "end" | "continue";
  code: string;
  kind: "model" | "tool";
  /** The model or tool the refusal was about. */
  name: string;
  agentId: string | undefined;
  /** The engine's refusal message. */
  message: string;
  /** The text the run ends with (`"end"`) or the model reads (`"continue"`). */
  text: string;
}

/** Context for a refusal text: which call was refused and what the adapter does about it. */
export interface RefusalContext {
  kind: "model" | "tool";
  name: string;
  agentId: string;
  /** `"continue"`: the text answers the tool call for the model; `"end"`: the run ends with it. */
  action: "end" | "continue";
}

/** Turns a refusal into the text the model (`"continue"`) or the user (`"end"`) reads. */
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

/** The default texts: a tool answer tells the model what happened and what to do; an ending says why. */
export const defaultRefusalText: RefusalFormatter = (refusal, context) => {
  if (context.action === "continue") {
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

/** The metadata the adapter attached to a message, if it wrote it. */
export function sreMetadata(message: BaseMessage): RefusalMetadata | undefined {
  return (message.response_metadata as Record<string, unknown> | undefined)?.[METADATA_KEY] as
    | RefusalMetadata
    | undefined;
}
