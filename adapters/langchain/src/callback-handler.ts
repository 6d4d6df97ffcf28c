import {
  type AgentRef,
  type AgentSRE,
  type CallEstimate,
  ConfigError,
  DEFAULT_MAX_OUTPUT_TOKENS,
  defaultModelLimits,
  type GuardCall,
  type GuardedCall,
  refForAgent,
  reservedOutputTokens,
  TokenLimitExceededError,
  type UsageReport,
} from "@agent-sre/core";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import type { BaseMessage } from "@langchain/core/messages";
import { ToolMessage } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";

import { classifyLangChainFailure } from "./failure-class.js";
import { estimateInputTokens } from "./models.js";
import { type GuardedCalls, guardedCalls } from "./registry.js";
import { usageFromLLMResult } from "./usage.js";

/** What `agentId` / `taskId` functions get about the run that starts. */
export interface RunInfo {
  kind: "model" | "tool";
  /** Model id or tool name. */
  name: string;
  runId: string;
  parentRunId: string | undefined;
  tags: string[] | undefined;
  metadata: Record<string, unknown> | undefined;
}

export interface AgentSRECallbackHandlerOptions {
  /** The agent calls are attributed to; a function can pick it per run (e.g. from `metadata.lc_agent_name`). */
  agentId: string | ((run: RunInfo) => string | undefined);
  /** The task calls belong to. Default: `metadata.thread_id` (each call is its own task without one). */
  taskId?: string | ((run: RunInfo) => string | undefined);
  /**
   * Block calls the engine refuses by throwing from `handleChatModelStart` / `handleLLMStart` /
   * `handleToolStart` (the handler is then constructed with `raiseError: true` and awaited). Default false:
   * observe only — calls are recorded and never delayed or blocked.
   */
  enforce?: boolean;
  /** Provider id for pricing when the run's metadata has no `ls_provider`. */
  provider?: string;
  /**
   * Output tokens to reserve for a model call whose request sets no cap (never more than the model's
   * maximum output). Default 4096 (core's `DEFAULT_MAX_OUTPUT_TOKENS`, shared by every adapter).
   */
  defaultMaxOutputTokens?: number;
  /** Known prices of paid tools (USD per call). */
  toolCosts?: Record<string, number>;
}

interface RunState {
  readonly kind: "model" | "tool";
  readonly call: GuardCall<unknown>;
  /** Enforce mode: the call `begin()` admitted. Undefined in observe mode (the run is `record()`ed at its end). */
  inFlight: GuardedCall | undefined;
  /** Observe mode: when the run started, on the engine's clock. */
  readonly startedAtMs: number;
  /** Prompt-size estimate (input tokens), charged if a stream fails before usage arrives. */
  readonly inputTokens: number;
  /** Output allowance for stream cut-off (enforce mode); Infinity when unlimited. */
  allowance: number;
  /** Output tokens counted from streamed chunks (~4 characters a token). */
  streamedTokens: number;
  /** Enforce mode: the call's deadline passed (the engine failed it with this `TimeoutError`). */
  timedOut: unknown;
  /** Enforce mode: the listener on the call's signal (deadline), removed when the run ends. */
  onAbort: (() => void) | undefined;
}

/** A run the middleware already guards: the handler leaves it alone. */
const SKIPPED = Symbol("skipped");

/**
 * A LangChain callback handler that records every model and tool run in the engine — latency, errors,
 * token usage and cost, feeding breakers, budgets, SLOs and the rogue detector — for any runnable: chains,
 * bare models, tools, legacy agents and `createAgent`.
 *
 * ```ts
 * await chain.invoke(input, { callbacks: [new AgentSRECallbackHandler(sre, { agentId: "summarizer" })] });
 * ```
 *
 * With `enforce: true` it blocks what the engine refuses by throwing from the start callbacks (see the
 * README for exactly what that does to a run). Runs are keyed by `runId`, so concurrent runs never mix.
 * When the `agentSREMiddleware` guards a call too, the handler skips it, so usage is recorded once.
 */
export class AgentSRECallbackHandler extends BaseCallbackHandler {
  override name = "AgentSRECallbackHandler";
  readonly sre: AgentSRE;
  readonly enforce: boolean;
  readonly #options: AgentSRECallbackHandlerOptions;
  readonly #runs = new Map<string, RunState | typeof SKIPPED>();
  readonly #registry: GuardedCalls;
  readonly #defaultOutput: number;
  /** A fixed `agentId` bound once; an agent picked per run by a function is looked up by its id. */
  readonly #agentRef: AgentRef | undefined;

