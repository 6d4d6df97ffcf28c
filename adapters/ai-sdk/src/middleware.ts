import type {
  AgentRef,
  AgentSRE,
  Delivery,
  GuardCall,
  GuardedCall,
  ModelLimits,
  ModelLimitsCatalog,
  OutcomeMapping,
  Recorder,
  RefusalCode,
  UsageReport,
} from "@agent-sre/core";
import {
  ConfigError,
  FailedAttempts,
  failedWith,
  RefusalError,
  refForAgent,
  reservedOutputTokens,
  resolveModelEstimateOptions,
} from "@agent-sre/core";
import { apiCallErrorLoaded, loadApiCallError, toSdkErrorLoaded } from "./errors.js";
import { classifyAiSdkFailure } from "./failure-class.js";
import { AI_SDK_API, generateResponseOf, requestOf } from "./record.js";
import {
  type ModelTable,
  modelTable,
  type Routed,
  type RouteModels,
  routeCall,
  startMirror,
} from "./routing.js";
import { StreamTap } from "./stream-tap.js";
import type {
  AgentSREProviderOptions,
  CallOptionsLike,
  GenerateResultLike,
  LanguageModelLike,
  StreamResultLike,
} from "./types.js";
import { estimatePromptTokens, toUsageReport } from "./usage.js";

export interface AgentSREModelOptions<V extends string = "v3"> {
  /** The agent whose budget, breakers and policy apply. `providerOptions.agentSre.agentId` overrides it per request. */
  agentId: string;
  /** The task (run, thread, user request) per-task budgets key on. `providerOptions.agentSre.taskId` overrides it. */
  taskId?: string;
  /**
   * The output cap assumed for the budget reservation when a call sets no `maxOutputTokens`. Default 4096
   * (core's `DEFAULT_MAX_OUTPUT_TOKENS`, shared by every adapter), never more than the model's maximum output.
   * The reservation is the call's worst case; it is settled with the real usage afterwards.
   */
  defaultMaxOutputTokens?: number;
  /** Where model limits come from. Default: core's models.dev catalog (`defaultModelLimits()`). */
  modelLimits?: ModelLimitsCatalog;
  /** Characters per token for the prompt estimate and for counting streamed output. Default 4. */
  charsPerToken?: number;
  /** Prompt-size estimate of your own (e.g. a real tokenizer). Default: characters / `charsPerToken`. */
  estimateInputTokens?: (params: CallOptionsLike) => number;
  /**
   * Lower `maxOutputTokens` to what the task's remaining budget or token cap can still pay for
   * (`inFlight.outputTokenAllowance`) when that binds: below the call's own `maxOutputTokens`, or, when it
   * sets none, below the model's maximum output (from the models.dev catalog; 4096 for models it does not
   * list). Otherwise the call goes out untouched. Default true.
   */
  clampMaxOutputTokens?: boolean;
  /**
   * When the reservation for `defaultMaxOutputTokens` (or a smaller `maxOutputTokens`) does not fit the
   * remaining budget, the engine admits the call with as many output tokens as still fit if that is at
   * least this many (`estimate.minOutputTokens`), and `maxOutputTokens` is clamped to it; fewer, and the call
   * is refused. Default 64. Only with `clampMaxOutputTokens`.
   */
  minOutputTokens?: number;
  /**
   * Cut a streamed call off mid-stream once its output (counted as it arrives) passes the allowance: the
   * stream ends with `finishReason` `{ unified: "length", raw: "agent-sre-budget" }` and the call succeeds
   * with what it produced (a normal, budget-driven end). Default true.
   */
  cutOffStreams?: boolean;
  /** Called when a stream is cut off by the in-flight cap. */
  onCutOff?: (info: CutOffInfo) => void;
  /**
   * `retry-after-ms` on injected (chaos) and timeout errors, which the SDK honours between retries.
   * Default: none (the SDK backs off as for a real provider 5xx, from 2 s).
   */
  retryAfterMs?: number;
  /**
   * Per-call timeout (ms), overriding the engine's `timeouts.modelMs`; 0 disables. A stream must finish
   * within it: at the deadline the provider's request is aborted and the stream ends with a retryable
   * `APICallError` (408, `code: "TIMEOUT"`).
   */
  timeoutMs?: number;
  /**
   * End the run gracefully instead of failing it when a model call is refused before it is sent (exhausted
   * budget, killed or quarantined agent, open breaker, ...): the call answers with no content and the
   * finish reason `{ unified: "other", raw: "agent-sre-refused" }` (`REFUSED_FINISH_REASON`), so
   * `generateText` / `streamText` end there with the steps so far, as the in-flight cut-off does. `true` for
   * every refusal, or the refusal codes that should end the run. Injected faults and timeouts still fail
   * (the SDK retries them). Default false: the refusal is thrown (`refusalFrom(error)` finds it).
   */
  endRunOnRefusal?: boolean | readonly RefusalCode[];
  /** Called with the refusal that ended a run (with `endRunOnRefusal`). */
  onEndRun?: (
    refusal: RefusalError,
    info: { agentId: string; taskId: string | undefined; model: string },
  ) => void;
  /**
   * Progressive delivery: the models a `Delivery` on the engine (`sre.delivery`) may route this model's calls
   * to — rollout candidates, budget-downgrade targets — by model id, or a factory (`(id) => openai(id)`).
   * Each call asks the delivery where it goes (sticky per task); the call is then made to, guarded and
   * priced as that model, and a sampled share is mirrored to the candidate off the caller's path.
   */
  models?: RouteModels;
  /**
   * The middleware's `specificationVersion`. `"v3"` (default) type-checks with ai@6's `wrapLanguageModel`
   * and ai@7's; set `"v4"` if your types want ai@7's own literal. At run time neither SDK reads it.
   */
  specificationVersion?: V;
  /**
   * Record every call of this model into a trace (`Recorder` from `@agent-sre/core`): the request (prompt,
   * tools offered, parameters) and the response (content, tool calls, usage, finish reason, or every
   * stream part), with the engine's decision. The recorder is attached to `sre`.
   */
  record?: Recorder;
}

