/**
 * Structural views of the AI SDK's language-model specification (V2 for ai@5 models that ai@6 passes
 * through unconverted, V3 for ai@6, V4 for ai@7). The adapter never imports `ai` or `@ai-sdk/provider` at
 * run time or in its public types, so one build serves both majors: these are the few fields it reads.
 */

/** The model a middleware wraps (V2, V3 or V4): what the adapter reads from it. */
export interface LanguageModelLike {
  readonly specificationVersion: string;
  readonly provider: string;
  readonly modelId: string;
  // biome-ignore lint/suspicious/noExplicitAny: the call options differ between specification versions
  doGenerate(options: any): PromiseLike<any>;
  // biome-ignore lint/suspicious/noExplicitAny: the call options differ between specification versions
  doStream(options: any): PromiseLike<any>;
}

/** The call options the adapter reads and may rewrite (a structural subset of `LanguageModelV{2,3,4}CallOptions`). */
export interface CallOptionsLike {
  prompt: readonly unknown[];
  maxOutputTokens?: number | undefined;
  abortSignal?: AbortSignal | undefined;
  tools?: readonly unknown[] | undefined;
  providerOptions?: Record<string, unknown> | undefined;
}

/**
 * Model-level usage. V3/V4 nest totals (`inputTokens.total`, `outputTokens.reasoning`); V2 is flat
 * (`inputTokens: number`, `cachedInputTokens`, `reasoningTokens`). Any field may be missing (#2543).
 */
export interface ModelUsageLike {
  inputTokens?: number | { total?: number; cacheRead?: number; cacheWrite?: number } | undefined;
  outputTokens?: number | { total?: number; reasoning?: number } | undefined;
  cachedInputTokens?: number | undefined;
  reasoningTokens?: number | undefined;
}

/** What the adapter reads from a generate result. */
export interface GenerateResultLike {
  usage?: unknown;
  providerMetadata?: unknown;
}

/** What the adapter reads from a stream result. */
export interface StreamResultLike {
  // biome-ignore lint/suspicious/noExplicitAny: stream part unions differ between specification versions
  stream: ReadableStream<any>;
}

/** Per-request identity, read from `providerOptions.agentSre` (it overrides the middleware's options). */
export interface AgentSREProviderOptions {
  agentId?: string;
  taskId?: string;
  /**
   * Which attempt this call is (1 = first), for retries the SDK does not make itself; the SDK's own
   * `maxRetries` attempts are recognised without it. Attempts above 1 count against the retry budget.
   */
  attempt?: number;
}
