import type { GuardCall, GuardedCall, UsageReport } from "@agent-sre/core";
import { toClientError } from "./errors.js";
import type { ResolvedOptions } from "./guard-openai.js";
import { type Endpoint, usageReport } from "./usage.js";

interface StreamLike extends AsyncIterable<unknown> {
  controller?: AbortController;
  tee?: unknown;
  toReadableStream?: unknown;
}

type SdkStreamClass = new (
  iterator: () => AsyncIterator<unknown>,
  controller: AbortController | undefined,
  client?: unknown,
) => unknown;

// biome-ignore lint/suspicious/noExplicitAny: stream items are the SDK's chunk / event unions
type Item = any;

/**
 * Streams never read to the end and never aborted are settled when collected: the reader dropped them, a
 * cancellation charged with what they used.
 */
const unsettled = new FinalizationRegistry<{ inFlight: GuardedCall; usage: () => UsageReport }>((held) => {
  if (!held.inFlight.settled) held.inFlight.cancel(undefined, held.usage());
});

/** How a stream ended for the engine: a success, a failure of the model, or a cancellation by the reader. */
const SUCCEED = 0;
const FAIL = 1;
const CANCEL = 2;
type End = typeof SUCCEED | typeof FAIL | typeof CANCEL;

/**
 * Wraps the SDK's `Stream` in a new instance of the same class (so `tee()`, `toReadableStream()` and
 * `controller` keep working) whose iterator observes every item: it counts streamed output, takes the
 * usage of the final chunk (chat, `include_usage`) or of `response.completed` / `response.incomplete` /
 * `response.failed` (responses), cuts the stream off at the allowance, and settles the call exactly once:
 * a success at its end or at the cut-off; a failure on an error or at the call's deadline (reading then
 * throws the SDK's 408 `APIError`); a cancellation — charged, not judged — when the caller aborts, or the
 * reader breaks off or calls `controller.abort()`. Without usage it charges the prompt estimate plus the
 * output counted so far.
 */
export function guardStream(
  o: ResolvedOptions,
  endpoint: Endpoint,
  source: unknown,
  inFlight: GuardedCall,
  call: GuardCall<unknown>,
  inputTokens: number,
  allowance: number,
  client: unknown,
  callerSignal: AbortSignal | undefined,
): unknown {
  const stream = source as StreamLike;
  if (stream === null || typeof stream !== "object" || typeof stream[Symbol.asyncIterator] !== "function") {
    inFlight.succeed();
    return source;
  }
  const limitChars = allowance * o.charsPerToken;
  let chars = 0;
  let usage: UsageReport | undefined;
  const partial = (): UsageReport => ({ inputTokens, outputTokens: Math.ceil(chars / o.charsPerToken) });
  const controller = stream.controller;
  // The call's signal aborts on the caller's abort and at the call's deadline (the request has it too).
  const callSignal = inFlight.signal;
  let timedOut: unknown;

  const end = (how: End, reason?: unknown) => {
    if (inFlight.settled) return;
    controller?.signal.removeEventListener("abort", onReaderAbort);
    callSignal?.removeEventListener("abort", onCallAbort);
    unsettled.unregister(inFlight);
    const used = usage ?? partial();
    if (how === SUCCEED) inFlight.succeed(used);
    else if (how === FAIL) inFlight.fail(reason, used);
    else inFlight.cancel(reason, used);
  };
  const onCallAbort = () => {
    if (callerSignal?.aborted) {
      end(CANCEL, callerSignal.reason);
    } else if (callSignal !== undefined) {
      // The deadline passed: the call fails with its TimeoutError, which reading the stream then throws.
      timedOut = callSignal.reason;
      end(FAIL, timedOut);
    }
  };
  let iterating = false;
  // While the stream is read, its own end settles the call (the SDK aborts the controller on errors and on
  // break-off too); `stream.controller.abort()` before reading starts or after it stopped is the reader
  // stopping. The SDK aborts the controller when the call's signal aborts: that is classified above.
  const readerStopped = () => {
    if (callSignal?.aborted) onCallAbort();
    else end(CANCEL, controller?.signal.reason);
  };
  const onReaderAbort = () => {
    if (!iterating) readerStopped();
  };
  controller?.signal.addEventListener("abort", onReaderAbort, { once: true });
  if (callSignal?.aborted) onCallAbort();
  else callSignal?.addEventListener("abort", onCallAbort, { once: true });

  async function* observe(): AsyncGenerator<unknown> {
    let completed = false;
    iterating = true;
    try {
      for await (const item of stream as AsyncIterable<Item>) {
        const delta = endpoint === "chat" ? chatDelta(item) : responsesDelta(item);
        if (delta !== undefined) {
          const next = chars + delta.length;
          if (next > limitChars) {
            const fit = Math.max(0, Math.floor(limitChars) - chars);
            const truncated = fit > 0 ? truncate(endpoint, item, delta, fit) : undefined;
            if (truncated !== undefined) {
              chars += fit;
              yield truncated;
            }
            completed = true;
            // A cut-off is a normal end the budget chose: the call succeeded with what it produced.
            end(SUCCEED);
            o.onCutOff?.({
              agentId: call.agentId,
              taskId: call.taskId,
              model: call.name,
              outputTokens: partial().outputTokens,
              allowance,
            });
            yield cutOffItem(endpoint, item, partial());
            controller?.abort(); // stop the HTTP stream
            return;
          }
          chars = next;
        }
        const reported = endpoint === "chat" ? chatUsage(item) : responsesUsage(item);
        if (reported !== undefined) usage = fill(reported, partial());
        if (endpoint === "responses" && item?.type === "error") {
          completed = true;
          end(FAIL, new Error(item.message ?? "response stream error"));
        }
        yield item;
      }
      completed = true;
      // The SDK ends an aborted stream quietly: a deadline is an error the reader must see.
      if (timedOut !== undefined) throw toClientError(timedOut, client);
      if (usage !== undefined) end(SUCCEED);
      else if (controller?.signal.aborted) readerStopped();
      else end(FAIL, new Error("The stream ended without usage (no final chunk)"));
    } catch (error) {
      if (!completed) {
        completed = true;
        if (callerSignal?.aborted) end(CANCEL, callerSignal.reason);
        else end(FAIL, error);
        if (timedOut !== undefined) throw toClientError(timedOut, client);
      }
      throw error;
    } finally {
      iterating = false;
      // The reader broke off (`break`, `return()`): a cancellation, charged with what it used so far.
      if (!completed) end(CANCEL);
    }
  }

  const wrapped = rewrap(stream, observe, client);
  unsettled.register(wrapped as object, { inFlight, usage: partial }, inFlight);
  return wrapped;
}

