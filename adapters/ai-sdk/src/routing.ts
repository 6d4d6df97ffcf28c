import type { Delivery, ModelRoute } from "@agent-sre/core";
import { ConfigError } from "@agent-sre/core";
import type {
  AgentSREProviderOptions,
  CallOptionsLike,
  GenerateResultLike,
  LanguageModelLike,
} from "./types.js";
import { toUsageReport } from "./usage.js";

/**
 * The models a delivery may route a call to (rollout variants, downgrade targets), by model id: a record,
 * or a factory such as `(id) => openai(id)` (called once per id).
 */
export type RouteModels =
  | Readonly<Record<string, LanguageModelLike>>
  | ((modelId: string) => LanguageModelLike);

/** Resolves model ids to models, each id once. */
export class ModelTable {
  readonly #source: RouteModels | undefined;
  readonly #cache = new Map<string, LanguageModelLike>();

  constructor(source: RouteModels | undefined) {
    if (
      source !== undefined &&
      typeof source !== "function" &&
      (typeof source !== "object" || source === null)
    ) {
      throw new ConfigError("models", source, "a record of model id → language model, or (id) => model");
    }
    this.#source = source;
  }

  get(modelId: string, requested: LanguageModelLike, route: ModelRoute): LanguageModelLike {
    if (modelId === requested.modelId) return requested;
    let model = this.#cache.get(modelId);
    if (model !== undefined) return model;
    const source = this.#source;
    model =
      typeof source === "function"
        ? source(modelId)
        : source !== undefined && Object.hasOwn(source, modelId)
          ? source[modelId]
          : undefined;
    if (model === undefined || typeof model.doGenerate !== "function") {
      const why = route.downgraded
        ? `the budget downgrade of agent "${route.agentId}"`
        : `rollout "${route.rolloutId}" (variant "${route.variantId}")`;
      throw new ConfigError(
        `models.${modelId}`,
        model,
        `a language model: ${why} routes ${route.requestedModel} calls to ${modelId}`,
      );
    }
    this.#cache.set(modelId, model);
    return model;
  }
}

/** A routed call: the model that answers it, and why (undefined when it goes where it asked). */
export interface Routed {
  readonly target: LanguageModelLike;
  readonly route: ModelRoute | undefined;
  /** The candidate's model when this call is also mirrored to it. */
  readonly shadow: LanguageModelLike | undefined;
}

/** Asks the engine's delivery where this call goes (only when a `Delivery` is attached). */
export function routeCall(
  delivery: Delivery,
  models: ModelTable,
  agentId: string,
  taskId: string | undefined,
  params: CallOptionsLike,
  model: LanguageModelLike,
): Routed {
  const perRequest = params.providerOptions?.agentSre as AgentSREProviderOptions | undefined;
  if (perRequest !== undefined && perRequest !== null) {
    if (typeof perRequest.agentId === "string" && perRequest.agentId.length > 0) agentId = perRequest.agentId;
    if (typeof perRequest.taskId === "string") taskId = perRequest.taskId;
  }
  const route = delivery.route(agentId, taskId, model.modelId);
  if (route === undefined) return { target: model, route, shadow: undefined };
  // Both resolved before the call is admitted: a missing model is a configuration error, not a failed call.
  const target = models.get(route.model, model, route);
  const shadow = route.mirror === undefined ? undefined : models.get(route.mirror.model, model, route);
  return { target, route, shadow };
}

/**
 * Sends the shadow copy of a call to the candidate (as a generate call, whatever the caller's mode), without
 * the caller's abort signal: it runs off the caller's path and its result is discarded.
 */
export function startMirror(delivery: Delivery, routed: Routed, params: CallOptionsLike): void {
  const { route, shadow } = routed;
  if (route === undefined || shadow === undefined) return;
  const { abortSignal: _signal, ...rest } = params;
  delivery.mirror(
    route,
    () => shadow.doGenerate(rest) as PromiseLike<GenerateResultLike>,
    (result) => toUsageReport(result?.usage, result?.providerMetadata),
    shadow.provider,
  );
}
