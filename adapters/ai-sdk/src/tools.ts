import type { AgentSRE, GuardCall } from "@agent-sre/core";
import { ConfigError } from "@agent-sre/core";

export interface GuardToolsOptions {
  /** The agent whose allow-list, loop detection, tool breakers and budget apply. */
  agentId: string;
  /** The task the calls belong to (per-task budgets, paid tools). */
  taskId?: string;
  /** Timeout (ms) of every tool call, overriding the engine's `timeouts.toolMs`; 0 disables. */
  timeoutMs?: number;
  /** Per-tool timeouts (ms), by tool name; they win over `timeoutMs`. */
  timeouts?: Record<string, number>;
  /** A known price per call of paid tools (USD), by tool name: reserved before the call, committed after. */
  costUsd?: Record<string, number>;
}

// biome-ignore lint/suspicious/noExplicitAny: tool inputs and execution options are the SDK's generics
type AnyFn = (...args: any[]) => any;
// biome-ignore lint/suspicious/noExplicitAny: execution options differ between ai@6 and ai@7
type ExecutionOptions = { abortSignal?: AbortSignal; [key: string]: any } | undefined;

const isAsyncGeneratorFunction = (fn: unknown): boolean =>
  Object.prototype.toString.call(fn) === "[object AsyncGeneratorFunction]";

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  value !== null &&
  typeof value === "object" &&
  typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";

/**
 * Returns the tool set with every `execute` put through the engine (the `ToolSet` type is kept): tool
 * allow/deny lists, loop detection, rogue-agent detection, a breaker per tool, chaos faults and payloads, and
 * a timeout. A refusal or failure is thrown from `execute`, which the SDK turns into a `tool-error` the model
 * sees (the run goes on); it never crashes the run.
 *
 * Streaming tools (`async function*`) keep streaming: each yielded value still reaches the SDK as a
 * preliminary result as it is produced, and the last one is the final output.
 */
export function guardTools<TOOLS extends Record<string, unknown>>(
  tools: TOOLS,
  sre: AgentSRE,
  options: GuardToolsOptions,
): TOOLS {
  if (typeof options?.agentId !== "string" || options.agentId.length === 0) {
    throw new ConfigError("agentId", options?.agentId, "a non-empty agent id");
  }
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(tools)) {
    const tool = tools[name] as { execute?: unknown } | undefined;
    const execute = tool?.execute;
    if (typeof execute !== "function") {
      out[name] = tool; // provider-executed or client-side tools: nothing runs here
      continue;
    }
    const guarded = isAsyncGeneratorFunction(execute)
      ? guardStreamingExecute(sre, options, name, tool, execute as AnyFn)
      : guardExecute(sre, options, name, tool, execute as AnyFn);
    out[name] = { ...tool, execute: guarded };
  }
  return out as TOOLS;
}

function toolCall(options: GuardToolsOptions, name: string, input: unknown): GuardCall<unknown> {
  const call: GuardCall<unknown> = { kind: "tool", agentId: options.agentId, name, input };
  if (options.taskId !== undefined) call.taskId = options.taskId;
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

function guardExecute(
  sre: AgentSRE,
  options: GuardToolsOptions,
  name: string,
  tool: unknown,
  execute: AnyFn,
): AnyFn {
  return async function guardedExecute(input: unknown, executionOptions: ExecutionOptions) {
    const signal = executionOptions?.abortSignal;
    return sre.guard(
      toolCall(options, name, input),
      async (runSignal) => {
        const result = await execute.call(tool, input, withSignal(executionOptions, runSignal));
        // A plain function that returned an async iterable: the SDK can no longer see it synchronously, so
        // its last value is the output (define the tool as `async function*` to keep streaming).
        if (isAsyncIterable(result)) {
          let last: unknown;
          for await (const value of result) last = value;
          return last;
        }
        return result;
      },
      signal === undefined ? undefined : { signal },
    );
  };
}

/**
 * A streaming tool under `sre.guard`: the tool's generator runs inside the guarded call (so timeouts, chaos
 * and the breaker apply to the whole stream), and each value is handed over to the SDK as it is produced.
 */
function guardStreamingExecute(
  sre: AgentSRE,
  options: GuardToolsOptions,
  name: string,
  tool: unknown,
  execute: AnyFn,
): AnyFn {
  return async function* guardedStreamingExecute(input: unknown, executionOptions: ExecutionOptions) {
    const channel = new HandOff();
    const signal = executionOptions?.abortSignal;
    const done = sre
      .guard(
        toolCall(options, name, input),
        async (runSignal) => {
          let last: unknown;
          const iterator = execute.call(
            tool,
            input,
            withSignal(executionOptions, runSignal),
          ) as AsyncIterable<unknown>;
          for await (const value of iterator) {
            last = value;
            if (!(await channel.put(value))) break; // the SDK stopped reading: stop the tool
          }
          return last;
        },
        signal === undefined ? undefined : { signal },
      )
      .then(
        (final) => channel.end(final),
        (error) => channel.fail(error),
      );
    try {
      yield* channel.drain();
    } finally {
      // The SDK stopped reading (or the stream ended): release the producer; the guarded call settles when
      // the tool's generator returns (it sees its abort signal on an abort). `done` never rejects.
      channel.close();
      void done;
    }
  };
}

/**
 * A one-slot hand-over between the guarded producer and the SDK's consumer: `put` resolves when the value
 * was taken (back-pressure), `false` once the consumer has gone.
 */
class HandOff {
  #queue: unknown[] = [];
  #taken: Array<(more: boolean) => void> = [];
  #wake: (() => void) | undefined;
  #done = false;
  #hasFinal = false;
  #final: unknown;
  #lastPut: unknown;
  #error: unknown;
  #failed = false;
  #closed = false;

  put(value: unknown): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    this.#lastPut = value;
    this.#queue.push(value);
    const taken = new Promise<boolean>((resolve) => this.#taken.push(resolve));
    this.#notify();
    return taken;
  }

  end(final: unknown): void {
    this.#done = true;
    // `guard` may have put a chaos payload into the final value: hand the changed value over too.
    if (final !== this.#lastPut) {
      this.#hasFinal = true;
      this.#final = final;
    }
    this.#notify();
  }

  fail(error: unknown): void {
    this.#done = true;
    this.#failed = true;
    this.#error = error;
    this.#notify();
  }

  close(): void {
    this.#closed = true;
    for (const resolve of this.#taken.splice(0)) resolve(false);
  }

  async *drain(): AsyncGenerator<unknown> {
    for (;;) {
      if (this.#queue.length > 0) {
        const value = this.#queue.shift();
        this.#taken.shift()?.(true);
        yield value;
        continue;
      }
      if (this.#done) {
        if (this.#failed) throw this.#error;
        if (this.#hasFinal) yield this.#final;
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