/**
 * The guarded stream: a new instance of the SDK's own `Stream` class when the source is one (so `tee()`,
 * `toReadableStream()` and `controller` keep working), otherwise — a client-like's plain async iterable
 * (an async generator, a custom object) — a generator over the guarded items, or an object that iterates
 * them and inherits everything else from the source.
 */
function rewrap(stream: StreamLike, observe: () => AsyncGenerator<unknown>, client: unknown): unknown {
  const Ctor = (stream as { constructor?: unknown }).constructor;
  const sdkStream =
    typeof Ctor === "function" &&
    Ctor !== Object &&
    stream.controller instanceof AbortController &&
    typeof stream.tee === "function";
  if (sdkStream) return new (Ctor as SdkStreamClass)(() => observe(), stream.controller, client);
  // An async generator (or any iterator): a generator over the guarded items, with the same protocol.
  if (typeof (stream as { next?: unknown }).next === "function") return observe();
  const wrapped = Object.create(stream) as Record<PropertyKey, unknown>;
  Object.defineProperty(wrapped, Symbol.asyncIterator, { value: () => observe(), configurable: true });
  return wrapped;
}

function fill(report: UsageReport, partial: UsageReport): UsageReport {
  return report.inputTokens === 0 && report.outputTokens === 0 ? partial : report;
}

/** Text the model generated in a chat chunk (content, refusal, tool-call arguments), or undefined. */
function chatDelta(chunk: Item): string | undefined {
  const delta = chunk?.choices?.[0]?.delta;
  if (delta === undefined || delta === null) return undefined;
  if (typeof delta.content === "string" && delta.content.length > 0) return delta.content;
  if (typeof delta.refusal === "string" && delta.refusal.length > 0) return delta.refusal;
  const args = delta.tool_calls?.[0]?.function?.arguments;
  return typeof args === "string" && args.length > 0 ? args : undefined;
}

function responsesDelta(event: Item): string | undefined {
  const type = event?.type;
  if (typeof type !== "string" || !type.endsWith(".delta")) return undefined;
  return typeof event.delta === "string" && event.delta.length > 0 ? event.delta : undefined;
}

function chatUsage(chunk: Item): UsageReport | undefined {
  return chunk?.usage ? usageReport("chat", chunk.usage) : undefined;
}

function responsesUsage(event: Item): UsageReport | undefined {
  const type = event?.type;
  if (type === "response.completed" || type === "response.incomplete" || type === "response.failed") {
    return usageReport("responses", event.response?.usage);
  }
  return undefined;
}

/** The crossing item with only the text that still fits (content deltas); other items are dropped. */
function truncate(endpoint: Endpoint, item: Item, delta: string, fit: number): Item | undefined {
  if (endpoint === "responses") return { ...item, delta: delta.slice(0, fit) };
  const choice = item.choices?.[0];
  if (typeof choice?.delta?.content !== "string") return undefined;
  return { ...item, choices: [{ ...choice, delta: { ...choice.delta, content: delta.slice(0, fit) } }] };
}

/** The last item of a cut-off stream: a clear "length" ending with the estimated usage. */
function cutOffItem(endpoint: Endpoint, item: Item, usage: UsageReport): Item {
  if (endpoint === "chat") {
    return {
      id: item?.id,
      object: "chat.completion.chunk",
      created: item?.created,
      model: item?.model,
      choices: [{ index: 0, delta: {}, finish_reason: "length", logprobs: null }],
      usage: {
        prompt_tokens: usage.inputTokens,
        completion_tokens: usage.outputTokens,
        total_tokens: usage.inputTokens + usage.outputTokens,
      },
    };
  }
  return {
    type: "response.incomplete",
    sequence_number: typeof item?.sequence_number === "number" ? item.sequence_number + 1 : undefined,
    response: {
      object: "response",
      status: "incomplete",
      incomplete_details: { reason: "max_output_tokens" },
      usage: {
        input_tokens: usage.inputTokens,
        output_tokens: usage.outputTokens,
        total_tokens: usage.inputTokens + usage.outputTokens,
      },
    },
  };
}
