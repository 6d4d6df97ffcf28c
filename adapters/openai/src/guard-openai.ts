import {
  type AgentRef,
  type AgentSRE,
  ConfigError,
  type GuardCall,
  type GuardedCall,
  type ModelLimits,
  type ModelLimitsCatalog,
  type ModelRoute,
  type Recorder,
  refForAgent,
  reservedOutputTokens,
  resolveModelEstimateOptions,
  type UsageReport,
} from "@agent-sre/core";
import { GuardedAPIPromise, type Outcome, type ParseMode } from "./api-promise.js";
import { toClientError } from "./errors.js";
import { type OpenAIFailureClassifier, openAIFailureClassifier } from "./failure-class.js";
import { guardStream } from "./stream.js";
import { type Endpoint, estimateInputTokens, usageReport } from "./usage.js";

export interface GuardOpenAIOptions {
  /** The agent whose budget, breakers and policy apply to the client's calls. */
  agentId: string;
  /** The task (run, thread, user request) per-task budgets key on. */
  taskId?: string;
  /** Provider id for pricing. Default `"openai"` (set it for Azure or OpenAI-compatible servers). */
  provider?: string;
  /**
   * Output tokens the reservation assumes when a request sets no max. Default 4096 (core's
   * `DEFAULT_MAX_OUTPUT_TOKENS`, shared by every adapter), never more than the model's maximum output.
   */
  defaultMaxOutputTokens?: number;
  /** Where model limits come from. Default: core's models.dev catalog (`defaultModelLimits()`). */
  modelLimits?: ModelLimitsCatalog;
  /** Characters per token for the prompt estimate and for counting streamed output. Default 4. */
  charsPerToken?: number;
  /**
   * Lower the request's `max_completion_tokens` / `max_tokens` / `max_output_tokens` to what the task's
   * remaining budget or token cap can pay for, when that binds: below the request's own max or, when it sets
   * none, below the model's maximum output (models.dev catalog; 4096 for models it does not list). Otherwise
   * the request goes out untouched. Default true.
   */
  clampMaxOutputTokens?: boolean;
  /**
   * With the clamp on: when the budget cannot hold the reservation, the engine admits the call with as many
   * output tokens as still fit if at least this many (`estimate.minOutputTokens`), and the request's max
   * tokens is clamped to that; fewer, and the call is refused. Default 64.
   */
  minOutputTokens?: number;
  /**
   * Cut a stream off once its output (counted as it arrives) passes the allowance: it ends with
   * `finish_reason: "length"` (chat) or a `response.incomplete` event (responses), and the request is aborted.
   * Default true.
   */
  cutOffStreams?: boolean;
  /** Called when a stream is cut off by the in-flight cap. */
  onCutOff?: (info: {
    agentId: string;
    taskId: string | undefined;
    model: string;
    outputTokens: number;
    allowance: number;
  }) => void;
  /**
   * Per-call timeout (ms), overriding the engine's `timeouts.modelMs`; 0 disables. A stream must finish
   * within it: at the deadline its request is aborted and reading it throws the SDK's `APIError` (408).
   */
  timeoutMs?: number;
  /**
   * Record every call into a trace (a `Recorder` from `@agent-sre/core`, attached to `sre`): the request
   * body, and the response (the completion, or every stream chunk / event), with the engine's decision.
   */
  record?: Recorder;
}

