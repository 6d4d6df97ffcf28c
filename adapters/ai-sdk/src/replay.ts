import { type ReplaySession, reviveError, type TraceCall, type TraceError } from "@agent-sre/core";
import { AI_SDK_API, requestOf } from "./record.js";
import type { CallOptionsLike, LanguageModelLike } from "./types.js";

export interface ReplayModelOptions<V extends "v2" | "v3" | "v4" = "v3"> {
  /** The model id the recording used (default: the first model call's). */
  modelId?: string;
  /** Provider id (default: the recorded one). */
  provider?: string;
  /**
   * Specification version to present. Default `"v3"` (ai@6 and ai@7 both take it; V4 parts are V3's); set
   * `"v2"` for a recording of an ai@5-era model, whose stream parts are V2's.
   */
  specificationVersion?: V;
}

/** A language model (V2/V3/V4, structural) that answers from a trace. */
export interface ReplayLanguageModel<V extends string = "v3"> extends LanguageModelLike {
  readonly specificationVersion: V;
  readonly supportedUrls: Record<string, RegExp[]>;
}

/**
 * An AI SDK language model that answers every call from a recorded trace (`ReplaySession` from
 * `@agent-sre/core`): `doGenerate` with the recorded content, finish reason and usage, `doStream` with the
 * recorded stream parts (timestamps and errors revived), a recorded provider error thrown again (as the
 * SDK's `APICallError`, so retries replay too). Each call's prompt, tools offered, tool choice and response
 * format are compared with the recording first; a difference throws `ReplayDivergenceError` with the diff.
 *
 * ```ts
 * const session = new ReplaySession(trace);
 * const model = wrapLanguageModel({ model: replayModel(session), middleware: agentSREMiddleware(sre, { agentId }) });
 * ```
 */
export function replayModel<const V extends "v2" | "v3" | "v4" = "v3">(
  session: ReplaySession,
  options: ReplayModelOptions<V> = {},
): ReplayLanguageModel<V> {
  const first = session.trace.calls.find(
    (call) => call.kind === "model" && (options.modelId === undefined || call.name === options.modelId),
  );
  const recorded = (first?.request ?? {}) as { specificationVersion?: unknown; provider?: unknown };
  const model: ReplayLanguageModel<V> = {
    specificationVersion:
      options.specificationVersion ?? ((recorded.specificationVersion === "v2" ? "v2" : "v3") as V),
    provider:
      options.provider ??
      first?.provider ??
      (typeof recorded.provider === "string" ? recorded.provider : "replay"),
    modelId: options.modelId ?? first?.name ?? "replay",
    supportedUrls: {},
    async doGenerate(params: CallOptionsLike) {
      const step = await answer(session, model, params);
      const response = (step.response ?? {}) as Record<string, unknown>;
      if (Array.isArray(response.stream)) return generateFromStream(response.stream);
      return reviveGenerate(response);
    },
    async doStream(params: CallOptionsLike) {
      const step = await answer(session, model, params);
      const response = (step.response ?? {}) as Record<string, unknown>;
      const parts = Array.isArray(response.stream)
        ? response.stream.map(revivePart)
        : streamFromGenerate(reviveGenerate(response), model.specificationVersion === "v2");
      let i = 0;
      return {
        stream: new ReadableStream({
          pull(controller) {
            if (i < parts.length) controller.enqueue(parts[i++]);
            else controller.close();
          },
        }),
      };
    },
  };
  return model;
}

async function answer(
  session: ReplaySession,
  model: LanguageModelLike,
  params: CallOptionsLike,
): Promise<TraceCall> {
  const step = session.answer({
    kind: "model",
    name: model.modelId,
    request: requestOf(params, model),
    api: AI_SDK_API.api,
  });
  if (!step.ok && step.error !== undefined && step.response === undefined) throw await sdkError(step.error);
  return step;
}

/** A recorded error as the SDK would see it: an `APICallError` (retryable as recorded), or the error. */
async function sdkError(recorded: TraceError): Promise<Error> {
  if (recorded.name === "AI_APICallError") {
    try {
      const ai = (await import("ai")) as unknown as {
        APICallError?: new (fields: Record<string, unknown>) => Error;
      };
      if (typeof ai.APICallError === "function") {
        return new ai.APICallError({
          message: recorded.message,
          url: typeof recorded.url === "string" ? recorded.url : "replay://",
          requestBodyValues: {},
          statusCode: recorded.statusCode,
          responseHeaders: recorded.responseHeaders,
          responseBody: recorded.responseBody,
          isRetryable: recorded.isRetryable === true,
          data: recorded.data,
        });
      }
    } catch {
      // `ai` is not installed: the plain error below.
    }
  }
  return reviveError(recorded);
}