  constructor(sre: AgentSRE, options: AgentSRECallbackHandlerOptions) {
    const enforce = options?.enforce ?? false;
    // Blocking needs both: raiseError re-throws our error into the call, and awaiting runs us inline
    // (background handlers' errors would become unhandled rejections). Observe mode is awaited too: the
    // handler does no waiting of its own, so the call is never delayed and events stay in order.
    super({
      raiseError: enforce,
      _awaitHandler: true,
      ignoreChain: true,
      ignoreRetriever: true,
      ignoreCustomEvent: true,
    });
    if (typeof sre !== "object" || sre === null || typeof (sre as AgentSRE).begin !== "function") {
      throw new ConfigError("sre", sre, "an AgentSRE engine");
    }
    const agentId = options?.agentId;
    if (!(typeof agentId === "function" || (typeof agentId === "string" && agentId.length > 0))) {
      throw new ConfigError("agentId", agentId, "a non-empty string or a function of the run");
    }
    const defaultOutput = options.defaultMaxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS;
    if (!Number.isInteger(defaultOutput) || defaultOutput < 0) {
      throw new ConfigError("defaultMaxOutputTokens", defaultOutput, "an integer >= 0");
    }
    this.sre = sre;
    this.enforce = enforce;
    this.#options = options;
    this.#defaultOutput = defaultOutput;
    this.#agentRef = typeof agentId === "string" ? sre.agentRef(agentId) : undefined;
    this.#registry = guardedCalls(sre);
    this.#registry.handlers++;
  }

  /** LangChain copies handlers when it forks callback managers; every copy shares this one's runs. */
  override copy(): AgentSRECallbackHandler {
    return this;
  }

  /** Runs started and not yet ended (diagnostics; 0 when idle). */
  get activeRuns(): number {
    return this.#runs.size;
  }

  // ---------------------------------------------------------------------------------------------
  // Model runs

  override async handleChatModelStart(
    llm: Serialized,
    messages: BaseMessage[][],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    let inputTokens = 0;
    for (const prompt of messages) inputTokens += estimateInputTokens(prompt);
    await this.#startModel(llm, inputTokens, runId, parentRunId, extraParams, tags, metadata);
  }

  override async handleLLMStart(
    llm: Serialized,
    prompts: string[],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    let chars = 0;
    for (const prompt of prompts) chars += prompt.length;
    await this.#startModel(llm, Math.ceil(chars / 4), runId, parentRunId, extraParams, tags, metadata);
  }

  override handleLLMNewToken(
    token: string,
    _idx: unknown,
    runId: string,
    _parentRunId?: string,
    _tags?: string[],
    fields?: { chunk?: unknown },
  ): void {
    const state = this.#runs.get(runId);
    if (state === undefined || state === SKIPPED) return;
    // The deadline passed while the model streamed: a callback cannot cancel the request, but it can stop
    // the stream at its next token (raiseError) with the call's TimeoutError.
    if (state.timedOut !== undefined) throw state.timedOut;
    const chunkUsage = (
      fields?.chunk as { message?: { usage_metadata?: { output_tokens?: number } } } | undefined
    )?.message?.usage_metadata?.output_tokens;
    state.streamedTokens =
      typeof chunkUsage === "number" && chunkUsage > state.streamedTokens
        ? chunkUsage
        : state.streamedTokens + Math.max(1, Math.ceil(token.length / 4));
    if (state.streamedTokens > state.allowance && this.enforce && state.inFlight !== undefined) {
      // Cut the stream: throwing here (raiseError) aborts the model call mid-way; handleLLMError settles it.
      throw new TokenLimitExceededError({
        agentId: state.call.agentId,
        scope: "task",
        limitTokens: state.allowance,
        remainingTokens: 0,
        requestedTokens: state.streamedTokens,
      });
    }
  }

  override async handleLLMEnd(output: LLMResult, runId: string): Promise<void> {
    const state = this.#take(runId);
    if (state === undefined) return;
    const usage = usageFromLLMResult(output, state.call.name);
    this.#settle(state, true, undefined, usage);
  }

  override async handleLLMError(error: unknown, runId: string): Promise<void> {
    const state = this.#take(runId);
    if (state === undefined) return;
    // Streamed output was generated (and billed) before the failure: charge what was counted.
    this.#settle(state, false, error, this.#streamedUsage(state));
  }

