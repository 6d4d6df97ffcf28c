import { injectPayload } from "@agent-sre/core";
import { type AIMessage, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";

/** What the adapter needs to know about a chat model, resolved once per model instance. */
export interface ModelInfo {
  /** The requested model id (`gpt-4o-mini`); the breaker key and the price when the response names none. */
  readonly name: string;
  /** The LangChain provider id (`openai`, `anthropic`, `google_genai`, ...), used to find the price. */
  readonly provider: string | undefined;
  /** The model's configured output cap, if it has one. */
  readonly maxTokens: number | undefined;
  /** The field that holds that cap (`maxTokens`, `maxOutputTokens`, ...), if the model has one. */
  readonly maxTokensField: string | undefined;
}

/** Output-cap fields of LangChain chat models, in the order they are tried. */
const MAX_TOKEN_FIELDS = ["maxTokens", "maxOutputTokens", "maxCompletionTokens", "numPredict"] as const;
const NAME_FIELDS = ["model", "modelName", "modelId", "deploymentName"] as const;

const infoCache = new WeakMap<object, ModelInfo>();
const UNKNOWN: ModelInfo = {
  name: "unknown",
  provider: undefined,
  maxTokens: undefined,
  maxTokensField: undefined,
};

/** Resolves the name, provider and output cap of a chat model (a BaseChatModel, a binding, a configurable model). */
export function modelInfo(model: unknown): ModelInfo {
  if (typeof model !== "object" || model === null) {
    return typeof model === "string" ? { ...UNKNOWN, name: model } : UNKNOWN;
  }
  let info = infoCache.get(model);
  if (info === undefined) {
    info = resolveInfo(model as Record<string, unknown>, 0);
    infoCache.set(model, info);
  }
  return info;
}

function resolveInfo(model: Record<string, unknown>, depth: number): ModelInfo {
  // RunnableBinding (model.withConfig / bindTools): the model is its `bound`.
  const bound = model.bound;
  if (depth < 4 && typeof bound === "object" && bound !== null && "kwargs" in model) {
    return resolveInfo(bound as Record<string, unknown>, depth + 1);
  }
  // ConfigurableModel (createAgent({ model: "openai:gpt-4o" }) / initChatModel): the name is in its default config.
  const defaults = model._defaultConfig as { model?: unknown; modelProvider?: unknown } | undefined;
  if (typeof defaults === "object" && defaults !== null && typeof defaults.model === "string") {
    const [prefix, rest] = splitProvider(defaults.model);
    const provider = typeof defaults.modelProvider === "string" ? defaults.modelProvider : prefix;
    return { name: rest, provider, maxTokens: undefined, maxTokensField: undefined };
  }
  let name: string | undefined;
  for (const field of NAME_FIELDS) {
    const value = model[field];
    if (typeof value === "string" && value.length > 0) {
      name = value;
      break;
    }
  }
  let maxTokensField: string | undefined;
  let maxTokens: number | undefined;
  for (const field of MAX_TOKEN_FIELDS) {
    if (!(field in model)) continue;
    maxTokensField = field;
    const value = model[field];
    if (typeof value === "number" && Number.isFinite(value) && value > 0) maxTokens = value;
    break;
  }
  return {
    name: name ?? llmType(model) ?? "unknown",
    provider: lsProvider(model),
    maxTokens,
    maxTokensField,
  };
}

function splitProvider(model: string): [string | undefined, string] {
  const colon = model.indexOf(":");
  return colon > 0 ? [model.slice(0, colon), model.slice(colon + 1)] : [undefined, model];
}

function llmType(model: Record<string, unknown>): string | undefined {
  try {
    const type = typeof model._llmType === "function" ? (model._llmType as () => unknown)() : undefined;
    return typeof type === "string" ? type : undefined;
  } catch {
    return undefined;
  }
}

function lsProvider(model: Record<string, unknown>): string | undefined {
  if (typeof model.getLsParams !== "function") return undefined;
  try {
    const params = (model.getLsParams as (options: object) => { ls_provider?: unknown })({});
    return typeof params?.ls_provider === "string" ? params.ls_provider : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A per-call view of `model` whose output cap is `maxTokens`; the original instance is not touched.
 * LangChain chat models read their cap from an instance field (not a call option), so the view is a
 * prototype-linked clone with that one field overridden — also on ChatOpenAI's `completions` /
 * `responses` delegates. Returns `undefined` when the model has no known cap field (then nothing is clamped).
 */
export function withMaxTokens(model: unknown, maxTokens: number): unknown {
  if (typeof model !== "object" || model === null) return undefined;
  return clampObject(model as Record<string, unknown>, maxTokens, 0);
}

function clampObject(model: Record<string, unknown>, maxTokens: number, depth: number): object | undefined {
  const bound = model.bound;
  if (depth < 4 && typeof bound === "object" && bound !== null && "kwargs" in model) {
    const clamped = clampObject(bound as Record<string, unknown>, maxTokens, depth + 1);
    if (clamped === undefined) return undefined;
    const binding = Object.create(model) as Record<string, unknown>;
    binding.bound = clamped;
    return binding;
  }
  const field = MAX_TOKEN_FIELDS.find((name) => name in model);
  if (field === undefined) return undefined;
  const clone = viewWithCap(model, field, maxTokens);
  for (const delegate of ["completions", "responses"]) {
    const inner = model[delegate];
    if (typeof inner === "object" && inner !== null && field in inner) {
      clone[delegate] = viewWithCap(inner as Record<string, unknown>, field, maxTokens);
    }
  }
  return clone;
}

/**
 * A prototype-linked view with the cap overridden. Models that rebuild themselves from their constructor
 * fields (ChatOpenAI's `withConfig` / `bindTools` do `new ChatOpenAI(this.fields)`) get those fields
 * overridden too, so the rebuilt model keeps the cap.
 */
function viewWithCap(
  model: Record<string, unknown>,
  field: string,
  maxTokens: number,
): Record<string, unknown> {
  const view = Object.create(model) as Record<string, unknown>;
  view[field] = maxTokens;
  const fields = model.fields;
  if (typeof fields === "object" && fields !== null && !Array.isArray(fields)) {
    const copy: Record<string, unknown> = { ...(fields as Record<string, unknown>), [field]: maxTokens };
    for (const alias of CAP_ALIASES) if (alias in copy) copy[alias] = maxTokens;
    view.fields = copy;
  }
  return view;
}

/** Constructor fields that set the same cap (ChatOpenAI prefers `maxCompletionTokens` over `maxTokens`). */
const CAP_ALIASES = [...MAX_TOKEN_FIELDS, "max_tokens", "maxCompletionTokens"] as const;

/** Model classes whose instances cannot run as a prototype-linked view (they use `#private` members). */
const unclampable = new WeakSet<object>();

/** Whether per-call clamping may be tried on this model (not known to break on a prototype-linked view). */
export function isClampable(model: unknown): boolean {
  const ctor = typeof model === "object" && model !== null ? (model as object).constructor : undefined;
  return typeof ctor === "function" && !unclampable.has(ctor);
}

/** How many classes were found unclampable so far (a cached `isClampable` answer is current while it stays). */
let unclampableClasses = 0;

export function unclampableCount(): number {
  return unclampableClasses;
}

/** Remembers that this model's class cannot be clamped by a view (it uses `#private` members). */
export function markUnclampable(model: unknown): void {
  const ctor = typeof model === "object" && model !== null ? (model as object).constructor : undefined;
  if (typeof ctor === "function" && !unclampable.has(ctor)) {
    unclampable.add(ctor);
    unclampableClasses++;
  }
}

/** The TypeError V8 throws when a `#private` member is used on an object whose class did not create it. */
export function isPrivateMemberError(error: unknown): boolean {
  let current: unknown = error;
  // Inner middleware wraps errors in MiddlewareError (cause = the original).
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    if (
      current instanceof TypeError &&
      /private member|Receiver must be an instance|Cannot (read|write) private/i.test(current.message)
    ) {
      return true;
    }
    current = current.cause;
  }
  return false;
}

/** Characters per token for the rough prompt-size estimate that sizes the budget reservation. */
const CHARS_PER_TOKEN = 4;
/** Per-message framing tokens (role, separators), as providers count them. */
const TOKENS_PER_MESSAGE = 4;
/** A non-text content part (image, audio, file): a flat guess. */
const CHARS_PER_MEDIA_PART = 1024;
/** A tool call in an earlier AI message: name, id and arguments, a flat guess. */
const CHARS_PER_TOOL_CALL = 96;

/** A cheap estimate of a prompt's size in tokens (about 4 characters a token); no tokenizer, no allocation. */
export function estimateInputTokens(messages: readonly BaseMessage[], system?: BaseMessage): number {
  let chars = 0;
  let framing = 0;
  if (system !== undefined) {
    const content = system.content;
    const systemChars = typeof content === "string" ? content.length : contentChars(content);
    if (systemChars > 0) {
      chars += systemChars;
      framing += TOKENS_PER_MESSAGE;
    }
  }
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i] as BaseMessage;
    // Text content (the usual message) counted here: contentChars (a loop over parts) is not inlined.
    const content = message.content;
    chars += typeof content === "string" ? content.length : contentChars(content);
    const toolCalls = (message as AIMessage).tool_calls;
    if (toolCalls !== undefined) chars += toolCalls.length * CHARS_PER_TOOL_CALL;
    framing += TOKENS_PER_MESSAGE;
  }
  return Math.ceil(chars / CHARS_PER_TOKEN) + framing;
}