export interface CutOffInfo {
  agentId: string;
  taskId: string | undefined;
  model: string;
  /** Output tokens counted when the stream was cut off. */
  outputTokens: number;
  /**
   * The call's output-token allowance: what the budget could pay for when the call started, or when its
   * output passed what its reservation holds (read then, if the clamp did not need it before).
   */
  allowance: number;
}

type WrapOptions<R, S> = {
  doGenerate: () => PromiseLike<R>;
  doStream: () => PromiseLike<S>;
  // biome-ignore lint/suspicious/noExplicitAny: the call options differ between specification versions
  params: any;
  model: LanguageModelLike;
};

/**
 * An AI SDK language-model middleware (structural: the same object works with ai@6's
 * `LanguageModelV3Middleware` and ai@7's `LanguageModelMiddleware`).
 */
export interface AgentSREMiddleware<V extends string = "v3"> {
  readonly specificationVersion: V;
  wrapGenerate<R>(options: WrapOptions<R, unknown>): Promise<R>;
  wrapStream<S>(options: WrapOptions<unknown, S>): Promise<S>;
}

/** The resolved options every call reads (no per-call allocation of option objects). */
export interface ResolvedModelOptions {
  readonly sre: AgentSRE;
  readonly agentId: string;
  /** `agentId` bound once: its calls reach the agent's state without the engine's lookup by id. */
  readonly agentRef: AgentRef;
  readonly taskId: string | undefined;
  readonly defaultMaxOutputTokens: number;
  readonly charsPerToken: number;
  readonly estimateInputTokens: ((params: CallOptionsLike) => number) | undefined;
  readonly clamp: boolean;
  readonly minOutputTokens: number;
  readonly modelLimits: ModelLimitsCatalog;
  readonly cutOff: boolean;
  readonly onCutOff: ((info: CutOffInfo) => void) | undefined;
  readonly retryAfterMs: number | undefined;
  readonly timeoutMs: number | undefined;
  readonly endRunOn: ((code: RefusalCode) => boolean) | undefined;
  readonly onEndRun: AgentSREModelOptions<string>["onEndRun"];
  readonly record: Recorder | undefined;
  readonly models: ModelTable;
}

