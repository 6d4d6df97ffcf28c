/**
 * Coordination between the middleware and the callback handler installed on the same engine, so a call
 * both of them see is recorded once — by the middleware, which enforces.
 *
 * The middleware registers each call it guards under a key the handler can see too: for model calls the
 * LangGraph task namespace (`configurable.checkpoint_ns`, which the handler gets as
 * `metadata.checkpoint_ns`), for tool calls the tool call id (the handler's `toolCallId`). The handler
 * skips calls whose key is registered. Keys are only kept while a handler exists for the engine.
 */
export interface GuardedCalls {
  /** Callback handlers constructed for this engine (the middleware registers keys only when > 0). */
  handlers: number;
  readonly models: Set<string>;
  readonly tools: Set<string>;
}

const registries = new WeakMap<object, GuardedCalls>();

export function guardedCalls(sre: object): GuardedCalls {
  let registry = registries.get(sre);
  if (registry === undefined) {
    registry = { handlers: 0, models: new Set(), tools: new Set() };
    registries.set(sre, registry);
  }
  return registry;
}