function contentChars(content: unknown): number {
  if (typeof content === "string") return content.length;
  if (!Array.isArray(content)) return 0;
  let chars = 0;
  for (const part of content) {
    if (typeof part === "string") chars += part.length;
    else if (typeof part === "object" && part !== null) {
      const text = (part as { text?: unknown }).text;
      chars += typeof text === "string" ? text.length : CHARS_PER_MEDIA_PART;
    }
  }
  return chars;
}

/**
 * The model input with a chaos payload placed where the model will read it: appended to the last
 * human or tool message (a copy; the state's messages are not touched), else as a new human message.
 */
export function withInputPayload(messages: readonly BaseMessage[], payload: string): BaseMessage[] {
  const copy = messages.slice();
  const last = copy.at(-1);
  if (last !== undefined && ToolMessage.isInstance(last)) {
    copy[copy.length - 1] = new ToolMessage({
      content: injectPayload(last.content, payload) as ToolMessage["content"],
      tool_call_id: last.tool_call_id,
      ...(last.name === undefined ? {} : { name: last.name }),
      ...(last.id === undefined ? {} : { id: last.id }),
      ...(last.status === undefined ? {} : { status: last.status }),
      artifact: last.artifact,
      additional_kwargs: last.additional_kwargs,
      response_metadata: last.response_metadata,
    });
  } else if (last !== undefined && HumanMessage.isInstance(last)) {
    copy[copy.length - 1] = new HumanMessage({
      content: injectPayload(last.content, payload) as HumanMessage["content"],
      ...(last.name === undefined ? {} : { name: last.name }),
      ...(last.id === undefined ? {} : { id: last.id }),
      additional_kwargs: last.additional_kwargs,
      response_metadata: last.response_metadata,
    });
  } else {
    copy.push(new HumanMessage(payload));
  }
  return copy;
}