/** The raw finish reason of a model call that `endRunOnRefusal` answered instead of the provider. */
export const REFUSED_FINISH_REASON = "agent-sre-refused";

/**
 * Puts every model call of the wrapped model through the engine:
 *
 * - pre-flight: quarantine, kill, throttle, budget reservation from an estimate (prompt size and
 *   `maxOutputTokens`), model and agent breakers — a refusal is the engine's `RefusalError`, which the SDK
 *   does not retry;
 * - chaos: latency (honouring the abort signal), injected errors (retryable `APICallError`s, so `maxRetries`
 *   is exercised), prompt-injection payloads in the model input;
 * - `maxOutputTokens` clamped to what the budget can still pay for;
 * - usage from the result or the stream's `finish` part, priced and committed exactly once; a stream that is
 *   aborted, cancelled, errors or times out settles with the usage seen so far (prompt estimate + streamed
 *   output) — a caller's abort or cancel as a cancellation that does not count against the model;
 * - the in-flight cap: a stream whose output passes the allowance is cut off.
 *
 * ```ts
 * const model = wrapLanguageModel({ model: openai("gpt-4.1"), middleware: agentSREMiddleware(sre, { agentId: "researcher" }) });
 * ```
 */
export function agentSREMiddleware<const V extends string = "v3">(
  sre: AgentSRE,
  options: AgentSREModelOptions<V>,
): AgentSREMiddleware<V> {
  const resolved = resolveOptions(sre, options);
  return {
    specificationVersion: (options.specificationVersion ?? "v3") as V,
    wrapGenerate: <R>({ doGenerate, params, model }: WrapOptions<R, unknown>) =>
      wrapGenerate(resolved, doGenerate, params as CallOptionsLike, model),
    wrapStream: <S>({ doStream, params, model }: WrapOptions<unknown, S>) =>
      wrapStream(
        resolved,
        doStream as () => PromiseLike<S & StreamResultLike>,
        params as CallOptionsLike,
        model,
      ),
  };
}