function reviveGenerate(response: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { content: [], warnings: [], ...response };
  const meta = response.response as Record<string, unknown> | undefined;
  if (meta !== undefined && typeof meta.timestamp === "string") {
    out.response = { ...meta, timestamp: new Date(meta.timestamp) };
  }
  return out;
}

function revivePart(part: unknown): unknown {
  if (typeof part !== "object" || part === null) return part;
  const p = part as Record<string, unknown>;
  if (p.type === "response-metadata" && typeof p.timestamp === "string")
    return { ...p, timestamp: new Date(p.timestamp) };
  if (p.type === "error" && typeof p.error === "object" && p.error !== null) {
    return { ...p, error: reviveError(p.error as TraceError) };
  }
  return p;
}

/** A streamed recording asked for with generate: the content the parts add up to. */
function generateFromStream(parts: readonly unknown[]): Record<string, unknown> {
  const content: unknown[] = [];
  const texts = new Map<string, { type: string; text: string }>();
  let finish: Record<string, unknown> = {};
  for (const raw of parts.map(revivePart) as Array<Record<string, unknown>>) {
    switch (raw.type) {
      case "text-start":
      case "reasoning-start": {
        const block = { type: raw.type === "text-start" ? "text" : "reasoning", text: "" };
        texts.set(String(raw.id), block);
        content.push(block);
        break;
      }
      case "text-delta":
      case "reasoning-delta": {
        const block = texts.get(String(raw.id));
        if (block !== undefined) block.text += String(raw.delta ?? "");
        break;
      }
      case "text":
        content.push({ type: "text", text: raw.text });
        break;
      case "tool-call":
        content.push(raw);
        break;
      case "finish":
        finish = raw;
        break;
    }
  }
  return {
    content,
    finishReason: finish.finishReason,
    usage: finish.usage,
    providerMetadata: finish.providerMetadata,
    warnings: [],
  };
}

/** A generated recording asked for as a stream: its content as stream parts. */
function streamFromGenerate(result: Record<string, unknown>, v2: boolean): unknown[] {
  const parts: unknown[] = [{ type: "stream-start", warnings: [] }];
  let n = 0;
  for (const item of (result.content ?? []) as Array<Record<string, unknown>>) {
    if (item.type === "text" || item.type === "reasoning") {
      if (v2) parts.push({ type: item.type, text: item.text });
      else {
        const id = `replay-${n++}`;
        parts.push(
          { type: `${item.type}-start`, id },
          { type: `${item.type}-delta`, id, delta: item.text },
          { type: `${item.type}-end`, id },
        );
      }
    } else parts.push(item);
  }
  parts.push({
    type: "finish",
    finishReason: result.finishReason,
    usage: result.usage,
    providerMetadata: result.providerMetadata,
  });
  return parts;
}

/**
 * The tool set with every `execute` answered from the trace (the recorded result, or the recorded error
 * thrown again) after its input is compared with the recording. Tools in the session's `liveTools` run for
 * real (their input is still compared). Put `guardTools` around it as in production.
 */
export function replayTools<TOOLS extends Record<string, unknown>>(
  tools: TOOLS,
  session: ReplaySession,
): TOOLS {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(tools)) {
    const tool = tools[name] as { execute?: (...args: unknown[]) => unknown } | undefined;
    const execute = tool?.execute;
    if (typeof execute !== "function") {
      out[name] = tool;
      continue;
    }
    out[name] = {
      ...tool,
      execute: (input: unknown, executionOptions: unknown) => {
        if (session.runsLive(name)) {
          session.live({ kind: "tool", name, request: input });
          return execute.call(tool, input, executionOptions);
        }
        const step = session.answer({ kind: "tool", name, request: input });
        if (!step.ok && step.error !== undefined && step.response === undefined) {
          return Promise.reject(reviveError(step.error));
        }
        return Promise.resolve(step.response);
      },
    };
  }
  return out as TOOLS;
}
