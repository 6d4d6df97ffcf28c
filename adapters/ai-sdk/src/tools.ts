import type { AgentRef, AgentSRE, GuardCall, Recorder } from "@agent-sre/core";
import { ConfigError, refForAgent } from "@agent-sre/core";
import { classifyAiSdkFailure } from "./failure-class.js";
import { type AgentSREIdentity, identityFromContext } from "./identity.js";

export interface GuardToolsOptions {
  /**
   * The agent whose allow-list, loop detection, tool breakers and budget apply when a call carries no
   * identity of its own (`experimental_context.agentSre` / the tool's `context.agentSre`, see `identity`).
   * Optional when every call carries one.
   */
  agentId?: string;
  /** The task the calls belong to (per-task budgets, paid tools), unless a call carries its own. */
  taskId?: string;
  /**
   * Reads the agent and task of one call from the SDK's execution options. Default: `agentSre` of
   * `experimental_context` (ai@6: `generateText({ experimental_context })`) or of the tool's `context`
   * (ai@7: `toolsContext`) — what `agentSRECallOptions()` sets.
   */
  identity?: (executionOptions: ExecutionOptions) => AgentSREIdentity | undefined;
  /** Timeout (ms) of every tool call, overriding the engine's `timeouts.toolMs`; 0 disables. */
  timeoutMs?: number;
  /** Per-tool timeouts (ms), by tool name; they win over `timeoutMs`. */
  timeouts?: Record<string, number>;
  /** A known price per call of paid tools (USD), by tool name: reserved before the call, committed after. */
  costUsd?: Record<string, number>;
  /**
   * Preliminary results of a streaming tool held for a reader that has fallen behind; past this the oldest
   * are dropped (the final result is always delivered). Default 256.
   */
  maxBufferedResults?: number;
  /** Record every tool call (arguments, result or error) into a trace; the recorder is attached to `sre`. */
  record?: Recorder;
}

// biome-ignore lint/suspicious/noExplicitAny: tool inputs and execution options are the SDK's generics
type AnyFn = (...args: any[]) => any;
// biome-ignore lint/suspicious/noExplicitAny: execution options differ between ai@6 and ai@7
export type ExecutionOptions = { abortSignal?: AbortSignal; [key: string]: any } | undefined;

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  value !== null &&
  typeof value === "object" &&
  typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";

const DEFAULT_MAX_BUFFERED = 256;

/**
 * Returns the tool set with every `execute` put through the engine (the `ToolSet` type is kept): tool
 * allow/deny lists, loop detection, rogue-agent detection, a breaker per tool, chaos faults and payloads, and
 * a timeout. A refusal or failure is thrown from `execute`, which the SDK turns into a `tool-error` the model
 * sees (the run goes on); it never crashes the run.
 *
 * Identity is per call: the agent and task come from the call's execution options (see `identity`), so one
 * guarded tool set serves many agents and tasks, and the tools of a request are charged to the agent its
 * model calls are (`agentSRECallOptions()` sets both).
 *
 * Streaming tools are recognised by what `execute` returns — an async iterable (an `async function*`, an
 * arrow or bound function returning one, down-levelled generators) — and keep streaming: each value
 * reaches the SDK as a preliminary result as it is produced, the last one is the final output. The tool is
 * read as fast as it produces (its values wait in a buffer for the SDK), so its timeout and breaker measure
 * the tool, not how long the reader takes.
 */
export function guardTools<TOOLS extends Record<string, unknown>>(
  tools: TOOLS,
  sre: AgentSRE,
  options: GuardToolsOptions,
): TOOLS {
  const agentId = options?.agentId;
  if (agentId !== undefined && (typeof agentId !== "string" || agentId.length === 0)) {
    throw new ConfigError("agentId", agentId, "a non-empty agent id");
  }
  // The default agent bound once for every tool of the set; calls of other agents are looked up by id.
  const agentRef = agentId === undefined ? undefined : sre.agentRef(agentId);
  const maxBuffered = options.maxBufferedResults ?? DEFAULT_MAX_BUFFERED;
  if (!Number.isInteger(maxBuffered) || maxBuffered < 1) {
    throw new ConfigError("maxBufferedResults", maxBuffered, "an integer >= 1");
  }
  const record = options.record;
  if (record !== undefined) {
    if (typeof (record as { attach?: unknown })?.attach !== "function") {
      throw new ConfigError("record", record, "a Recorder from @agent-sre/core");
    }
    record.attach(sre);
  }
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(tools)) {
    const tool = tools[name] as { execute?: unknown } | undefined;
    const execute = tool?.execute;
    if (typeof execute !== "function") {
      out[name] = tool; // provider-executed or client-side tools: nothing runs here
      continue;
    }
    out[name] = {
      ...tool,
      execute: guardExecute(sre, options, agentRef, maxBuffered, name, tool, execute as AnyFn),
    };
  }
  return out as TOOLS;
}

function toolCall(
  options: GuardToolsOptions,
  agentRef: AgentRef | undefined,
  name: string,
  input: unknown,
  executionOptions: ExecutionOptions,
): GuardCall<unknown> {
  const perCall = options.identity?.(executionOptions) ?? identityFromContext(executionOptions);
  const agentId = perCall?.agentId ?? options.agentId;
  if (typeof agentId !== "string" || agentId.length === 0) {
    throw new ConfigError(
      "agentId",
      agentId,
      "an agent id: guardTools({ agentId }) or per call in experimental_context.agentSre",
    );
  }
  const call: GuardCall<unknown> = {
    kind: "tool",
    agentId,
    agentRef: refForAgent(agentRef, agentId),
    name,
    input,
    classifyFailure: classifyAiSdkFailure,
  };
  const taskId = perCall?.taskId ?? options.taskId;
  if (taskId !== undefined) call.taskId = taskId;
  const timeoutMs = options.timeouts?.[name] ?? options.timeoutMs;
  if (timeoutMs !== undefined) call.timeoutMs = timeoutMs;
  const costUsd = options.costUsd?.[name];
  if (costUsd !== undefined) call.estimate = { costUsd };
  return call;
}

