import type { GuardCall, GuardedCall, UsageReport } from "@agent-sre/core";
import type { ResolvedOptions } from "./guard-openai.js";
import { type Endpoint, usageReport } from "./usage.js";

interface StreamLike extends AsyncIterable<unknown> {
  controller?: AbortController;
  constructor: new (
    iterator: () => AsyncIterator<unknown>,
    controller: AbortController | undefined,
    client?: unknown,
  ) => unknown;
}

// biome-ignore lint/suspicious/noExplicitAny: stream items are the SDK's chunk / event unions
type Item = any;

/** Streams never read to the end and never aborted are settled (with what they used) when collected. */
const unsettled = new FinalizationRegistry<{ inFlight: GuardedCall; usage: () => UsageReport }>((held) => {
  if (!held.inFlight.settled) held.inFlight.succeed(held.usage());
});

/**
 * Wraps the SDK's `Stream` in a new instance of the same class (so `tee()`, `toReadableStream()` and
 * `controller` keep working) whose iterator observes every item: it counts streamed output, takes the
 * usage of the final chunk (chat, `include_usage`) or of `response.completed` / `response.incomplete` /
 * `response.failed` (responses), cuts the stream off at the allowance, and settles the call exactly once —
 * also when the caller aborts, breaks off or the stream errors (with the prompt estimate plus the output
 * counted so far).
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

  const settle = (ok: boolean, error?: unknown) => {
    if (inFlight.settled) return;
    controller?.signal.removeEventListener("abort", onAbort);
    unsettled.unregister(inFlight);
    if (ok) inFlight.succeed(usage ?? partial());
    else inFlight.fail(error, usage ?? partial());
  };
  let iterating = false;
  const aborted = () => {
    // An abort through the caller's signal is a cancellation (the engine does not count it against the
    // model); `stream.controller.abort()` by the reader is the reader stopping: charged, not a failure.
    if (callerSignal?.aborted) settle(false, callerSignal.reason);
    else settle(true);
  };
  // While the stream is read, its own end settles the call (the SDK aborts the controller on errors too);
  // an abort before reading starts or after it stopped settles here.
  const onAbort = () => {
    if (!iterating) aborted();
  };
  controller?.signal.addEventListener("abort", onAbort, { once: true });

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
            settle(true);
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
          settle(false, new Error(item.message ?? "response stream error"));
        }
        yield item;
      }
      completed = true;
      if (usage !== undefined) settle(true);
      else if (controller?.signal.aborted) aborted();
      else settle(false, new Error("The stream ended without usage (no final chunk)"));
    } catch (error) {
      completed = true;
      if (callerSignal?.aborted) settle(false, callerSignal.reason);
      else settle(false, error);
      throw error;
    } finally {
      iterating = false;
      // The reader broke off (`break`, `return()`): what it used so far is charged.
      if (!completed) settle(true);
    }
  }

  const Ctor = stream.constructor;
  const wrapped = new Ctor(() => observe(), controller, client);
  unsettled.register(wrapped as object, { inFlight, usage: partial }, inFlight);
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