  // ---------------------------------------------------------------------------------------------
  // Tool runs

  override async handleToolStart(
    tool: Serialized,
    input: string,
    runId: string,
    parentRunId?: string,
    tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
    toolCallId?: string,
  ): Promise<void> {
    if (toolCallId !== undefined && this.#registry.tools.has(toolCallId)) {
      this.#runs.set(runId, SKIPPED);
      return;
    }
    const name = runName ?? serializedName(tool) ?? "unknown_tool";
    const run: RunInfo = { kind: "tool", name, runId, parentRunId, tags, metadata };
    const agentId = this.#agentId(run);
    const call: GuardCall<unknown> = {
      kind: "tool",
      agentId,
      agentRef: refForAgent(this.#agentRef, agentId),
      name,
      input: parseInput(input),
      classifyFailure: classifyLangChainFailure,
    };
    const taskId = this.#taskId(run);
    if (taskId !== undefined) call.taskId = taskId;
    const cost = this.#options.toolCosts?.[name];
    if (cost !== undefined) call.estimate = { costUsd: cost };
    await this.#begin(runId, "tool", call, 0);
  }

  override async handleToolEnd(output: unknown, runId: string): Promise<void> {
    const state = this.#take(runId);
    if (state === undefined) return;
    // A tool that answers with an error ToolMessage failed, whatever it returned.
    if (ToolMessage.isInstance(output) && output.status === "error") {
      this.#settle(state, false, new Error(String(output.content)), undefined);
    } else {
      this.#settle(state, true, undefined, undefined);
    }
  }

  override async handleToolError(error: unknown, runId: string): Promise<void> {
    const state = this.#take(runId);
    if (state === undefined) return;
    this.#settle(state, false, error, undefined);
  }

  // ---------------------------------------------------------------------------------------------

  async #startModel(
    llm: Serialized,
    inputTokens: number,
    runId: string,
    parentRunId: string | undefined,
    extraParams: Record<string, unknown> | undefined,
    tags: string[] | undefined,
    metadata: Record<string, unknown> | undefined,
  ): Promise<void> {
    const namespace = metadata?.checkpoint_ns;
    if (typeof namespace === "string" && this.#registry.models.has(namespace)) {
      this.#runs.set(runId, SKIPPED);
      return;
    }
    const params = extraParams?.invocation_params as Record<string, unknown> | undefined;
    const name = modelName(llm, params, metadata);
    const run: RunInfo = { kind: "model", name, runId, parentRunId, tags, metadata };
    const maxTokens = firstNumber(
      metadata?.ls_max_tokens,
      params?.max_tokens,
      params?.max_completion_tokens,
      params?.maxOutputTokens,
    );
    const provider =
      typeof metadata?.ls_provider === "string" ? metadata.ls_provider : this.#options.provider;
    const limits = defaultModelLimits().resolve(name, provider);
    const estimate: CallEstimate = {
      inputTokens,
      outputTokens: reservedOutputTokens(maxTokens, this.#defaultOutput, false, limits),
    };
    const agentId = this.#agentId(run);
    const call: GuardCall<unknown> = {
      kind: "model",
      agentId,
      agentRef: refForAgent(this.#agentRef, agentId),
      name,
      estimate,
      classifyFailure: classifyLangChainFailure,
    };
    const taskId = this.#taskId(run);
    if (taskId !== undefined) call.taskId = taskId;
    if (provider !== undefined) call.provider = provider;
    await this.#begin(runId, "model", call, inputTokens);
  }

  async #begin(
    runId: string,
    kind: "model" | "tool",
    call: GuardCall<unknown>,
    inputTokens: number,
  ): Promise<void> {
    const state: RunState = {
      kind,
      call,
      inFlight: undefined,
      startedAtMs: this.sre.clock.now(),
      inputTokens,
      allowance: Number.POSITIVE_INFINITY,
      streamedTokens: 0,
      timedOut: undefined,
      onAbort: undefined,
    };
    if (this.enforce) {
      // Awaited inline: a refusal (or an injected fault, or a throttle wait) happens before the call runs.
      // The usual call is in flight at once (no await: see `AgentSRE.beginNow`).
      const begun = this.sre.beginNow(call);
      const inFlight = begun instanceof Promise ? await begun : begun;
      state.inFlight = inFlight;
      if (kind === "model") state.allowance = inFlight.outputTokenAllowance;
      // With a timeout the engine arms the call's deadline and aborts its signal there. Settle first, with
      // what the run used so far (the prompt estimate and the streamed output), then stop a stream at its
      // next token.
      const signal = inFlight.signal;
      if (signal !== undefined) {
        const onAbort = () => {
          state.timedOut = signal.reason;
          inFlight.fail(signal.reason, this.#streamedUsage(state));
        };
        signal.addEventListener("abort", onAbort, { once: true });
        state.onAbort = onAbort;
      }
    }
    // Observe mode takes nothing from the engine up front (no reservation, no breaker permit): the run is
    // recorded with `sre.record()` when it ends.
    this.#runs.set(runId, state);
  }

  #take(runId: string): RunState | undefined {
    const state = this.#runs.get(runId);
    if (state === undefined) return undefined;
    this.#runs.delete(runId);
    return state === SKIPPED ? undefined : state;
  }

  /** What a run used so far: the prompt estimate plus the streamed output, once something was streamed. */
  #streamedUsage(state: RunState): UsageReport | undefined {
    return state.streamedTokens > 0
      ? { inputTokens: state.inputTokens, outputTokens: state.streamedTokens }
      : undefined;
  }