/** The execution options the tool sees: the engine's signal (timeouts, the caller's abort). */
function withSignal(executionOptions: ExecutionOptions, signal: AbortSignal | undefined): ExecutionOptions {
  if (signal === undefined || signal === executionOptions?.abortSignal) return executionOptions;
  return { ...executionOptions, abortSignal: signal };
}

/**
 * The SDK decides whether a tool streams from what `execute` returns, synchronously. The engine runs the
 * tool synchronously inside `guard` once the pre-flight admits it (no chaos latency, no throttle wait), so
 * the guarded `execute` can answer with the same shape: the tool's own value (a promise) or a stream of its
 * values. When the tool runs later (after a chaos delay), the shape is the one this tool showed last time
 * (a promise until it has streamed once: a stream then delivers its last value as the output).
 */
function guardExecute(
  sre: AgentSRE,
  options: GuardToolsOptions,
  agentRef: AgentRef | undefined,
  maxBuffered: number,
  name: string,
  tool: unknown,
  execute: AnyFn,
): AnyFn {
  let streams = false;
  return function guardedExecute(input: unknown, executionOptions: ExecutionOptions) {
    let call: GuardCall<unknown>;
    try {
      call = toolCall(options, agentRef, name, input, executionOptions);
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = executionOptions?.abortSignal;
    let ran = false;
    let stream: ToolStream | undefined;
    let streamReady: ((stream: ToolStream | undefined) => void) | undefined;
    const done = sre.guard(
      call,
      (runSignal) => {
        ran = true;
        const result = execute.call(tool, input, withSignal(executionOptions, runSignal));
        const record = options.record;
        if (!isAsyncIterable(result)) {
          streamReady?.(undefined);
          return record === undefined ? result : recorded(record, call, result);
        }
        streams = true;
        stream = new ToolStream(result, maxBuffered);
        streamReady?.(stream);
        return record === undefined ? stream.finished : recorded(record, call, stream.finished);
      },
      signal === undefined ? undefined : { signal },
    );
    if (ran) return stream === undefined ? done : stream.read(done);
    if (!streams) return done;
    // Deferred (chaos latency): a tool that streamed before is answered with a stream now too.
    const ready = new Promise<ToolStream | undefined>((resolve) => {
      streamReady = resolve;
    });
    done.then(
      () => streamReady?.(undefined),
      () => streamReady?.(undefined),
    );
    return deferredRead(ready, done);
  };
}

/** The tool's result, recorded before the engine settles the call. */
function recorded(record: Recorder, call: GuardCall<unknown>, result: unknown): Promise<unknown> {
  return Promise.resolve(result).then((value) => {
    record.response(call, value);
    return value;
  });
}

async function* deferredRead(ready: Promise<ToolStream | undefined>, done: Promise<unknown>) {
  const stream = await ready;
  if (stream !== undefined) {
    yield* stream.read(done);
    return;
  }
  yield await done;
}

/**
 * Reads a streaming tool as fast as it produces (so the guarded call measures the tool) into a bounded
 * buffer the SDK drains at its own pace. `finished` settles when the tool's iterator ends (its last value)
 * or throws; the reader going away stops the tool (`return()` on its iterator).
 */
class ToolStream {
  readonly finished: Promise<unknown>;
  readonly #buffer: unknown[] = [];
  readonly #max: number;
  #ended = false;
  #closed = false;
  #wake: (() => void) | undefined;
  #lastYielded: unknown;

  constructor(source: AsyncIterable<unknown>, max: number) {
    this.#max = max;
    this.finished = this.#pump(source[Symbol.asyncIterator]());
  }

  async #pump(iterator: AsyncIterator<unknown>): Promise<unknown> {
    let last: unknown;
    try {
      for (;;) {
        const step = await iterator.next();
        if (step.done) return last;
        last = step.value;
        if (this.#closed) {
          await iterator.return?.();
          return last;
        }
        this.#buffer.push(step.value);
        // A reader far behind sees the newest values; the final one is always delivered.
        if (this.#buffer.length > this.#max) this.#buffer.shift();
        this.#notify();
      }
    } finally {
      this.#ended = true;
      this.#notify();
    }
  }

  /** The values for the SDK, then the guarded call's result (chaos may have changed it) or its error. */
  async *read(done: Promise<unknown>): AsyncGenerator<unknown> {
    // The guarded call can end before the tool does (a timeout): wake the reader then too.
    let settled = false;
    const onSettled = () => {
      settled = true;
      this.#notify();
    };
    done.then(onSettled, onSettled);
    try {
      for (;;) {
        if (this.#buffer.length > 0) {
          const value = this.#buffer.shift();
          this.#lastYielded = value;
          yield value;
          continue;
        }
        if (this.#ended || settled) break;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
      // `guard` may have put a chaos payload into the final value: hand the changed value over too.
      const final = await done;
      if (final !== this.#lastYielded) yield final;
    } finally {
      this.#closed = true;
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