/** The options every call reads. */
export interface ResolvedOptions {
  readonly sre: AgentSRE;
  readonly agentId: string;
  /** `agentId` bound once: the client's calls reach the agent's state without the engine's lookup by id. */
  readonly agentRef: AgentRef;
  readonly taskId: string | undefined;
  readonly provider: string;
  readonly defaultMaxOutputTokens: number;
  readonly charsPerToken: number;
  readonly clamp: boolean;
  readonly minOutputTokens: number;
  readonly modelLimits: ModelLimitsCatalog;
  readonly cutOff: boolean;
  readonly onCutOff: GuardOpenAIOptions["onCutOff"];
  readonly timeoutMs: number | undefined;
  /** The client's error types read as provider- or caller-side failures (failure-class.ts). */
  readonly classifyFailure: OpenAIFailureClassifier;
  readonly record: Recorder | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: the client's resource methods are the SDK's generics
type AnyFn = (...args: any[]) => any;
type Body = Record<string, unknown>;
type RequestOptions = { signal?: AbortSignal | null; [key: string]: unknown } | undefined;

/**
 * Returns a client whose `chat.completions.create` and `responses.create` — streaming or not, and the SDK
 * helpers built on them (`parse`, `stream`, `runTools`) — go through the engine: pre-flight (quarantine,
 * budget reservation from the prompt size and the request's max tokens, breakers), chaos, a clamped max
 * tokens, then usage from the response or the final stream chunk (`stream_options.include_usage` is added
 * to chat streams when absent), priced and committed once. A stream that is aborted, broken off or errors
 * settles with what it used so far. The client you pass is not changed (it is cloned with `withOptions`).
 *
 * ```ts
 * const openai = guardOpenAI(new OpenAI(), sre, { agentId: "support" });
 * const reply = await openai.chat.completions.create({ model: "gpt-4.1", messages });
 * ```
 */
export function guardOpenAI<C extends object>(client: C, sre: AgentSRE, options: GuardOpenAIOptions): C {
  return guardClient(client, sre, options, undefined);
}

/** `guardOpenAI`, with the agent bound already when a guarded client is derived (`withOptions`). */
function guardClient<C extends object>(
  client: C,
  sre: AgentSRE,
  options: GuardOpenAIOptions,
  agentRef: AgentRef | undefined,
): C {
  const resolved = resolveOptions(sre, options, client, agentRef);
  const source = client as Record<string, unknown> & { withOptions?: (o: object) => C };
  const cloned = typeof source.withOptions === "function";
  const guarded = (cloned ? source.withOptions?.({}) : Object.create(client)) as Record<string, unknown>;
  patch(guarded, ["chat", "completions"], "chat", resolved, cloned);
  patch(guarded, ["responses"], "responses", resolved, cloned);
  if (cloned) {
    const withOptions = guarded.withOptions as (o: object) => C;
    Object.defineProperty(guarded, "withOptions", {
      value: (more: object) => guardClient(withOptions.call(guarded, more), sre, options, resolved.agentRef),
      configurable: true,
      writable: true,
    });
  }
  return guarded as C;
}

function resolveOptions(
  sre: AgentSRE,
  options: GuardOpenAIOptions,
  client: object,
  agentRef: AgentRef | undefined,
): ResolvedOptions {
  const estimate = resolveModelEstimateOptions(options);
  return {
    sre,
    ...estimate,
    agentRef: refForAgent(agentRef, estimate.agentId) ?? sre.agentRef(estimate.agentId),
    taskId: options.taskId,
    provider: options.provider ?? "openai",
    cutOff: options.cutOffStreams ?? true,
    onCutOff: options.onCutOff,
    timeoutMs: options.timeoutMs,
    classifyFailure: openAIFailureClassifier(client),
    record: attachRecorder(sre, options.record),
  };
}

function attachRecorder(sre: AgentSRE, record: Recorder | undefined): Recorder | undefined {
  if (record === undefined) return undefined;
  if (typeof (record as { attach?: unknown })?.attach !== "function") {
    throw new ConfigError("record", record, "a Recorder from @agent-sre/core");
  }
  record.attach(sre);
  return record;
}

/**
 * Replaces `create` on the resource at `path` of the guarded client. On a clone the resources are the
 * clone's own (patched in place; the SDK's helpers reach them through the clone); otherwise each object on
 * the path is a prototype-linked copy, so the caller's client is never changed.
 */
function patch(
  root: Record<string, unknown>,
  path: string[],
  endpoint: Endpoint,
  o: ResolvedOptions,
  cloned: boolean,
): void {
  let holder = root;
  for (const key of path) {
    const next = holder[key] as Record<string, unknown> | undefined;
    if (next === null || typeof next !== "object") return; // this client has no such resource
    const own = cloned ? next : (Object.create(next) as Record<string, unknown>);
    if (!cloned) Object.defineProperty(holder, key, { value: own, configurable: true, writable: true });
    holder = own;
  }
  const resource = holder;
  const original = resource.create as AnyFn | undefined;
  if (typeof original !== "function") return;
  Object.defineProperty(resource, "create", {
    value: function create(body: Body, requestOptions?: RequestOptions) {
      return new GuardedAPIPromise((mode) =>
        execute(o, endpoint, original, resource, root, body, requestOptions, mode),
      );
    },
    configurable: true,
    writable: true,
  });
}

/** The output-token field a request uses (and the one a clamp writes). */
function maxTokensField(endpoint: Endpoint, body: Body): string {
  if (endpoint === "responses") return "max_output_tokens";
  return body.max_completion_tokens === undefined && body.max_tokens !== undefined
    ? "max_tokens"
    : "max_completion_tokens";
}

async function execute(
  o: ResolvedOptions,
  endpoint: Endpoint,
  original: AnyFn,
  resource: unknown,
  client: unknown,
  body: Body,
  requestOptions: RequestOptions,
  mode: () => ParseMode,
): Promise<Outcome> {
  const route = routeOf(o, body);
  if (route !== undefined && route.model !== body.model) body = { ...body, model: route.model };
  const stream = body?.stream === true;
  const maxField = maxTokensField(endpoint, body);
  const requested = typeof body[maxField] === "number" ? (body[maxField] as number) : undefined;
  const inputTokens = estimateInputTokens(endpoint, body, o.charsPerToken);
  const model = typeof body.model === "string" ? body.model : "unknown";
  const limits = o.modelLimits.resolve(model, o.provider);
  const reserved = reservedOutputTokens(requested, o.defaultMaxOutputTokens, o.clamp, limits);
  const call: GuardCall<unknown> = {
    kind: "model",
    agentId: o.agentId,
    agentRef: o.agentRef,
    name: model,
    provider: o.provider,
    // With the clamp, a budget that cannot hold `reserved` admits the call with the output tokens that fit.
    estimate: {
      inputTokens,
      outputTokens: reserved,
      minOutputTokens: o.clamp ? o.minOutputTokens : undefined,
    },
    // The SDK's error types say whose failure it was (a 400 is the agent's, a 503 the model's).
    classifyFailure: o.classifyFailure,
  };
  if (o.taskId !== undefined) call.taskId = o.taskId;
  if (o.timeoutMs !== undefined) call.timeoutMs = o.timeoutMs;
  o.record?.request(call, body, { api: endpoint === "chat" ? "openai.chat" : "openai.responses" });
  const callerSignal = requestOptions?.signal ?? undefined;
  const guardOptions = callerSignal === undefined ? undefined : { signal: callerSignal };

  const send = (inFlight: GuardedCall, signal: AbortSignal | undefined) => {
    const next = prepareBody(o, endpoint, body, inFlight, maxField, requested, limits, stream);
    const nextOptions = signal === callerSignal ? requestOptions : { ...requestOptions, signal };
    return original.call(resource, next, nextOptions) as ApiPromiseLike;
  };

  if (!stream) {
    call.usage = (data: unknown) => usageReport(endpoint, (data as { usage?: unknown } | undefined)?.usage);
    let outcome: Outcome | undefined;
    const run = async (signal: AbortSignal | undefined, inFlight: GuardedCall): Promise<unknown> => {
      const api = send(inFlight, signal);
      if (route?.mirror !== undefined) mirror(o, endpoint, original, resource, body, requestOptions, route);
      const payload = inFlight.resultPayload;
      inFlight.resultPayload = undefined; // placed below, in the field a reader sees
      await undefined; // let `.asResponse()` / `.withResponse()` chained on create() choose how to read
      outcome = await read(api, mode());
      if (payload !== undefined) injectResultPayload(endpoint, outcome.data, payload);
      if (outcome.data !== undefined) o.record?.response(call, outcome.data);
      if (outcome.data === undefined && outcome.response !== undefined) {
        // `asResponse()`: the caller reads the body; a copy tells us the usage.
        return outcome.response
          .clone()
          .json()
          .catch(() => undefined);
      }
      return outcome.data;
    };
    try {
      await o.sre.guard(call, run, guardOptions);
    } catch (error) {
      throw toClientError(error, client);
    }
    return outcome as Outcome;
  }

  // Streams: begin() now, settle when the stream ends, errors, times out, is aborted or broken off.
  let inFlight: GuardedCall;
  try {
    // The usual call is in flight at once (no promise, no await: see `AgentSRE.beginNow`).
    const begun = o.sre.beginNow(call, guardOptions);
    inFlight = begun instanceof Promise ? await begun : begun;
  } catch (error) {
    throw toClientError(error, client);
  }
  let outcome: Outcome;
  try {
    // The request gets the call's signal: it aborts on the caller's abort and at the call's deadline.
    const api = send(inFlight, inFlight.signal);
    if (route?.mirror !== undefined) mirror(o, endpoint, original, resource, body, requestOptions, route);
    outcome = await read(api, mode());
  } catch (error) {
    if (callerSignal?.aborted) {
      inFlight.cancel(callerSignal.reason);
      throw error;
    }
    inFlight.fail(error); // ignored when the deadline already failed the call
    const signal = inFlight.signal;
    throw toClientError(signal?.aborted ? signal.reason : error, client);
  }
  if (outcome.data === undefined) {
    // `asResponse()` on a stream: the caller reads the raw SSE body; the reservation (estimate) is charged.
    inFlight.succeed();
    return outcome;
  }
  const allowance = o.cutOff ? inFlight.outputTokenAllowance : Number.POSITIVE_INFINITY;
  outcome.data = guardStream(
    o,
    endpoint,
    outcome.data,
    inFlight,
    call,
    inputTokens,
    allowance,
    client,
    callerSignal,
  );
  return outcome;
}

/** Where the engine's delivery sends this request (a rollout variant, a budget downgrade), if anywhere. */
function routeOf(o: ResolvedOptions, body: Body): ModelRoute | undefined {
  const delivery = o.sre.delivery;
  if (delivery === undefined || typeof body?.model !== "string") return undefined;
  return delivery.route(o.agentId, o.taskId, body.model);
}

/**
 * The shadow copy of a request, to the rollout's candidate: not streamed, without the caller's signal, off
 * the caller's path. Its result is discarded; its outcome and cost go to the rollout, not the caller.
 */
function mirror(
  o: ResolvedOptions,
  endpoint: Endpoint,
  original: AnyFn,
  resource: unknown,
  body: Body,
  requestOptions: RequestOptions,
  route: ModelRoute,
): void {
  const target = route.mirror;
  const delivery = o.sre.delivery;
  if (target === undefined || delivery === undefined) return;
  const { stream: _stream, stream_options: _streamOptions, ...rest } = body;
  const { signal: _signal, ...options } = requestOptions ?? {};
  delivery.mirror(
    route,
    () => original.call(resource, { ...rest, model: target.model }, options) as PromiseLike<unknown>,
    (data) => usageReport(endpoint, (data as { usage?: unknown } | undefined)?.usage),
    o.provider,
  );
}

interface ApiPromiseLike extends PromiseLike<unknown> {
  withResponse?: () => Promise<{ data: unknown; response: Response; request_id?: string | null }>;
  asResponse?: () => Promise<Response>;
  _thenUnwrap?: (fn: (data: unknown, props: unknown) => unknown) => ApiPromiseLike;
}

/** Reads the SDK's APIPromise the way the caller asked for, keeping the raw response and the parse props. */
async function read(api: ApiPromiseLike, mode: ParseMode): Promise<Outcome> {
  if (mode === "response" && typeof api.asResponse === "function") {
    return { data: undefined, response: await api.asResponse(), requestId: null, props: undefined };
  }
  if (typeof api.withResponse !== "function")
    return { data: await api, response: undefined, requestId: null, props: undefined };
  if (typeof api._thenUnwrap === "function") {
    const captured = api._thenUnwrap((data, props) => ({ data, props }));
    const { data, response, request_id } = await (
      captured.withResponse as NonNullable<ApiPromiseLike["withResponse"]>
    )();
    const inner = data as { data: unknown; props: unknown };
    return { data: inner.data, response, requestId: request_id ?? null, props: inner.props };
  }
  const { data, response, request_id } = await api.withResponse();
  return { data, response, requestId: request_id ?? null, props: undefined };
}

/** The body the API should see: max tokens clamped to the allowance, usage on streams, chaos input payloads. */
function prepareBody(
  o: ResolvedOptions,
  endpoint: Endpoint,
  body: Body,
  inFlight: GuardedCall,
  maxField: string,
  requested: number | undefined,
  limits: ModelLimits | undefined,
  stream: boolean,
): Body {
  let next = body;
  const copy = () => {
    if (next === body) next = { ...body };
    return next;
  };
  if (o.clamp) {
    // Only when the budget binds, and never above the model's maximum output (a provider 400s that).
    const cap = inFlight.outputTokenCap(requested, limits);
    if (cap !== undefined) copy()[maxField] = cap;
  }
  if (stream && endpoint === "chat") {
    const streamOptions = body.stream_options as { include_usage?: boolean } | undefined | null;
    if (streamOptions?.include_usage === undefined)
      copy().stream_options = { ...streamOptions, include_usage: true };
  }
  const payload = inFlight.inputPayload;
  if (payload !== undefined) {
    if (endpoint === "chat") {
      copy().messages = [...((body.messages as unknown[]) ?? []), { role: "user", content: payload }];
    } else if (typeof body.input === "string") {
      copy().input = `${body.input}\n\n${payload}`;
    } else {
      copy().input = [...((body.input as unknown[]) ?? []), { role: "user", content: payload }];
    }
  }
  return next;
}

function injectResultPayload(endpoint: Endpoint, data: unknown, payload: string): void {
  if (data === null || typeof data !== "object") return;
  if (endpoint === "chat") {
    const message = (data as { choices?: Array<{ message?: { content?: unknown } }> }).choices?.[0]?.message;
    if (message !== undefined) {
      message.content =
        typeof message.content === "string" && message.content.length > 0
          ? `${message.content}\n\n${payload}`
          : payload;
    }
    return;
  }
  const response = data as { output_text?: unknown };
  response.output_text =
    typeof response.output_text === "string" && response.output_text.length > 0
      ? `${response.output_text}\n\n${payload}`
      : payload;
}

export type { UsageReport };