export function resolveOptions(sre: AgentSRE, options: AgentSREModelOptions<string>): ResolvedModelOptions {
  const estimate = resolveModelEstimateOptions(options);
  // Refusals that stand in for provider errors are the app's own APICallError: look its class up now.
  void loadApiCallError();
  return {
    sre,
    ...estimate,
    agentRef: sre.agentRef(estimate.agentId),
    taskId: options.taskId,
    estimateInputTokens: options.estimateInputTokens,
    cutOff: options.cutOffStreams ?? true,
    onCutOff: options.onCutOff,
    retryAfterMs: options.retryAfterMs,
    timeoutMs: options.timeoutMs,
    endRunOn: endRunMatcher(options.endRunOnRefusal),
    onEndRun: options.onEndRun,
    record: attachRecorder(sre, options.record),
    models: modelTable(options.models),
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

function endRunMatcher(option: AgentSREModelOptions<string>["endRunOnRefusal"]) {
  if (option === undefined || option === false) return undefined;
  if (option === true) return () => true;
  if (!Array.isArray(option)) throw new ConfigError("endRunOnRefusal", option, "a boolean or refusal codes");
  const codes = new Set<RefusalCode>(option);
  return (code: RefusalCode) => codes.has(code);
}

/** A refusal the caller chose to end the run with (`endRunOnRefusal`), or undefined. */
function endsRun(o: ResolvedModelOptions, error: unknown): RefusalError | undefined {
  if (o.endRunOn === undefined || !(error instanceof RefusalError)) return undefined;
  // Injected faults and timeouts stand in for provider errors: the SDK retries them.
  if (error.code === "CHAOS_INJECTED" || error.code === "TIMEOUT") return undefined;
  return o.endRunOn(error.code) ? error : undefined;
}

function endedUsage(v2: boolean) {
  return v2
    ? { inputTokens: 0, outputTokens: 0, totalTokens: 0 }
    : {
        inputTokens: { total: 0, noCache: 0, cacheRead: undefined, cacheWrite: undefined },
        outputTokens: { total: 0, text: 0, reasoning: undefined },
      };
}

function ended(
  o: ResolvedModelOptions,
  refusal: RefusalError,
  call: GuardCall<unknown>,
  model: LanguageModelLike,
) {
  o.onEndRun?.(refusal, { agentId: call.agentId, taskId: call.taskId, model: call.name });
  const v2 = model.specificationVersion === "v2";
  return {
    finishReason: v2 ? "other" : { unified: "other", raw: REFUSED_FINISH_REASON },
    usage: endedUsage(v2),
    providerMetadata: { agentSre: { refusal: { code: refusal.code, message: refusal.message } } },
  };
}

function modelCall<T>(
  o: ResolvedModelOptions,
  params: CallOptionsLike,
  model: LanguageModelLike,
  inputTokens: number,
  outputTokens: number,
): GuardCall<T> {
  let agentId = o.agentId;
  let taskId = o.taskId;
  const perRequest = params.providerOptions?.agentSre as AgentSREProviderOptions | undefined;
  if (perRequest !== undefined && perRequest !== null) {
    if (typeof perRequest.agentId === "string" && perRequest.agentId.length > 0) agentId = perRequest.agentId;
    if (typeof perRequest.taskId === "string") taskId = perRequest.taskId;
  }
  const call: GuardCall<T> = {
    kind: "model",
    agentId,
    // A per-request agent other than the bound one is looked up by id (no ref kept per untrusted id).
    agentRef: refForAgent(o.agentRef, agentId),
    name: model.modelId,
    provider: model.provider,
    // With the clamp, a budget that cannot hold `outputTokens` admits the call with what still fits.
    estimate: { inputTokens, outputTokens, minOutputTokens: o.clamp ? o.minOutputTokens : undefined },
    // The SDK's error types say whose failure it was (a 400 is the agent's, a 503 the model's).
    classifyFailure: classifyAiSdkFailure,
  };
  if (taskId !== undefined) call.taskId = taskId;
  if (o.timeoutMs !== undefined) call.timeoutMs = o.timeoutMs;
  const attempt = attemptOf(params.prompt, perRequest?.attempt);
  if (attempt > 1) call.attempt = attempt;
  return call;
}

/**
 * The SDK's own retries (`maxRetries`) send the same prompt array again after a failed attempt; a new step (or
 * run) builds a new one. `providerOptions.agentSre.attempt` overrides it.
 */
const failedPrompts = new FailedAttempts();

function attemptOf(prompt: readonly unknown[], given: unknown): number {
  if (typeof given === "number" && Number.isInteger(given) && given >= 1) return given;
  return failedPrompts.attemptOf(prompt);
}

/** Remembers a failed attempt, so the SDK's retry of the same prompt is counted as the next attempt. */
function promptFailed(params: CallOptionsLike, call: GuardCall<unknown>): void {
  failedPrompts.failed(params.prompt, call.attempt ?? 1);
}

/**
 * The call options the model should see: the engine's signal (timeouts), a clamped `maxOutputTokens`, a chaos
 * prompt-injection payload. Returns `params` itself when nothing changes (no allocation).
 */
function prepareParams(
  o: ResolvedModelOptions,
  params: CallOptionsLike,
  limits: ModelLimits | undefined,
  inFlight: GuardedCall,
): CallOptionsLike {
  const signal = inFlight.signal;
  const payload = inFlight.inputPayload;
  let maxOutputTokens = params.maxOutputTokens;
  if (o.clamp) {
    // Only when the budget binds, and never above the model's maximum output (a provider 400s that).
    const cap = inFlight.outputTokenCap(maxOutputTokens, limits);
    if (cap !== undefined) maxOutputTokens = cap;
  }
  if (signal === params.abortSignal && payload === undefined && maxOutputTokens === params.maxOutputTokens) {
    return params;
  }
  const next: CallOptionsLike = { ...params, maxOutputTokens, abortSignal: signal };
  if (payload !== undefined) {
    next.prompt = [...params.prompt, { role: "user", content: [{ type: "text", text: payload }] }];
  }
  return next;
}

/**
 * Output tokens the reservation asks for. With the clamp on, at most `defaultMaxOutputTokens`: a larger
 * `maxOutputTokens` is not refused up front but lowered to what the budget can pay for once the call is
 * admitted (and a stream is cut off there), so the real spend never passes the budget either way. When even
 * this does not fit, the engine reserves what does (at least `minOutputTokens`).
 */
function reservation(
  o: ResolvedModelOptions,
  params: CallOptionsLike,
  limits: ModelLimits | undefined,
): number {
  return reservedOutputTokens(params.maxOutputTokens, o.defaultMaxOutputTokens, o.clamp, limits);
}

function limitsOf(o: ResolvedModelOptions, model: LanguageModelLike) {
  return o.modelLimits.resolve(model.modelId, model.provider);
}

/** Where a delivery sends this call; undefined without a `Delivery` on the engine (no cost at all then). */
function route(
  o: ResolvedModelOptions,
  params: CallOptionsLike,
  model: LanguageModelLike,
): Routed | undefined {
  const delivery = o.sre.delivery;
  return delivery === undefined
    ? undefined
    : routeCall(delivery, o.models, o.agentId, o.taskId, params, model);
}

function readGenerateUsage(result: GenerateResultLike): UsageReport | undefined {
  return toUsageReport(result?.usage, result?.providerMetadata);
}

/**
 * Not an async function and nothing awaited: the engine's promise gets one `then`, for failures (the SDK's
 * error types, `endRunOnRefusal`); a successful result passes through untouched.
 */
export function wrapGenerate<R>(
  o: ResolvedModelOptions,
  doGenerate: () => PromiseLike<R>,
  params: CallOptionsLike,
  model: LanguageModelLike,
): Promise<R> {
  let call: GuardCall<R>;
  let run: (signal: AbortSignal | undefined, inFlight: GuardedCall) => Promise<R>;
  try {
    const routed = route(o, params, model);
    const requested = model;
    if (routed !== undefined) model = routed.target;
    const target = model;
    const limits = limitsOf(o, model);
    const inputTokens = o.estimateInputTokens?.(params) ?? estimatePromptTokens(params, o.charsPerToken);
    call = modelCall<R>(o, params, model, inputTokens, reservation(o, params, limits));
    call.usage = readGenerateUsage as (result: R) => UsageReport | undefined;
    const record = o.record;
    if (record !== undefined) record.request(call, requestOf(params, model), AI_SDK_API);
    run = (_signal: AbortSignal | undefined, inFlight: GuardedCall): Promise<R> => {
      // The engine may have admitted the call with fewer output tokens than asked (minOutputTokens): the
      // clamp lowers the request's cap to what it may produce.
      const next = prepareParams(o, params, limits, inFlight);
      if (routed?.shadow !== undefined) startMirror(o.sre.delivery as Delivery, routed, params);
      // Both are the SDK's async functions (real promises).
      const result = (
        next === params && target === requested ? doGenerate() : target.doGenerate(next)
      ) as Promise<R>;
      if (record === undefined) return result;
      return result.then((r) => {
        record.response(call, generateResponseOf(r));
        return r;
      });
    };
  } catch (error) {
    return Promise.reject(error);
  }
  // A refusal or failure is translated in the engine's own reaction to the call (no promise of ours).
  const outcome = new GenerateOutcome<R>(o, params, call, model);
  try {
    return o.sre.guard<R, R | Promise<R>>(
      call,
      run,
      params.abortSignal === undefined ? undefined : { signal: params.abortSignal },
      outcome,
    ) as Promise<R>;
  } catch (error) {
    return failedWith<R | Promise<R>>(outcome, error) as Promise<R>;
  }
}

/** A generate call's outcome as the SDK sees it: the result as it is; a refusal or failure `generateFailed`'s. */
class GenerateOutcome<R> implements OutcomeMapping<R, R | Promise<R>> {
  readonly #o: ResolvedModelOptions;
  readonly #params: CallOptionsLike;
  readonly #call: GuardCall<R>;
  readonly #model: LanguageModelLike;

  constructor(
    o: ResolvedModelOptions,
    params: CallOptionsLike,
    call: GuardCall<R>,
    model: LanguageModelLike,
  ) {
    this.#o = o;
    this.#params = params;
    this.#call = call;
    this.#model = model;
  }

  done(result: R): R {
    return result;
  }

  failed(error: unknown): Promise<R> {
    return generateFailed<R>(this.#o, this.#params, this.#call, this.#model, error);
  }
}

function generateFailed<R>(
  o: ResolvedModelOptions,
  params: CallOptionsLike,
  call: GuardCall<R>,
  model: LanguageModelLike,
  error: unknown,
): Promise<R> {
  promptFailed(params, call as GuardCall<unknown>);
  const refusal = endsRun(o, error);
  if (refusal !== undefined) {
    const end = ended(o, refusal, call as GuardCall<unknown>, model);
    return Promise.resolve({ content: [], warnings: [], ...end } as R);
  }
  return toSdkErrorLoaded(error, o.retryAfterMs).then((sdkError) => Promise.reject(sdkError));
}

export async function wrapStream<S extends StreamResultLike>(
  o: ResolvedModelOptions,
  doStream: () => PromiseLike<S>,
  params: CallOptionsLike,
  model: LanguageModelLike,
): Promise<S> {
  const routed = route(o, params, model);
  const requested = model;
  if (routed !== undefined) model = routed.target;
  const inputTokens = o.estimateInputTokens?.(params) ?? estimatePromptTokens(params, o.charsPerToken);
  const limits = limitsOf(o, model);
  const call = modelCall<unknown>(o, params, model, inputTokens, reservation(o, params, limits));
  o.record?.request(call, requestOf(params, model), AI_SDK_API);
  const callerSignal = params.abortSignal;
  let inFlight: GuardedCall;
  try {
    // The usual call is in flight at once (no promise, no await: see `AgentSRE.beginNow`).
    const begun = o.sre.beginNow(call, callerSignal === undefined ? undefined : { signal: callerSignal });
    inFlight = begun instanceof Promise ? await begun : begun;
  } catch (error) {
    promptFailed(params, call);
    const refusal = endsRun(o, error);
    if (refusal !== undefined) {
      const { providerMetadata, ...end } = ended(o, refusal, call, model);
      const parts = [
        { type: "stream-start", warnings: [] },
        { type: "finish", ...end, providerMetadata },
      ];
      return {
        stream: new ReadableStream({
          start(controller) {
            for (const part of parts) controller.enqueue(part);
            controller.close();
          },
        }),
      } as S;
    }
    throw await toSdkErrorLoaded(error, o.retryAfterMs);
  }
  if (!apiCallErrorLoaded()) await loadApiCallError(); // the stream's errors are built synchronously
  let result: S;
  try {
    // The provider gets the call's signal: it aborts on the caller's abort and at the call's deadline.
    const next = prepareParams(o, params, limits, inFlight);
    if (routed?.shadow !== undefined) startMirror(o.sre.delivery as Delivery, routed, params);
    result = await (next === params && model === requested
      ? doStream()
      : (model.doStream(next) as PromiseLike<S>));
  } catch (error) {
    promptFailed(params, call);
    if (callerSignal?.aborted) {
      inFlight.cancel(callerSignal.reason);
      throw error;
    }
    inFlight.fail(error); // ignored when the deadline already failed the call
    const signal = inFlight.signal;
    throw await toSdkErrorLoaded(signal?.aborted ? signal.reason : error, o.retryAfterMs);
  }
  let stream = result.stream as ReadableStream;
  // A stream from another realm or a polyfill: read it into one of ours, which the tap can observe.
  if (!(stream instanceof ReadableStream)) stream = nativeStream(stream);
  const tap = new StreamTap(o, inFlight, call, inputTokens, o.cutOff, model);
  // The provider's own stream, its reads observed: no stream of ours in between (see StreamTap).
  const tapped = tap.attach(stream);
  tap.watch(inFlight.signal, callerSignal);
  return { ...result, stream: tapped };
}

function nativeStream(foreign: { getReader(): ReadableStreamDefaultReader<unknown> }): ReadableStream {
  const reader = foreign.getReader();
  return new ReadableStream(
    {
      pull: (controller) =>
        reader.read().then((result) => {
          if (result.done) controller.close();
          else controller.enqueue(result.value);
        }),
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}
