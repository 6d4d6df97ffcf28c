import type { CallObserver, CallOutcome, GuardCall, InjectionPlan, RefusalError } from "@agent-sre/core";
import {
  type Attributes,
  ProxyTracerProvider,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import {
  ATTR_AGENT,
  ATTR_BREAKER_STATE,
  ATTR_CHAOS_EXPERIMENT,
  ATTR_CHAOS_FAULT,
  ATTR_COST_USD,
  ATTR_DECISION,
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_AGENT_ID,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_OUTCOME,
  ATTR_REFUSAL_CODE,
  ATTR_TASK,
  errorType,
  OPERATION_CHAT,
  OPERATION_EXECUTE_TOOL,
} from "./attributes.js";

export const INSTRUMENTATION_NAME = "@agent-sre/telemetry";
export const INSTRUMENTATION_VERSION = "0.1.0";

/** The API's no-op provider: what the global proxy provider delegates to until an SDK registers one. */
const NOOP_TRACER_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();

export interface SpanObserverOptions {
  /** Default: `trace.getTracer("@agent-sre/telemetry")` from the global provider (a no-op without an SDK). */
  tracer?: Tracer;
  /** `gen_ai.operation.name` of model calls (default `chat`). */
  modelOperation?: string;
  /** Spans for refused calls (default true): zero-length spans with the refusal code as `error.type`. */
  refusals?: boolean;
}

/**
 * One span per guarded call, following the OpenTelemetry GenAI semantic conventions: `chat gpt-4.1`
 * (kind CLIENT) for model calls and `execute_tool search` (INTERNAL) for tool calls, with usage, cost,
 * decision, breaker state and injected faults. Spans start inside `guard()`/`begin()`, so they are children
 * of whatever span is active there (an AI SDK or LangChain span, an HTTP request).
 */
export class SpanObserver implements CallObserver<Span | undefined> {
  readonly #tracer: Tracer;
  /**
   * The global proxy provider behind the default tracer: while it has no SDK to delegate to, a call costs one
   * check instead of a no-op span (name string, options, context lookup). An SDK registered later is used
   * from its first call on.
   */
  readonly #globalProvider: ProxyTracerProvider | undefined;
  readonly #modelOperation: string;
  readonly #refusals: boolean;

  constructor(options: SpanObserverOptions = {}) {
    if (options.tracer === undefined) {
      const provider = trace.getTracerProvider();
      this.#globalProvider = provider instanceof ProxyTracerProvider ? provider : undefined;
      this.#tracer = provider.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
    } else {
      this.#globalProvider = undefined;
      this.#tracer = options.tracer;
    }
    this.#modelOperation = options.modelOperation ?? OPERATION_CHAT;
    this.#refusals = options.refusals ?? true;
  }

  /** True while the default tracer has no SDK behind it (every span would be a no-op). */
  get disabled(): boolean {
    return this.#globalProvider !== undefined && this.#globalProvider.getDelegate() === NOOP_TRACER_PROVIDER;
  }

  /** The engine skips calls (no start, end or outcome) while there is no SDK to record them. */
  enabled(): boolean {
    const provider = this.#globalProvider;
    return provider === undefined || provider.getDelegate() !== NOOP_TRACER_PROVIDER;
  }

  start(call: GuardCall<never>, _startedAtMs: number, chaos: InjectionPlan | undefined): Span | undefined {
    const isTool = call.kind === "tool";
    const operation = isTool ? OPERATION_EXECUTE_TOOL : this.#modelOperation;
    const span = this.#tracer.startSpan(`${operation} ${call.name}`, {
      kind: isTool ? SpanKind.INTERNAL : SpanKind.CLIENT,
    });
    // Without an SDK (or when sampled out) the span records nothing: skip building attributes.
    if (!span.isRecording()) return undefined;
    span.setAttributes(this.#callAttributes(call, operation, "allowed"));
    if (chaos !== undefined) {
      span.setAttribute(ATTR_CHAOS_EXPERIMENT, chaos.experiment);
      span.setAttribute(
        ATTR_CHAOS_FAULT,
        chaos.faults.map((fault) => fault.type),
      );
    }
    return span;
  }

  end(span: Span | undefined, call: GuardCall<never>, outcome: CallOutcome): void {
    if (span === undefined) return;
    const usage = outcome.usage;
    const attributes: Attributes = {
      [ATTR_COST_USD]: outcome.costUsd,
      [ATTR_BREAKER_STATE]: outcome.breakerState,
      [ATTR_OUTCOME]: outcome.ok ? "ok" : outcome.cancelled ? "cancelled" : "error",
    };
    if (call.kind === "model") {
      attributes[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = usage.inputTokens;
      attributes[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = usage.outputTokens;
      attributes[ATTR_GEN_AI_RESPONSE_MODEL] = usage.model ?? call.name;
    }
    if (!outcome.ok) {
      const type = errorType(outcome.error);
      attributes[ATTR_ERROR_TYPE] = type;
      const code = (outcome.error as { code?: unknown } | undefined)?.code;
      if (typeof code === "string" && type === code) attributes[ATTR_REFUSAL_CODE] = code;
      if (!outcome.cancelled) {
        const message = (outcome.error as { message?: unknown } | undefined)?.message;
        span.setStatus({
          code: SpanStatusCode.ERROR,
          ...(typeof message === "string" ? { message } : {}),
        });
      }
    }
    span.setAttributes(attributes);
    span.end();
  }

  refused(call: GuardCall<never>, error: RefusalError): void {
    if (!this.#refusals) return;
    const isTool = call.kind === "tool";
    const operation = isTool ? OPERATION_EXECUTE_TOOL : this.#modelOperation;
    const span = this.#tracer.startSpan(`${operation} ${call.name}`, {
      kind: isTool ? SpanKind.INTERNAL : SpanKind.CLIENT,
    });
    if (!span.isRecording()) return;
    const attributes = this.#callAttributes(call, operation, "refused");
    attributes[ATTR_REFUSAL_CODE] = error.code;
    attributes[ATTR_ERROR_TYPE] = error.code;
    span.setAttributes(attributes);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    span.end();
  }

  #callAttributes(call: GuardCall<never>, operation: string, decision: string): Attributes {
    const attributes: Attributes = {
      [ATTR_GEN_AI_OPERATION_NAME]: operation,
      [ATTR_GEN_AI_AGENT_ID]: call.agentId,
      [ATTR_AGENT]: call.agentId,
      [ATTR_DECISION]: decision,
    };
    if (call.kind === "tool") attributes[ATTR_GEN_AI_TOOL_NAME] = call.name;
    else attributes[ATTR_GEN_AI_REQUEST_MODEL] = call.name;
    if (call.provider !== undefined) attributes[ATTR_GEN_AI_PROVIDER_NAME] = call.provider;
    if (call.taskId !== undefined) attributes[ATTR_TASK] = call.taskId;
    return attributes;
  }
}