  #settle(state: RunState, ok: boolean, error: unknown, usage: UsageReport | undefined): void {
    const inFlight = state.inFlight;
    if (inFlight !== undefined) {
      if (state.onAbort !== undefined) inFlight.signal?.removeEventListener("abort", state.onAbort);
      if (ok) inFlight.succeed(usage);
      else inFlight.fail(error, usage);
      return;
    }
    // Observe mode: the run happened outside the pipeline; record it once (spend, breakers, SLOs, events).
    // A model run that ended without reported usage is charged what it streamed, else its estimate, as
    // the pipeline charges such a call.
    const call = state.call;
    let used = usage;
    if (used === undefined && ok && call.kind === "model") {
      used = this.#streamedUsage(state) ?? {
        inputTokens: state.inputTokens,
        outputTokens: call.estimate?.outputTokens ?? 0,
      };
    }
    this.sre.record(call, {
      ok,
      durationMs: Math.max(0, this.sre.clock.now() - state.startedAtMs),
      usage: used,
      error,
    });
  }

  #agentId(run: RunInfo): string {
    const option = this.#options.agentId;
    const agentId = typeof option === "function" ? option(run) : option;
    if (typeof agentId === "string" && agentId.length > 0) return agentId;
    const named = run.metadata?.lc_agent_name;
    if (typeof named === "string" && named.length > 0) return named;
    throw new ConfigError("agentId", agentId, "a non-empty agent id for every run");
  }

  #taskId(run: RunInfo): string | undefined {
    const option = this.#options.taskId;
    if (typeof option === "string") return option;
    if (typeof option === "function") return option(run);
    const threadId = run.metadata?.thread_id;
    return typeof threadId === "string" && threadId.length > 0 ? threadId : undefined;
  }
}

function modelName(
  llm: Serialized,
  params: Record<string, unknown> | undefined,
  metadata: Record<string, unknown> | undefined,
): string {
  const candidates = [
    metadata?.ls_model_name,
    params?.model,
    params?.model_name,
    params?.modelName,
    (llm as { kwargs?: Record<string, unknown> }).kwargs?.model,
    (llm as { kwargs?: Record<string, unknown> }).kwargs?.model_name,
  ];
  for (const candidate of candidates)
    if (typeof candidate === "string" && candidate.length > 0) return candidate;
  return serializedName(llm) ?? "unknown";
}

function serializedName(serialized: Serialized): string | undefined {
  const named = (serialized as { name?: unknown }).name;
  if (typeof named === "string" && named.length > 0) return named;
  const id = serialized?.id;
  const last = Array.isArray(id) ? id[id.length - 1] : undefined;
  return typeof last === "string" ? last : undefined;
}

function firstNumber(...values: unknown[]): number | undefined {
  for (const value of values)
    if (typeof value === "number" && Number.isFinite(value) && value > 0) return value;
  return undefined;
}

/** Tool input arrives as the JSON of the parsed arguments; loop detection compares the parsed value. */
function parseInput(input: string): unknown {
  if (typeof input !== "string") return input;
  const first = input.charCodeAt(0);
  if (first !== 123 /* { */ && first !== 91 /* [ */) return input;
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}
