import type { AgentSRE } from "@agent-sre/core";
import { type AgentSREModelOptions, resolveOptions, wrapGenerate, wrapStream } from "./middleware.js";
import type { CallOptionsLike, LanguageModelLike, StreamResultLike } from "./types.js";

/**
 * The same guard as `agentSREMiddleware`, without `wrapLanguageModel`: returns a model of the same
 * specification version as `model` (v2, v3 or v4) whose calls go through the engine. No import of `ai` at
 * all, so it also fits code that builds models by hand.
 *
 * ```ts
 * const model = guardModel(openai("gpt-4.1"), sre, { agentId: "researcher" });
 * ```
 */
export function guardModel<M extends LanguageModelLike>(
  model: M,
  sre: AgentSRE,
  options: Omit<AgentSREModelOptions<string>, "specificationVersion">,
): M {
  const resolved = resolveOptions(sre, options);
  const guarded = Object.create(model) as M & { doGenerate: unknown; doStream: unknown };
  Object.defineProperties(guarded, {
    doGenerate: {
      value: (params: CallOptionsLike) =>
        wrapGenerate(resolved, () => model.doGenerate(params), params, model),
      enumerable: true,
      configurable: true,
      writable: true,
    },
    doStream: {
      value: (params: CallOptionsLike) =>
        wrapStream(resolved, () => model.doStream(params) as PromiseLike<StreamResultLike>, params, model),
      enumerable: true,
      configurable: true,
      writable: true,
    },
  });
  return guarded;
}
